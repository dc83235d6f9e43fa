"""Pending follow-ups (a reason or a note being typed) live in the database, not in the process.

- the row's life: kept per user and chat, replaced by a newer one, taken once, back in place when
  the change it feeds is rolled back, gone after its expiry; on PostgreSQL two transactions taking
  it at once get it once (SQLite and PostgreSQL);
- through the bot: a refused reason leaves the follow-up waiting, /cancel drops it, an expired one
  lets the text be an answer again;
- two real service processes serving the webhook on one PostgreSQL: the send-back reason asked for
  by one process is taken by the other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from types import SimpleNamespace

from sqlmodel import Session, select

import bot.adapters.telegram_township  # noqa: F401 - registers the township's follow-up kinds
from bot.adapters.telegram import FOLLOW_UP_TTL, expect, take_follow_up
from bot.clock import period_of, utcnow
from bot.i18n import translate
from bot.services import users
from bot.storage.db import make_engine
from bot.storage.models import Report
from bot.storage.models_telegram import TelegramFollowUp
from tests.factories import make_asset, make_tree
from tests.fakes.botapi import BotApiDouble
from tests.telegram.conftest import reply, running_bot, sign_in
from tests.telegram.crowd import settings_for
from tests.telegram.test_restart import ROOT, free_port, wait_ready

SECRET = "two-process-secret"


def zh(msgid: str, **params) -> str:
    return translate("zh_CN", msgid, **params)


def turn_of(session: Session, user_id: int, chat_id: int | None = None):
    """The two things the follow-up store reads from a turn: its session and who writes where."""
    update = SimpleNamespace(effective_user=SimpleNamespace(id=user_id),
                             effective_chat=SimpleNamespace(id=chat_id if chat_id is not None else user_id))
    return SimpleNamespace(session=session, update=update)


def rows(engine) -> list[TelegramFollowUp]:
    with Session(engine) as session:
        return list(session.exec(select(TelegramFollowUp)).all())


def test_a_follow_up_is_kept_per_chat_replaced_taken_once_and_restored_on_rollback(engine):
    with Session(engine) as session:
        expect(turn_of(session, 501), "send_back", 7)
        expect(turn_of(session, 501, chat_id=-100), "resolve", 8)  # the same person in a group chat
        expect(turn_of(session, 502), "classify", (3, "consolidate"))
        session.commit()
    assert {(r.telegram_user_id, r.chat_id, r.kind) for r in rows(engine)} == {
        (501, 501, "send_back"), (501, -100, "resolve"), (502, 502, "classify")}

    with Session(engine) as session:
        expect(turn_of(session, 501), "esc", 9)  # a newer button replaces what was pending in that chat
        session.commit()
    with Session(engine) as session:
        assert take_follow_up(turn_of(session, 502)) == ("classify", [3, "consolidate"])  # JSON: a list
        assert take_follow_up(turn_of(session, 501)) == ("esc", 9)
        assert take_follow_up(turn_of(session, 501)) is None  # taken once
        session.rollback()  # the change it fed failed: both are waiting again
    with Session(engine) as session:
        assert take_follow_up(turn_of(session, 501)) == ("esc", 9)
        session.commit()
    assert {(r.telegram_user_id, r.chat_id) for r in rows(engine)} == {(501, -100), (502, 502)}


def test_an_expired_or_unknown_follow_up_is_not_taken(engine):
    with Session(engine) as session:
        session.add(TelegramFollowUp(telegram_user_id=601, chat_id=601, kind="send_back", argument=1,
                                     created_at=utcnow() - FOLLOW_UP_TTL * 2,
                                     expires_at=utcnow() - FOLLOW_UP_TTL))
        session.add(TelegramFollowUp(telegram_user_id=602, chat_id=602, kind="no_such_kind", argument=1,
                                     expires_at=utcnow() + FOLLOW_UP_TTL))
        session.commit()
    with Session(engine) as session:
        assert take_follow_up(turn_of(session, 601)) is None
        assert take_follow_up(turn_of(session, 602)) is None
        session.commit()
    assert rows(engine) == []


def test_two_transactions_taking_the_same_follow_up_on_postgresql_get_it_once(pg_url):
    engine = make_engine(pg_url)
    try:
        with Session(engine) as session:
            expect(turn_of(session, 701), "send_back", 11)
            session.commit()
        got: dict[str, object] = {}
        first = Session(engine)
        got["first"] = take_follow_up(turn_of(first, 701))  # holds the row's lock until it commits

        def second() -> None:
            with Session(engine) as other:
                got["second"] = take_follow_up(turn_of(other, 701))
                other.commit()

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting for the first transaction
        first.commit()
        first.close()
        thread.join(timeout=30)
        assert got == {"first": ("send_back", 11), "second": None}
    finally:
        engine.dispose()


def submitted_report(world, asset_id: int, cadre_id: int) -> int:
    with Session(world.engine) as session:
        report = Report(asset_id=asset_id, form_id="monthly-operating", form_version=1,
                        period=period_of(utcnow(), world.settings.tz), status="submitted",
                        answers={"operating_normally": "yes"}, created_by=cadre_id, submitted_by=cadre_id)
        session.add(report)
        session.commit()
        return report.id


async def test_a_refused_reason_waits_cancel_drops_it_and_an_expired_one_lets_text_be_an_answer(world):
    double = world.double
    rid = submitted_report(world, world.assets["workshop"], world.invites["cadre_a"][0])
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        greeting = double.last_message(leader.id)
        double.press(leader, greeting["message_id"], f"rv:back:{rid}")
        assert zh("Reply with the reason: what should the village correct?") in (await reply(double, leader)).text
        assert [(r.kind, r.argument) for r in rows(world.engine)] == [("send_back", rid)]

        double.send_text(leader, "   ")  # a blank reason is refused: the follow-up waits for a real one
        await reply(double, leader)
        assert [(r.kind, r.argument) for r in rows(world.engine)] == [("send_back", rid)]
        double.send_command(leader, "cancel")
        await reply(double, leader)
        assert rows(world.engine) == []
        double.send_text(leader, "照片不清楚")  # now just text: nothing is sent back
        await reply(double, leader)
        with Session(world.engine) as session:
            assert session.get(Report, rid).status == "submitted"

        double.press(leader, greeting["message_id"], f"rv:back:{rid}")
        await reply(double, leader)
        with Session(world.engine) as session:  # a day passes
            pending = session.exec(select(TelegramFollowUp)).one()
            pending.expires_at = utcnow() - dt.timedelta(minutes=1)
            session.add(pending)
            session.commit()
        double.send_text(leader, "照片不清楚")
        await reply(double, leader)
        with Session(world.engine) as session:
            assert session.get(Report, rid).status == "submitted"
        assert rows(world.engine) == []

        double.press(leader, greeting["message_id"], f"rv:back:{rid}")
        await reply(double, leader)
        double.send_text(leader, "公示牌照片看不清，请重拍")
        assert zh("Sent back to the village: {asset}.", asset="新桥村扶贫车间") in (await reply(double, leader)).text
    with Session(world.engine) as session:
        report = session.get(Report, rid)
        assert (report.status, report.review_note) == ("returned", "公示牌照片看不清，请重拍")
    assert rows(world.engine) == []


# ---------------------------------------------------------------------------------------------- two processes

def start_webhook_service(settings, port: int) -> subprocess.Popen:
    env = {**os.environ, "VILLAGEBOT_DATABASE_URL": settings.database_url,
           "VILLAGEBOT_DATA_DIR": str(settings.data_dir), "VILLAGEBOT_TELEGRAM_TOKEN": settings.telegram_token,
           "VILLAGEBOT_TELEGRAM_API_URL": settings.telegram_api_url, "VILLAGEBOT_TELEGRAM_MODE": "webhook",
           "VILLAGEBOT_TELEGRAM_WEBHOOK_SECRET": SECRET, "VILLAGEBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "VILLAGEBOT_SECRET_KEY": settings.secret_key}
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def post_to(port: int, update: dict) -> int:
    """POST one update to one process's webhook, as the Bot API does (secret header included)."""
    hook = {"url": f"http://127.0.0.1:{port}/telegram/webhook", "secret_token": SECRET}
    return await asyncio.to_thread(BotApiDouble._post_update, hook, update, 60)


