"""A whole year of each shipped profile, ticked day by day against the database: exactly which
messages go to whom and when (quiet hours, weekends, late and on-time reports, serious problems)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.services import problems
from bot.services.outbox import tick
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, Problem, ProblemEvent
from bot.storage.models_schedule import DueItemRow, DutyRecord, OutboxMessage
from tests.policy.world import Recorder, build, serious_problem, submit

pytestmark = pytest.mark.slow

TZ = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def local(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=TZ).astimezone(UTC)


def run_year(engine, events: dict[dt.date, list]) -> Recorder:
    """Tick once a day at 00:00 UTC (08:00 local) through 2026, running each day's events first."""
    recorder = Recorder()
    day = dt.datetime(2026, 1, 1, tzinfo=UTC)
    while day < dt.datetime(2027, 1, 8, tzinfo=UTC):
        for event in events.get(day.date(), []):
            with session_scope(engine) as session:
                event(session)
        tick(engine, {"telegram": recorder}, now=day)
        day += dt.timedelta(hours=24)
    return recorder


def rows(engine, **where) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.send_at, OutboxMessage.key)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.exec(query).all())


def when(message: OutboxMessage) -> tuple[int, int, int, int]:
    moment = message.send_at.astimezone(TZ)
    return moment.month, moment.day, moment.hour, moment.minute


def assert_quiet_rules(messages: list[OutboxMessage]) -> None:
    for message in messages:
        moment = message.send_at.astimezone(TZ)
        if not message.urgent:
            assert moment.weekday() < 5 and dt.time(8) <= moment.time() < dt.time(21), (message.key, moment)


