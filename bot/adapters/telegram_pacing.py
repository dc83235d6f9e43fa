"""python-telegram-bot's rate limiter on the shared pacing windows (``bot.services.pacing``): the bot's replies
in every process together stay within Telegram's overall and per-group limits, and take precedence over the
outbox's bulk sends (which stop short of the overall limit by a reserve); a 429 is waited out and retried."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.services.pacing import SharedPacer

log = logging.getLogger(__name__)
# The calls that put a message in a chat (answers to callback queries, getFile… are not limited so).
PACED = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendMediaGroup",
                   "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "copyMessage",
                   "forwardMessage"})


class SharedRateLimiter(BaseRateLimiter[int]):
    """Pace PTB's outgoing calls on the database's shared windows."""

    def __init__(self, pacer: SharedPacer, max_retries: int = 5) -> None:
        self.pacer = pacer
        self.max_retries = max_retries

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(self, callback, args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: int | None):
        chat_id = data.get("chat_id")
        for attempt in range(self.max_retries + 1):
            if endpoint in PACED:
                group = isinstance(chat_id, int) and chat_id < 0 or isinstance(chat_id, str) and \
                    chat_id.startswith(("-", "@"))
                await self.pacer.wait_for_async(chat_id if group else None, bulk=False)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries:
                    raise
                wait = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") \
                    else float(exc.retry_after)
                log.warning("Telegram asked to wait %.1f s before %s", wait, endpoint)
                await asyncio.sleep(wait + 0.1)
        raise AssertionError("unreachable")
