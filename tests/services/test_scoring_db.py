"""Scoring over the registry (bot.services.assessment), on SQLite and PostgreSQL.

Reports are real ``Report`` rows whose answers are produced by walking the shipped monthly form
(bot/flows/forms/monthly-operating.yaml) with the real Walker, so the keys read here are the
keys the forms write.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.flows import Walker, load_form
from bot.policy.loading import PROFILES_DIR
from bot.scoring.errors import ScoringInputError
from bot.services import audit
from bot.services.access import AccessDenied
from bot.services.assessment import (
    AssessmentError,
    compliance_scores,
    confirm_class,
    registry_facts,
    score_asset,
    suggest_classes,
)
from bot.services.assessment.classes import reason_steps
from bot.storage.models import AssetClass, AuditEntry, Photo, PhotoUse, Problem, Report
from tests.factories import make_asset, make_tree, make_user
from tests.scoring.scoring_factories import YEAR_END_FACTS, all_met

UTC = dt.UTC
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PHOTO_REF = {"sha256": "a" * 64, "photo_id": 1}

# A month of an operating asset with nothing wrong; tests change single answers.
NORMAL = {
    "operating_normally": "yes", "intact": "yes", "at_risk": "no", "income_distributed": "yes",
    "income_amount": "1", "farmers_linked": "yes", "households_benefited": "40", "poor_households": "10",
    "effective": "yes", "unauthorised": "no", "has_difficulties": "no", "committee_studied": "yes",
}


def walk(form_id: str = "monthly-operating", *, stop_before: str | None = None, **changes) -> dict:
    """Answer the real form question by question (photos: one ref each); return Report.answers.

    ``stop_before`` leaves that required question and the rest unanswered (an incomplete report).
    """
    raw = {**NORMAL, **changes}
    walker = Walker(load_form(form_id))
    while (question := walker.current()) is not None and question.key != stop_before:
        if question.type == "photo":
            walker.answer(question.key, PHOTO_REF)
            walker.done(question.key)
        elif question.key in raw:
            walker.answer(question.key, raw[question.key])
        else:
            walker.skip(question.key)
    assert walker.complete is (stop_before is None)
    return walker.answers


def submit(session: Session, asset, period: str, answers: dict, at: dt.datetime, *, version: int = 1,
           current: bool = True, form_id: str = "monthly-operating") -> Report:
    report = Report(asset_id=asset.id, form_id=form_id, period=period, version=version,
                    current=current, status="submitted", answers=answers, submitted_at=at, channel="telegram")
    session.add(report)
    session.flush()
    return report


def noon(period: str, day: int = 20) -> dt.datetime:
    year, month = map(int, period.split("-"))
    return dt.datetime(year, month, day, 4, tzinfo=UTC)  # 12:00 in Asia/Shanghai


# --- (1) facts filled from the registry --------------------------------------------------------

def test_registry_facts_equal_the_ledger_and_the_sums_of_the_reports(engine):
    with Session(engine) as session:
        tree = make_tree(session)
        # funds: central 60 + county 40 = 100 万元 of fiscal poverty funds; other funds are not poverty funds
        asset = make_asset(session, tree.village_a1, funds_total=Decimal("130"), funds_other=Decimal("30"),
                           funds_central=Decimal("55.5"), funds_province=Decimal("4.5"),
                           funds_county=Decimal("40"))
        submit(session, asset, "2026-01", walk(income_amount="1.25", poor_households="12"), noon("2026-01"))
        # February was sent back: version 1 said 5 万元, the current version 2 says 0.75 万元
        submit(session, asset, "2026-02", walk(income_amount="5", poor_households="30"), noon("2026-02"),
               current=False)
        submit(session, asset, "2026-02", walk(income_amount="0.75", poor_households="15"),
               noon("2026-02", 22), version=2)
        submit(session, asset, "2026-03", walk(income_distributed="not_due", poor_households="9"),
               noon("2026-03"))
        submit(session, asset, "2026-04", walk(income_distributed="no", income_not_distributed_reason="欠款",
                                               poor_households="11"), noon("2026-04"))
        submit(session, asset, "2025-12", walk(income_amount="7"), noon("2025-12"))  # another year
        session.add(Report(asset_id=asset.id, form_id="monthly-operating", period="2026-05",
                           answers=walk(income_amount="9")))  # a draft: not submitted
        session.commit()

        filled = registry_facts(session, asset, 2026)
        # 100 万元 = 1,000,000 yuan
        assert filled.facts["funds"] == {"poverty_funds": Decimal("1000000")}
        # 1.25 + 0.75 (Feb, current version) = 2.00 万元 = 20,000 yuan; Mar not due, Apr not paid,
        # Dec 2025 and the May draft are not counted
        assert filled.facts["income"] == {"received": Decimal("20000"), "annual_return": Decimal("20000")}
        # the largest monthly count of current versions: max(12, 15, 9, 11) = 15 (not 30 of the old version)
        assert filled.facts["poor"] == {"households_benefiting": Decimal("15")}
        value, source = filled.sources["income.received"]
        assert value == Decimal("20000") and "4 submitted reports of 2026" in source.render("en")

        empty_year = registry_facts(session, asset, 2024)
        assert set(empty_year.facts) == {"funds"}  # no reports: income is left to the evaluator

        # a public-welfare asset's reports say nothing about income: nothing is filled from them
        road = make_asset(session, tree.village_a1, asset_type="公益性")
        upkeep = walk("monthly-public-welfare", in_use="yes", upkeep_done="yes", custodian_in_place="yes",
                      upkeep_funded="yes", complaints="no")
        submit(session, road, "2026-01", upkeep, noon("2026-01"), form_id="monthly-public-welfare")
        assert set(registry_facts(session, road, 2026).facts) == {"funds"}


def year_end_file(**facts) -> dict:
    """The evaluator's part of a qinbei-2023-operating evaluation: all met, registry facts left out."""
    given = {k: v for k, v in YEAR_END_FACTS.items() if k != "income"}
    given["income"] = {"agreed": 25000}
    given.update(facts)
    return {"facts": given, "judgments": all_met("qinbei-2023-operating")}


