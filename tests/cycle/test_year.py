"""The yearly cycle of seed 004 (Qinbei 2023) for a small county, time-travelled through 2026."""

from __future__ import annotations

import copy

import pytest
import time_machine
from sqlmodel import Session, select

from bot.services import audit, cycle, reports
from bot.services.access import AccessDenied
from bot.storage.models import AuditEntry, Report
from bot.storage.models_cycle import CycleStep
from bot.storage.models_schedule import DutyRecord
from tests.cycle.world import fill, local, make_county, post_on_board, sign_both
from tests.scoring.scoring_factories import full_marks_file

TARGETS = {"upkeep_targets": "道路每月巡查", "operating_targets": "车间全年正常运营", "income_target": "3",
           "villagers_consulted": "yes"}
MIDYEAR = {"progress": "partly", "gaps": "收益分配滞后", "measures": "九月前完成分配", "income_so_far": "1.2"}
YEAREND = {"targets_met": "most", "self_score": "92", "summary": "道路完好，车间分红到户。", "shortfalls": "分红晚了一个月"}
REVIEW = {"checked_on_site": "yes", "posting_objections": "no", "corrections": None}


def due(session, user, moment) -> set[tuple[str, str, str]]:
    """The forms due for the user at ``moment``, as (form, subject, period)."""
    with time_machine.travel(moment, tick=False):
        return {(d.form_id, d.subject_name, d.period) for d in cycle.due_forms(session, user)}


def duties(session) -> set[tuple[str, int, str]]:
    """The duties recorded as done, as (item, unit id, period)."""
    return {(d.item, d.org_unit_id, d.period) for d in session.exec(select(DutyRecord)).all()}


def evaluation(rubric: str, not_met: dict | None = None) -> dict:
    """A township's evaluation of an asset earning full marks, except the given judgments."""
    data = copy.deepcopy(full_marks_file(rubric))
    for code, items in (not_met or {}).items():
        for item in items:
            data["judgments"][code][item] = "not_met"
    return data


