"""Issue 16, item 4: seed 000's thresholds, the 四个一批 parameters, the grade bands and the rubric per asset type
come from the county's profile; the ledger carries the facts the thresholds need.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.policy.loading import PROFILES_DIR, load, load_text
from bot.policy.scoring import classify_policy, grades_of, rubric_for
from bot.policy.validate import ProfileError
from bot.scoring.classify import AssetFacts, MonthlySummary, classify
from bot.services import audit, cycle, policies
from bot.services.assessment import score_asset, suggest_classes
from bot.services.ledger import import_ledger
from bot.storage.models import Asset, Report
from bot.storage.models_cycle import CycleStep
from tests.factories import make_asset, make_tree
from tests.scoring.scoring_factories import YEAR_END_FACTS, all_met
from tests.services.test_scoring_db import noon, submit, walk

ACTOR = audit.Actor(None, "test")


def own_profile(tmp_path: Path, base: str, new_id: str, replace: tuple[str, str] | None = None,
                extra: str = "") -> Path:
    """Write a county's own profile: a shipped one under another id, with one text replaced and more appended."""
    text = (PROFILES_DIR / f"{base}.yaml").read_text(encoding="utf-8").replace(f"id: {base}", f"id: {new_id}")
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / f"{new_id}.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


# --- the profile's numbers reach the rules (pure) -------------------------------------------------


def test_the_jiaozuo_thresholds_are_the_classification_parameters():
    policy = classify_policy(load("jiaozuo-2020"))
    assert policy.seasonal_idle_months == 3
    assert policy.idle_rate_max == Decimal("0.15")
    assert policy.workers_per_100m2 == Decimal("15")
    assert (policy.poverty_share_min_new, policy.poverty_share_min_old) == (Decimal("0.3"), Decimal("0.1"))
    assert policy.pv_public_jobs_share_min == Decimal("0.8")
    assert classify_policy(load("yanshan-2024")).window == 6


def test_a_workshop_and_a_pv_station_are_held_to_seed_000s_thresholds():
    policy = classify_policy(load("jiaozuo-2020"))
    months = [MonthlySummary(dt.date(2026, m, 1), idle_months=1 if m in (1, 2) else 0) for m in range(1, 11)]
    workshop = AssetFacts(workshop_area_m2=Decimal(400), workers=30, poor_workers=6,
                          in_use_since=dt.date(2019, 3, 1), government_funded=True)
    result = classify(months, policy, workshop)
    texts = [s.render("en") for s in (*result.reasons, *result.other_signals)]
    assert "The workshop stood idle in 2 of 10 reported months (20%), more than the 15% allowed." in texts
    # 60 on 400 m² is 15 per 100 m², 20 of them (33 %) poor: nothing to say about them
    crowded = classify(months, policy, AssetFacts(workshop_area_m2=Decimal(400), workers=60, poor_workers=20,
                                                  in_use_since=dt.date(2019, 3, 1)))
    assert not any("poor households" in s.render("en") for s in crowded.reasons)
    old = classify(months, policy, AssetFacts(workshop_area_m2=Decimal(400), workers=60, poor_workers=7,
                                              in_use_since=dt.date(2017, 5, 1)))
    assert not any("poor households" in s.render("en") for s in old.reasons)  # 11.7 % ≥ 10 % for older ones
    pv = classify(months[-3:], policy, AssetFacts(pv_income=Decimal("10"), pv_income_public_jobs=Decimal("6")))
    assert [s.render("zh_CN") for s in pv.reasons] == [
        "光伏电站收益仅60%用于公益岗位工资和村级公益事业劳务费用，低于80%的要求。"]
    assert pv.suggested == "upgrade"