def test_score_asset_uses_registry_facts_and_refuses_a_contradicting_file(engine):
    with Session(engine) as session:
        tree = make_tree(session)
        asset = make_asset(session, tree.village_a1, project_code="XQ-2026-01")
        for month, amount in (("2026-01", "1.25"), ("2026-02", "0.75")):
            submit(session, asset, month, walk(income_amount=amount), noon(month))
        session.commit()

        result = score_asset(session, asset.id, year=2026, evaluation=year_end_file())
        rows = {row.third.code: row.score for row in result.sheet.rows}
        # B102 income received 20,000 (registry) ÷ agreed 25,000 = 80 % < 100 % → 0.8 × 10 = 8.00
        assert rows["B102"] == Decimal("8.00")
        assert result.sheet.total == Decimal("98.00")
        assert result.sheet.rubric.id == "qinbei-2023-operating"  # chosen by the asset type 经营性
        assert result.sheet.project["code"] == "XQ-2026-01"

        # the same value in the file is accepted; a different one is refused naming the field
        same = year_end_file(income={"agreed": 25000, "received": 20000})
        assert score_asset(session, asset.id, year=2026, evaluation=same).sheet.total == Decimal("98.00")
        with pytest.raises(ScoringInputError) as refused:
            score_asset(session, asset.id, year=2026,
                        evaluation=year_end_file(income={"agreed": 1, "received": 1}))
        assert refused.value.field == "facts.income.received"

        # a judgment the file leaves out is still required: the system never judges for the evaluator
        partial = year_end_file()
        del partial["judgments"]["A201"]
        with pytest.raises(ScoringInputError) as missing:
            score_asset(session, asset.id, year=2026, evaluation=partial)
        assert missing.value.field.startswith("judgments.A201")

        outsider = make_user(session, "township_leader", tree.township_b)
        with pytest.raises(AccessDenied):
            score_asset(session, asset.id, year=2026, evaluation=year_end_file(), user=outsider)


# --- (2) 四个一批 ----------------------------------------------------------------------------------

