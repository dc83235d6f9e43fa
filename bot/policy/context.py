"""What every planning rule needs: the profile, the zone, the facts, the horizon; and message building."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.policy.facts import Facts, Recipient
from bot.policy.messages import Line, PlannedMessage
from bot.policy.profile import Profile
from bot.policy.timing import local_text


@dataclass(frozen=True)
class Context:
    """The inputs of one planning run: messages in (``since``, ``until``]; no ``since``: all history."""

    profile: Profile
    tz: dt.tzinfo
    facts: Facts
    until: dt.datetime
    since: dt.datetime | None = None

    def wanted(self, at: dt.datetime) -> bool:
        """Return True when a message at ``at`` falls inside the planned window."""
        return at <= self.until and (self.since is None or at > self.since)

    def local(self, moment: dt.datetime) -> str:
        """Return an instant as the county's wall-clock text."""
        return local_text(moment, self.tz)


@dataclass(frozen=True)
class Draft:
    """Everything of a message except who receives it."""

    kind: str
    step: str
    subject: str
    item: str
    period: str
    at: dt.datetime
    urgent: bool
    due_at: dt.datetime | None
    text: Line
    lines: tuple[Line, ...] = ()
    about: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    family: str = ""

    def to(self, recipient: Recipient) -> PlannedMessage:
        """Return the planned message of this draft for one recipient route."""
        return PlannedMessage(
            key=f"{self.subject}|{self.step}|{recipient.key}", kind=self.kind, step=self.step,
            subject=self.subject, item=self.item, period=self.period, role=recipient.role,
            scope=recipient.scope, channel=recipient.channel, recipient=recipient.person,
            locale=recipient.locale, at=self.at, urgent=self.urgent, due_at=self.due_at,
            text=self.text, lines=self.lines, about=self.about, actions=self.actions,
            family=self.family or self.step,
        )