def test_yanshan_year(sqlite_engine):
    engine = sqlite_engine
    with session_scope(engine) as session:
        world = build(session, "yanshan-2024", locales={"office": "en"})
    ids = {k: u.id for k, u in world.people.items()}
    assets = {k: a for k, a in world.assets.items()}
    events: dict[dt.date, list] = {}
    for month in range(1, 13):
        period = f"2026-{month:02d}"
        # 新桥村 reports on the 20th at 20:00 (after a weekday D-5 reminder, before the deadline);
        # 梨树村 reports on the 10th (before any reminder); 王庄村 never reports.
        events.setdefault(dt.date(2026, month, 20), []).append(
            lambda s, p=period: submit(s, assets["village_a1"], p, local(2026, int(p[5:]), 20, 20)))
        events.setdefault(dt.date(2026, month, 10), []).append(
            lambda s, p=period: submit(s, assets["village_b1"], p, local(2026, int(p[5:]), 10, 10)))
    events.setdefault(dt.date(2026, 6, 10), []).append(lambda s: s.add(DutyRecord(
        org_unit_id=world.tree.township_a.id, item="township_inspection", period="2026-Q2",
        done_at=local(2026, 6, 10, 15), user_id=ids["leader_a"])))
    found = {}

    def raise_first(session):  # Tuesday 22:30: alerted at once by the adapter, acknowledged next morning
        found["first"] = serious_problem(session, assets["village_a1"], local(2026, 3, 10, 22, 30)).id

    def ack_first(session):
        problems.acknowledge(session, session.get(type(world.people["leader_a"]), ids["leader_a"]),
                             found["first"], now=local(2026, 3, 11, 9, 15))

    def resolve_first(session):
        problems.resolve(session, session.get(type(world.people["leader_a"]), ids["leader_a"]), found["first"],
                         "已收回资产，恢复经营", now=local(2026, 3, 18, 10))

    def raise_second(session):  # Friday 20:00, never acknowledged
        found["second"] = serious_problem(session, assets["village_b1"], local(2026, 6, 5, 20)).id

    def resolve_second(session):
        problems.resolve(session, session.get(type(world.people["office"]), ids["office"]), found["second"],
                         "县级督办解决", now=local(2026, 6, 8, 11))

    # Events run before that day's tick (08:00 local); the planner only sees what has happened by then.
    events.setdefault(dt.date(2026, 3, 10), []).append(raise_first)
    events.setdefault(dt.date(2026, 3, 12), []).append(ack_first)
    events.setdefault(dt.date(2026, 3, 19), []).append(resolve_first)
    events.setdefault(dt.date(2026, 6, 6), []).append(raise_second)
    events.setdefault(dt.date(2026, 6, 9), []).append(resolve_second)

    recorder = run_year(engine, events)
    chats = {v: k for k, v in world.chats.items()}
    every = rows(engine)
    assert all(m.status == "sent" for m in every)
    assert len(recorder.sent) == len(every)  # each row sent exactly once
    assert not [m for m in every if m.step == "alert"]  # the first alert is the adapter's
    assert_quiet_rules(every)

    def of(person: str, item: str, step_prefix: str = "") -> list[OutboxMessage]:
        return [m for m in every if m.recipient == f"u{ids[person]}" and m.item == item
                and m.period.startswith("2026") and m.step.startswith(step_prefix)]

    monthly = "village_monthly_report"
    # 王庄村's cadre: D-5 and D-1 every month, moved off weekends.
    assert len(of("cadre_a2", monthly, "remind")) == 24
    assert [when(m) for m in of("cadre_a2", monthly) if m.period == "2026-10"] == [(10, 20, 9, 0), (10, 23, 9, 0)]
    assert [when(m) for m in of("cadre_a2", monthly) if m.period == "2026-12"] == [(12, 21, 8, 0), (12, 24, 9, 0)]
    # 新桥村 reported on the 20th at 20:00: a D-5 reminder only where the 20th is a working day, never D-1.
    expected = [m for m in range(1, 13) if dt.date(2026, m, 20).weekday() < 5]
    assert sorted(int(m.period[5:]) for m in of("cadre_a1", monthly)) == expected
    assert {m.step for m in of("cadre_a1", monthly)} == {"remind-d5"}
    assert of("cadre_b1", monthly) == []
    # One township digest a month to 新桥镇's leader, naming only 王庄村; none to 北坡乡.
    digests = of("leader_a", monthly)
    assert len(digests) == 12 and {m.step for m in digests} == {"escalate-1-township"}
    texts = [t for chat, t, _ in recorder.sent if chats.get(chat) == "leader_a" and "月度" in t]
    assert texts and all("王庄村" in t and "新桥村：" not in t for t in texts)
    assert of("leader_b", monthly) == []
    november = [(m.step, when(m)) for m in of("office", monthly) if m.period == "2026-11"]
    assert november == [("escalate-2-county", (11, 30, 8, 0)), ("escalate-2-county-repeat-2", (12, 2, 8, 0))]
    assert [when(m) for m in of("leader_a", monthly) if m.period == "2026-11"] == [(11, 26, 8, 0)]
    office_text = next(t for chat, t, _ in recorder.sent if chats.get(chat) == "office"
                       and "Village monthly" in t)
    assert "新桥镇 / 王庄村" in office_text  # the county office reads English

    # Township inspections: 新桥镇 recorded Q2, so only 北坡乡 is reminded and escalated for Q2.
    inspection = "township_inspection"
    assert [m.period for m in of("leader_a", inspection)].count("2026-Q2") == 0
    assert [m.period for m in of("leader_b", inspection)].count("2026-Q2") == 2
    q2_office = [m for m in of("office", inspection) if m.period == "2026-Q2"]
    assert q2_office and all(m.body[0][1]["count"] == 1 for m in q2_office)

    # First serious problem: acknowledged in time -> no county alert, two reminders to act, then resolved.
    first = [m for m in every if m.subject == f"problem/{found['first']}"]
    assert [(m.step, m.recipient, when(m)) for m in first] == [
        ("act-1", f"u{ids['leader_a']}", (3, 16, 8, 0)),   # +72 h is Saturday 09:15 -> Monday 08:00
        ("act-2", f"u{ids['leader_a']}", (3, 17, 9, 15)),
    ]
    assert first[0].actions == ["resolve"]
    # Second: not acknowledged within 24 h -> the county office at once, Saturday 20:00 (urgent: no waiting).
    second = [m for m in every if m.subject == f"problem/{found['second']}"]
    assert [(m.step, m.recipient, when(m), m.urgent) for m in second] == [
        ("ack-timeout", f"u{ids['office']}", (6, 6, 20, 0), True)]
    sent_buttons = next(b for chat, t, b in recorder.sent if chats.get(chat) == "office" and "24" in t)
    assert sent_buttons == (f"pb:ack:{found['second']}", f"pb:res:{found['second']}")
    with Session(engine) as session:
        # The serious problems' events; the world's operating assets have an operator and no contract, so the
        # daily contract watch also lists each once (issue 17, bot.services.contract_watch).
        actions = [e.action for e in session.exec(select(ProblemEvent).join(Problem).where(
            Problem.source != "contract").order_by(ProblemEvent.id)).all()]
        contract_problems = session.exec(select(Problem.kind).where(Problem.source == "contract")).all()
        audited = {e.action for e in session.exec(select(AuditEntry)).all()}
        due = session.exec(select(DueItemRow).where(DueItemRow.item == monthly)).all()
    assert actions == ["alerted", "acknowledged", "resolved", "alerted", "resolved"]
    assert contract_problems and set(contract_problems) == {"no_contract"}
    assert {"problem.acknowledge", "problem.resolve"} <= audited
    assert {d.period for d in due} >= {f"2026-{m:02d}" for m in range(1, 13)}