def classified_township(session: Session):
    """新桥镇 with four operating assets, a public-welfare one, and an operating asset in 北坡乡."""
    tree = make_tree(session)
    steady = make_asset(session, tree.village_a1, name="A 稳定车间")
    idle = make_asset(session, tree.village_a1, name="B 闲置大棚")
    troubled = make_asset(session, tree.village_a2, name="C 困难合作社")
    silent = make_asset(session, tree.village_a2, name="D 未报资产")
    make_asset(session, tree.village_a2, name="E 村道", asset_type="公益性")
    elsewhere = make_asset(session, tree.village_b1, name="F 梨树基地")
    for month in ("2026-01", "2026-02", "2026-03"):
        submit(session, steady, month, walk(), noon(month))
        submit(session, troubled, month, walk(has_difficulties="yes", difficulties=["sales", "technology"],
                                              difficulty_description="销路不畅"), noon(month))
        submit(session, elsewhere, month, walk(), noon(month))
    for month in ("2026-02", "2026-03"):
        submit(session, idle, month, walk(at_risk="yes", risk_kinds=["idle"], idle_since="2025-10-15"),
               noon(month))
    return tree, steady, idle, troubled, silent


def test_suggestions_for_each_operating_asset_are_stored_with_reasons(engine):
    with Session(engine) as session:
        tree, steady, idle, troubled, silent = classified_township(session)
        leader = make_user(session, "township_leader", tree.township_a)
        found = {s.asset.name: s for s in suggest_classes(session, tree.township_a, "2026-03", user=leader)}
        session.commit()

        # only the operating assets of 新桥镇: not the road (公益性), not 北坡乡's asset
        assert sorted(found) == ["A 稳定车间", "B 闲置大棚", "C 困难合作社", "D 未报资产"]
        assert found["A 稳定车间"].row.suggested == "巩固"
        # idle since 2025-10 → 5 months at 2026-03 > 3 months of seasonal idleness → 盘活
        assert found["B 闲置大棚"].row.suggested == "盘活"
        assert [s.render("en") for s in reason_steps(found["B 闲置大棚"].row)] == [
            "Idle for 5 months, longer than the 3 months of seasonal idleness."]
        assert found["C 困难合作社"].row.suggested == "提升"
        assert reason_steps(found["C 困难合作社"].row)[0].params == {"difficulties": "sales, technology"}
        assert found["D 未报资产"].row is None and found["D 未报资产"].classification is None

        stored = session.exec(select(AssetClass).where(AssetClass.period == "2026-03")).all()
        assert len(stored) == 3
        suggested = session.exec(select(AuditEntry).where(AuditEntry.action == "asset_class.suggest")).all()
        assert len(suggested) == 3 and {e.actor for e in suggested} == {f"user:{leader.id}"}

        # running again changes nothing and audits nothing new
        suggest_classes(session, tree.township_a, "2026-03")
        session.commit()
        assert len(session.exec(select(AssetClass)).all()) == 3
        assert len(session.exec(select(AuditEntry).where(
            AuditEntry.action == "asset_class.suggest")).all()) == 3

        with pytest.raises(AccessDenied):
            suggest_classes(session, tree.township_a, "2026-03", user=make_user(session, "township_leader",
                                                                                 tree.township_b))
        with pytest.raises(AssessmentError):
            suggest_classes(session, tree.village_a1, "2026-03")


def test_a_serious_problem_open_at_month_end_counts_and_a_later_one_does_not(engine):
    with Session(engine) as session:
        tree, steady, *_ = classified_township(session)
        for created in (dt.datetime(2026, 3, 10, tzinfo=UTC), dt.datetime(2026, 4, 2, tzinfo=UTC)):
            session.add(Problem(asset_id=steady.id, source="report", kind="asset_lost_or_damaged",
                                severity="serious", created_at=created))
        session.flush()
        found = {s.asset.id: s for s in suggest_classes(session, tree.township_a, "2026-03")}
        assert found[steady.id].row.suggested == "提升"
        assert [s.params for s in reason_steps(found[steady.id].row)] == [{"count": 1}]


