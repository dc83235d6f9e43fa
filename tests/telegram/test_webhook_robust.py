"""The webhook answers what Telegram should do next: 200 for a malformed update (logged, never resent),
403 for a wrong secret, 503 while the database is down (the update comes again and is then handled)."""

from __future__ import annotations

import logging

import httpx
import psycopg
from sqlmodel import Session

from bot.storage.db import make_engine
from bot.storage.models import ProcessedUpdate
from bot.web.app import create_app
from tests.conftest import PG_ADMIN_URL
from tests.telegram.conftest import reply
from tests.telegram.crowd import make_crowd, settings_for
from tests.telegram.test_restart import Server, free_port

SECRET = "s3cret-token"
MALFORMED = [b"not json at all", b"[]", b"{}", b"null", b'{"update_id": "x"}',
             b'{"update_id": 1, "message": 5}', b'{"update_id": 2, "message": {"chat": "x"}}',
             b'{"update_id": 3, "callback_query": {"id": "1"}}']


def webhook_settings(db_url: str, tmp_path, double, port: int):
    return settings_for(db_url, tmp_path / "data", double, telegram_mode="webhook",
                        public_url=f"http://127.0.0.1:{port}", telegram_webhook_secret=SECRET)


async def test_malformed_updates_get_200_and_are_logged_and_the_bot_goes_on(sqlite_url, tmp_path, double, caplog):
    caplog.set_level(logging.WARNING, logger="bot.adapters.telegram_webhook")
    engine = make_engine(sqlite_url)
    port = free_port()
    settings = webhook_settings(sqlite_url, tmp_path, double, port)
    crowd = make_crowd(engine, settings, double, 1)
    try:
        with Server(create_app(settings, engine), port):
            url = double.webhook["url"]
            async with httpx.AsyncClient() as client:
                statuses = []
                for body in MALFORMED:
                    answer = await client.post(url, content=body, headers={
                        "X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
                    statuses.append(answer.status_code)
                forged = await client.post(url, content=b"[]", headers={"X-Telegram-Bot-Api-Secret-Token": "no"})
            assert statuses == [200] * len(MALFORMED)
            assert forged.status_code == 403
            logged = [r.getMessage() for r in caplog.records if "malformed update" in r.getMessage()]
            assert len(logged) == len(MALFORMED)

            # Pushed by the Bot API itself: confirmed on the first delivery, so never sent again.
            double.deliver({"update_id": 77, "message": {"text": "no chat, no date"}})
            assert [status for _, status in await double.apush_updates()] == [200]
            assert double.pending_updates == 0

            tg = double.user(crowd.cadres[0].tg_id, "村干部")
            double.send_command(tg, "start", crowd.cadres[0].code)
            assert [status for _, status in await double.apush_updates()] == [200]
            assert "第1村" in (await reply(double, tg)).text
    finally:
        engine.dispose()


def _allow_connections(database: str, allowed: bool) -> None:
    """Take the database down for everyone (as when its server is unreachable), or bring it back."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {"true" if allowed else "false"}')
        if not allowed:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                         "AND pid <> pg_backend_pid()", (database,))


async def test_an_update_that_meets_a_database_down_gets_503_and_is_handled_when_it_comes_again(
        pg_url, tmp_path, double):
    engine = make_engine(pg_url)
    database = pg_url.rsplit("/", 1)[1]
    port = free_port()
    settings = webhook_settings(pg_url, tmp_path, double, port)
    crowd = make_crowd(engine, settings, double, 1)
    cadre = crowd.cadres[0]
    tg = double.user(cadre.tg_id, "村干部")
    try:
        with Server(create_app(settings, engine), port):
            update = double.send_command(tg, "start", cadre.code)
            _allow_connections(database, False)
            try:
                assert [status for _, status in await double.apush_updates(timeout=60)] == [503]
                assert double.pending_updates == 1  # Telegram keeps it and sends it again
                assert double.texts_to(tg.id) == []  # no apology: the answer is coming
            finally:
                _allow_connections(database, True)
            assert [status for _, status in await double.apush_updates(timeout=60)] == [200]
            greeting = await reply(double, tg)
            assert "第1村" in greeting.text
            assert double.pending_updates == 0
        with Session(engine) as session:
            assert session.get(ProcessedUpdate, update["update_id"]) is not None
        assert len(double.texts_to(tg.id)) == 1
    finally:
        _allow_connections(database, True)
        engine.dispose()
