"""Run the Telegram bot inside the service: long polling, or a webhook served by our FastAPI app."""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI
from telegram import MenuButtonWebApp, WebAppInfo
from telegram.ext import Application

from bot.adapters.telegram_app import build_application, set_commands
from bot.config import Settings

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


class TelegramRunner:
    """A started Application; ``stop()`` shuts it down cleanly."""

    def __init__(self, application: Application, mode: str):
        self.application = application
        self.mode = mode

    async def stop(self) -> None:
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
    else:
        await application.bot.delete_webhook()
        await application.updater.start_polling(allowed_updates=["message", "callback_query"], timeout=30)
        log.info("Telegram bot started with long polling against %s", settings.telegram_api_url)
    app.state.telegram_application = application
    return TelegramRunner(application, settings.telegram_mode)