def test_the_township_leader_confirms_or_changes_with_a_note_audited(engine):
    with Session(engine) as session:
        tree, steady, idle, *_ = classified_township(session)
        suggest_classes(session, tree.township_a, "2026-03")
        leader = make_user(session, "township_leader", tree.township_a)

        row = confirm_class(session, leader, steady.id, "2026-03", "consolidate")  # English keys work too
        assert (row.confirmed, row.note, row.confirmed_by) == ("巩固", None, leader.id)

        with pytest.raises(AssessmentError) as no_note:
            confirm_class(session, leader, idle.id, "2026-03", "处置", "  ")
        assert no_note.value.msgid == "Please add a note saying why you change the suggested class."
        row = confirm_class(session, leader, idle.id, "2026-03", "处置", "大棚已被台风毁坏，无盘活价值")
        assert (row.suggested, row.confirmed) == ("盘活", "处置")
        session.commit()

        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "asset.classify")
                               .order_by(AuditEntry.id)).all()
        assert [(e.actor, e.entity_id, e.after["confirmed"], e.after["note"]) for e in entries] == [
            (f"user:{leader.id}", str(session.exec(select(AssetClass.id).where(
                AssetClass.asset_id == steady.id)).one()), "巩固", None),
            (f"user:{leader.id}", str(row.id), "处置", "大棚已被台风毁坏，无盘活价值"),
        ]
        assert entries[1].before == {"confirmed": None, "note": None, "confirmed_by": None}
        assert audit.verify(session).ok

        # a leader of another township, a village cadre, an unknown class, a month without suggestion
        with pytest.raises(AccessDenied):
            confirm_class(session, make_user(session, "township_leader", tree.township_b), idle.id, "2026-03",
                          "巩固", "不同意")
        with pytest.raises(AccessDenied):
            confirm_class(session, make_user(session, "village_cadre", tree.village_a1), idle.id, "2026-03",
                          "巩固", "不同意")
        with pytest.raises(AssessmentError):
            confirm_class(session, leader, idle.id, "2026-03", "sell", "卖掉")
        with pytest.raises(AssessmentError):
            confirm_class(session, leader, idle.id, "2026-04", "巩固")
        assert session.get(AssetClass, row.id).confirmed == "处置"


# --- (3) compliance -----------------------------------------------------------------------------

def photo(session: Session, n: int) -> Photo:
    item = Photo(sha256=f"{n:064x}", mime="image/jpeg", width=800, height=600, size_bytes=1000,
                 phash=f"{n:016x}")
    session.add(item)
    session.flush()
    return item


def with_photos(session: Session, report: Report, n: int, flags: list | None = None) -> None:
    item = photo(session, n)
    for key in ("board_photo", "sign_photo"):
        session.add(PhotoUse(photo_id=item.id, report_id=report.id, asset_id=report.asset_id,
                             question_key=key, flags=flags if key == "sign_photo" and flags else []))
    session.flush()


def compliance_county(session: Session):
    """March 2026, due 2026-03-25 23:59 Asia/Shanghai (default: no profile chosen), as of 2026-04-10.

    新桥镇/新桥村: P on time (03-20), complete, clean photos; Q submitted 2026-03-25 16:30 UTC = 03-26 00:30
                  local (late), complete, one photo flagged 'reused'.
    新桥镇/王庄村: R not submitted.
    北坡乡/梨树村: S submitted 2026-03-25 15:00 UTC = 23:00 local (on time), incomplete, clean photos;
                  T entered the registry in April: nothing expected for March.
    H (到户类, not checked monthly) and X (another county) are never expected.
    Problems (due → resolved): P 03-10 → 03-09 (in time), Q 03-15 → 03-20 (late), S 03-31 → open (late),
    R created 03-20 without deadline → due 04-19 (created + 30 days), after as_of: not counted yet.
    """
    tree = make_tree(session)
    march = dt.datetime(2026, 3, 1, tzinfo=UTC)
    p = make_asset(session, tree.village_a1, name="P", created_at=march)
    q = make_asset(session, tree.village_a1, name="Q", created_at=march)
    r = make_asset(session, tree.village_a2, name="R", created_at=march)
    s = make_asset(session, tree.village_b1, name="S", created_at=march)
    make_asset(session, tree.village_b1, name="T", created_at=dt.datetime(2026, 4, 2, tzinfo=UTC))
    make_asset(session, tree.village_x, name="X", created_at=march)  # another county
    make_asset(session, tree.village_a1, name="H", asset_type="到户类", created_at=march)  # no monthly check
    with_photos(session, submit(session, p, "2026-03", walk(), noon("2026-03")), 1)
    late = dt.datetime(2026, 3, 25, 16, 30, tzinfo=UTC)
    with_photos(session, submit(session, q, "2026-03", walk(), late), 2, flags=[{"kind": "reused"}])
    with_photos(session, submit(session, s, "2026-03", walk(stop_before="has_difficulties"),
                                dt.datetime(2026, 3, 25, 15, 0, tzinfo=UTC)), 3)
    for asset, due, resolved in ((p, (3, 10), (3, 9)), (q, (3, 15), (3, 20)), (s, (3, 31), None)):
        session.add(Problem(asset_id=asset.id, source="report", kind="idle", severity="major",
                            created_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
                            due_at=dt.datetime(2026, *due, 8, tzinfo=UTC),
                            resolved_at=dt.datetime(2026, *resolved, 8, tzinfo=UTC) if resolved else None))
    session.add(Problem(asset_id=r.id, source="report", kind="idle", severity="major",
                        created_at=dt.datetime(2026, 3, 20, tzinfo=UTC)))
    session.flush()
    return tree


