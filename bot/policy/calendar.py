"""Expand a profile's recurring duties into dated occurrences in a county's time zone."""

from __future__ import annotations

import calendar as _cal
import datetime as dt
from dataclasses import dataclass

from bot.policy.profile import FREQUENCIES, DueItem, Profile
from bot.policy.timing import local_to_utc


@dataclass(frozen=True)
class Occurrence:
    """One due item for one period: ``item`` kind, ``period`` label, due instant (aware UTC)."""

    item: str
    label: str
    period: str
    due_at: dt.datetime
    role: str
    level: str
    signed_by: tuple[str, ...] = ()
    posting_by: dt.datetime | None = None
    posting_days: int | None = None

    @property
    def subject(self) -> str:
        """Return the stable key of this occurrence, e.g. 'village_monthly_report/2026-11'."""
        return f"{self.item}/{self.period}"


def period_label(year: int, index: int, months: int) -> str:
    """Return '2026-11', '2026-Q3', '2026-H1' or '2026' for period ``index`` (0-based) of ``year``."""
    if months == 1:
        return f"{year:04d}-{index + 1:02d}"
    if months == 3:
        return f"{year:04d}-Q{index + 1}"
    if months == 6:
        return f"{year:04d}-H{index + 1}"
    return f"{year:04d}"


def due_date(item: DueItem, year: int, index: int) -> dt.date:
    """Return the local due date of ``item`` for period ``index`` of ``year``."""
    months = FREQUENCIES[item.frequency]
    per_year = 12 // months
    if item.due.next_period:
        year, index = year + (index + 1) // per_year, (index + 1) % per_year
    month = index * months + item.due.month
    day = item.due.day or _cal.monthrange(year, month)[1]
    return dt.date(year, month, day)


def occurrence(item: DueItem, year: int, index: int, tz: dt.tzinfo) -> Occurrence:
    """Return the occurrence of ``item`` for period ``index`` of ``year`` in zone ``tz``."""
    months = FREQUENCIES[item.frequency]
    day = due_date(item, year, index)
    posting = None
    if item.posting_days:
        posting = local_to_utc(day - dt.timedelta(days=item.posting_days), item.due.time, tz)
    return Occurrence(
        item=item.kind, label=item.label, period=period_label(year, index, months),
        due_at=local_to_utc(day, item.due.time, tz), role=item.role, level=item.level,
        signed_by=item.signed_by, posting_by=posting, posting_days=item.posting_days,
    )


def occurrences(profile: Profile, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[Occurrence]:
    """Return every occurrence of the profile's items due in [start, end), by due time then kind."""
    found: list[Occurrence] = []
    first, last = start.astimezone(tz).year - 1, end.astimezone(tz).year
    for item in profile.items:
        per_year = 12 // FREQUENCIES[item.frequency]
        for year in range(first, last + 1):
            for index in range(per_year):
                occ = occurrence(item, year, index, tz)
                if start <= occ.due_at < end:
                    found.append(occ)
    return sorted(found, key=lambda o: (o.due_at, o.item, o.period))
