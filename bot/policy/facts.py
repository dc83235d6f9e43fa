"""The plain facts the planner reads: organisation, recipients, submissions, serious problems.

The caller (the database layer) builds these; the planner never touches storage or the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class Scope:
    """A village, township, department or county; ``parent`` is the code of the unit above."""

    code: str
    level: str
    name: str
    parent: str | None = None


NO_CHANNEL = "none"  # the channel of a person who has not joined: planned (and previewed), never sent


@dataclass(frozen=True)
class Recipient:
    """One route to one person (or group) holding ``role`` over ``scope``, through ``channel``."""

    person: str
    name: str
    role: str
    scope: str
    channel: str = "telegram"
    locale: str = "zh_CN"

    @property
    def joined(self) -> bool:
        """Whether the person can receive anything: invited people who have not joined have no channel."""
        return self.channel != NO_CHANNEL

    @property
    def key(self) -> str:
        """Return the stable recipient part of a message key."""
        return f"{self.person}/{self.channel}@{self.scope}"


@dataclass(frozen=True)
class Submission:
    """``scope`` recorded ``item`` for ``period`` at ``at`` (aware UTC)."""

    item: str
    period: str
    scope: str
    at: dt.datetime


@dataclass(frozen=True)
class SeriousProblem:
    """An open or closed serious problem raised at ``scope`` (usually a village)."""

    id: str
    scope: str
    title: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    # Set when the Telegram adapter already told the township at submission (ProblemEvent 'alerted').
    alerted: bool = False
    # When it waited for the county's decision: (escalated, decided or None while it still waits).
    with_county: tuple[tuple[dt.datetime, dt.datetime | None], ...] = ()

    def waits_for_county(self, at: dt.datetime) -> bool:
        """Whether the problem was handed up to the county and not yet decided at ``at``."""
        return any(start <= at and (end is None or at < end) for start, end in self.with_county)


@dataclass(frozen=True)
class Facts:
    """Everything the planner knows about one county, with lookups built once."""

    scopes: tuple[Scope, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    submissions: tuple[Submission, ...] = ()
    problems: tuple[SeriousProblem, ...] = field(default=())
    # Public postings started (a year-end self-evaluation posted on the village board and QR pages).
    postings: tuple[Submission, ...] = ()

    @cached_property
    def _by_code(self) -> dict[str, Scope]:
        return {s.code: s for s in self.scopes}

    @cached_property
    def _routes(self) -> dict[tuple[str, str], list[Recipient]]:
        routes: dict[tuple[str, str], list[Recipient]] = {}
        for r in self.recipients:
            routes.setdefault((r.scope, r.role), []).append(r)
        return routes

    @cached_property
    def _first_submission(self) -> dict[tuple[str, str, str], dt.datetime]:
        return _first(self.submissions)

    @cached_property
    def _first_posting(self) -> dict[tuple[str, str, str], dt.datetime]:
        return _first(self.postings)

    def scope(self, code: str) -> Scope:
        """Return the scope with this code."""
        return self._by_code[code]

    def find(self, code: str | None) -> Scope | None:
        """Return the scope with this code, or None."""
        return self._by_code.get(code) if code else None

    def members(self, level: str) -> list[Scope]:
        """Return the scopes of one level, in the order given."""
        return [s for s in self.scopes if s.level == level]

    def ancestor(self, code: str, level: str) -> Scope | None:
        """Return the scope itself or the nearest unit above it at ``level`` (None if there is none)."""
        current = self._by_code.get(code)
        while current is not None and current.level != level:
            current = self._by_code.get(current.parent) if current.parent else None
        return current

    def routes(self, scope: str, role: str) -> list[Recipient]:
        """Return the recipients holding ``role`` over ``scope``."""
        return self._routes.get((scope, role), [])

    def submitted_by(self, item: str, period: str, scope: str, moment: dt.datetime) -> bool:
        """Return True when ``scope`` had recorded ``item`` for ``period`` at or before ``moment``."""
        first = self._first_submission.get((item, period, scope))
        return first is not None and first <= moment

    def posting_started_by(self, item: str, period: str, scope: str, moment: dt.datetime) -> bool:
        """Return True when ``scope`` had started the public posting of ``item`` for ``period`` by ``moment``."""
        first = self._first_posting.get((item, period, scope))
        return first is not None and first <= moment


def _first(entries: tuple[Submission, ...]) -> dict[tuple[str, str, str], dt.datetime]:
    """Return the earliest instant of each (item, period, scope)."""
    first: dict[tuple[str, str, str], dt.datetime] = {}
    for s in entries:
        key = (s.item, s.period, s.scope)
        if key not in first or s.at < first[key]:
            first[key] = s.at
    return first
