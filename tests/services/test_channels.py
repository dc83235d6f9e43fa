"""Delivery through the real HTTP doubles: Telegram Bot API (429, 5xx, timeouts, blocked) and the
WeCom / DingTalk group robots (busy, 5xx, timeouts, revoked, signed URLs)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlmodel import Session, select

from bot.services.channels import DingTalkChannel, TelegramChannel, WeComChannel
from bot.services.outbox import deliver, tick
from bot.storage.db import session_scope
from bot.storage.models import TelegramIdentity
from bot.storage.models_schedule import ChannelRoute, OutboxMessage
from tests.factories import make_user
from tests.fakes.botapi import BotApiDouble
from tests.fakes.webhooks import WebhookDouble
from tests.policy.world import Recorder, build

UTC = dt.UTC
START = dt.datetime(2026, 11, 10, tzinfo=UTC)
D5 = dt.datetime(2026, 11, 20, 2, tzinfo=UTC)       # 10:00 local: the D-5 reminders are due
LATE = dt.datetime(2026, 11, 26, 2, tzinfo=UTC)     # 10:00 local the day after the deadline


@pytest.fixture
def double():
    with BotApiDouble(timeout_delay=0.6) as running:
        yield running


def _telegram(double) -> TelegramChannel:
    return TelegramChannel(double.token, double.url, timeout=0.3, per_second=0)


def _rows(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def _drain(engine, channels, now: dt.datetime, rounds: int = 40) -> dt.datetime:
    """Deliver repeatedly, an hour apart, until nothing is pending; return the last instant."""
    for _ in range(rounds):
        deliver(engine, channels, now=now)
        if not [r for r in _rows(engine) if r.status in ("pending", "sending")]:
            return now
        now += dt.timedelta(hours=1)
    raise AssertionError("messages still pending after the retries")


def _crowd(session, world, double, count: int = 30) -> None:
    """Add ``count`` more village cadres, all on Telegram and known to the double."""
    villages = [world.tree.village_a1, world.tree.village_a2, world.tree.village_b1]
    for index in range(count):
        user = make_user(session, "village_cadre", villages[index % 3], name=f"cadre {index}")
        session.add(TelegramIdentity(telegram_user_id=9000 + index, chat_id=9000 + index, user_id=user.id))
        double.user(9000 + index)


def test_every_message_arrives_once_through_random_telegram_faults(sqlite_engine, double):
    with session_scope(sqlite_engine) as session:
        world = build(session)
        _crowd(session, world, double)
    for chat in world.chats.values():
        double.user(chat)
    channel = _telegram(double)
    tick(sqlite_engine, {"telegram": channel}, now=START)
    double.chaos(0.35, kinds=("429", "5xx", "timeout", "blocked"), seed=7)
    result = tick(sqlite_engine, {"telegram": channel}, now=D5)
    assert result.inserted == 33
    _drain(sqlite_engine, {"telegram": channel}, D5)
    rows = _rows(sqlite_engine)
    assert {r.status for r in rows} <= {"sent", "unreachable"}
    sent = Counter()
    with Session(sqlite_engine) as session:
        chat_of = {i.user_id: i.chat_id for i in session.exec(select(TelegramIdentity)).all()}
        dead = {i.user_id for i in session.exec(select(TelegramIdentity).where(
            TelegramIdentity.reachable.is_(False))).all()}
    for row in rows:
        if row.status == "sent":
            sent[chat_of[int(row.recipient[1:])]] += 1
    assert sent == double.accepted_sends  # nothing lost, nothing twice
    unreachable = [r for r in rows if r.status == "unreachable"]
    assert {"429", "5xx", "timeout", "blocked"} <= {f for _, f in double.faults_injected}
    assert unreachable and {int(r.recipient[1:]) for r in unreachable} <= dead
    for row in unreachable:  # a dead route's message went up to the township leader
        forwards = [r for r in rows if r.key.startswith(row.key + ">")]
        assert forwards and all(f.role == "township_leader" for f in forwards)
    channel.close()


def test_a_blocked_cadre_moves_the_reminder_to_the_township_leader(sqlite_engine, double):
    with session_scope(sqlite_engine) as session:
        world = build(session, locales={"leader_a": "en"})
    for chat in world.chats.values():
        double.user(chat)
    double.block(world.chats["cadre_a2"])
    channel = _telegram(double)
    tick(sqlite_engine, {"telegram": channel}, now=START)
    result = tick(sqlite_engine, {"telegram": channel}, now=D5)
    assert (result.sent, result.unreachable, result.forwarded) == (3, 1, 1)
    # (the first morning's notice of the contract problems, bot.services.contract_watch, aside)
    text = [t for t in double.texts_to(world.chats["leader_a"]) if "contract problems" not in t]
    assert len(text) == 1 and text[0].startswith("Forwarded to you because cadre_a2 could not be reached")
    assert [b.callback_data for b in double.last_keyboard(world.chats["leader_a"])] == ["go:report"]
    assert "提醒" in double.texts_to(world.chats["cadre_a1"])[0]
    with Session(sqlite_engine) as session:
        ident = session.exec(select(TelegramIdentity).where(
            TelegramIdentity.user_id == world.people["cadre_a2"].id)).one()
    assert ident.reachable is False
    # Next month the blocked cadre is no longer planned at all.
    tick(sqlite_engine, {"telegram": channel}, now=dt.datetime(2026, 12, 21, 2, tzinfo=UTC))
    assert world.chats["cadre_a2"] not in double.accepted_sends
    channel.close()


def test_it_waits_out_retry_after(sqlite_engine, double):
    with session_scope(sqlite_engine) as session:
        world = build(session)
    for chat in world.chats.values():
        double.user(chat)
    channel = _telegram(double)
    tick(sqlite_engine, {"telegram": channel}, now=START)
    before = sum(double.accepted_sends.values())  # the first morning's notices of the contract problems
    double.fail_next("sendMessage", "429", retry_after=30)
    first = tick(sqlite_engine, {"telegram": channel}, now=D5)
    assert (first.sent, first.retried) == (2, 1)
    assert deliver(sqlite_engine, {"telegram": channel}, now=D5 + dt.timedelta(seconds=20)).sent == 0
    assert deliver(sqlite_engine, {"telegram": channel}, now=D5 + dt.timedelta(seconds=31)).sent == 1
    assert sum(double.accepted_sends.values()) - before == 3
    channel.close()


def test_group_robots_get_each_digest_once_through_faults(sqlite_engine):
    recorder = Recorder()
    with WebhookDouble(timeout_delay=0.6) as hooks:
        with session_scope(sqlite_engine) as session:
            world = build(session)
            session.add(ChannelRoute(org_unit_id=world.tree.township_a.id, kind="wecom", name="新桥镇工作群",
                                     url=hooks.wecom_robot("wk-1")))
            session.add(ChannelRoute(org_unit_id=world.tree.township_b.id, kind="dingtalk", name="北坡乡钉钉群",
                                     url=hooks.dingtalk_robot("dt-1", secret="SEC-123"), secret="SEC-123"))
        channels = {"telegram": recorder, "wecom": WeComChannel(timeout=0.3), "dingtalk": DingTalkChannel(timeout=0.3)}
        tick(sqlite_engine, channels, now=START)
        hooks.chaos(0.4, seed=3)
        tick(sqlite_engine, channels, now=LATE)
        _drain(sqlite_engine, channels, LATE)
        assert hooks.faults  # some sends failed (busy, 5xx or timeout) and were retried
        # (the township's own duties of the month — study, four-way classification, issue 16 — and the first
        # morning's notice of the contract problems, issue 17, aside)
        digests = [(robot, m) for robot, m in hooks.accepted if "专题研究" not in str(m) and "四个一批" not in str(m)
                   and "经营合同" not in str(m)]
        robots = Counter(robot for robot, _ in digests)
        group_rows = [r for r in _rows(sqlite_engine) if r.channel in ("wecom", "dingtalk")]
        assert all(r.status == "sent" for r in group_rows)
        assert robots == {"wk-1": 1, "dt-1": 1}  # one township digest each, once
        wecom = next(m for robot, m in digests if robot == "wk-1")
        assert wecom["msgtype"] == "markdown" and "王庄村" in wecom["markdown"]["content"]
        ding = next(m for robot, m in digests if robot == "dt-1")
        assert "梨树村" in ding["markdown"]["text"]
        # The DingTalk robot is removed from its group: the next digest goes to the county office instead.
        hooks.chaos(0)
        hooks.revoke("dt-1")
        result = tick(sqlite_engine, channels, now=dt.datetime(2026, 12, 28, 2, tzinfo=UTC))
        assert result.unreachable >= 1  # the digest (and the Q4 inspection reminder) of that tick
        with Session(sqlite_engine) as session:
            route = session.exec(select(ChannelRoute).where(ChannelRoute.kind == "dingtalk")).one()
        assert route.reachable is False
        office = [t for chat, t, _ in recorder.sent if chat == world.chats["office"]]
        assert any("北坡乡钉钉群" in t and "梨树村" in t for t in office)
        for channel in channels.values():
            channel.close()


def test_a_wrong_dingtalk_secret_is_refused_by_the_robot():
    with WebhookDouble() as hooks:
        url = hooks.dingtalk_robot("dt-2", secret="right")
        channel = DingTalkChannel(timeout=1)
        from bot.services.channels import DeliveryError, Target

        with pytest.raises(DeliveryError) as caught:
            channel.send(Target(url=url, secret="wrong"), "测试")
        assert caught.value.unreachable and "310000" in caught.value.detail
        channel.send(Target(url=url, secret="right"), "测试")
        assert len(hooks.accepted) == 1
        channel.close()
