"""The profile's YAML layout: turn a Reader over the document into a validated Profile."""

from __future__ import annotations

import calendar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import N_
from bot.policy.profile import (
    ASSET_TYPES,
    DONE_BY,
    FREQUENCIES,
    LEVELS,
    ROLE_LEVEL,
    ChainStep,
    DueItem,
    DueRule,
    Escalation,
    Profile,
    QuietHours,
    Reminders,
    SeriousAlerts,
    WorkingDays,
)
from bot.policy.validate import Reader

TOP = ("id", "title", "source", "timezone", "items", "reminders", "escalation", "serious_problems",
       "quiet_hours", "working_days", "thresholds", "description")
ROLES = tuple(ROLE_LEVEL)


def read_profile(doc: Reader) -> Profile:
    """Return the Profile described by the document, or raise ProfileError naming the field."""
    doc.mapping(TOP)
    timezone = doc.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone.text())
    except (ZoneInfoNotFoundError, ValueError):
        raise timezone.fail(N_("Unknown time zone.")) from None
    quiet = _quiet_hours(doc.get("quiet_hours", {"start": "21:00", "end": "08:00"}))
    return Profile(
        id=doc.get("id").text(),
        title=doc.get("title").text(),
        source=doc.get("source", "").value or "",
        timezone=timezone.text(),
        items=_items(doc.get("items")),
        reminders=_reminders(doc.get("reminders", {}), quiet),
        escalation=_escalation(doc.get("escalation", {})),
        serious=_serious(doc.get("serious_problems", {})),
        quiet_hours=quiet,
        working_days=_working_days(doc.get("working_days", {})),
        thresholds=_thresholds(doc.get("thresholds", {})),
    )


def _items(node: Reader) -> tuple[DueItem, ...]:
    items: list[DueItem] = []
    for entry in node.items():
        item = _item(entry)
        if any(other.kind == item.kind for other in items):
            raise entry.get("kind").fail(N_("Duplicate item kind {kind}."), kind=item.kind)
        items.append(item)
    if not items:
        raise node.fail(N_("Expected a list."))
    return tuple(items)


def _item(node: Reader) -> DueItem:
    node.mapping(("kind", "label", "role", "frequency", "due", "signed_by", "posting_days", "done_by", "form",
                  "asset_types", "description"))
    role = node.get("role").choice(ROLES)
    frequency = node.get("frequency").choice(FREQUENCIES)
    signers = tuple(s.choice(ROLES) for s in node.get("signed_by", []).items())
    for index, signer in enumerate(signers):
        if ROLE_LEVEL[signer] != ROLE_LEVEL[role]:
            raise node.get("signed_by").items()[index].fail(
                N_("Role {role} works at the {role_level} level, not at the {level} level."),
                role=signer, role_level=ROLE_LEVEL[signer], level=ROLE_LEVEL[role])
    posting = node.get("posting_days", None)
    done_by = node.get("done_by", "record").choice(DONE_BY)
    form_node = node.get("form", None)
    form = None if form_node.value is None else form_node.text()
    if done_by in ("form", "sign_off") and form is None and ROLE_LEVEL[role] != "village":
        raise form_node.fail(N_("This field is required."))
    if done_by == "sign_off" and not signers:
        raise node.get("done_by").fail(N_("A duty done by a sign-off needs signed_by."))
    types_node = node.get("asset_types", None)
    types = () if types_node.value is None else tuple(t.choice(ASSET_TYPES) for t in types_node.items())
    if types_node.value is not None and not types:
        raise types_node.fail(N_("Expected a list."))
    return DueItem(
        kind=node.get("kind").text(),
        label=node.get("label").text(),
        role=role,
        level=ROLE_LEVEL[role],
        frequency=frequency,
        due=_due(node.get("due"), FREQUENCIES[frequency]),
        signed_by=signers,
        posting_days=None if posting.value is None else posting.integer(1, 60),
        done_by=done_by,
        form=form,
        asset_types=types,
    )