def test_a_year_of_the_cycle(engine, tmp_path):
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        xq = c.tree.village_a1

        # January: the departments set each village's targets, due January 25.
        assert due(session, c.officer, local(2025, 12, 20)) == set()
        assert due(session, c.officer, local(2026, 1, 5)) == {
            ("annual-targets", name, "2026") for name in ("新桥村", "王庄村", "梨树村")}
        assert due(session, c.cadre, local(2026, 1, 5)) == {("yearend-self-evaluation", "新桥村", "2025")}  # overdue
        assert due(session, c.cadre, local(2026, 1, 12)) == set()
        with time_machine.travel(local(2026, 1, 10), tick=False):
            with pytest.raises(AccessDenied):  # a cadre cannot set targets
                cycle.start(session, c.cadre, "annual-targets", xq.id, "2026", channel="web")
            targets = fill(session, c.officer, cycle.start(session, c.officer, "annual-targets", xq.id, "2026",
                                                           channel="web"), TARGETS)
        assert targets.status == "submitted" and targets.org_unit_id == xq.id and targets.asset_id is None
        assert reports.subject_name(session, targets) == "新桥村"
        assert ("annual-targets", "新桥村", "2026") not in due(session, c.officer, local(2026, 1, 11))

        # June: the mid-year self-check, signed off by the two supervisors' chairs before it goes up.
        assert ("midyear-self-check", "新桥村", "2026") not in due(session, c.cadre, local(2026, 5, 20))
        assert due(session, c.cadre, local(2026, 6, 2)) == {("midyear-self-check", "新桥村", "2026")}
        with time_machine.travel(local(2026, 6, 20), tick=False):
            midyear = fill(session, c.cadre, cycle.start(session, c.cadre, "midyear-self-check", xq.id, "2026",
                                                         channel="telegram"), MIDYEAR)
            assert [r.id for r in cycle.awaiting_sign_off(session, c.supervisor)] == [midyear.id]
            assert cycle.awaiting_sign_off(session, c.other_supervisor) == []
            with pytest.raises(AccessDenied):
                cycle.sign_off(session, c.other_supervisor, midyear.id)
            with pytest.raises(AccessDenied):  # the cadre cannot sign their own report off
                cycle.sign_off(session, c.cadre, midyear.id)
            assert session.get(Report, midyear.id).status == "submitted"
            midyear = cycle.sign_off(session, c.supervisor, midyear.id)
            assert midyear.status == "submitted"  # 五(二): the cooperative board's chair signs too
            assert cycle.awaiting_sign_off(session, c.supervisor) == []
            assert [r.id for r in cycle.awaiting_sign_off(session, c.board)] == [midyear.id]
            midyear = cycle.sign_off(session, c.board, midyear.id)
        assert midyear.status == "reported"  # no posting: filed with the township on sign-off
        assert [s.step for s in cycle.steps(session, c.leader, midyear.id)] == ["sign_off", "report_up"]
        assert duties(session) == {("midyear_self_check", xq.id, "2026")}  # the reminders stop

        # November–December: the year-end self-evaluation, signed off, posted 10 days, reported.
        assert ("yearend-self-evaluation", "新桥村", "2026") not in due(session, c.cadre, local(2026, 10, 20))
        assert ("yearend-self-evaluation", "新桥村", "2026") in due(session, c.cadre, local(2026, 11, 2))
        with time_machine.travel(local(2026, 11, 15), tick=False):
            yearend = fill(session, c.cadre, cycle.start(session, c.cadre, cycle.YEAREND, xq.id, "2026",
                                                         channel="web"), YEAREND)
            with pytest.raises(cycle.CycleError) as refused:  # nothing goes up before the sign-off
                cycle.report_up(session, c.cadre, yearend.id)
            assert refused.value.msgid == cycle.MSG_NOT_SIGNED
            assert cycle.posted_evaluation(session, c.road) is None
        assert due(session, c.leader, local(2026, 12, 1)) == set()  # nothing for the township to review
        with time_machine.travel(local(2026, 12, 1), tick=False), pytest.raises(cycle.CycleError):
            cycle.start(session, c.leader, cycle.TOWNSHIP_REVIEW, xq.id, "2026", channel="web")

        signed_at = local(2026, 11, 16, 9, 30)
        with time_machine.travel(signed_at, tick=False):
            with pytest.raises(AccessDenied):
                cycle.sign_off(session, c.other_supervisor, yearend.id)
            yearend = sign_both(session, c.supervisor, c.board, yearend.id)
            assert yearend.status == "signed_off"
            with pytest.raises(cycle.CycleError) as unposted:  # 五(三)1: posted on the village board first
                cycle.report_up(session, c.cadre, yearend.id)
            assert unposted.value.msgid == cycle.MSG_NO_PHOTO
            post_on_board(session, c.cadre, yearend.id, tmp_path / "evidence")

        # Posted on the QR pages of the village's assets for exactly 10 days, and on no other village's.
        for moment in (signed_at, local(2026, 11, 26, 9, 29)):
            posted = cycle.posted_evaluation(session, c.road, moment)
            assert posted is not None and posted.village == "新桥村" and posted.summary == YEAREND["summary"]
            assert posted.as_dict()["targets_met"] == "大部分完成" and posted.as_dict()["self_score"] == "92"
            assert cycle.posted_evaluation(session, c.workshop, moment) is not None
            assert cycle.posted_evaluation(session, c.pv, moment) is None
        assert cycle.posted_evaluation(session, c.road, local(2026, 11, 16, 9, 29)) is None
        assert cycle.posted_evaluation(session, c.road, local(2026, 11, 26, 9, 30)) is None
        # The QR page's disclosure carries the notice inside the window only.
        from zoneinfo import ZoneInfo

        from bot.services import public
        shanghai = ZoneInfo("Asia/Shanghai")
        shown = public.disclosure(session, c.road, tz=shanghai, now=local(2026, 11, 20)).as_dict()
        assert shown["posted_evaluation"]["summary"] == YEAREND["summary"]
        assert public.disclosure(session, c.road, tz=shanghai, now=local(2026, 11, 27)).posted_evaluation is None

        with time_machine.travel(local(2026, 11, 25), tick=False), pytest.raises(cycle.CycleError) as early:
            cycle.report_up(session, c.cadre, yearend.id)
        assert early.value.msgid == cycle.MSG_POSTING
        with time_machine.travel(local(2026, 11, 27), tick=False):
            yearend = cycle.report_up(session, c.cadre, yearend.id)
        assert yearend.status == "reported"
        assert ("village_self_evaluation", xq.id, "2026") in duties(session)

        # The township reviews and scores by December 20.
        assert due(session, c.leader, local(2026, 11, 28)) == {("township-review", "新桥村", "2026")}
        assert due(session, c.other_leader, local(2026, 11, 28)) == set()
        evaluations = {c.workshop.id: evaluation("qinbei-2023-operating"),
                       c.road.id: evaluation("qinbei-2023-public-welfare", {"A101": ["1"]})}
        with time_machine.travel(local(2026, 12, 12), tick=False):
            with pytest.raises(cycle.CycleError) as no_form:
                cycle.review(session, c.leader, xq.id, 2026, evaluations)
            assert no_form.value.msgid == cycle.MSG_NO_REVIEW_FORM
            fill(session, c.leader, cycle.start(session, c.leader, cycle.TOWNSHIP_REVIEW, xq.id, "2026",
                                                channel="web"), REVIEW)
            with pytest.raises(AccessDenied):
                cycle.review(session, c.other_leader, xq.id, 2026, evaluations)
            with pytest.raises(cycle.CycleError):  # every checked asset needs its score sheet
                cycle.review(session, c.leader, xq.id, 2026, {c.workshop.id: evaluations[c.workshop.id]})
            reviewed = cycle.review(session, c.leader, xq.id, 2026, evaluations)
        assert reviewed.data["assets"] == {str(c.workshop.id): "100.00", str(c.road.id): "95.00"}
        assert reviewed.data["score"] == "97.50"
        assert session.get(Report, yearend.id).status == "approved"

        # The county grades the township by December 31 on the 好/较好/一般/较差 bands.
        with time_machine.travel(local(2026, 12, 28), tick=False):
            with pytest.raises(AccessDenied):
                cycle.grade(session, c.leader, c.tree.township_a.id, 2026)
            with pytest.raises(cycle.CycleError):
                cycle.grade(session, c.county_officer, c.tree.township_b.id, 2026)  # nothing reviewed there
            graded = cycle.grade(session, c.county_officer, c.tree.township_a.id, 2026)
        assert graded.data["score"] == "97.50" and graded.data["grade"] == "好"
        # 王庄村 has not been reviewed, 北坡乡 not graded: those duties stay open.
        assert duties(session) == {("midyear_self_check", xq.id, "2026"), ("village_self_evaluation", xq.id, "2026")}

        # Each step is in the audit log, and the chain holds.
        actions = [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
                   if e.action.startswith("cycle.")]
        assert actions == ["cycle.sign", "cycle.sign", "cycle.sign_off", "cycle.report_up",
                           "cycle.sign", "cycle.sign", "cycle.sign_off", "cycle.post", "cycle.report_up",
                           "cycle.review", "cycle.grade"]
        assert audit.verify(session).ok
        assert session.exec(select(CycleStep).where(CycleStep.step == "post")).one().until == local(2026, 11, 26, 9, 30)


