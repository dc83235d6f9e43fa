"""The webhook route: Telegram (or a self-hosted Bot API server) POSTs updates here in webhook mode."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Header, HTTPException, Request
from telegram import Update

from bot.adapters.telegram_runner import WEBHOOK_PATH
from bot.config import Settings


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add ``POST /telegram/webhook``: checks the secret header, hands the update to the running bot."""

    @app.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request,
                               x_telegram_bot_api_secret_token: str | None = Header(default=None)) -> dict:
        application = getattr(request.app.state, "telegram_application", None)
        expected = getattr(request.app.state, "telegram_webhook_secret", None)
        if application is None or not expected:
            raise HTTPException(status_code=404)
        if not x_telegram_bot_api_secret_token or not hmac.compare_digest(
                x_telegram_bot_api_secret_token, expected):
            raise HTTPException(status_code=403)
        payload = await request.json()
        update = Update.de_json(payload, application.bot)
        # Processed in the request, so Telegram redelivers it if we fail; the dedup gate drops repeats.
        await application.process_update(update)
        return {"ok": True}
