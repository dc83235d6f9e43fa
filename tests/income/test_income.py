"""Income received from the monthly check, income due entered on the web, and unpaid income as a problem."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from bot.services import income
from bot.services.access import AccessDenied
from bot.storage.models import Asset, AuditEntry, OrgUnit, User
from bot.storage.models_income import AssetIncome
from tests.fidelity.conftest import MONTHLY as FIDELITY_MONTHLY
from tests.fidelity.conftest import submit_monthly
from tests.income.conftest import NOW, outbox_to, problems_of

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# No photos: the check says why (minor problems, beside the point here).
MONTHLY = {**FIDELITY_MONTHLY, "board_missing": "missing", "sign_missing": "missing"}


def test_the_monthly_check_feeds_the_income_received(engine, world):
    submit_monthly(engine, world.cadre, world.greenhouse,
                   {**MONTHLY, "income_distributed": "yes", "income_amount": "1.25"})
    with Session(engine) as session:
        row = session.exec(select(AssetIncome).where(AssetIncome.asset_id == world.greenhouse)).one()
        assert (row.period, row.received, row.due) == ("2026-04", Decimal("1.25"), None)
        assert row.report_id is not None
        totals = income.year_totals(session, world.greenhouse, 2026)
        assert totals.received == Decimal("1.25") and totals.due is None
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "income.received")).one()


def test_a_month_without_distribution_counts_as_nothing_received(engine, world):
    submit_monthly(engine, world.cadre, world.greenhouse, {**MONTHLY, "income_distributed": "no",
                                                           "income_not_distributed_reason": "经营方未付租金"})
    with Session(engine) as session:
        assert income.year_totals(session, world.greenhouse, 2026).received == Decimal(0)


def test_the_due_is_entered_by_the_village_or_township_and_checked(engine, world):
    with Session(engine) as session:
        cadre, leader = session.get(User, world.cadre), session.get(User, world.leader)
        income.set_due(session, cadre, world.greenhouse, "2026-04", "2", now=NOW)
        income.set_due(session, leader, world.greenhouse, "2026", "6", now=NOW)
        session.commit()
        asset = session.get(Asset, world.greenhouse)
        assert income.due_for(session, asset, "2026-04") == Decimal("2")
        assert income.due_for(session, asset, "2026") == Decimal("6")
        assert income.due_for(session, asset, "2026-05") is None
        assert income.year_totals(session, world.greenhouse, 2026).due == Decimal("8")
        with pytest.raises(income.IncomeError):
            income.set_due(session, cadre, world.greenhouse, "2026-13", "2", now=NOW)
        with pytest.raises(income.IncomeError):
            income.set_due(session, cadre, world.greenhouse, "2026-05", "-1", now=NOW)
        with pytest.raises(AccessDenied):  # another village's cadre
            income.set_due(session, session.get(User, world.other_cadre), world.greenhouse, "2026-05", "1", now=NOW)
        with pytest.raises(AccessDenied):  # another township's leader
            income.set_due(session, session.get(User, world.other_leader), world.greenhouse, "2026-05", "1",
                           now=NOW)


def test_income_due_but_not_received_raises_one_problem_after_the_grace(engine, world):
    submit_monthly(engine, world.cadre, world.greenhouse,
                   {**MONTHLY, "income_distributed": "yes", "income_amount": "0.5"})
    with Session(engine) as session:
        income.set_due(session, session.get(User, world.cadre), world.greenhouse, "2026-04", "2", now=NOW)
        session.commit()
    within = dt.datetime(2026, 5, 30, 12, tzinfo=SHANGHAI)  # April's end + 30 days = 30 May: still in grace
    after = dt.datetime(2026, 5, 31, 12, tzinfo=SHANGHAI)
    with Session(engine) as session:
        assert income.raise_overdue(session, within, tz=SHANGHAI) == []
    with Session(engine) as session:
        raised = income.raise_overdue(session, after, tz=SHANGHAI)
        assert len(raised) == 1
    with Session(engine) as session:
        assert income.raise_overdue(session, after + dt.timedelta(days=3), tz=SHANGHAI) == []  # idempotent
    found = problems_of(engine, world.greenhouse, income.PROBLEM_KIND)
    assert len(found) == 1
    problem = found[0]
    assert (problem.severity, problem.owner_level, problem.status) == ("major", "township", "open")
    assert problem.description == "2026年4月应收收益未到账：应收2万元，实收0.5万元。"
    leader_rows = outbox_to(engine, world.leader)
    assert [m.subject for m in leader_rows] == [f"problem/{problem.id}"]
    assert [m.step for m in outbox_to(engine, world.department)] == ["department"]  # 种植业's department too


def test_income_fully_received_raises_nothing(engine, world):
    submit_monthly(engine, world.cadre, world.greenhouse,
                   {**MONTHLY, "income_distributed": "yes", "income_amount": "2"})
    with Session(engine) as session:
        income.set_due(session, session.get(User, world.cadre), world.greenhouse, "2026-04", "2", now=NOW)
        session.commit()
        assert income.raise_overdue(session, dt.datetime(2026, 8, 1, tzinfo=SHANGHAI), tz=SHANGHAI) == []


def test_the_profile_sets_the_grace(engine, world, monkeypatch):
    with Session(engine) as session:
        income.set_due(session, session.get(User, world.cadre), world.greenhouse, "2026-04", "2", now=NOW)
        session.commit()
    monkeypatch.setattr(income, "grace_days", lambda session, village, cache=None: 5)
    with Session(engine) as session:
        assert len(income.raise_overdue(session, dt.datetime(2026, 5, 6, 12, tzinfo=SHANGHAI), tz=SHANGHAI)) == 1


def test_the_grace_is_read_from_the_county_profile(engine, world, tmp_path):
    from pathlib import Path

    from bot.services import policies
    from tests.factories import ACTOR

    shipped = Path(policies.__file__).resolve().parents[1] / "policy" / "profiles" / "yanshan-2024.yaml"
    text = shipped.read_text(encoding="utf-8").replace("id: yanshan-2024", "id: taoyuan-income", 1)
    text = text.replace("thresholds:\n", "thresholds:\n  income_grace_days: 10\n", 1)
    (tmp_path / "taoyuan.yaml").write_text(text, encoding="utf-8")
    with Session(engine) as session:
        village = session.get(OrgUnit, world.tree.village_a1.id)
        assert income.grace_days(session, village) == income.DEFAULT_GRACE_DAYS
        policies.use(session, ACTOR, session.get(OrgUnit, world.tree.county.id), str(tmp_path / "taoyuan.yaml"))
        session.commit()
        assert income.grace_days(session, village) == 10


def test_the_problem_page_says_it_in_words(engine, world, client_for):
    with Session(engine) as session:
        income.set_due(session, session.get(User, world.cadre), world.greenhouse, "2026-04", "2", now=NOW)
        session.commit()
        problem = income.raise_overdue(session, dt.datetime(2026, 6, 1, tzinfo=SHANGHAI), tz=SHANGHAI)[0]
        problem_id = problem.id
    page = client_for(world.leader).get(f"/problems/{problem_id}?lang=zh_CN").text
    assert "2026年4月应收收益未到账：应收2万元，实收0万元。" in page
    assert "收益台账发现：应收收益未到账" in page
    assert "income_not_received" not in page
    listed = client_for(world.leader).get("/problems?lang=zh_CN").text
    assert "应收收益未到账" in listed and "income_not_received" not in listed


def test_the_schedulers_daily_planning_raises_it_once(engine, world, time_machine):
    from bot.services import outbox, policies
    from tests.factories import ACTOR

    with Session(engine) as session:
        policies.use(session, ACTOR, session.get(OrgUnit, world.tree.county.id), "yanshan-2024")
        income.set_due(session, session.get(User, world.cadre), world.greenhouse, "2026-04", "2", now=NOW)
        session.commit()
    time_machine.move_to(dt.datetime(2026, 6, 2, 4, 0, tzinfo=dt.UTC))
    outbox.tick(engine, {})
    assert len(problems_of(engine, world.greenhouse, income.PROBLEM_KIND)) == 1
    time_machine.move_to(dt.datetime(2026, 6, 3, 4, 0, tzinfo=dt.UTC))  # the next day's planning: nothing again
    outbox.tick(engine, {})
    assert len(problems_of(engine, world.greenhouse, income.PROBLEM_KIND)) == 1


def test_a_contracts_yearly_income_not_received_is_a_problem_once(engine, world):
    """No amount entered: the contract's promise is the year's due; received under it after the year's end plus the
    grace raises one problem on the year, which says the figures in words; a paid year raises none."""
    from bot.storage.models_contract import AssetContract

    with Session(engine) as session:
        session.add(AssetContract(asset_id=world.greenhouse, operator="某合作社", start=dt.date(2024, 1, 1),
                                  end=dt.date(2030, 12, 31), income_amount=Decimal("6"), current=True))
        session.add(AssetIncome(asset_id=world.greenhouse, period="2025-06", received=Decimal("2")))
        session.commit()
        assert income.year_totals(session, world.greenhouse, 2025).due == Decimal("6")
        assert income.year_totals(session, world.greenhouse, 2025).due_from_contract
        assert income.raise_overdue(session, dt.datetime(2026, 1, 20, tzinfo=SHANGHAI), tz=SHANGHAI) == []  # grace
        (problem,) = income.raise_overdue(session, dt.datetime(2026, 2, 1, tzinfo=SHANGHAI), tz=SHANGHAI)
        assert problem.kind == income.PROBLEM_KIND and problem.asset_id == world.greenhouse
        assert problem.description == "2025年应收收益未到账：应收6万元，实收2万元。"
        assert income.raise_overdue(session, dt.datetime(2026, 2, 2, tzinfo=SHANGHAI), tz=SHANGHAI) == []
        # The year before was paid in full: nothing.
        session.add(AssetIncome(asset_id=world.greenhouse, period="2024", received=Decimal("6")))
        session.commit()
        assert income.raise_overdue(session, dt.datetime(2025, 3, 1, tzinfo=SHANGHAI), tz=SHANGHAI) == []
    assert len(problems_of(engine, world.greenhouse, income.PROBLEM_KIND)) == 1


def test_an_amount_entered_for_the_year_wins_over_the_contract(engine, world):
    from bot.storage.models_contract import AssetContract

    with Session(engine) as session:
        session.add(AssetContract(asset_id=world.greenhouse, operator="某合作社", start=dt.date(2024, 1, 1),
                                  income_amount=Decimal("6"), current=True))
        session.commit()
        income.set_due(session, session.get(User, world.cadre), world.greenhouse, "2025", "1", now=NOW)
        session.add(AssetIncome(asset_id=world.greenhouse, period="2025-03", received=Decimal("1")))
        session.commit()
        assert income.year_totals(session, world.greenhouse, 2025).due == Decimal("1")
        assert income.raise_overdue(session, dt.datetime(2026, 3, 1, tzinfo=SHANGHAI), tz=SHANGHAI) == []


def test_the_totals_of_many_assets_are_each_assets_own(engine, world):
    """year_totals_many reads several assets at once and gives each exactly what year_totals gives it alone."""
    from bot.storage.models_contract import AssetContract

    with Session(engine) as session:
        from tests.factories import make_asset

        other = make_asset(session, world.tree.village_a2, name="王庄村光伏电站")
        session.add(AssetContract(asset_id=other.id, operator="某公司", income_amount=Decimal("12"), current=True,
                                  start=dt.date(2026, 7, 1)))
        session.add(AssetIncome(asset_id=world.greenhouse, period="2026-02", due=Decimal("1"), received=Decimal("0.5")))
        session.add(AssetIncome(asset_id=world.greenhouse, period="2026-03", received=Decimal("0.7")))
        session.commit()
        ids = [world.greenhouse, other.id]
        many = income.year_totals_many(session, ids, 2026)
        for asset_id in ids:
            alone = income.year_totals(session, asset_id, 2026)
            assert (many[asset_id].due, many[asset_id].received, many[asset_id].periods) == \
                (alone.due, alone.received, alone.periods)
        assert (many[world.greenhouse].due, many[world.greenhouse].received) == (Decimal("1"), Decimal("1.2"))
        assert (many[other.id].due, many[other.id].received) == (Decimal("6"), None)  # half a year of 12


def test_money_that_comes_late_settles_the_problem_by_itself(engine, world):
    """The rent of April arrives in June: the next day's check resolves the problem, in words, audited; it is not
    raised again. A problem whose money is still short stays open."""
    from bot.storage.models import Problem, ProblemEvent

    with Session(engine) as session:
        cadre = session.get(User, world.cadre)
        income.set_due(session, cadre, world.greenhouse, "2026-04", "2", now=NOW)
        income.set_due(session, cadre, world.greenhouse, "2026-03", "2", now=NOW)
        session.commit()
        raised = income.raise_overdue(session, dt.datetime(2026, 6, 1, tzinfo=SHANGHAI), tz=SHANGHAI)
        assert len(raised) == 2
        for period, amount in (("2026-04", "2"), ("2026-03", "1.5")):  # April paid in full, March short
            row = session.exec(select(AssetIncome).where(AssetIncome.asset_id == world.greenhouse,
                                                         AssetIncome.period == period)).one()
            row.received = Decimal(amount)
            session.add(row)
        session.commit()
        assert income.raise_overdue(session, dt.datetime(2026, 6, 2, tzinfo=SHANGHAI), tz=SHANGHAI) == []
        by_period = {session.exec(select(AssetIncome.period).where(AssetIncome.problem_id == p.id)).one(): p
                     for p in session.exec(select(Problem).where(Problem.kind == income.PROBLEM_KIND)).all()}
        april, march = by_period["2026-04"], by_period["2026-03"]
        assert april.status == "resolved" and april.resolution_note == "已解决：2026年4月应收收益已到账（2万元）。"
        assert march.status == "open"
        assert session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == april.id,
                                                       ProblemEvent.action == "resolved")).one()
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "problem.resolve",
                                                     AuditEntry.entity_id == str(april.id))).one()
