"""The webhook route: Telegram (or a self-hosted Bot API server) POSTs updates here in webhook mode.

What the answer tells Telegram: 2xx means "delivered, do not send it again"; anything else makes it
retry the update later, and hold back the ones after it. So:

- a request without the right ``X-Telegram-Bot-Api-Secret-Token`` header: 403 (not from Telegram);
- a body that is not an update (not JSON, ``[]``, ``{}``, an object python-telegram-bot cannot
  parse): logged and answered 200, since sending it again cannot make it parse;
- an update whose processing failed because the database was unreachable (connection refused or
  lost, no connection free in time): 503, and its dedup row is removed when the database allows,
  so the retry is processed; any other failure is the bot's (logged by its error handler): 200.

The update is processed inside the request, through the application's update processor: updates
of one chat in order, at most its limit of updates at once, as in polling mode.
"""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update

from bot.adapters.telegram import retry_scope
from bot.adapters.telegram_runner import WEBHOOK_PATH
from bot.config import Settings
from bot.storage.models import ProcessedUpdate

log = logging.getLogger(__name__)


def parse_update(body: bytes, bot) -> Update | None:
    """Return the update in a webhook body, or None (logged) when the body is not one."""
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise TypeError(f"a JSON {type(payload).__name__}, not an object")
        update_id = payload.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise TypeError("no integer update_id")
        return Update.de_json(payload, bot)
    except Exception as exc:  # noqa: BLE001 - whatever fails to parse will fail again: never ask for it twice
        log.warning("webhook: malformed update ignored (%s: %s; %d bytes)", type(exc).__name__, exc, len(body))
        return None


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add ``POST /telegram/webhook``: checks the secret header, hands the update to the running bot."""

    @app.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request,
                               x_telegram_bot_api_secret_token: str | None = Header(default=None)):
        application = getattr(request.app.state, "telegram_application", None)
        expected = getattr(request.app.state, "telegram_webhook_secret", None)
        if application is None or not expected:
            raise HTTPException(status_code=404)
        if not x_telegram_bot_api_secret_token or not hmac.compare_digest(
                x_telegram_bot_api_secret_token, expected):
            raise HTTPException(status_code=403)
        update = parse_update(await request.body(), application.bot)
        if update is None:
            return {"ok": True}
        # Processed in the request, so Telegram redelivers it if the database failed; the dedup gate drops repeats.
        with retry_scope() as retry:
            await application.update_processor.process_update(update, application.process_update(update))
        if retry:
            _forget(engine, update.update_id)
            return JSONResponse({"ok": False, "retry": True}, status_code=503)
        return {"ok": True}


def _forget(engine, update_id: int) -> None:
    """Remove an update's dedup row so that Telegram's retry is processed (best effort: the database may be down)."""
    try:
        with engine.begin() as conn:
            conn.execute(delete(ProcessedUpdate).where(ProcessedUpdate.update_id == update_id))
    except SQLAlchemyError as exc:
        log.warning("webhook: update %s failed and its dedup row could not be removed (%s): a retry will be "
                    "ignored", update_id, exc)
    else:
        log.warning("webhook: update %s failed on the database; Telegram will send it again", update_id)
