"""The one definition of a duty's state (bot.services.duties) and everyone who asks it: the scheduler's
facts, the dashboards, the compliance scores, the quarterly export and the officers' lists."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from bot.policy import ProfileError, parse
from bot.services import duties, exports, oversight, reports, review
from bot.services.assessment.compliance import compliance_scores
from bot.services.schedule_facts import county_view, load_facts, scope_code
from bot.storage.models import Report
from tests.factories import make_asset
from tests.policy.world import LEDGER_SINCE, build, submit

CST = dt.timezone(dt.timedelta(hours=8))


def local(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CST).astimezone(dt.UTC)


def monthly(session, county, period: str, now: dt.datetime) -> dict[int, duties.DutyState]:
    """The monthly report duty of every village of the county for one month, by village id."""
    year, month = int(period[:4]), int(period[5:])
    start = local(year, month, 1, 0, 0)
    end = local(year + month // 12, month % 12 + 1, 1, 0, 0)
    return {s.unit_id: s for s in duties.states(session, county, start, end, now=now,
                                                items=[duties.MONTHLY_REPORT])}


def scheduler_done(session, county, period: str, at: dt.datetime) -> set[str]:
    """The scopes the scheduler's facts count done for the month at ``at``."""
    view = county_view(session, county)
    occs = [o for o in view.occurrences(at, at) if o.item == duties.MONTHLY_REPORT and o.period == period]
    facts = load_facts(session, view, occs, at)
    return {s.scope for s in facts.submissions if s.period == period and s.at <= at}


def test_submitted_approved_returned_and_resubmitted(engine):
    with Session(engine, expire_on_commit=False) as session:
        world = build(session, "yanshan-2024")
        tree = world.tree
        # 王庄村 also has a public-welfare road: seed 002 第二条 asks monthly checks of operating assets only.
        road = make_asset(session, tree.village_a2, name="王庄村产业路", asset_type="公益性", created_at=LEDGER_SINCE)
        first = submit(session, world.assets["village_a1"], "2026-11", local(2026, 11, 18, 10))
        second = submit(session, world.assets["village_a2"], "2026-11", local(2026, 11, 19, 10))
        session.commit()
        now = local(2026, 11, 20, 12)
        states = monthly(session, tree.county, "2026-11", now)
        assert {v: s.state for v, s in states.items()} == {
            tree.village_a1.id: duties.DONE, tree.village_a2.id: duties.DONE, tree.village_b1.id: duties.DUE}
        assert states[tree.village_a1.id].done.at == local(2026, 11, 18, 10)

        # Approved stays done; the scheduler agrees (it used to count only 'submitted').
        review.approve(session, world.people["leader_a"], first.id, now=now)
        # Sent back: open again until resubmitted.
        new = review.send_back(session, world.people["leader_a"], second.id, "照片不清楚", now=local(2026, 11, 21, 9))
        now = local(2026, 11, 22, 12)
        states = monthly(session, tree.county, "2026-11", now)
        assert states[tree.village_a1.id].state == duties.DONE
        assert states[tree.village_a2.id].state == duties.DUE and states[tree.village_a2.id].done is None
        assert scheduler_done(session, tree.county, "2026-11", now) == {scope_code(tree.village_a1)}
        # The cadres' "what is due" list (/report, /f) says the same: approved is done, sent back is a draft,
        # and the road, which yanshan-2024's monthly duty does not cover, is not asked for at all.
        overview = {m.asset.id: m.state for cadre in ("cadre_a1", "cadre_a2")
                    for m in reports.month_overview(session, world.people[cadre], "2026-11", now=now)}
        assert overview == {world.assets["village_a1"].id: "done", world.assets["village_a2"].id: "draft"}
        assert road.id not in overview
        # The scores' registry facts count the same reports: the sent-back one is not income on record.
        from bot.services.assessment.common import submitted_reports
        counted = submitted_reports(session, [world.assets["village_a1"].id, world.assets["village_a2"].id],
                                    ["2026-11"])
        assert set(counted) == {(world.assets["village_a1"].id, "2026-11")}

        new = session.get(Report, new.id)
        new.status, new.submitted_at = "submitted", local(2026, 11, 27, 9)
        session.add(new)
        session.commit()
        now = local(2026, 11, 28, 12)
        states = monthly(session, tree.county, "2026-11", now)
        corrected = states[tree.village_a2.id]
        assert corrected.state == duties.DONE and corrected.done.at == local(2026, 11, 27, 9)
        assert corrected.on_time  # by its first submission, as the dashboards and the compliance score count
        resubmitted = submitted_reports(session, [world.assets["village_a2"].id], ["2026-11"])
        key = (world.assets["village_a2"].id, "2026-11")
        assert resubmitted[key].report.id == new.id
        assert resubmitted[key].first_submitted_at == local(2026, 11, 19, 10)
        assert states[tree.village_b1.id].state == duties.LATE
        assert scheduler_done(session, tree.county, "2026-11", now) == {scope_code(tree.village_a1),
                                                                         scope_code(tree.village_a2)}

        # The dashboards agree village by village: done == expected exactly when the duty is done.
        rows = {r.village: r for r in oversight.reporting_by_village(session, tree.county, "2026-11")}
        for state in states.values():
            row = rows[state.unit_name]
            assert (row.expected > 0 and row.done == row.expected) == (state.state == duties.DONE)
        assert rows["王庄村"].expected == 1  # the road is not counted under yanshan-2024
        # The compliance score counts the same reports in.
        result = compliance_scores(session, tree.county, "2026-11", as_of=now)
        scores = {s.scope.split("/")[1]: s for s in result.levels["village"]}
        assert {name: (s.expected, s.counts["on_time"]) for name, s in scores.items()} == {
            "梨树村": (1, 0), "王庄村": (1, 1), "新桥村": (1, 1)}  # on time by the first submission
        # The quarterly export lists exactly the done reports.
        quarters = {q.asset.id: q for q in exports.project_quarters(session, None, tree.county, "2026Q4")}
        assert [r.id for r in quarters[world.assets["village_a1"].id].reports] == [first.id]
        assert [r.id for r in quarters[world.assets["village_a2"].id].reports] == [new.id]
        assert quarters[world.assets["village_b1"].id].reports == []


