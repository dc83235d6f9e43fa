"""The planner's output: one planned message per (subject, step, recipient), plus its text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.i18n import N_, normalise_locale, translate

KINDS = ("reminder", "escalation", "alert", "digest")

REMIND = N_("Reminder: “{item}” for {period} is due by {due}.")
REMIND_POSTING = N_("Reminder: “{item}” for {period} must be posted publicly for {days} days, "
                    "starting no later than {start}; it is due by {due}.")
DIGEST = N_("Overdue: “{item}” for {period} was due by {due}. Still missing ({count}):")
LATE_LINE = N_("{scope}: responsible {people}")
LATE_LINE_NOBODY = N_("{scope}: nobody registered as responsible")
LATE_LINE_UNREACHABLE = N_("{scope}: nobody can receive reminders — {absent} invited but not joined yet")
LATE_LINE_SOME_ABSENT = N_("{scope}: responsible {people} (not joined yet: {absent})")
MORE_LATE = N_("…and {count} more.")
OVERDUE_SELF = N_("Overdue: “{item}” for {period} was due by {due} and is not recorded as done.")
ALERT = N_("Serious problem at {scope}: {title}. Reported {created}. Please acknowledge it.")
ALERT_UNACKNOWLEDGED = N_("Serious problem at {scope} not acknowledged within {hours} hours: {title}. "
                          "Reported {created}.")
ACT = N_("The serious problem at {scope} you acknowledged is still open: {title}. Please act and resolve it.")


@dataclass(frozen=True)
class Line:
    """A translatable line: a msgid and its named parameters."""

    msgid: str
    params: dict[str, object] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class PlannedMessage:
    """A message that should exist; ``key`` (subject|step|recipient) is unique and stable."""

    key: str
    kind: str
    step: str
    subject: str
    item: str
    period: str
    role: str
    scope: str
    channel: str
    recipient: str
    locale: str
    at: dt.datetime
    urgent: bool
    due_at: dt.datetime | None
    text: Line
    lines: tuple[Line, ...] = ()
    about: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    family: str = ""
    collapsed: int = 0

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-friendly dict (times as ISO strings with offset)."""
        return {
            "key": self.key, "kind": self.kind, "step": self.step, "subject": self.subject,
            "item": self.item, "period": self.period, "role": self.role, "scope": self.scope,
            "channel": self.channel, "recipient": self.recipient, "at": self.at.isoformat(),
            "urgent": self.urgent, "due_at": self.due_at.isoformat() if self.due_at else None,
            "about": list(self.about), "actions": list(self.actions), "collapsed": self.collapsed,
        }


def render_line(line: Line, locale: str | None) -> str:
    """Translate one line; an ``item`` parameter is itself a msgid (the profile's label)."""
    params = {k: _joined(v, locale) for k, v in line.params.items()}
    if "item" in params:
        params["item"] = translate(locale, str(params["item"]))
    return translate(locale, line.msgid, **params)


def _joined(value: object, locale: str | None) -> object:
    """Join a list parameter (names) the way the language lists things."""
    if not isinstance(value, (list, tuple)):
        return value
    separator = ", " if normalise_locale(locale) == "en" else "、"
    return separator.join(str(v) for v in value)


def render(message: PlannedMessage, locale: str | None = None) -> str:
    """Return the message's text in ``locale`` (default: the recipient's), one line per late unit."""
    loc = locale or message.locale
    return "\n".join(render_line(line, loc) for line in (message.text, *message.lines))
