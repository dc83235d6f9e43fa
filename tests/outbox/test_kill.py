"""kill -9 between a change and its delivery loses no message and sends none twice.

A real child process submits a report whose serious problem alerts the township (its leader on
Telegram, its WeCom and DingTalk groups), commits, and is killed with SIGKILL either before it
delivers anything or while its first message hangs in the Bot API (not yet taken effect). Another
process then delivers: every notice arrives exactly once, counted at the doubles.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.clock import utcnow
from bot.services import outbox
from bot.services.audit import SYSTEM
from bot.services.channels import register_route
from tests.factories import make_asset, make_tree, make_user
from tests.fakes.botapi import BotApiDouble
from tests.fakes.webhooks import WebhookDouble
from tests.outbox.helpers import SERIOUS, bind_telegram, channels, close, fill_draft, outbox_rows, store_at

ROOT = Path(__file__).resolve().parents[2]
LEADER_CHAT = 9001


@pytest.fixture
def botapi():
    with BotApiDouble() as running:
        yield running


@pytest.fixture
def robots():
    with WebhookDouble() as running:
        yield running


def _spawn(db_url: str, user_id: int, report_id: int, mode: str, botapi: BotApiDouble) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.outbox.child", db_url, str(user_id), str(report_id), mode,
                             botapi.url, botapi.token], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _wait_line(child: subprocess.Popen, expected: str) -> None:
    line = child.stdout.readline().strip()
    assert line == expected, f"child said {line!r} (exit {child.poll()})"


@pytest.mark.parametrize("mode", ["before", "while"])
def test_a_process_killed_after_the_commit_loses_no_notice_and_none_is_sent_twice(
        engine, db_url, botapi, robots, tmp_path, mode):
    botapi.user(LEADER_CHAT, "赵镇长")
    with Session(engine) as session:
        tree = make_tree(session)
        cadre = make_user(session, "village_cadre", tree.village_a1, "张村干")
        leader = make_user(session, "township_leader", tree.township_a, "赵镇长")
        bind_telegram(session, leader, LEADER_CHAT)
        asset = make_asset(session, tree.village_a1, name="新桥村扶贫车间")
        register_route(session, SYSTEM, tree.township_a, "wecom", robots.wecom_robot("wk"), "新桥镇企业微信群")
        register_route(session, SYSTEM, tree.township_a, "dingtalk", robots.dingtalk_robot("dt", "SECx"),
                       "新桥镇钉钉群", "SECx")
        session.commit()
        cadre_id, asset_id, leader_id = cadre.id, asset.id, leader.id
    report_id = fill_draft(engine, cadre_id, asset_id, SERIOUS, store_at(tmp_path / "ev"), now=utcnow())

    if mode == "while":
        botapi.fail_next("sendMessage", "timeout", delay=30)  # the first send hangs, nothing taken effect
    child = _spawn(db_url, cadre_id, report_id, mode, botapi)
    try:
        _wait_line(child, "committed")
        if mode == "while":
            _wait_line(child, "delivering")
            botapi.wait_for(lambda: botapi.calls_of("sendMessage"), timeout=20, what="the child's first send")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=20) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()

    rows = outbox_rows(engine)
    assert {(r.recipient, r.channel) for r in rows} == {(f"u{leader_id}", "telegram"), ("r1", "wecom"),
                                                       ("r2", "dingtalk")}
    expected = {"before": {"pending"}, "while": {"sending", "claimed"}}[mode]
    assert {r.status for r in rows} == expected
    assert botapi.accepted_sends[LEADER_CHAT] == 0 and robots.accepted == []  # nothing arrived yet

    # Another process delivers; the dead process's claims are taken back once their lease is over.
    found = channels(botapi=botapi)
    try:
        result = outbox.deliver(engine, found, lease=dt.timedelta(0))
        again = outbox.deliver(engine, found, lease=dt.timedelta(0))
    finally:
        close(found)
    assert result.sent == 3 and again.sent == 0
    assert result.recovered == (1 if mode == "while" else 0)  # the one that was in the channel's hands
    assert {r.status for r in outbox_rows(engine)} == {"sent"}
    assert botapi.accepted_sends[LEADER_CHAT] == 1
    assert sorted(name for name, _ in robots.accepted) == ["dt", "wk"]
    assert len(outbox_rows(engine)) == 3
