"""The quarterly forms: monitoring and benefit self-evaluation (Jiaozuo 2020), the township's inspections
(Yanshan 2024), and the access rules of reports about a village."""

from __future__ import annotations

import pytest
import time_machine
from sqlmodel import Session, select

from bot.services import cycle, reports
from bot.services.access import AccessDenied
from bot.storage.models import Problem, Report
from bot.storage.models_schedule import DutyRecord
from tests.cycle.test_year import YEAREND
from tests.cycle.world import fill, local, make_county

MONITORING = {"operating_normally": "no", "last_quarter_result": "break_even", "publicly_disclosed": "yes",
              "market": "difficult", "sales_link": "average", "benefit_model_sound": "yes",
              "employment_as_agreed": "yes", "insured": "not_applicable", "loss_safeguards": "yes"}


def duties(session) -> set[tuple[str, int, str]]:
    return {(d.item, d.org_unit_id, d.period) for d in session.exec(select(DutyRecord)).all()}


def due(session, user, moment) -> set[tuple[str, str, str]]:
    with time_machine.travel(moment, tick=False):
        return {(d.form_id, d.subject_name, d.period) for d in cycle.due_forms(session, user)}


def test_monitoring_and_benefit_forms_for_the_previous_quarter(engine):
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "jiaozuo-2020")
        # Due by the 15th of the quarter's first month, for the quarter before, on operating assets only.
        assert due(session, c.leader, local(2025, 12, 20)) == set()
        expected = {(form, "新桥村扶贫车间", "2025-Q4") for form in ("quarterly-monitoring", "benefit-self-evaluation")}
        expected |= {(form, "王庄村光伏电站", "2025-Q4") for form in ("quarterly-monitoring", "benefit-self-evaluation")}
        assert due(session, c.leader, local(2026, 1, 3)) == expected
        assert due(session, c.other_leader, local(2026, 1, 3)) == set()  # no operating asset in 北坡乡
        assert due(session, c.cadre, local(2026, 1, 3)) == set()
        with time_machine.travel(local(2026, 1, 10), tick=False):
            with pytest.raises(AccessDenied):
                cycle.start(session, c.other_leader, "quarterly-monitoring", c.workshop.id, "2025-Q4",
                            channel="web")
            report = fill(session, c.leader, cycle.start(session, c.leader, "quarterly-monitoring", c.workshop.id,
                                                         "2025-Q4", channel="web"), MONITORING)
        assert report.asset_id == c.workshop.id and report.org_unit_id is None
        problem = session.exec(select(Problem).where(Problem.report_id == report.id)).one()
        assert problem.kind == "not_operating_normally" and problem.asset_id == c.workshop.id
        assert ("quarterly-monitoring", "新桥村扶贫车间", "2025-Q4") not in due(session, c.leader, local(2026, 1, 11))
        assert duties(session) == set()  # 王庄村光伏电站 is still missing
        with time_machine.travel(local(2026, 1, 12), tick=False):
            fill(session, c.leader, cycle.start(session, c.leader, "quarterly-monitoring", c.pv.id, "2025-Q4",
                                                channel="web"), {**MONITORING, "operating_normally": "yes"})
        assert duties(session) == {("quarterly_monitoring", c.tree.township_a.id, "2025-Q4")}
        assert ("benefit-self-evaluation", "新桥村扶贫车间", "2025-Q4") in due(session, c.leader, local(2026, 1, 11))
        assert due(session, c.leader, local(2026, 3, 1)) == set()  # Q1 is reported in April
        assert ("quarterly-monitoring", "新桥村扶贫车间", "2026-Q1") in due(session, c.leader, local(2026, 4, 2))


def test_inspections_each_quarter_for_each_asset_of_the_township(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        c = make_county(session, "yanshan-2024")
        found = due(session, c.leader, local(2026, 2, 1))
        assert {name for form, name, period in found if form == "township-inspection" and period == "2026-Q1"} == {
            "新桥村扶贫车间", "新桥村产业路", "王庄村光伏电站"}  # household assets are the households' own
        assert {period for _, _, period in found} == {"2026-Q1"}
        with time_machine.travel(local(2026, 2, 1), tick=False):
            report = cycle.start(session, c.leader, "township-inspection", c.road.id, "2026-Q1", channel="web")
            reports.answer(session, c.leader, report.id, "condition", "good")
            reports.answer(session, c.leader, report.id, "village_managing", "yes")
            with pytest.raises(reports.ReportError):  # the on-site photo is required
                reports.submit(session, c.leader, report.id)
        assert duties(session) == set()


def test_reports_about_a_village_check_the_unit(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        xq, wz = c.tree.village_a1, c.tree.village_a2
        with time_machine.travel(local(2026, 11, 20), tick=False):
            draft = cycle.start(session, c.cadre, cycle.YEAREND, xq.id, "2026", channel="web")
            assert cycle.start(session, c.cadre, cycle.YEAREND, xq.id, "2026", channel="web").id == draft.id
            for outsider, village in ((c.cadre, wz), (c.supervisor, xq), (c.leader, xq)):
                with pytest.raises(AccessDenied):  # another village, or a role that does not fill it
                    reports.start_or_resume_form(session, outsider, cycle.YEAREND, "2026", channel="web",
                                                 org_unit_id=village.id)
            with pytest.raises(AccessDenied):
                reports.answer(session, c.supervisor, draft.id, "targets_met", "all")
            with pytest.raises(AccessDenied):
                reports.start_or_resume_form(session, c.cadre, cycle.YEAREND, "2026", channel="web",
                                             org_unit_id=999_999)
            done = fill(session, c.cadre, draft, YEAREND)
            assert done.flags == [] and session.exec(select(Problem)).all() == []
            with pytest.raises(reports.ReportError) as again:
                cycle.start(session, c.cadre, cycle.YEAREND, xq.id, "2026", channel="web")
            assert "新桥村" in again.value.message("zh_CN")
            cycle.sign_off(session, c.supervisor, done.id)
            with pytest.raises(cycle.CycleError):  # each signer signs once only
                cycle.sign_off(session, c.supervisor, done.id)
            cycle.sign_off(session, c.board, done.id)  # Qinbei: the cooperative board's chair signs too
            with pytest.raises(cycle.CycleError):  # signed off once only
                cycle.sign_off(session, c.board, done.id)
        assert session.get(Report, done.id).status == "signed_off"
