"""The scheduler's daily contract sweep: reminders 90 and 30 days before a contract ends, written once each to the
village's cadres and the township leader; the township's problems for an asset operated without a contract or past
its end, raised once and settled when the contract is registered."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot.clock import UTC
from bot.i18n import translate
from bot.services import contracts, outbox, problem_list
from bot.services.audit import SYSTEM
from bot.storage.models import Asset, Problem
from bot.storage.models_schedule import OutboxMessage
from tests.cycle.world import make_county

TZ = ZoneInfo("Asia/Shanghai")


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ).astimezone(UTC)


def _reminders(engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.key.startswith("n|contract/"),
                                                       ~OutboxMessage.key.contains(">"))
                           .order_by(OutboxMessage.id)).all())


def _contract(session, asset_id: int, end: dt.date, operator="桃源县农业发展有限公司"):
    asset = session.get(Asset, asset_id)
    clean = contracts.clean_contract({"operator": operator, "mode": "lease", "start": "2024-01-01",
                                      "end": end.isoformat(), "income_amount": "8"})
    return contracts.write_contract(session, asset, clean, new=True, actor=SYSTEM)[0]


def test_reminders_at_90_and_30_days_go_once_each_to_the_village_and_the_township(engine):
    end = dt.date(2027, 3, 31)
    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")
        contract = _contract(s, c.workshop.id, end)
        s.commit()
    ninety = end - dt.timedelta(days=90)
    outbox.tick(engine, {}, now=at(ninety - dt.timedelta(days=1)))
    assert _reminders(engine) == []  # 91 days before: nothing yet
    outbox.tick(engine, {}, now=at(ninety))
    outbox.tick(engine, {}, now=at(ninety, 15))  # the same day again
    outbox.tick(engine, {}, now=at(ninety + dt.timedelta(days=1)))  # the next day: still inside the 90-day step
    rows = _reminders(engine)
    assert {r.recipient for r in rows} == {f"u{c.cadre.id}", f"u{c.leader.id}"}
    assert len(rows) == 2 and {r.step for r in rows} == {f"remind-90-{end.isoformat()}"}
    assert all(r.subject == f"contract/{contract.id}" for r in rows)
    text = translate("zh_CN", rows[0].body[0][0], **rows[0].body[0][1])
    assert "合同将于2027-03-31到期" in text and "新桥村扶贫车间" in text and "90天" in text

    thirty = end - dt.timedelta(days=30)
    outbox.tick(engine, {}, now=at(thirty))
    outbox.tick(engine, {}, now=at(thirty + dt.timedelta(days=1)))
    rows = _reminders(engine)
    assert sorted(r.step for r in rows) == [f"remind-30-{end.isoformat()}"] * 2 + [f"remind-90-{end.isoformat()}"] * 2
    # Another village's cadre, another township's leader: nothing.
    assert not {r.recipient for r in rows} & {f"u{c.other_leader.id}", f"u{c.other_supervisor.id}"}


def test_operated_without_a_contract_or_past_its_end_is_on_the_townships_list_once(engine):
    today = dt.date(2026, 12, 2)
    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")  # the workshop and the PV station have an operator and no contract
        _contract(s, c.pv.id, today - dt.timedelta(days=10))
        s.commit()
    outbox.tick(engine, {}, now=at(today))
    outbox.tick(engine, {}, now=at(today + dt.timedelta(days=1)))
    with Session(engine) as s:
        found = {(p.asset_id, p.kind) for p in s.exec(select(Problem).where(Problem.source == "contract")).all()}
        assert found == {(c.workshop.id, "no_contract"), (c.pv.id, "contract_expired")}
        listed = [r for r in problem_list.list_problems(s, c.leader, open_only=True)  # 新桥镇: both villages
                  if r.problem.source == "contract"]  # (the PV contract's 2025 rent, unpaid, is the income's)
        assert sorted((r.asset.id, r.problem.kind) for r in listed) == sorted(found)
        words = {r.problem.kind: translate("zh_CN", r.problem.description) for r in listed}
        assert words == {"no_contract": "有经营主体但未签订经营合同", "contract_expired": "经营合同已到期未续签"}
        assert problem_list.list_problems(s, c.other_leader, open_only=True) == []
        # The contract registered on the web settles the problem at once.
        contracts.save_contract(s, c.county_officer, c.workshop.id,
                                {"operator": "桃源县农业发展有限公司", "end": "2029-12-31"})
        s.commit()
        problem = s.exec(select(Problem).where(Problem.asset_id == c.workshop.id)).one()
        assert problem.status == "resolved"
    outbox.tick(engine, {}, now=at(today + dt.timedelta(days=2)))
    with Session(engine) as s:
        assert len(s.exec(select(Problem).where(Problem.asset_id == c.workshop.id)).all()) == 1


def test_the_yearly_income_due_is_pro_rated_to_the_months_covered(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")
        asset = s.get(Asset, c.workshop.id)
        assert contracts.yearly_income_due(s, asset, 2025) is None
        clean = contracts.clean_contract({"operator": "甲公司", "start": "2024-07-01", "end": "2027-06-30",
                                          "income_amount": "12"})
        contracts.write_contract(s, asset, clean, new=True, actor=SYSTEM)
        assert contracts.yearly_income_due(s, asset, 2024) == 6
        assert contracts.yearly_income_due(s, asset, 2025) == 12
        assert contracts.yearly_income_due(s, asset, 2027) == 6
        assert contracts.yearly_income_due(s, asset, 2028) is None
