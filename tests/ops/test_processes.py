"""Several real processes on one PostgreSQL: one Telegram poller at a time (the lock moves within seconds
when its holder is killed, no update handled twice), and one shared pacing allowance counted at the Bot
API double; replies keep a reserve that bulk sends cannot use."""

from __future__ import annotations

import collections
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.services.pacing import Limits, SharedPacer
from tests.fakes.botapi import BotApiDouble

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def botapi():
    with BotApiDouble(strict_chats=False) as running:
        yield running


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(db_url: str, botapi: BotApiDouble, data_dir: Path) -> tuple[subprocess.Popen, Path]:
    log = data_dir.with_suffix(".log")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VILLAGEBOT_DATABASE_URL": db_url,
           "VILLAGEBOT_DATA_DIR": str(data_dir), "VILLAGEBOT_SECRET_KEY": "test-secret-key-0123456789",
           "VILLAGEBOT_TELEGRAM_TOKEN": botapi.token, "VILLAGEBOT_TELEGRAM_API_URL": botapi.url,
           "VILLAGEBOT_PUBLIC_URL": "http://127.0.0.1"}
    handle = log.open("w")
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port",
                                str(_port())], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return process, log


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _holder(servers) -> int | None:
    """The index of the server that says it took the poll lock (and was not killed)."""
    found = [i for i, (process, log) in enumerate(servers)
             if process.poll() is None and "poll lock taken" in log.read_text()]
    return found[-1] if found else None


@pytest.mark.postgres
@pytest.mark.slow
def test_one_poller_at_a_time_and_the_lock_moves_when_its_holder_dies(pg_url, botapi, tmp_path):
    servers = [_serve(pg_url, botapi, tmp_path / f"host{i}") for i in range(3)]
    try:
        _wait(lambda: _holder(servers) is not None, 90, "a process to take the poll lock")
        first = _holder(servers)
        people = [botapi.user(7000 + n, f"村干部{n}") for n in range(6)]
        for person in people[:3]:
            botapi.send_text(person, "你好")
        _wait(lambda: all(botapi.messages_to(p.id) for p in people[:3]), 60, "replies from the poller")
        servers[first][0].send_signal(signal.SIGKILL)
        servers[first][0].wait(10)
        killed_at = time.monotonic()
        _wait(lambda: _holder(servers) not in (None, first), 30, "another process to take the lock")
        took_over = time.monotonic() - killed_at
        for person in people[3:]:
            botapi.send_text(person, "你好")
        _wait(lambda: all(botapi.messages_to(p.id) for p in people), 60, "replies after the take-over")
        time.sleep(2)
        for person in people:  # each update answered once: no update handled twice
            assert len(botapi.messages_to(person.id)) == 1, [m.text for m in botapi.messages_to(person.id)]
        # Never two live getUpdates consumers: at most the killed holder's hanging request was ended by the
        # new holder's, and no surviving process was ever told it conflicts with another.
        assert botapi.poll_conflicts <= 1
        for i, (_process, log) in enumerate(servers):
            if i != first:
                assert "terminated by other getUpdates" not in log.read_text()
        assert took_over < 15, took_over
        assert sum("poll lock taken" in log.read_text() for _p, log in servers) == 2
    finally:
        for process, _log in servers:
            if process.poll() is None:
                process.terminate()
        for process, _log in servers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.postgres
@pytest.mark.slow
def test_pacing_holds_across_processes(pg_url, botapi):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-m", "tests.ops.pacing_child", pg_url, botapi.url, botapi.token,
                                  str(100_000 + 1000 * i), "25"], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for i in range(3)]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            assert child.stdout.readline().strip() == "done"
    finally:
        for child in children:
            child.kill() if child.poll() is None else None
    sends = [c.at for c in botapi.calls_of("sendMessage") if c.status == 200]
    assert len(sends) == 75
    # 3 processes × 25 messages against one allowance of 12 a second, 2 of them reserved for replies: the three
    # processes took at most 10 bulk slots in any second of the clock, in the one count they share ...
    from bot.storage.db import make_engine

    engine = make_engine(pg_url)
    with engine.connect() as conn:
        taken = dict(conn.execute(text('SELECT "window", count FROM rate_window WHERE key = \'tg:all\' '
                                       'AND "window" BETWEEN :first AND :last'),
                                  {"first": math.floor(min(sends)) - 2, "last": math.floor(max(sends))}).all())
    engine.dispose()
    assert sum(taken.values()) == 75 and max(taken.values()) <= 10, taken
    # ... so the 75 took at least 7 seconds, and what the Bot API saw arrive in a second is one second's slots
    # plus those still on the wire from the second before (a send takes well under a second here): never the
    # 75 at once nor a second's worth of each process.
    per_second = collections.Counter(math.floor(at) for at in sends)
    assert max(per_second.values()) <= 20, per_second
    assert max(sends) - min(sends) >= 6.0


def test_replies_have_a_reserve_that_bulk_sends_cannot_take(engine):
    pacer = SharedPacer(engine, Limits(overall=30, reserve=5))
    window = 123456
    assert all(pacer._take("tg:all", window, 25) for _ in range(25))  # bulk fills its part
    assert not pacer._take("tg:all", window, 25)  # the 26th bulk send waits for the next second
    assert all(pacer._take("tg:all", window, 30) for _ in range(5))  # replies still have five
    assert not pacer._take("tg:all", window, 30)
    with engine.connect() as conn:  # refused takes gave their increment back
        count = conn.execute(text('SELECT count FROM rate_window WHERE key = :k AND "window" = 123456'),
                             {"k": "tg:all"}).scalar()
    assert count == 30
