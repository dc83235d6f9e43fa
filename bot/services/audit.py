"""The append-only, hash-chained audit log: who changed what, when, before and after."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import insert, text
from sqlmodel import Session, select

from bot.i18n import N_
from bot.clock import as_utc, utcnow
from bot.storage.models import AuditEntry

GENESIS = "0" * 64
_PG_LOCK_KEY = 7_100_001  # advisory lock serialising the chain across processes


def jsonable(value: Any) -> Any:
    """Return ``value`` with dates, decimals and sets turned into JSON-friendly values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def entry_hash(prev_hash: str, at: dt.datetime, actor: str, action: str, entity: str,
               entity_id: str | None, before: Any, after: Any) -> str:
    """Return the SHA-256 that chains one entry to the previous one (before/after already jsonable)."""
    body = json.dumps(
        [prev_hash, as_utc(at).isoformat(timespec="microseconds"), actor, action, entity, entity_id,
         before, after],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who acts: a user id (None for the system or the command line) and a readable label."""

    user_id: int | None
    label: str


SYSTEM = Actor(None, "system")


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _last_hash(session: Session) -> str:
    last = session.exec(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    return last or GENESIS


def record(session: Session, actor: Actor, action: str, entity: str, entity_id: Any = None,
           before: Any = None, after: Any = None) -> str:
    """Append one audit entry in the caller's transaction; return its hash."""
    return record_many(session, actor, [(action, entity, entity_id, before, after)])


def record_many(session: Session, actor: Actor, items: Iterable[tuple[str, str, Any, Any, Any]]) -> str:
    """Append several entries at once (bulk imports), chained in order; return the last hash."""
    session.flush()  # rows the entries speak of get their ids first
    _lock_chain(session)
    prev = _last_hash(session)
    now = utcnow()
    rows = []
    for action, entity, entity_id, before, after in items:
        eid = None if entity_id is None else str(entity_id)
        b, a = jsonable(before), jsonable(after)
        digest = entry_hash(prev, now, actor.label, action, entity, eid, b, a)
        rows.append({"at": now, "actor_user_id": actor.user_id, "actor": actor.label, "action": action,
                     "entity": entity, "entity_id": eid, "before": b, "after": a, "prev_hash": prev,
                     "hash": digest})
        prev = digest
    for start in range(0, len(rows), 2000):
        session.execute(insert(AuditEntry), rows[start:start + 2000])
    return prev


@dataclass
class VerifyResult:
    checked: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the whole chain and report the first entry whose hash or link does not hold."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return VerifyResult(checked)
        for row in rows:
            if row.prev_hash != prev:
                return VerifyResult(checked, row.id, N_("link to the previous entry is broken (an entry was removed or reordered)"))
            expected = entry_hash(row.prev_hash, row.at, row.actor, row.action, row.entity, row.entity_id,
                                  jsonable(row.before), jsonable(row.after))
            if expected != row.hash:
                return VerifyResult(checked, row.id, N_("content does not match its hash (the entry was edited)"))
            prev = row.hash
            checked += 1
            last_id = row.id