def test_a_village_without_covered_assets_has_nothing_to_do(engine):
    with Session(engine, expire_on_commit=False) as session:
        world = build(session, "yanshan-2024")
        world.assets["village_b1"].asset_type = "公益性"
        session.add(world.assets["village_b1"])
        session.commit()
        states = monthly(session, world.tree.county, "2026-11", local(2026, 11, 28, 12))
        assert states[world.tree.village_b1.id].state == duties.NOT_APPLICABLE
        rows = {r.village: r for r in oversight.reporting_by_village(session, world.tree.county, "2026-11")}
        assert rows["梨树村"].expected == 0
        states = {s.unit_id: s.state for s in duties.states(session, world.tree.county, local(2026, 11, 1, 0, 0),
                                                              local(2026, 12, 1, 0, 0), now=local(2026, 11, 10))}
        assert states[world.tree.village_a1.id] == duties.DUE


def test_profile_items_say_what_records_them(tmp_path):
    from bot.policy import load

    done_by = {i.kind: (i.done_by, i.form) for p in ("yanshan-2024", "jiaozuo-2020", "qinbei-2023")
               for i in load(p).items}
    assert done_by == {
        "village_monthly_report": ("form", None),
        "township_inspection": ("form", "township-inspection"),
        "township_study": ("record", None),  # 002 第六条 (issue 16)
        "township_classification": ("classify", None),
        "department_supervision": ("record", None),
        "county_half_year_report": ("record", None),
        "quarterly_monitoring": ("form", "quarterly-monitoring"),
        "benefit_self_evaluation": ("form", "benefit-self-evaluation"),
        "county_sample_check": ("record", None),
        "yearly_inventory": ("inventory", None),  # 003 二(八) 年初清查、清算 (issue 17)
        "department_targets": ("form", "annual-targets"),
        "targets_issued": ("record", None),
        "midyear_self_check": ("sign_off", "midyear-self-check"),
        "village_self_evaluation": ("sign_off", "yearend-self-evaluation"),
        "township_review": ("review", None),
        "county_grading": ("grade", None),
    }
    assert load("yanshan-2024").item("village_monthly_report").covers == ("经营性",)
    base = {"id": "x", "title": "x", "items": [{"kind": "village_monthly_report", "label": "m",
                                                 "role": "village_cadre", "frequency": "monthly",
                                                 "due": {"day": 25}}]}
    assert parse(base, source="x.yaml").item("village_monthly_report").covers == ("经营性", "公益性")
    widened = {**base, "items": [{**base["items"][0], "asset_types": ["经营性", "公益性"]}]}
    assert parse(widened, source="x.yaml").item("village_monthly_report").asset_types == ("经营性", "公益性")
    for bad, field in (({"asset_types": ["工厂"]}, "items[0].asset_types[0]"),
                       ({"done_by": "magic"}, "items[0].done_by"),
                       ({"done_by": "sign_off"}, "items[0].done_by"),
                       ({"done_by": "inventory"}, "items[0].done_by"),  # a village's yearly duty only
                       ({"done_by": "inventory", "frequency": "yearly", "role": "township_leader"},
                        "items[0].done_by")):
        with pytest.raises(ProfileError) as error:
            parse({**base, "items": [{**base["items"][0], **bad}]}, source="x.yaml")
        assert error.value.field == field