async def test_a_send_back_reason_asked_by_one_process_is_taken_by_the_other(pg_url, tmp_path, double):
    engine = make_engine(pg_url)
    settings = settings_for(pg_url, tmp_path / "data", double)
    with Session(engine) as session:
        tree = make_tree(session)
        asset = make_asset(session, tree.village_a1, name="新桥村扶贫车间")
        cadre = users.create_invite(session, None, scope=tree.village_a1, role="village_cadre", name="李书记")
        leader = users.create_invite(session, None, scope=tree.township_a, role="township_leader", name="王镇长")
        session.commit()
        asset_id, cadre_id, cadre_code, leader_code = asset.id, cadre.user.id, cadre.code, leader.code
    world = SimpleNamespace(engine=engine, settings=settings)
    rid = submitted_report(world, asset_id, cadre_id)
    ports = (free_port(), free_port())
    processes = [start_webhook_service(settings, port) for port in ports]
    a, b = ports
    try:
        for port, process in zip(ports, processes):
            await wait_ready(port, process)
        boss, village = double.user(6101, "王镇长"), double.user(5101, "李书记")
        assert await post_to(a, double.send_command(boss, "start", leader_code, deliver=0)) == 200
        greeting = await reply(double, boss, timeout=30)
        assert await post_to(b, double.send_command(village, "start", cadre_code, deliver=0)) == 200
        await reply(double, village, timeout=30)

        assert await post_to(a, double.press(boss, greeting.message_id, f"rv:back:{rid}", deliver=0)) == 200
        asked = await reply(double, boss, timeout=30)
        assert zh("Reply with the reason: what should the village correct?") in asked.text
        assert await post_to(a, double.send_text(boss, "   ", deliver=0)) == 200  # refused: still pending
        await reply(double, boss, timeout=30)
        assert [(r.kind, r.argument) for r in rows(engine)] == [("send_back", rid)]
        assert await post_to(b, double.send_text(boss, "收益分配金额有误", deliver=0)) == 200  # taken on B
        done = await reply(double, boss, timeout=30)
        assert zh("Sent back to the village: {asset}.", asset="新桥村扶贫车间") in done.text
        told = await reply(double, village, timeout=30)
        assert "收益分配金额有误" in told.text
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    with Session(engine) as session:
        report = session.get(Report, rid)
        assert (report.status, report.review_note) == ("returned", "收益分配金额有误")
    assert rows(engine) == []
    engine.dispose()