def test_jiaozuo_year(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        world = build(session, "jiaozuo-2020")
        leader_a = world.people["leader_a"].id
    # A township report climbs straight to the county office: one digest per quarter naming the late towns.
    run_year(sqlite_engine, {dt.date(2026, 7, 13): [lambda s: s.add(DutyRecord(
        org_unit_id=world.tree.township_a.id, item="quarterly_monitoring", period="2026-Q2",
        done_at=local(2026, 7, 13, 16)))]})
    every = rows(sqlite_engine)
    assert_quiet_rules(every)
    mine = [m for m in every if m.recipient == f"u{leader_a}" and m.kind == "reminder"]
    by_item = Counter((m.item, m.period) for m in mine)
    # Reports on 2025-Q4..2026-Q3 are due on Jan/Apr/Jul/Oct 15, each reminded D-5 and D-1.
    assert by_item[("quarterly_monitoring", "2026-Q1")] == 2
    assert by_item[("quarterly_monitoring", "2026-Q2")] == 1  # D-5 on Jul 10; recorded Jul 13, so no D-1
    assert by_item[("benefit_self_evaluation", "2026-Q3")] == 2
    assert [when(m) for m in mine if m.subject == "quarterly_monitoring/2026-Q3"] == [(10, 12, 8, 0), (10, 14, 9, 0)]
    office = world.people["office"].id
    late = {m.period: m.body[0][1]["count"] for m in every if m.item == "quarterly_monitoring"
            and m.step == "escalate-1-county" and m.recipient == f"u{office}"}
    assert {p: late[p] for p in ("2026-Q1", "2026-Q2", "2026-Q3")} == {"2026-Q1": 2, "2026-Q2": 1, "2026-Q3": 2}
    # The villages' one duty is the yearly inventory (003 二(八) 年初清查、清算, due 31 March): reminded D-5 and D-1.
    assert {(m.item, m.period) for m in every if m.role == "village_cadre"} == {("yearly_inventory", "2025")}
    cadre = world.people["cadre_a1"].id
    assert [(m.step, when(m)) for m in every if m.recipient == f"u{cadre}"] == [
        ("remind-d5", (3, 26, 9, 0)), ("remind-d1", (3, 30, 9, 0))]


def test_qinbei_year(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        world = build(session, "qinbei-2023")
        cadre, supervisor = world.people["cadre_a1"].id, world.people["super_a1"].id
        dept = world.people["dept"].id
    run_year(sqlite_engine, {})
    every = rows(sqlite_engine)
    assert_quiet_rules(every)
    evaluation = [(m.step, when(m)) for m in every if m.recipient == f"u{supervisor}"
                  and m.subject == "village_self_evaluation/2026"]
    assert evaluation == [("posting-d5", (11, 25, 9, 0)), ("posting-d1", (11, 30, 8, 0)),
                          ("remind-d5", (12, 7, 8, 0)), ("remind-d1", (12, 9, 9, 0))]
    assert [m.step for m in every if m.recipient == f"u{cadre}" and m.subject == "midyear_self_check/2026"] == \
        ["remind-d5", "remind-d1"]
    assert [(m.step, when(m)) for m in every if m.recipient == f"u{dept}"] [:2] == \
        [("remind-d5", (1, 20, 9, 0)), ("remind-d1", (1, 23, 9, 0))]  # targets due Sunday Jan 25