@pytest.mark.parametrize(("not_met", "score", "band"), [
    ({}, "100.00", "好"),
    ({"A101": ["1", "2", "3"]}, "85.00", "较好"),  # 15 points of the operating rubric
    ({"A101": ["1", "2", "3"], "A201": ["2"]}, "75.00", "一般"),
    ({"A101": ["1", "2", "3"], "A201": ["2"], "B201": ["1", "2"]}, "60.00", "较差"),
])
def test_grade_bands(sqlite_engine, tmp_path, not_met, score, band):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        wz = c.tree.village_a2
        supervisor, cadre = c.other_supervisor, reports_user(session, wz)
        with time_machine.travel(local(2026, 11, 20), tick=False):
            report = fill(session, cadre, cycle.start(session, cadre, cycle.YEAREND, wz.id, "2026", channel="web"),
                          YEAREND)
            sign_both(session, supervisor, c.other_board, report.id)
            post_on_board(session, cadre, report.id, tmp_path)
        with time_machine.travel(local(2026, 12, 1), tick=False):
            cycle.report_up(session, cadre, report.id)
            fill(session, c.leader, cycle.start(session, c.leader, cycle.TOWNSHIP_REVIEW, wz.id, "2026",
                                                channel="web"), REVIEW)
            sheet = evaluation("qinbei-2023-operating", not_met)
            assert cycle.review(session, c.leader, wz.id, 2026, {c.pv.id: sheet}).data["score"] == score
            graded = cycle.grade(session, c.county_officer, c.tree.township_a.id, 2026)
        assert graded.data["score"] == score and graded.data["grade"] == band


def reports_user(session, village):
    """A cadre of the village."""
    from tests.factories import make_user

    user = make_user(session, "village_cadre", village, "王村干")
    session.commit()
    return user
