"""What the assessment services share: their error, months, deadlines and the submitted reports.

Monthly report answers are read by the keys of the shipped form bot/flows/forms/monthly-operating.yaml:
operating_normally, intact, disaster_damage, at_risk, risk_kinds (idle/loss), idle_since,
income_distributed (yes/no/not_due), income_amount (万元), poor_households, unauthorised_acts, difficulties.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import periods
from bot.i18n import N_, UserError
from bot.policy.calendar import due_date
from bot.services.duties import REPORT_DONE_STATUSES
from bot.storage.models import OrgUnit, Report

# The default deadline of a village's monthly report when its county's policy profile names none:
# the 25th of the month, 23:59 Asia/Shanghai (Yanshan 2024, 砚政规〔2024〕2号 第五条). Reports are
# compared by local date, so "on or before the 25th" is "by 23:59 on the 25th".
DEFAULT_DUE_DAY = 25
DEFAULT_TIMEZONE = "Asia/Shanghai"
MONTHLY_ITEM = "village_monthly_report"

IDLE = "idle"            # option of risk_kinds in monthly-operating


class AssessmentError(UserError, ValueError):
    """A request the assessment services refuse; ``msgid`` and ``params`` are translatable."""


def parse_period(period: str) -> tuple[int, int | None]:
    """Return (year, month or None) of "YYYY-MM" or "YYYY"; refuse anything else."""
    found = periods.parse(period, "month", "year")
    if found is None:
        raise AssessmentError(N_("{value} is not a period: use YYYY-MM or YYYY."), value=str(period)[:20])
    return found.year, found.index or None


def month_label(year: int, month: int) -> str:
    """Return 'YYYY-MM'."""
    return f"{year:04d}-{month:02d}"


def month_start(period: str) -> dt.date:
    """Return the first day of the month 'YYYY-MM'."""
    year, month = parse_period(period)
    if month is None:
        raise AssessmentError(N_("{value} is not a month: use YYYY-MM."), value=period)
    return dt.date(year, month, 1)


def months_back(period: str, count: int) -> list[str]:
    """Return the ``count`` months ending with ``period``, oldest first."""
    first = month_start(period)
    index = first.year * 12 + first.month - 1
    return [month_label(i // 12, i % 12 + 1) for i in range(index - count + 1, index + 1)]


@dataclass(frozen=True)
class Deadline:
    """When a village's monthly report is due, and in which zone its days are counted."""

    tz: dt.tzinfo
    profile_id: str | None
    item: Any = None  # the profile's monthly village report duty (None: the default day applies)

    def due(self, year: int, month: int) -> dt.date:
        """Return the local due date of the report on month ``month`` of ``year``."""
        if self.item is None:
            return dt.date(year, month, min(DEFAULT_DUE_DAY, calendar.monthrange(year, month)[1]))
        return due_date(self.item, year, month - 1)


def deadline_for(session: Session, unit: OrgUnit) -> Deadline:
    """Return the deadline rule of the nearest unit at or above ``unit`` that chose a policy profile."""
    from bot.services.policies import profile_by_id

    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    units = {u.id: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(ids))).all()}
    chosen = [units[i].policy_profile for i in reversed(ids) if i in units and units[i].policy_profile]
    if not chosen:
        return Deadline(ZoneInfo(DEFAULT_TIMEZONE), None)
    profile = profile_by_id(session, chosen[0])
    try:
        item = profile.item(MONTHLY_ITEM)
    except KeyError:
        item = None
    return Deadline(ZoneInfo(profile.timezone), profile.id, item)


@dataclass(frozen=True)
class Submitted:
    """The submitted report of one asset and month: its latest version and its first submission."""

    report: Report
    first_submitted_at: dt.datetime


def submitted_reports(session: Session, asset_ids: Iterable[int],
                      periods: Iterable[str]) -> dict[tuple[int, str], Submitted]:
    """Return {(asset id, period): Submitted} for every monthly report of these assets that counts as done.

    Done is the duty service's definition (``duties.REPORT_DONE_STATUSES``): the latest submitted version is
    the current one and is submitted or approved. A report sent back counts again only once resubmitted;
    ``first_submitted_at`` is its first submission (timeliness is judged by it)."""

    asset_ids, periods = list(asset_ids), list(periods)
    if not asset_ids or not periods:
        return {}
    rows = session.exec(select(Report).where(col(Report.asset_id).in_(asset_ids),
                                             col(Report.period).in_(periods),
                                             col(Report.submitted_at).is_not(None))).all()
    grouped: dict[tuple[int, str], list[Report]] = defaultdict(list)
    for row in rows:
        grouped[(row.asset_id, row.period)].append(row)
    done = {}
    for key, versions in grouped.items():
        latest = max(versions, key=lambda r: r.version)
        if latest.current and latest.status in REPORT_DONE_STATUSES:
            done[key] = Submitted(latest, min(r.submitted_at for r in versions))
    return done


def yes(answers: dict[str, Any], key: str) -> bool | None:
    """Return True/False for a yes/no answer, None when it was not asked (or another option, e.g. not_due)."""
    value = answers.get(key)
    if value in ("yes", True):
        return True
    if value in ("no", False):
        return False
    return None


def number(answers: dict[str, Any], key: str) -> Decimal | None:
    """Return a number answer as Decimal, None when absent or not a number."""
    value = answers.get(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def choices(answers: dict[str, Any], key: str) -> list[str]:
    """Return the option keys of a choice or multi-choice answer."""
    value = answers.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
