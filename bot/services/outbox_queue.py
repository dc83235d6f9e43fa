"""The outbox's door for event notices: insert rows in the caller's transaction and nudge delivery after commit.

A leaf below ``bot.services.outbox`` (which plans, claims and delivers): the notices of every domain module
(``bot.services.notices``, the WeCom app, the scheduler's watches) go in through ``queue`` here, so those modules
never import the planner that itself calls their daily watches. ``bot.services.outbox`` re-exports all of it.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import event
from sqlalchemy.orm import Session as SASession
from sqlmodel import Session

from bot.storage.models_schedule import OutboxMessage

log = logging.getLogger("bot.services.outbox")

NUDGE = "villagebot.outbox.nudge"
NOTICE_PREFIX = "n|"  # keys of event notices (bot.services.notices); the planner's start with their subject


def message_key(key: str) -> str:
    """Return the key as stored: long keys keep a readable head and a hash of the whole."""
    if len(key) <= 255:
        return key
    return key[:180] + "#" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def insert_ignore(session: Session, model, rows: list[dict], keys: list[str]) -> int:
    """Insert rows, skipping those that clash on the unique ``keys``; return how many went in."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(model).on_conflict_do_nothing(index_elements=keys).returning(getattr(model, keys[0]))
    return len(session.execute(stmt, rows).all())


def queue(session: Session, rows: list[dict]) -> int:
    """Insert event notices (``bot.services.notices``) in the caller's transaction; return how many went in.

    Once that transaction commits, the processes' delivery loops are nudged (``listen``), so the
    notices go out at once instead of at the next tick; the tick delivers them anyway.
    """
    inserted = insert_ignore(session, OutboxMessage, rows, ["key"])
    if inserted:
        session.info[NUDGE] = True
    return inserted


_listeners: list = []


def listen(callback) -> None:
    """Call ``callback()`` (from any thread) after each commit that queued notices."""
    _listeners.append(callback)


def unlisten(callback) -> None:
    """Stop calling ``callback``."""
    if callback in _listeners:
        _listeners.remove(callback)


def nudge() -> None:
    """Tell this process's delivery loops that something waits (a lost nudge only delays to the tick)."""
    for callback in _listeners:
        try:
            callback()
        except Exception:
            log.exception("outbox: a nudge listener failed")


@event.listens_for(SASession, "after_commit")
def _after_commit(session) -> None:
    if session.info.pop(NUDGE, False):
        nudge()


@event.listens_for(SASession, "after_rollback")
def _after_rollback(session) -> None:
    session.info.pop(NUDGE, None)