def test_the_workshop_density_and_poverty_share_are_flagged():
    policy = classify_policy(load("jiaozuo-2020"))
    months = [MonthlySummary(dt.date(2026, m, 1)) for m in range(1, 7)]
    result = classify(months, policy, AssetFacts(workshop_area_m2=Decimal(400), workers=30, poor_workers=6,
                                                 in_use_since=dt.date(2019, 3, 1)))
    assert result.suggested == "upgrade"
    assert [s.render("en") for s in result.reasons] == [
        "The workshop employs 30 people on 400 m², 7.5 per 100 m², well below the about 15 per 100 m² expected.",
        "Of the workshop's 30 workers 6 are from poor households (20%), below the 30% required."]
    # a county whose profile gives none of seed 000's workshop thresholds is not held to them
    assert classify(months, classify_policy(load("qinbei-2023")), AssetFacts(
        workshop_area_m2=Decimal(400), workers=30, poor_workers=6)).suggested == "consolidate"


def test_the_qinbei_grade_bands_come_from_its_profile_and_a_county_may_change_them(tmp_path):
    assert [g.minimum for g in grades_of(load("qinbei-2023")).grades] == [90, 80, 70, 0]
    mine = load(own_profile(tmp_path, "qinbei-2023", "my-qinbei", ("grade_good_min: 90", "grade_good_min: 85")))
    scale = grades_of(mine)
    assert scale.grade(Decimal("87")).published == "好"
    assert rubric_for(mine, "公益性") == "qinbei-2023-public-welfare" and rubric_for(mine, "到户类") is None