AS_OF = dt.datetime(2026, 4, 10, 2, tzinfo=UTC)


def scores(result) -> dict[str, tuple]:
    return {s.scope: (s.expected, s.rates["on_time"], s.rates["complete"], s.rates["evidence"],
                      s.rates["problems"], s.score) for level in result.levels.values() for s in level}


def test_compliance_of_a_hand_built_month(engine):
    with Session(engine) as session:
        tree = compliance_county(session)
        result = compliance_scores(session, tree.county, "2026-03", as_of=AS_OF)
        assert result.as_of == dt.date(2026, 4, 10)
        # each part: rate rounded to whole percent × weight (on time 30, complete 25, photos 25, problems 20)
        assert scores(result) == {
            # 2 reports: on time 1/2 = 50 % → 15; complete 2/2 → 25; photos 1/2 → 12.5; problems 1/2 → 10
            "新桥镇/新桥村": (2, 50, 100, 50, 50, Decimal("62.50")),
            # R missing: 0 + 0 + 0; its problem is not due before as_of → nothing expected → 20
            "新桥镇/王庄村": (1, 0, 0, 0, 100, Decimal("20.00")),
            # S on time → 30; incomplete → 0; photos → 25; problem open past its deadline → 0
            "北坡乡/梨树村": (1, 100, 0, 100, 0, Decimal("55.00")),
            # 3 reports: 1/3 = 33 % → 9.90; 2/3 = 67 % → 16.75; 1/3 → 8.25; problems 1/2 → 10   = 44.90
            "新桥镇": (3, 33, 67, 33, 50, Decimal("44.90")),
            "北坡乡": (1, 100, 0, 100, 0, Decimal("55.00")),
            # pooled, not a mean of townships: on time P, S 2/4 → 15; complete P, Q 2/4 → 12.5;
            # photos P, S 2/4 → 12.5; problems 1/3 = 33 % → 6.60                                  = 46.60
            "county": (4, 50, 50, 50, 33, Decimal("46.60")),
        }

        township = compliance_scores(session, tree.township_a, "2026-03", as_of=AS_OF)
        assert set(township.levels) == {"township", "village"}
        assert scores(township)["新桥镇"] == (3, 33, 67, 33, 50, Decimal("44.90"))

        # the year so far: January and February precede the assets, April is not yet due → as March
        year = compliance_scores(session, tree.county, "2026", as_of=AS_OF)
        assert scores(year)["county"] == (4, 50, 50, 50, 33, Decimal("46.60"))
        # a month later R's problem (due 04-19) is late and April's reports are all missing
        later = compliance_scores(session, tree.county, "2026", as_of=dt.datetime(2026, 5, 1, tzinfo=UTC))
        assert scores(later)["county"][:2] == (9, 22) and scores(later)["county"][4] == 25

        with pytest.raises(AccessDenied):
            compliance_scores(session, tree.county, "2026-03", user=make_user(session, "township_leader",
                                                                               tree.township_a))
        with pytest.raises(AssessmentError):
            compliance_scores(session, tree.county, "2026-13")


