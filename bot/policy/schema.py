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
    SIGNER_POSTS,
    ChainStep,
    ContractRules,
    DueItem,
    DueRule,
    Escalation,
    Profile,
    QuietHours,
    Reminders,
    SeriousAlerts,
    SignOffRule,
    WorkingDays,
)
from bot.policy.validate import Reader

TOP = ("id", "title", "source", "timezone", "items", "reminders", "escalation", "serious_problems",
       "quiet_hours", "working_days", "thresholds", "description", "classification", "rubrics", "sign_off",
       "contracts", "disposal")
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
        **_scoring_sections(doc),
        contracts=_contracts(doc.get("contracts", {})),
        disposal=_disposal(doc.get("disposal", {})),
    )


def _contracts(node: Reader) -> ContractRules:
    """The ``contracts`` section: ``remind_days_before`` (whole days, 1…730, each once); default 90 and 30."""
    node.mapping(("remind_days_before",))
    if "remind_days_before" not in (node.value or {}):
        return ContractRules()
    days = [item.integer(1, 730) for item in node.get("remind_days_before").items()]
    if len(set(days)) != len(days):
        raise node.get("remind_days_before").fail(N_("Expected a list."))
    return ContractRules(tuple(sorted(days, reverse=True)))


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
    if done_by == "inventory" and (ROLE_LEVEL[role] != "village" or frequency != "yearly"):
        raise node.get("done_by").fail(N_("A duty done by the inventory is a village's yearly duty."))
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



# --- issue 16: thresholds, 四个一批 parameters, rubrics per asset type, sign-off ------------------------

# Thresholds the product reads (bot.policy.scoring), with their allowed range; other names are kept as
# numbers (a county may note its own), but a known name out of range is refused.
KNOWN_THRESHOLDS = {
    "workshop_idle_rate_max": (0.0, 1.0),
    "workshop_seasonal_idle_months_max": (0.0, 12.0),
    "workshop_workers_per_100m2": (0.0, 1000.0),
    "workshop_poverty_share_min_new": (0.0, 1.0),
    "workshop_poverty_share_min_old": (0.0, 1.0),
    "pv_income_public_jobs_share": (0.0, 1.0),
    "grade_good_min": (0.0, 100.0),
    "grade_fairly_good_min": (0.0, 100.0),
    "grade_fair_min": (0.0, 100.0),
}
# 四个一批 parameters no seed fixes (our readings, docs/scoring.md), as whole numbers with their range.
CLASSIFICATION = {
    "service_life_years": (1, 100),
    "dispose_idle_months": (1, 120),
    "poor_months": (1, 12),
    "renewal_warning_days": (0, 3650),
    "window": (1, 24),
}
CLASSIFICATION_SHARES = ("workshop_workers_tolerance",)  # fractions 0…1


def _scoring_sections(doc: Reader) -> dict:
    """Return the classification, rubrics and sign_off sections, validated."""
    thresholds = doc.get("thresholds", {})
    if isinstance(thresholds.value, dict):
        for name, (low, high) in KNOWN_THRESHOLDS.items():
            if name in thresholds.value:
                value = thresholds.get(name).number()
                if not low <= value <= high:
                    raise thresholds.get(name).fail(N_("Expected a number from {low} to {high}."), low=low,
                                                    high=high)
        keys = ("grade_good_min", "grade_fairly_good_min", "grade_fair_min")
        present = [float(thresholds.value[k]) for k in keys if k in thresholds.value]
        if present and (len(present) != 3 or not present[0] > present[1] > present[2]):
            raise thresholds.fail(N_("Give grade_good_min, grade_fairly_good_min and grade_fair_min together, "
                                     "each below the one before."))
    node = doc.get("classification", {})
    node.mapping((*CLASSIFICATION, *CLASSIFICATION_SHARES))
    classification: dict[str, float] = {}
    for name, (low, high) in CLASSIFICATION.items():
        if name in (node.value or {}):
            classification[name] = node.get(name).integer(low, high)
    for name in CLASSIFICATION_SHARES:
        if name in (node.value or {}):
            value = node.get(name).number()
            if not 0 <= value <= 1:
                raise node.get(name).fail(N_("Expected a number from {low} to {high}."), low=0, high=1)
            classification[name] = value
    rubrics_node = doc.get("rubrics", {})
    rubrics_node.mapping(ASSET_TYPES)
    rubrics = {t: rubrics_node.get(t).text() for t in ASSET_TYPES if t in (rubrics_node.value or {})}
    from bot.scoring.rubric import shipped_rubrics

    for asset_type, rubric in rubrics.items():
        if rubric not in shipped_rubrics():
            raise rubrics_node.get(asset_type).fail(N_("Unknown rubric {value}; known: {known}."), value=rubric,
                                                    known=", ".join(sorted(shipped_rubrics())))
    sign_node = doc.get("sign_off", {})
    if not isinstance(sign_node.value, dict):
        raise sign_node.fail(N_("Expected a mapping (key: value)."))
    sign_off = {}
    kinds = [str(i.get("kind")) for i in (doc.value.get("items") or []) if isinstance(i, dict)]
    sign_node.mapping(kinds)
    for kind in sign_node.value:
        rule = sign_node.get(str(kind))
        rule.mapping(("posts", "posting_photo", "objections_hold"))
        posts = tuple(p.choice(SIGNER_POSTS) for p in rule.get("posts").items())
        if not posts or len(set(posts)) != len(posts):
            raise rule.get("posts").fail(N_("Expected a list."))
        sign_off[str(kind)] = SignOffRule(posts, rule.get("posting_photo", False).flag(),
                                          rule.get("objections_hold", False).flag())
    return {"classification": classification, "rubrics": rubrics, "sign_off": sign_off}


# --- issue 17: disposal (处置, seed 003 二(八)) ------------------------------------------------------------

DISPOSAL_NOTICE_DAYS = 7  # days a disposal's public notice lasts when the profile does not say (our reading)
DISPOSAL_STALL_DAYS = 14  # days a disposal may wait at one step before the level above is told (our reading)


def _disposal(node: Reader) -> dict[str, int]:
    """Return the disposal section: ``notice_days``, how many days the public notice lasts (1…60);
    ``stall_days``, how many days a disposal may wait at one step before it is escalated (1…180)."""
    node.mapping(("notice_days", "stall_days"))
    days = node.get("notice_days", DISPOSAL_NOTICE_DAYS).integer(1, 60)
    stall = node.get("stall_days", DISPOSAL_STALL_DAYS).integer(1, 180)
    return {"notice_days": days, "stall_days": stall}
