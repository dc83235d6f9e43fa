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


def _told(engine) -> list[OutboxMessage]:
    """The notices of the contract problems (one problem, or a township's digest of the day)."""
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).where(
            (OutboxMessage.step == "contract-problem") | OutboxMessage.key.startswith("n|contract-problems/"))
            .order_by(OutboxMessage.id)).all())


def test_the_township_is_told_of_new_contract_problems_once_in_a_digest_of_the_day(engine):
    from bot.storage.models import TelegramIdentity
    from bot.storage.models_schedule import ChannelRoute
    from tests.factories import make_asset

    today = dt.date(2026, 12, 2)  # a Wednesday
    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")  # 新桥镇: the workshop (新桥村) and the PV station (王庄村), no contract
        _contract(s, c.pv.id, today - dt.timedelta(days=10))  # … the station's contract ended ten days ago
        orchard = make_asset(s, c.tree.village_b1, name="梨树村果园")  # 北坡乡: one problem only
        robot = ChannelRoute(org_unit_id=c.tree.township_a.id, kind="wecom", name="新桥镇工作群",
                             url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x")
        s.add_all([robot, TelegramIdentity(telegram_user_id=6001, chat_id=6001, user_id=c.leader.id)])
        s.commit()
    for moment in (at(today), at(today, 15), at(today + dt.timedelta(days=1)), at(today + dt.timedelta(days=2))):
        outbox.tick(engine, {}, now=moment)
    rows = _told(engine)
    with Session(engine) as s:
        problems = {p.asset_id: p for p in s.exec(select(Problem).where(Problem.source == "contract")).all()}
    assert set(problems) == {c.workshop.id, c.pv.id, orchard.id}

    # 新桥镇: one digest, to its leader and its group robot, naming both assets in words, with the problem list.
    digest = [r for r in rows if r.subject == f"contract-problems/{c.tree.township_a.id}"]
    assert sorted(r.recipient for r in digest) == sorted([f"u{c.leader.id}", f"r{robot.id}"])
    assert {r.step for r in digest} == {"found-2026-12-02"} and all(r.actions == ["problems"] for r in digest)
    text, buttons = outbox.compose(digest[0])
    assert text.splitlines() == ["新桥镇有2项资产新发现经营合同问题，已列入问题清单：",
                                 "• 新桥村扶贫车间（新桥村）：有经营主体但未签订经营合同",
                                 "• 王庄村光伏电站（王庄村）：经营合同已到期未续签"]
    assert [(b.label, b.data, b.link) for b in buttons] == [("打开问题清单", "pl:list:0", "/problems")]

    # 北坡乡: its one problem in a notice of its own, with the problem's button.
    (single,) = [r for r in rows if r.recipient == f"u{c.other_leader.id}"]
    assert single.subject == f"problem/{problems[orchard.id].id}"
    assert single.actions == [f"problem:{problems[orchard.id].id}"]
    text, buttons = outbox.compose(single)
    assert text == "梨树村果园（梨树村）：有经营主体但未签订经营合同。已列入乡镇问题清单。"
    assert [b.data for b in buttons] == [f"pl:{problems[orchard.id].id}"]
    assert len(rows) == 3  # nobody else; nothing again on the later ticks and days
    assert not {r.recipient for r in rows} & {f"u{c.cadre.id}", f"u{c.county_officer.id}"}

    # A problem found on a later day is told that day, alone; the earlier ones are not told again.
    later = today + dt.timedelta(days=6)  # a Tuesday
    with Session(engine, expire_on_commit=False) as s:
        barn = make_asset(s, c.tree.village_a1, name="新桥村养殖场")
        s.commit()
    outbox.tick(engine, {}, now=at(later))
    outbox.tick(engine, {}, now=at(later + dt.timedelta(days=1)))
    new = [r for r in _told(engine) if r.id not in {x.id for x in rows}]
    assert sorted(r.recipient for r in new) == sorted([f"u{c.leader.id}", f"r{robot.id}"])
    with Session(engine) as s:
        barn_problem = s.exec(select(Problem).where(Problem.asset_id == barn.id)).one()
    assert all(r.step == "contract-problem" and r.subject == f"problem/{barn_problem.id}" for r in new)
    assert outbox.compose(new[0])[0].startswith("新桥村养殖场（新桥村）：有经营主体但未签订经营合同")


def test_a_digest_of_many_problems_names_the_first_and_counts_the_rest(engine):
    from bot.services import contract_watch
    from tests.factories import make_asset

    today = dt.date(2026, 12, 2)
    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")
        for n in range(contract_watch.DIGEST_LINES + 3):
            make_asset(s, c.tree.village_a2, name=f"王庄村商铺{n + 1:02d}")
        s.commit()
    outbox.tick(engine, {}, now=at(today))
    (digest,) = [r for r in _told(engine) if r.recipient == f"u{c.leader.id}"]
    lines = outbox.compose(digest)[0].splitlines()
    total = contract_watch.DIGEST_LINES + 3 + 2  # and the workshop and the PV station
    assert lines[0] == f"新桥镇有{total}项资产新发现经营合同问题，已列入问题清单："
    assert len(lines) == 1 + contract_watch.DIGEST_LINES + 1 and lines[-1] == "……另有5项，请查看问题清单。"
