"""The outbox: each message once, claimed by compare-and-set; catch-up after downtime; several
processes on one PostgreSQL; a process killed between sending and marking."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from collections import Counter

from sqlmodel import Session, select

from bot.services.outbox import compose, deliver, plan_county, tick
from bot.storage.db import make_engine, session_scope
from bot.storage.models_schedule import OutboxMessage
from tests.policy.world import Recorder, build

UTC = dt.UTC
NOV = dt.datetime(2026, 11, 10, tzinfo=UTC)  # the first tick: nothing of October left to say


def _rows(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def _expected_sends(engine) -> Counter:
    found = Counter()
    with Session(engine) as session:
        from bot.services.outbox import _targets

        rows = session.exec(select(OutboxMessage).where(OutboxMessage.status == "sent")).all()
        targets = _targets(session, rows)
        for row in rows:
            found[(targets[row.id].chat_id, compose(row)[0])] += 1
    return found


def test_it_plans_each_message_once_and_sends_it_once(engine):
    with session_scope(engine) as session:
        world = build(session)
    recorder = Recorder()
    tick(engine, {"telegram": recorder}, now=NOV)
    recorder.sent.clear()  # the first morning's notices of the contract problems (contract_watch): not counted here
    at = dt.datetime(2026, 11, 20, 2, tzinfo=UTC)  # 10:00 local, after the D-5 reminders
    first = tick(engine, {"telegram": recorder}, now=at)
    assert (first.inserted, first.sent) == (3, 3)
    with session_scope(engine) as session:  # the same window again: nothing new
        from bot.storage.models import OrgUnit

        assert plan_county(session, session.get(OrgUnit, world.tree.county.id), at).inserted == 0
    with session_scope(engine) as session:  # even with the watermark moved back, the keys stay unique
        session.exec(select(OutboxMessage)).all()
        from bot.storage.models_schedule import ScheduleState

        state = session.get(ScheduleState, world.tree.county.id)
        state.watermark = NOV
        session.add(state)
    again = tick(engine, {"telegram": recorder}, now=at)
    assert (again.inserted, again.sent) == (0, 0)
    assert len(recorder.sent) == 3 and {t for t, _, _ in recorder.sent} == {
        world.chats["cadre_a1"], world.chats["cadre_a2"], world.chats["cadre_b1"]}
    assert all(b == ("go:report",) for _, _, b in recorder.sent)


MONTHLY = "village_monthly_report"


def _monthly(text: str) -> bool:
    """Whether a message is about the villages' monthly reports, not the township's own duties of the month
    (its study and four-way classification, seed 002 第六条, issue 16) nor the contract problems the daily watch
    found (the world's assets are operated without a contract, issue 17)."""
    return "专题研究" not in text and "四个一批" not in text and "经营合同" not in text


def test_it_collapses_stale_reminders_after_downtime(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        world = build(session, locales={"cadre_a2": "en"})
    recorder = Recorder()
    tick(sqlite_engine, {"telegram": recorder}, now=NOV)
    recorder.sent.clear()  # the first morning's notices of the contract problems (contract_watch)
    # Down from Nov 10 to Nov 25 10:00 local: D-5 and D-1 were missed, the deadline is still ahead.
    result = tick(sqlite_engine, {"telegram": recorder}, now=dt.datetime(2026, 11, 25, 2, tzinfo=UTC))
    to_a2 = [t for chat, t, _ in recorder.sent if chat == world.chats["cadre_a2"]]
    assert len(to_a2) == 1 and "1 earlier reminders" in to_a2[0] and "2026-11-25 23:59" in to_a2[0]
    rows = {r.recipient: r for r in _rows(sqlite_engine) if r.kind == "reminder" and r.item == MONTHLY}
    assert {r.step for r in rows.values()} == {"remind-d1"} and {r.collapsed for r in rows.values()} == {1}
    assert not [t for chat, t, _ in recorder.sent if chat == world.chats["leader_a"] and _monthly(t)]
    assert result.sent == len(recorder.sent)


def test_it_drops_reminders_whose_deadline_passed_during_downtime(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        world = build(session, locales={"cadre_a2": "en"})
    recorder = Recorder()
    tick(sqlite_engine, {"telegram": recorder}, now=NOV)
    recorder.sent.clear()  # the first morning's notices of the contract problems (contract_watch)
    # Down from Nov 10 to Nov 26 10:00 local: D-5, D-1, the deadline and the first digest all passed.
    result = tick(sqlite_engine, {"telegram": recorder}, now=dt.datetime(2026, 11, 26, 2, tzinfo=UTC))
    assert not [t for chat, t, _ in recorder.sent if chat == world.chats["cadre_a2"]]
    assert not [r for r in _rows(sqlite_engine) if r.kind == "reminder" and r.item == MONTHLY]
    leader = [t for chat, t, _ in recorder.sent if chat == world.chats["leader_a"] and _monthly(t)]
    assert len(leader) == 1 and result.sent == len(recorder.sent)


def test_it_keeps_non_urgent_messages_out_of_quiet_hours(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        build(session)
    recorder = Recorder()
    tick(sqlite_engine, {"telegram": recorder}, now=NOV)
    night = tick(sqlite_engine, {"telegram": recorder}, now=dt.datetime(2026, 11, 19, 23, tzinfo=UTC))  # 07:00
    assert night.sent == 0
    morning = tick(sqlite_engine, {"telegram": recorder}, now=dt.datetime(2026, 11, 20, 1, 0, tzinfo=UTC))  # 09:00
    assert morning.sent == 3


def _race(url: str, seed: int, gate: str = "") -> list[tuple[int, str]]:
    """One scheduler process: tick through November and December; return what it sent.

    With ``gate`` (a folder), the two processes meet there before every tick, and claim one message
    at a time, so that they really race for the same rows at the same moments however unevenly a
    loaded machine runs them.
    """
    import pathlib
    import time

    engine = make_engine(url)
    recorder = Recorder()
    moment, step = NOV, 0
    while moment < dt.datetime(2027, 1, 1, tzinfo=UTC):
        if gate:
            (pathlib.Path(gate) / f"{seed}-{step}").touch()
            other = pathlib.Path(gate) / f"{3 - seed}-{step}"
            deadline = time.monotonic() + 60
            while not other.exists() and time.monotonic() < deadline:
                time.sleep(0.002)
        tick(engine, {"telegram": recorder}, now=moment, worker=f"proc-{seed}", batch=1 if gate else 100)
        moment += dt.timedelta(hours=6)
        step += 1
    engine.dispose()
    return [(chat, text) for chat, text, _ in recorder.sent]


def test_two_processes_on_postgres_send_each_message_once(pg_url, tmp_path):
    engine = make_engine(pg_url)
    with session_scope(engine) as session:
        build(session)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        sent = pool.starmap(_race, [(pg_url, 1, str(tmp_path)), (pg_url, 2, str(tmp_path))])
    combined = Counter(sent[0]) + Counter(sent[1])
    rows = _rows(engine)
    assert rows and all(r.status == "sent" for r in rows)
    assert combined == _expected_sends(engine)  # no message twice, none missing
    assert sent[0] and sent[1]  # both processes did part of the work
    engine.dispose()


class _DieAfterSend:
    """A channel that records the send to a file and kills the process before it can mark it sent."""

    def __init__(self, path: str) -> None:
        self.path = path

    def send(self, target, text, buttons=None) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{target.chat_id}\n")
        os._exit(9)


def _die(url: str, path: str, at: dt.datetime) -> None:
    deliver(make_engine(url), {"telegram": _DieAfterSend(path)}, now=at, worker="doomed")


def test_a_message_sent_by_a_killed_process_is_repeated_at_most_once_and_logged(engine, tmp_path, caplog):
    with session_scope(engine) as session:
        world = build(session)
    recorder = Recorder()
    tick(engine, {"telegram": recorder}, now=NOV)
    recorder.sent.clear()  # the first morning's notices of the contract problems (contract_watch): sent, done
    earlier = {r.id for r in _rows(engine)}
    at = dt.datetime(2026, 11, 20, 2, tzinfo=UTC)
    with session_scope(engine) as session:
        from bot.storage.models import OrgUnit

        assert plan_county(session, session.get(OrgUnit, world.tree.county.id), at).inserted == 3
    log = tmp_path / "sent.txt"
    process = multiprocessing.get_context("spawn").Process(target=_die, args=(engine.url.render_as_string(False),
                                                                              str(log), at))
    process.start()
    process.join(60)
    assert process.exitcode == 9 and len(log.read_text().split()) == 1
    stuck = [r for r in _rows(engine) if r.status == "sending"]
    assert len(stuck) == 1 and stuck[0].claimed_by == "doomed"
    assert {r.status for r in _rows(engine) if r.id not in earlier} == {"sending", "claimed"}  # the rest never went
    # Within the lease (wall clock) nobody touches them; after it, the claims are given back, and the
    # one that may have been delivered is re-sent once, with a warning.
    assert deliver(engine, {"telegram": recorder}, now=at).recovered == 0 and recorder.sent == []
    with caplog.at_level(logging.WARNING, logger="bot.services.outbox"):
        result = deliver(engine, {"telegram": recorder}, now=at, lease=dt.timedelta(0))
    assert result.recovered == 1 and "may receive it twice" in caplog.text and stuck[0].key in caplog.text
    chats = [chat for chat, _, _ in recorder.sent]
    assert sorted(chats) == sorted(world.chats[k] for k in ("cadre_a1", "cadre_a2", "cadre_b1"))
    assert [r.recovered for r in _rows(engine) if r.id == stuck[0].id] == [1]
    assert all(r.status == "sent" for r in _rows(engine))


def test_a_second_lost_claim_is_given_up_not_sent_a_third_time(sqlite_engine, caplog):
    with session_scope(sqlite_engine) as session:
        build(session)
    tick(sqlite_engine, {}, now=NOV)
    at = dt.datetime(2026, 11, 20, 2, tzinfo=UTC)
    tick(sqlite_engine, {}, now=at)  # no Telegram channel configured: the reminders wait as pending
    with session_scope(sqlite_engine) as session:
        row = session.exec(select(OutboxMessage)).first()
        row.status, row.claimed_at, row.claimed_by, row.recovered = "sending", at, "dead", 1
        session.add(row)
    with caplog.at_level(logging.ERROR, logger="bot.services.outbox"):
        result = deliver(sqlite_engine, {"telegram": Recorder()}, now=at + dt.timedelta(hours=1))
    assert result.failed == 1 and "giving up" in caplog.text
    assert [r.status for r in _rows(sqlite_engine) if r.id == row.id] == ["failed"]


async def test_the_runner_ticks_at_once_and_every_minute_then_stops(sqlite_engine, settings):
    import asyncio

    from bot.services import scheduler_runner

    with session_scope(sqlite_engine) as session:
        build(session)
    runner = await scheduler_runner.start(None, settings, sqlite_engine)
    try:
        job = runner.scheduler.get_job("villagebot-tick")
        assert job.trigger.interval == dt.timedelta(minutes=1) and job.max_instances == 1
        assert "telegram" not in runner.channels  # no token in these settings: groups only
        done = asyncio.Event()
        runner.scheduler.add_listener(lambda event: event.job_id == job.id and done.set(),
                                      1 << 12)  # EVENT_JOB_EXECUTED
        await asyncio.wait_for(done.wait(), 30)
        with Session(sqlite_engine) as session:
            from bot.storage.models_schedule import ScheduleState

            assert session.exec(select(ScheduleState)).one().watermark is not None
    finally:
        await runner.stop()
    assert not runner.scheduler.running
