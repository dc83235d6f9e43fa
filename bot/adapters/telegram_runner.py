"""Run the Telegram bot inside the service: long polling, or a webhook served by our FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from fastapi import FastAPI
from telegram import MenuButtonWebApp, WebAppInfo
from telegram.ext import Application

from bot.adapters.telegram_app import build_application, set_commands
from bot.config import Settings

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


POLL_LOCK_KEY = 0x56424F54  # 'VBOT': the advisory lock whose holder alone polls Telegram
LOCK_RETRY = 2.0  # seconds between a waiting process's attempts to take the lock
LOCK_CHECK = 5.0  # seconds between the holder's checks that its lock connection is alive


class PollLock:
    """One PostgreSQL session advisory lock, held on a connection of its own for as long as this process
    polls. When the holder dies its connection closes and PostgreSQL releases the lock at once; a waiting
    process takes it at its next attempt (``LOCK_RETRY``)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.conn = None

    def try_take(self) -> bool:
        from sqlalchemy import text

        if self.conn is None:
            self.conn = self.engine.connect()
        taken = bool(self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": POLL_LOCK_KEY}).scalar())
        self.conn.commit()
        return taken

    def alive(self) -> bool:
        from sqlalchemy import text

        try:
            self.conn.execute(text("SELECT 1"))
            self.conn.commit()
            return True
        except Exception:  # noqa: BLE001 - a lost connection means the lock is lost too
            return False

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()  # closing the session releases its advisory locks
            except Exception:  # noqa: BLE001
                log.debug("closing the poll lock connection failed", exc_info=True)
            self.conn = None


async def _poll_while_holding(application: Application, engine) -> None:
    """Poll Telegram only while this process holds the poll lock; wait for it otherwise, take over on loss."""
    lock = PollLock(engine)
    try:
        while True:
            try:
                taken = await asyncio.to_thread(lock.try_take)
            except Exception:  # noqa: BLE001 - database away: try again
                log.warning("poll lock: cannot reach the database", exc_info=True)
                lock.release()
                taken = False
            if not taken:
                await asyncio.sleep(LOCK_RETRY)
                continue
            log.info("poll lock taken: this process polls Telegram")
            await application.bot.delete_webhook()
            await application.updater.start_polling(allowed_updates=["message", "callback_query"], timeout=30)
            while await asyncio.to_thread(lock.alive):
                await asyncio.sleep(LOCK_CHECK)
            log.warning("poll lock lost (database connection closed): polling stops until it is taken again")
            if application.updater.running:
                await application.updater.stop()
            lock.release()
    finally:
        lock.release()


class TelegramRunner:
    """A started Application; ``stop()`` shuts it down cleanly."""

    def __init__(self, application: Application, mode: str, poller: asyncio.Task | None = None):
        self.application = application
        self.mode = mode
        self.poller = poller

    async def stop(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller
        if self.mode == "polling" and self.application.updater and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()


async def start(app: FastAPI, settings: Settings, engine) -> TelegramRunner | None:
    """Start the bot in the configured mode; without a token, do nothing (the web app runs alone)."""
    if not settings.telegram_token:
        return None
    application = build_application(settings, engine)
    await application.initialize()
    try:
        await set_commands(application)
        if settings.public_url.startswith("https://"):  # Telegram opens Mini Apps over https only
            await application.bot.set_chat_menu_button(menu_button=MenuButtonWebApp(
                text="巡查表", web_app=WebAppInfo(url=f"{settings.public_url}/app")))
    except Exception:  # a menu is a nicety: never keep the bot from starting
        log.warning("could not publish the command menu", exc_info=True)
    await application.start()
    if settings.telegram_mode == "webhook":
        secret = settings.telegram_webhook_secret or secrets.token_urlsafe(24)
        app.state.telegram_webhook_secret = secret
        await application.bot.set_webhook(url=f"{settings.public_url}{WEBHOOK_PATH}", secret_token=secret,
                                          allowed_updates=["message", "callback_query"])
        log.info("Telegram bot started with a webhook at %s%s", settings.public_url, WEBHOOK_PATH)
    elif engine is not None and engine.dialect.name == "postgresql":
        # Several processes may serve one database; the Bot API allows one getUpdates consumer.
        poller = asyncio.create_task(_poll_while_holding(application, engine), name="telegram-poll-lock")
        app.state.telegram_application = application
        log.info("Telegram bot started; long polling against %s by whichever process holds the poll lock",
                 settings.telegram_api_url)
        return TelegramRunner(application, settings.telegram_mode, poller)
    else:
        await application.bot.delete_webhook()
        await application.updater.start_polling(allowed_updates=["message", "callback_query"], timeout=30)
        log.info("Telegram bot started with long polling against %s", settings.telegram_api_url)
    app.state.telegram_application = application
    return TelegramRunner(application, settings.telegram_mode)