def _due(node: Reader, months: int) -> DueRule:
    node.mapping(("month", "day", "time", "of"))
    month = node.get("month", 1).integer(1, months)
    day_node = node.get("day")
    day = None if day_node.value == "last" else day_node.integer(1, 31)
    if day is not None and day > _shortest(months, month):
        raise day_node.fail(
            N_("Day {day} does not exist in every month this rule can fall in; use 'last' or a smaller day."),
            day=day)
    return DueRule(
        month=month,
        day=day,
        time=node.get("time", "23:59").time(),
        next_period=node.get("of", "period").choice(("period", "next_period")) == "next_period",
    )


def _shortest(months: int, month: int) -> int:
    """Return the fewest days of any calendar month that month ``month`` of such a period can be."""
    candidates = range(month, 13, months)
    return min(calendar.monthrange(2023, m)[1] for m in candidates)


def _reminders(node: Reader, quiet: QuietHours | None) -> Reminders:
    node.mapping(("days_before", "at"))
    offsets = tuple(sorted({d.integer(0, 60) for d in node.get("days_before", [5, 1]).items()}, reverse=True))
    at_node = node.get("at", "09:00")
    at = at_node.time()
    if quiet is not None and quiet.contains(at):
        raise at_node.fail(N_("Reminder time falls inside quiet hours."))
    return Reminders(offsets_days=offsets, at=at)


def _escalation(node: Reader) -> Escalation:
    node.mapping(("chain", "first_after_hours", "wait_hours", "max_repeats"))
    chain_node = node.get("chain", ["township_leader", "county_officer"])
    chain: list[ChainStep] = []
    for step in chain_node.items():
        role = step.choice(ROLES)
        level = ROLE_LEVEL[role]
        if chain and LEVELS.index(level) <= LEVELS.index(chain[-1].level):
            raise step.fail(N_("The escalation chain must climb: {level} is not above the previous step."),
                            level=level)
        chain.append(ChainStep(role=role, level=level))
    if not chain:
        raise chain_node.fail(N_("Expected a list."))
    wait = node.get("wait_hours", 48).hours()
    if not wait:
        raise node.get("wait_hours", 48).fail(N_("Expected a number of hours of zero or more."))
    return Escalation(
        chain=tuple(chain),
        first_after=node.get("first_after_hours", 0).hours(),
        wait=wait,
        max_repeats=node.get("max_repeats", 2).integer(0, 20),
    )


def _serious(node: Reader) -> SeriousAlerts:
    node.mapping(("first", "then", "ack_timeout_hours", "act_reminder_after_hours", "act_reminders"))
    return SeriousAlerts(
        first_role=node.get("first", "township_leader").choice(ROLES),
        then_role=node.get("then", "county_officer").choice(ROLES),
        ack_timeout=node.get("ack_timeout_hours", 24).hours(),
        act_after=node.get("act_reminder_after_hours", 72).hours(),
        act_reminders=node.get("act_reminders", 1).integer(0, 20),
    )


def _quiet_hours(node: Reader) -> QuietHours | None:
    if node.value is None or node.value is False:
        return None
    node.mapping(("start", "end"))
    return QuietHours(start=node.get("start").time(), end=node.get("end").time())


def _working_days(node: Reader) -> WorkingDays:
    node.mapping(("weekends_quiet", "holidays", "extra_workdays"))
    return WorkingDays(
        weekends_quiet=node.get("weekends_quiet", True).flag(),
        holidays=frozenset(d.date() for d in node.get("holidays", []).items()),
        extra_workdays=frozenset(d.date() for d in node.get("extra_workdays", []).items()),
    )


def _thresholds(node: Reader) -> dict[str, float]:
    if not isinstance(node.value, dict):
        raise node.fail(N_("Expected a mapping (key: value)."))
    return {str(key): node.get(str(key)).number() for key in node.value}

