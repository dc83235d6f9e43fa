"""Telegram's limits kept by every process together: 30 messages a second overall (configurable for a bot
with a paid allowance), 1 a second per chat, 20 a minute per group.

Each call takes a slot in fixed time windows kept in the database (``rate_window``): one upsert per key
increments the window's count and returns it; over the limit, the call waits for the next window. Any number of
processes on one database therefore share one allowance. Bulk sends (the outbox's reminders and digests) may
use the overall allowance only up to ``limit - reserve``: the reserve is left to replies to a person's own
action (the bot's answers), so a cadre answering a checklist never waits behind a township's digest run.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from sqlalchemy import delete, text
from sqlalchemy.engine import Engine

from bot.storage.models_telegram import RateWindow

KEEP_WINDOWS = 120  # seconds of old windows kept before they are deleted


@dataclass(frozen=True)
class Limits:
    overall: int = 30  # per second, the whole bot
    per_chat: int = 1  # per second, one private chat
    per_group: int = 20  # per minute, one group
    reserve: int = 5  # of the overall allowance, kept for replies (bulk sends stop at overall - reserve)


def pacing_limits(settings) -> Limits:
    """The limits of this installation: VILLAGEBOT_TELEGRAM_RATE (a bot with a paid allowance sets more)."""
    overall = int(getattr(settings, "telegram_rate", 30) or 30)
    return Limits(overall=overall, reserve=max(1, overall // 6))


_UPSERT = {
    "postgresql": text("INSERT INTO rate_window (key, \"window\", count) VALUES (:key, :window, 1) "
                       "ON CONFLICT (key, \"window\") DO UPDATE SET count = rate_window.count + 1 "
                       "RETURNING count"),
    "sqlite": text("INSERT INTO rate_window (key, \"window\", count) VALUES (:key, :window, 1) "
                   "ON CONFLICT (key, \"window\") DO UPDATE SET count = count + 1 RETURNING count"),
}


class SharedPacer:
    """Slots in shared windows; ``wait_for(chat_id, bulk=...)`` returns once the call may go."""

    def __init__(self, engine: Engine, limits: Limits | None = None) -> None:
        self.engine = engine
        self.limits = limits or Limits()
        self._upsert = _UPSERT.get(engine.dialect.name, _UPSERT["postgresql"])
        self._last_cleanup = 0.0

    def _take(self, key: str, window: int, limit: int) -> bool:
        """Take a slot of the window if one is left; a refused take gives its increment back."""
        with self.engine.begin() as conn:
            count = int(conn.execute(self._upsert, {"key": key, "window": window}).scalar_one())
            if count <= limit:
                return True
            conn.execute(text('UPDATE rate_window SET count = count - 1 WHERE key = :key AND "window" = :window'),
                         {"key": key, "window": window})
            return False

    def _slot(self, key: str, limit: int, period: float) -> None:
        """Take one slot of ``key`` (``limit`` per ``period`` seconds), waiting for a later window if full."""
        while True:
            now = time.time()
            window = math.floor(now / period)
            if self._take(key, window, limit):
                return
            time.sleep(max(0.0, (window + 1) * period - now) + 0.001)

    def wait_for(self, chat_id: int | str | None, *, bulk: bool) -> None:
        """Wait until a message to ``chat_id`` may be sent (groups have negative ids)."""
        limits = self.limits
        if chat_id is not None:
            if str(chat_id).startswith(("-", "@")):
                self._slot(f"tg:group:{chat_id}", limits.per_group, 60.0)
            elif bulk:  # a broadcast keeps to one a second per person; a conversation's replies may burst
                self._slot(f"tg:chat:{chat_id}", limits.per_chat, 1.0)
        # One count for the whole bot: bulk may fill it up to overall - reserve, replies up to overall.
        self._slot("tg:all", max(1, limits.overall - limits.reserve) if bulk else limits.overall, 1.0)
        self._cleanup()

    async def wait_for_async(self, chat_id: int | str | None, *, bulk: bool) -> None:
        await asyncio.to_thread(self.wait_for, chat_id, bulk=bulk)

    def _cleanup(self) -> None:
        now = time.time()
        if now - self._last_cleanup < 30:
            return
        self._last_cleanup = now
        groups = RateWindow.key.like("tg:group:%")
        with self.engine.begin() as conn:
            conn.execute(delete(RateWindow).where(groups, RateWindow.window < int(now // 60) - 2))
            conn.execute(delete(RateWindow).where(~groups, RateWindow.window < int(now) - KEEP_WINDOWS))
