"""The notices the scheduler's daily watches plan (``contract_watch``, ``disposal_watch``), as plain outbox rows.

They are event notices like ``bot.services.notices`` writes — keyed ``n|<subject>|<step>|<recipient>/<channel>``,
so each is written once however many ticks or processes plan it — but returned as dicts for
``outbox.plan_county`` to insert in the county's planning transaction (``ON CONFLICT (key) DO NOTHING``): the
watches run inside the outbox's planning, and ``notices`` imports the outbox, so they cannot use it.
"""

from __future__ import annotations

import datetime as dt
from hashlib import sha256
from typing import Any

from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.services import audit
from bot.storage.models import OrgUnit, User
from bot.storage.models_schedule import OutboxMessage

NOTICE_PREFIX = "n|"  # as bot.services.outbox.NOTICE_PREFIX: the keys of event notices
Route = tuple[str, str, str, str]  # recipient ("u<id>", "r<id>"), channel, name, locale


def routes(session: Session, people: list[User], township: OrgUnit | None) -> list[Route]:
    """(recipient, channel, name, locale) of every reachable route: ``notices._routes``, the one answer (Telegram,
    the WeCom app, the township's group robots when ``township`` is given; nobody reachable, the people
    themselves, so that delivery forwards it up)."""
    from bot.services import notices

    return notices._routes(session, people, township)


def key(subject: str, step: str, person: str, channel: str) -> str:
    """The stored key of one notice's row (long keys: a readable head and a hash of the whole)."""
    whole = f"{NOTICE_PREFIX}{subject}|{step}|{person}/{channel}"
    return whole if len(whole) <= 255 else whole[:180] + "#" + sha256(whole.encode("utf-8")).hexdigest()


def queued(session: Session, subject: str, step: str) -> bool:
    """Whether this notice is in the outbox already (to anyone)."""
    return session.exec(select(OutboxMessage.id).where(
        col(OutboxMessage.key).startswith(f"{NOTICE_PREFIX}{subject}|{step}|"))).first() is not None


def county_id_of(unit: OrgUnit) -> int:
    return int(unit.path.strip("/").split("/")[0])


def rows(session: Session, *, unit: OrgUnit, subject: str, step: str, item: str, period: str, role: str,
         people: list[Route], body: list, actions: list[str], send_at: dt.datetime) -> list[dict[str, Any]]:
    """One notice's rows, one per route (audited as ``notice.queue`` like ``notices._write``); none when it is
    queued already or nobody is there to tell."""
    if not people or queued(session, subject, step):
        return []
    created = utcnow()
    found = [{
        "key": key(subject, step, person, channel), "county_id": county_id_of(unit), "kind": "notice", "step": step,
        "subject": subject, "item": item, "period": period, "role": role, "scope": unit.code or f"#{unit.id}",
        "channel": channel, "recipient": person, "recipient_name": name[:100], "locale": locale, "send_at": send_at,
        "urgent": False, "body": body, "actions": actions, "collapsed": 0, "status": "pending", "attempts": 0,
        "next_attempt_at": send_at, "recovered": 0, "created_at": created,
    } for person, channel, name, locale in people]
    audit.record(session, audit.SYSTEM, "notice.queue", "outbox_message", subject, None,
                 {"notice": step, "recipients": [f"{person}/{channel}" for person, channel, _, _ in people]})
    return found


def translatable(msgid: str, **params: object) -> dict:
    """A body parameter translated into each recipient's language when the message is composed."""
    return {"_t": msgid, "p": params}
