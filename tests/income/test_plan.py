"""The distribution plan: drafted and submitted by the village, approved by the township, filed by the industry
department (or the county), then the payments recorded — each step by its actor only, in its order, told onward."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from bot.i18n import translate
from bot.services import income
from bot.services.access import AccessDenied
from bot.services.income import ShareIn
from bot.storage.models import AuditEntry, User
from tests.income.conftest import NOW, outbox_to

SHARES = [ShareIn("households", "60", "45"), ShareIn("public_jobs", "30", "6"), ShareIn("reinvest", "10")]
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _user(session, user_id):
    return session.get(User, user_id)


def _draft(engine, world, shares=SHARES, total="10"):
    with Session(engine, expire_on_commit=False) as session:
        plan = income.draft_plan(session, _user(session, world.cadre), world.greenhouse, 2026, total, shares,
                                 now=NOW)
        session.commit()
        return plan.id


def test_shares_must_add_up_to_100_percent(engine, world):
    with Session(engine) as session:
        with pytest.raises(income.IncomeError) as refused:
            income.draft_plan(session, _user(session, world.cadre), world.greenhouse, 2026, "10",
                              [ShareIn("households", "60"), ShareIn("public_jobs", "30")], now=NOW)
        assert translate("zh_CN", refused.value.msgid, **refused.value.params) == \
            "各项比例合计为90%，必须正好是100%。"
        with pytest.raises(income.IncomeError):
            income.draft_plan(session, _user(session, world.cadre), world.greenhouse, 2026, "0", SHARES, now=NOW)


def test_a_plan_goes_from_the_village_to_the_township_to_the_department_and_is_distributed(engine, world):
    plan_id = _draft(engine, world)
    with Session(engine) as session:
        shares = income.shares_of(session, plan_id)
        assert [(s.category, s.amount, s.households) for s in shares] == [
            ("households", Decimal("6"), 45), ("public_jobs", Decimal("3"), 6), ("reinvest", Decimal("1"), None)]
        income.submit_plan(session, _user(session, world.cadre), plan_id, now=NOW)
        session.commit()
    assert [m.subject for m in outbox_to(engine, world.leader)] == [f"income-plan/{plan_id}"]
    with Session(engine) as session:
        income.approve_plan(session, _user(session, world.leader), plan_id, now=NOW)
        session.commit()
    assert [m.subject for m in outbox_to(engine, world.department)] == [f"income-plan/{plan_id}"]
    assert outbox_to(engine, world.tourism) == []  # 旅游业 is another department's
    with Session(engine) as session:
        income.file_plan(session, _user(session, world.department), plan_id, now=NOW)
        session.commit()
    assert [m.subject for m in outbox_to(engine, world.cadre)] == [f"income-plan/{plan_id}"]
    with Session(engine) as session:
        income.record_distribution(session, _user(session, world.cadre), plan_id, date="2026-04-09", amount="6",
                                   category="households", now=NOW, tz=SHANGHAI)
        session.commit()
        totals = income.year_totals(session, world.greenhouse, 2026)
        assert totals.plan_status == "distributed"
        assert totals.distributed == {"households": Decimal("6")} and totals.households["households"] == 45
        actions = [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.entity == "distribution_plan").order_by(AuditEntry.id)).all()]
        assert actions == ["income.plan_draft", "income.plan_submit", "income.plan_approve", "income.plan_file",
                           "income.distribute"]
        with pytest.raises(income.IncomeError):  # more than the plan gives households
            income.record_distribution(session, _user(session, world.cadre), plan_id, date="2026-04-09",
                                       amount="0.5", category="households", now=NOW, tz=SHANGHAI)
        with pytest.raises(income.IncomeError):  # a payment in the future
            income.record_distribution(session, _user(session, world.cadre), plan_id, date="2026-05-01",
                                       amount="0.5", category="reinvest", now=NOW, tz=SHANGHAI)


def test_skipped_steps_are_refused(engine, world):
    plan_id = _draft(engine, world)
    with Session(engine) as session:
        with pytest.raises(income.IncomeError):  # not submitted yet
            income.approve_plan(session, _user(session, world.leader), plan_id, now=NOW)
        with pytest.raises(income.IncomeError):
            income.file_plan(session, _user(session, world.county), plan_id, now=NOW)
        with pytest.raises(income.IncomeError):
            income.record_distribution(session, _user(session, world.cadre), plan_id, date="2026-04-01",
                                       amount="1", category="households", now=NOW, tz=SHANGHAI)
        income.submit_plan(session, _user(session, world.cadre), plan_id, now=NOW)
        session.commit()
        with pytest.raises(income.IncomeError):  # approved first
            income.file_plan(session, _user(session, world.county), plan_id, now=NOW)
        with pytest.raises(income.IncomeError):  # a submitted plan is not changed any more
            income.draft_plan(session, _user(session, world.cadre), world.greenhouse, 2026, "12", SHARES, now=NOW)


def test_wrong_scope_actors_are_refused(engine, world):
    plan_id = _draft(engine, world)
    with Session(engine) as session:
        with pytest.raises(AccessDenied):  # another village's cadre
            income.submit_plan(session, _user(session, world.other_cadre), plan_id, now=NOW)
        with pytest.raises(AccessDenied):  # a township leader does not submit for the village
            income.submit_plan(session, _user(session, world.leader), plan_id, now=NOW)
        income.submit_plan(session, _user(session, world.cadre), plan_id, now=NOW)
        session.commit()
        with pytest.raises(AccessDenied):  # another township
            income.approve_plan(session, _user(session, world.other_leader), plan_id, now=NOW)
        with pytest.raises(AccessDenied):  # the village does not approve its own plan
            income.approve_plan(session, _user(session, world.cadre), plan_id, now=NOW)
        income.approve_plan(session, _user(session, world.leader), plan_id, now=NOW)
        session.commit()
        with pytest.raises(AccessDenied):  # the tourism department does not file a planting asset's plan
            income.file_plan(session, _user(session, world.tourism), plan_id, now=NOW)
        with pytest.raises(AccessDenied):  # the township does not file with itself
            income.file_plan(session, _user(session, world.leader), plan_id, now=NOW)
        income.file_plan(session, _user(session, world.county), plan_id, now=NOW)  # the county may
        session.commit()
        with pytest.raises(AccessDenied):
            income.record_distribution(session, _user(session, world.other_cadre), plan_id, date="2026-04-01",
                                       amount="1", category="households", now=NOW, tz=SHANGHAI)


def test_the_township_sends_a_plan_back_with_a_reason(engine, world):
    plan_id = _draft(engine, world)
    with Session(engine) as session:
        income.submit_plan(session, _user(session, world.cadre), plan_id, now=NOW)
        session.commit()
        with pytest.raises(income.IncomeError):
            income.return_plan(session, _user(session, world.leader), plan_id, "  ", now=NOW)
        income.return_plan(session, _user(session, world.leader), plan_id, "到户分红比例过低", now=NOW)
        session.commit()
        plan = session.get(income.DistributionPlan, plan_id)
        assert (plan.status, plan.return_reason) == ("draft", "到户分红比例过低")
    assert "到户分红比例过低" in str(outbox_to(engine, world.cadre)[0].body)
    with Session(engine) as session:  # corrected and submitted again: the township is told again
        income.draft_plan(session, _user(session, world.cadre), world.greenhouse, 2026, "10",
                          [ShareIn("households", "80", "45"), ShareIn("reinvest", "20")], now=NOW)
        income.submit_plan(session, _user(session, world.cadre), plan_id, now=NOW + dt.timedelta(minutes=5))
        session.commit()
    assert len(outbox_to(engine, world.leader)) == 2
