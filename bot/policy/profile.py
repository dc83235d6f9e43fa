"""Policy profiles: a county's calendar, reminders, escalation chain, quiet hours and thresholds.

A profile is a YAML file under ``bot/policy/profiles/`` (or any path an admin points at), read by
``bot.policy.loading`` and validated by ``bot.policy.schema``: every error names the file and the
field (``items[2].due.day``) so that a county can edit its profile without reading code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

FREQUENCIES = {"monthly": 1, "quarterly": 3, "half-yearly": 6, "yearly": 12}
LEVELS = ("village", "township", "department", "county")
ROLE_LEVEL = {
    "village_cadre": "village",
    "village_supervisor": "village",
    "township_leader": "township",
    "department_officer": "department",
    "county_officer": "county",
}
# What records a duty as done (``done_by`` of an item): a form submitted (monthly checks, inspections,
# targets), a form signed off by the village supervisor (and reported up after its posting), an
# officer's record (a visit, a report to the county, a sample check: date, note, optional attachment),
# the township's review of the villages' year-end self-evaluations, the county's grading, or the township's
# four-way classification (四个一批) of every operating asset of the month (seed 002 第六条), or the village's
# yearly inventory and income settlement of every asset of the year (seed 003 年初清查、清算).
DONE_BY = ("form", "sign_off", "record", "review", "grade", "classify", "inventory")
# The asset types the village's monthly check covers when a profile does not say (the checklists).
DEFAULT_ASSET_TYPES = ("经营性", "公益性")
ASSET_TYPES = ("经营性", "公益性", "到户类")
# The posts whose holders sign a village's reports (seed 004 五(二), 五(三)1: "村（居）务监督委员会主任、
# 村（居）民合作社监事会主任分别签字确认"): both hold the ``village_supervisor`` role.
SIGNER_POSTS = ("supervisory_committee", "cooperative_board")


@dataclass(frozen=True)
class DueRule:
    """When an item of one period is due: day ``day`` (None: the last day) of month ``month`` of
    the period, or of the following period when ``next_period`` (reports on the previous quarter)."""

    month: int
    day: int | None
    time: dt.time
    next_period: bool = False


@dataclass(frozen=True)
class DueItem:
    """One recurring duty: what, who (role at a level), how often and by when."""

    kind: str
    label: str
    role: str
    level: str
    frequency: str
    due: DueRule
    signed_by: tuple[str, ...] = ()
    posting_days: int | None = None
    done_by: str = "record"
    form: str | None = None
    asset_types: tuple[str, ...] = ()

    @property
    def covers(self) -> tuple[str, ...]:
        """Return the asset types the duty covers (its ``asset_types``, else the checklists' types)."""
        return self.asset_types or DEFAULT_ASSET_TYPES


@dataclass(frozen=True)
class Reminders:
    """Remind ``offsets_days`` days before the due date, at ``at`` local time."""

    offsets_days: tuple[int, ...]
    at: dt.time


@dataclass(frozen=True)
class ChainStep:
    """One rung of the escalation ladder: who is told, and at which level they sit."""

    role: str
    level: str


@dataclass(frozen=True)
class Escalation:
    """Late items climb ``chain``: the first rung ``first_after`` the due time, each next rung
    ``wait`` later; the top rung is repeated every ``wait`` at most ``max_repeats`` times."""

    chain: tuple[ChainStep, ...]
    first_after: dt.timedelta
    wait: dt.timedelta
    max_repeats: int


@dataclass(frozen=True)
class SeriousAlerts:
    """A serious problem alerts ``first_role`` at once and ``then_role`` when not acknowledged in
    ``ack_timeout``; once acknowledged, ``first_role`` is reminded to act every ``act_after``."""

    first_role: str
    then_role: str
    ack_timeout: dt.timedelta
    act_after: dt.timedelta
    act_reminders: int


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which non-urgent messages wait; the window may cross midnight."""

    start: dt.time
    end: dt.time

    def contains(self, moment: dt.time) -> bool:
        """Return True when the local time of day falls inside the quiet window."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class WorkingDays:
    """Which local dates are working days: weekends quiet or not, holidays, make-up days (调休)."""

    weekends_quiet: bool
    holidays: frozenset[dt.date] = frozenset()
    extra_workdays: frozenset[dt.date] = frozenset()

    def is_working(self, day: dt.date) -> bool:
        """Return True when non-urgent messages may go out on this local date."""
        if day in self.extra_workdays:
            return True
        if day in self.holidays:
            return False
        return not (self.weekends_quiet and day.weekday() >= 5)


@dataclass(frozen=True)
class SignOffRule:
    """How a signed-off duty is signed and posted (profile section ``sign_off``, keyed by item kind).

    ``posts``: every post that must sign, each by another person; ``posting_photo``: the posting counts from
    the photo of the notice on the village's board, not from the sign-off; ``objections_hold``: a villager's
    objection raised during the posting holds the report until it is answered.
    """

    posts: tuple[str, ...]
    posting_photo: bool = False
    objections_hold: bool = False


@dataclass(frozen=True)
class ContractRules:
    """How contracts are watched (profile section ``contracts``; issue 17): the reminders to the village and
    the township before a contract ends, as days before its end date (largest first)."""

    remind_days_before: tuple[int, ...] = (90, 30)


@dataclass(frozen=True)
class Profile:
    """A whole policy profile, as loaded and validated."""

    id: str
    title: str
    source: str
    timezone: str
    items: tuple[DueItem, ...]
    reminders: Reminders
    escalation: Escalation
    serious: SeriousAlerts
    quiet_hours: QuietHours | None
    working_days: WorkingDays
    thresholds: Mapping[str, float]
    # issue 16 (bot.policy.scoring): 四个一批 parameters, the rubric per asset type, how duties are signed
    classification: Mapping[str, float] = field(default_factory=dict)
    rubrics: Mapping[str, str] = field(default_factory=dict)
    sign_off: Mapping[str, SignOffRule] = field(default_factory=dict)
    contracts: ContractRules = field(default_factory=ContractRules)  # issue 17 (bot.services.contracts)
    # issue 17 (bot.services.disposal, disposal_watch): {"notice_days": n, "stall_days": m}, how long a disposal's
    # public notice lasts, and how long it may wait at one step before the level above is told
    disposal: Mapping[str, int] = field(default_factory=dict)

    def item(self, kind: str) -> DueItem:
        """Return the due item of this kind (KeyError when the profile has none)."""
        for item in self.items:
            if item.kind == kind:
                return item
        raise KeyError(kind)
