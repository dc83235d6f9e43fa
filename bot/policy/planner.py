"""Plan every message that should exist up to an instant, from the profile and plain facts.

Pure: time comes in as ``until`` (and ``since`` for a catch-up tick); nothing reads the clock,
the database or the network. The result is what the outbox stores, keyed (subject|step|recipient).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

from bot.policy.alerts import alerts
from bot.policy.calendar import Occurrence
from bot.policy.context import Context
from bot.policy.escalations import escalations
from bot.policy.facts import Facts
from bot.policy.messages import PlannedMessage
from bot.policy.profile import Profile
from bot.policy.reminders import reminders


def plan(profile: Profile, tz: dt.tzinfo, occurrences: Iterable[Occurrence], facts: Facts,
         until: dt.datetime, since: dt.datetime | None = None) -> list[PlannedMessage]:
    """Return the messages due at or before ``until``, ordered by time then key.

    Without ``since`` the whole history is returned. With ``since`` (the last tick's watermark)
    only messages after it are returned, and stale non-urgent messages of the same family to the
    same recipient collapse into the latest one, which counts the others in ``collapsed``.
    """
    ctx = Context(profile=profile, tz=tz, facts=facts, until=until, since=since)
    found: list[PlannedMessage] = []
    for occ in occurrences:
        found.extend(reminders(ctx, occ))
        found.extend(escalations(ctx, occ))
    for problem in facts.problems:
        found.extend(alerts(ctx, problem))
    if since is not None:
        found = collapse([m for m in found if m.at > since])
    return sorted(found, key=lambda m: (m.at, m.key))


def collapse(messages: Iterable[PlannedMessage]) -> list[PlannedMessage]:
    """Keep, per (subject, family, recipient route), only the latest non-urgent message."""
    kept: dict[tuple[str, ...], PlannedMessage] = {}
    dropped: dict[tuple[str, ...], int] = {}
    urgent: list[PlannedMessage] = []
    for message in messages:
        if message.urgent:
            urgent.append(message)
            continue
        group = (message.subject, message.family, message.recipient, message.channel, message.scope)
        previous = kept.get(group)
        if previous is not None:
            dropped[group] = dropped.get(group, 0) + 1
            if previous.at > message.at:
                continue
        kept[group] = message
    result = [_with_count(m, dropped.get(g, 0)) for g, m in kept.items()]
    return result + urgent


def _with_count(message: PlannedMessage, collapsed: int) -> PlannedMessage:
    return replace(message, collapsed=collapsed) if collapsed else message
