"""Crash safety and webhook mode: the bot as a real process killed mid-checklist, and behind a webhook."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from sqlmodel import Session, select

from bot.storage.models import ProcessedUpdate, Report
from bot.web.app import create_app
from tests.telegram.conftest import current_question, current_report, reply, safe_option, sign_in

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(world, port: int) -> subprocess.Popen:
    env = {**os.environ, "VILLAGEBOT_DATABASE_URL": world.settings.database_url,
           "VILLAGEBOT_DATA_DIR": str(world.settings.data_dir), "VILLAGEBOT_TELEGRAM_TOKEN": world.double.token,
           "VILLAGEBOT_TELEGRAM_API_URL": world.double.url, "VILLAGEBOT_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def wait_ready(port: int, process: subprocess.Popen) -> None:
    """Wait until the service answers /healthz (its lifespan has started the bot's polling by then)."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            await asyncio.sleep(0.2)


async def answer_one(world, tg, asset_id: int) -> str:
    """Answer the current yes/no or choice question by button; return its key."""
    report, q = current_question(world, asset_id)
    assert q.type in ("yesno", "choice"), q.type
    world.double.press(tg, world.double._latest_bot_message_id(tg.id),
                       f"v:{report.id}:{q.key}:{safe_option(world, asset_id, q)}")
    await reply(world.double, tg, timeout=20)
    return q.key


async def test_a_killed_process_loses_no_answer_and_duplicates_no_report(world):
    asset = world.assets["greenhouse"]
    port = free_port()
    process = start_service(world, port)
    try:
        await wait_ready(port, process)
        tg = await sign_in(world, "cadre_a", 5001)
        world.double.send_command(tg, "report")
        await reply(world.double, tg, timeout=20)
        world.double.press(tg, world.double._latest_bot_message_id(tg.id), f"a:{asset}")
        await reply(world.double, tg, timeout=20)
        first = await answer_one(world, tg, asset)
        answered = dict(current_report(world, asset).answers)
        assert first in answered
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    process = start_service(world, port)
    try:
        await wait_ready(port, process)
        second = await answer_one(world, tg, asset)  # the cadre just goes on with the next question
        assert second != first
        world.double.send_command(tg, "report")
        listing = await reply(world.double, tg, timeout=20)
        world.double.press(tg, listing.message_id, f"a:{asset}")  # resume from the list, as after a day away
        resumed = await reply(world.double, tg, timeout=20)
        report, q = current_question(world, asset)
        assert q.key not in (first, second)
        assert f"v:{report.id}:{q.key}:" in " ".join(b.callback_data for b in resumed.buttons)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    with Session(world.engine) as session:
        reports = session.exec(select(Report).where(Report.asset_id == asset)).all()
        assert len(reports) == 1
        assert {first, second} <= set(reports[0].answers)
        assert reports[0].answers[first] == answered[first]


class Server:
    """Serve a FastAPI app with uvicorn in a thread on a free port."""

    def __init__(self, app, port: int):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=20)


async def test_webhook_mode_checks_the_secret_and_processes_a_repeated_update_once(world):
    port = free_port()
    settings = world.settings.model_copy(update={"telegram_mode": "webhook",
                                                 "public_url": f"http://127.0.0.1:{port}",
                                                 "telegram_webhook_secret": "s3cret-token"})
    app = create_app(settings, world.engine)
    with Server(app, port):
        hook = world.double.webhook
        assert hook["url"] == f"http://127.0.0.1:{port}/telegram/webhook"
        tg = world.double.user(5001, "李书记")
        update = world.double.send_command(tg, "start", world.invites["cadre_a"][1], deliver=0)

        async with httpx.AsyncClient() as client:
            forged = await client.post(hook["url"], json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
            missing = await client.post(hook["url"], json=update)
        assert (forged.status_code, missing.status_code) == (403, 403)
        assert current_report(world, world.assets["greenhouse"]) is None

        world.double.deliver_twice(update)
        results = await world.double.apush_updates()
        assert [status for _, status in results] == [200, 200]
        greeting = await reply(world.double, tg)
        assert "新桥村" in greeting.text
        world.double.send_command(tg, "help")
        await world.double.apush_updates()
        (helped,) = await world.double.wait_reply(tg.id)
        assert "/report" in helped.text  # the repeated /start produced no second greeting
    with Session(world.engine) as session:
        assert session.get(ProcessedUpdate, update["update_id"]) is not None