@pytest.mark.parametrize("change, field", [
    (("grade_good_min: 90", "grade_good_min: 75"), "thresholds"),
    (("workshop_idle_rate_max: 0.15", "workshop_idle_rate_max: 15"), "thresholds.workshop_idle_rate_max"),
    (("经营性: qinbei-2023-operating", "经营性: no-such-rubric"), "rubrics.经营性"),
    (("posts: [supervisory_committee, cooperative_board]\n    posting_photo",
      "posts: [village_head]\n    posting_photo"), "sign_off.village_self_evaluation.posts[0]"),
])
def test_bad_scoring_sections_are_refused_naming_the_field(tmp_path, change, field):
    base = "jiaozuo-2020" if "idle" in change[0] else "qinbei-2023"
    text = own_profile(tmp_path, base, "bad", change).read_text(encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_text(text, "bad.yaml")
    assert caught.value.field == field


# --- over the registry ----------------------------------------------------------------------------------


def test_the_seasonal_idle_limit_is_the_countys(engine, tmp_path):
    path = own_profile(tmp_path, "yanshan-2024", "strict-county",
                       ("workshop_seasonal_idle_months_max: 3", "workshop_seasonal_idle_months_max: 2"))
    with Session(engine) as session:
        tree = make_tree(session)
        policies.use(session, ACTOR, tree.county, str(path))
        asset = make_asset(session, tree.village_a1, name="季节性闲置大棚")
        for month in ("2026-01", "2026-02", "2026-03"):
            submit(session, asset, month, walk(at_risk="yes", risk_kinds=["idle"], idle_since="2025-12-10"),
                   noon(month))
        found = {s.asset.id: s for s in suggest_classes(session, tree.township_a, "2026-03")}
        result = found[asset.id].classification
        assert result.suggested == "revitalise"
        assert "Idle for 3 months, longer than the 2 months of seasonal idleness." in [
            s.render("en") for s in result.reasons]
        policies.use(session, ACTOR, tree.county, "yanshan-2024")   # 3 months: still seasonal
        found = {s.asset.id: s for s in suggest_classes(session, tree.township_a, "2026-03")}
        assert not any("seasonal" in s.render("en") for s in found[asset.id].classification.reasons)


def write_ledger(path: Path, village: str, township: str) -> Path:
    header = ["项目名称", "产业类别", "合计", "中央", "省", "市", "县", "其他资金", "项目编号", "乡镇", "村", "资产类型",
              "生产区域面积（平方米）", "就业人数", "其中脱贫户人数", "投用日期", "光伏收益（万元）", "用于公益岗位（万元）"]
    rows = [["扶贫车间一号", "加工业", "100", "60", "0", "0", "40", "0", "WS-1", township, village, "经营性",
             "400", "30", "6", "2019-03-01", "", ""],
            ["村级光伏电站", "光伏扶贫", "50", "50", "0", "0", "0", "0", "PV-1", township, village, "经营性",
             "", "", "", "", "12.5", "7.5"]]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_the_ledger_carries_the_facts_and_the_jiaozuo_county_is_held_to_them(engine, tmp_path):
    with Session(engine) as session:
        tree = make_tree(session)
        policies.use(session, ACTOR, tree.county, "jiaozuo-2020")
        result = import_ledger(session, None, write_ledger(tmp_path / "ledger.csv", tree.village_a1.name,
                                                           tree.township_a.name))
        assert result.ok, result.errors
        session.commit()
        workshop = session.exec(Asset.__table__.select().where(Asset.project_code == "WS-1")).one()
        assert (workshop.workshop_area_m2, workshop.workers, workshop.poor_workers, workshop.in_use_since) == (
            Decimal("400"), 30, 6, dt.date(2019, 3, 1))
        pv = session.exec(Asset.__table__.select().where(Asset.project_code == "PV-1")).one()
        assert (pv.pv_income, pv.pv_income_public_jobs, pv.workshop_area_m2) == (Decimal("12.5"), Decimal("7.5"), None)
        for asset_id in (workshop.id, pv.id):
            for month in ("2026-01", "2026-02", "2026-03"):
                session.add(Report(asset_id=asset_id, form_id="monthly-operating", period=month, status="submitted",
                                   answers=walk(), submitted_at=noon(month), channel="web"))
        session.flush()
        found = {s.asset.project_code: s for s in suggest_classes(session, tree.township_a, "2026-03")}
        assert [s.render("zh_CN") for s in found["WS-1"].classification.reasons] == [
            "扶贫车间生产区域400平方米，就业30人，每百平方米7.5人，明显低于每百平方米15人左右的要求。",
            "扶贫车间就业30人，其中脱贫户（贫困户）6人（20%），低于带贫比例30%的要求。"]
        assert found["PV-1"].row.suggested == "提升"
        # a file without the optional columns leaves them as they are
        plain = tmp_path / "plain.csv"
        with plain.open("w", encoding="utf-8", newline="") as fh:
            rows = list(csv.reader((tmp_path / "ledger.csv").open(encoding="utf-8")))
            csv.writer(fh).writerows([r[:12] for r in rows])
        assert import_ledger(session, None, plain).ok
        session.commit()
        assert session.get(Asset, workshop.id).workers == 30


def test_the_county_grades_townships_on_its_profiles_bands(engine, tmp_path):
    path = own_profile(tmp_path, "qinbei-2023", "lenient-qinbei", ("grade_good_min: 90", "grade_good_min: 85"))
    with Session(engine) as session:
        tree = make_tree(session)
        policies.use(session, ACTOR, tree.county, str(path))
        for village, score in ((tree.village_a1, "86.00"), (tree.village_a2, "88.00")):
            session.add(CycleStep(org_unit_id=village.id, form_id=cycle.YEAREND, period="2026", step="review",
                                  data={"score": score, "assets": {}}))
        session.commit()
        row = cycle.grade(session, None, tree.township_a.id, 2026)
        assert row.data["score"] == "87.00" and row.data["grade"] == "好"   # grades.yaml alone: 较好


def test_the_profile_chooses_the_rubric_of_an_asset_type(engine, tmp_path):
    path = own_profile(tmp_path, "qinbei-2023", "pw-everywhere",
                       ("经营性: qinbei-2023-operating", "经营性: qinbei-2023-public-welfare"))
    with Session(engine) as session:
        tree = make_tree(session)
        policies.use(session, ACTOR, tree.county, str(path))
        asset = make_asset(session, tree.village_a1)
        evaluation = {"facts": dict(YEAR_END_FACTS), "judgments": all_met("qinbei-2023-public-welfare")}
        assert score_asset(session, asset.id, year=2026, evaluation=evaluation).sheet.rubric.id == \
            "qinbei-2023-public-welfare"