def test_the_county_policy_profile_sets_the_deadline(engine, tmp_path_factory):
    shipped = (PROFILES_DIR / "yanshan-2024.yaml").read_text(encoding="utf-8")
    assert "due: {day: 25," in shipped
    profile = tmp_path_factory.mktemp("pp") / "by20.yaml"
    profile.write_text(shipped.replace("due: {day: 25,", "due: {day: 20,", 1)
                       .replace("id: yanshan-2024", "id: by20-county", 1), encoding="utf-8")
    with Session(engine) as session:
        from bot.services import audit, policies

        tree = compliance_county(session)
        policies.use(session, audit.SYSTEM, tree.county, str(profile))  # its own profile, kept in the database
        session.flush()
        # due on the 20th: only P (03-20 12:00 local) is on time; S (03-25 23:00) is now late too → 1/4
        assert scores(compliance_scores(session, tree.county, "2026-03", as_of=AS_OF))["county"][1] == 25


# --- command line -------------------------------------------------------------------------------

@pytest.fixture
def runner(db_url, monkeypatch) -> CliRunner:
    monkeypatch.setenv("VILLAGEBOT_DATABASE_URL", db_url)
    return CliRunner()


def test_cli_scores_classifies_and_reports_compliance(engine, runner, tmp_path):
    with Session(engine) as session:
        tree = compliance_county(session)
        asset = make_asset(session, tree.village_a1, name="大棚", project_code="XQ-9")
        for month, amount in (("2026-01", "1.25"), ("2026-02", "0.75")):
            submit(session, asset, month, walk(income_amount=amount), noon(month))
        session.commit()

    judgments = tmp_path / "evaluation.yaml"
    judgments.write_text(yaml.safe_dump(year_end_file(), allow_unicode=True), encoding="utf-8")
    out = runner.invoke(cli, ["score", "asset", "XQ-9", "--year", "2026", "--judgments", str(judgments),
                              "--json", "-o", str(tmp_path / "sheet.xlsx"), "--lang", "en"])
    assert out.exit_code == 0, out.output
    sheet = json.loads(out.output)
    assert sheet["total"] == "98.00" and sheet["rubric"] == "qinbei-2023-operating"
    assert {f["field"]: f["value"] for f in sheet["registry_facts"]}["facts.income.received"] == "20000"
    assert (tmp_path / "sheet.xlsx").stat().st_size > 0

    unknown = runner.invoke(cli, ["score", "asset", "NOPE", "--judgments", str(judgments), "--lang", "en"])
    assert unknown.exit_code == 2 and "No asset has the project code NOPE." in unknown.output
    contradicting = tmp_path / "bad.yaml"
    contradicting.write_text(yaml.safe_dump(year_end_file(income={"agreed": 1, "received": 5})),
                             encoding="utf-8")
    bad = runner.invoke(cli, ["score", "asset", "XQ-9", "--year", "2026", "--judgments", str(contradicting),
                              "--lang", "en"])
    assert bad.exit_code == 2 and "facts.income.received is filled from the registry (20000)" in bad.output

    classified = runner.invoke(cli, ["score", "classify", "--township", "新桥镇", "--period", "2026-03",
                                     "--json"])
    assert classified.exit_code == 0, classified.output
    assert {a["name"]: a["suggested"] for a in json.loads(classified.output)["assets"]} == {
        "P": "巩固", "Q": "巩固", "R": None, "大棚": "巩固"}

    text = runner.invoke(cli, ["score", "compliance", "--scope", "桃源县", "--period", "2026-03",
                               "--lang", "en"])
    assert text.exit_code == 0, text.output
    assert "新桥镇/新桥村 | 2 | 50 | 100 | 50 | 50 | 62.50" in text.output
    both = runner.invoke(cli, ["score", "compliance", "--scope", "桃源县", "--period", "2026-03",
                               "--year", "2026"])
    assert both.exit_code == 2
