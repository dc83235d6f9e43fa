"""Item 2: losses reach the county (seed 000 四(二)2, 四(三)4): a loss or an uninsured planting project is a
problem; losses in consecutive periods, serious losses and insolvency are serious and go to the county office
at once (status escalated, an outbox row to the county officer)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from bot.clock import UTC
from bot.storage.models import ProblemEvent
from tests.fidelity.conftest import MONITORING, MONTHLY, outbox_to, problems, submit_form, submit_monthly

JULY = dt.datetime(2026, 7, 10, 4, 0, tzinfo=UTC)


def test_a_quarter_of_losses_and_no_insurance_are_problems_of_the_township(engine, world):
    result = submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.greenhouse,
                         {**MONITORING, "last_quarter_result": "loss", "insured": "no"})
    found = {p.kind: (p.severity, p.owner_level, p.status) for p in result.problems}
    assert found == {"operating_loss": ("major", "township", "open"), "uninsured": ("major", "township", "open")}
    assert outbox_to(engine, world.county) == []  # one quarter of losses stays with the township


def test_two_quarters_of_losses_reach_the_county_office(engine, world):
    submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.greenhouse,
                {**MONITORING, "last_quarter_result": "loss"})
    second = submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q2", world.greenhouse,
                         {**MONITORING, "last_quarter_result": "loss"}, now=JULY)
    assert [p.kind for p in second.recurring] == ["operating_loss"]
    consecutive = problems(engine, world.greenhouse)["consecutive_losses"]
    assert (consecutive.severity, consecutive.status, consecutive.owner_level) == ("serious", "escalated", "county")
    assert "2026年第一季度" in consecutive.description and "2026年第二季度" in consecutive.description
    assert [p.id for p in second.serious] == [consecutive.id]
    to_county = [m for m in outbox_to(engine, world.county) if m.subject == f"problem/{consecutive.id}"]
    assert [(m.role, m.step) for m in to_county] == [("county_officer", "county-at-once")]
    with Session(engine) as session:
        events = session.exec(select(ProblemEvent.action).where(ProblemEvent.problem_id == consecutive.id)).all()
    assert {"created", "escalated"} <= set(events)
    # A third quarter of losses notes the open problem again instead of a second one.
    third = submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q3", world.greenhouse,
                        {**MONITORING, "last_quarter_result": "loss"},
                        now=dt.datetime(2026, 10, 10, 4, 0, tzinfo=UTC))
    assert third.problems == [] and len([p for p in problems(engine, world.greenhouse)]) == 2


def test_a_profitable_quarter_between_losses_is_not_consecutive(engine, world):
    submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.greenhouse,
                {**MONITORING, "last_quarter_result": "loss"})
    submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q2", world.greenhouse, MONITORING, now=JULY)
    submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q3", world.greenhouse,
                {**MONITORING, "last_quarter_result": "loss"}, now=dt.datetime(2026, 10, 10, 4, 0, tzinfo=UTC))
    assert "consecutive_losses" not in problems(engine, world.greenhouse)
    assert outbox_to(engine, world.county) == []


def test_two_months_of_losses_in_the_monthly_check_reach_the_county(engine, world):
    losing = {**MONTHLY, "operating_normally": "no", "abnormality_kind": "losses", "abnormality_note": "销路不畅",
              "board_missing": "missing", "sign_missing": "missing"}
    march = submit_monthly(engine, world.cadre, world.workshop, losing, now=dt.datetime(2026, 3, 10, 4, tzinfo=UTC))
    assert [p.kind for p in march.problems if p.severity != "minor"] == ["operating_loss"]
    submit_monthly(engine, world.cadre, world.workshop, losing)
    consecutive = problems(engine, world.workshop)["consecutive_losses"]
    assert consecutive.status == "escalated" and "2026年3月" in consecutive.description
    assert any(m.subject == f"problem/{consecutive.id}" for m in outbox_to(engine, world.county))


def test_a_serious_loss_or_insolvency_goes_to_the_county_at_once(engine, world):
    result = submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.greenhouse,
                         {**MONITORING, "last_quarter_result": "serious_loss"})
    assert [(p.kind, p.severity, p.status) for p in result.problems] == [("serious_loss", "serious", "escalated")]
    insolvent = submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.workshop,
                            {**MONITORING, "last_quarter_result": "insolvent"})
    assert [(p.kind, p.owner_level) for p in insolvent.problems] == [("operator_insolvent", "county")]
    subjects = {m.subject for m in outbox_to(engine, world.county)}
    assert {f"problem/{p.id}" for p in result.problems + insolvent.problems} <= subjects


def test_a_negative_net_income_in_the_benefit_evaluation_is_a_loss(engine, world):
    from tests.fidelity.conftest import BENEFIT

    result = submit_form(engine, world.leader, "benefit-self-evaluation", "2026-Q1", world.greenhouse,
                         {**BENEFIT, "net_income": "-3.5"})
    assert [p.kind for p in result.problems] == ["operating_loss"]
    submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q2", world.greenhouse,
                {**MONITORING, "last_quarter_result": "loss"}, now=JULY)
    assert problems(engine, world.greenhouse)["consecutive_losses"].owner_level == "county"


def test_the_township_acknowledges_a_loss_the_county_still_decides(engine, world):
    from bot.services import problem_list
    from bot.services import problems as handling
    from bot.storage.models import User

    result = submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.greenhouse,
                         {**MONITORING, "last_quarter_result": "insolvent"})
    problem_id = result.problems[0].id
    with Session(engine) as session:
        acknowledged = handling.acknowledge(session, session.get(User, world.leader), problem_id)
        assert acknowledged.status == "escalated" and acknowledged.acknowledged_at is not None
        decided = problem_list.decide(session, session.get(User, world.county), problem_id, "更换经营主体，资产收回村集体")
        session.commit()
        assert (decided.status, decided.owner_level) == ("in_hand", "township")
