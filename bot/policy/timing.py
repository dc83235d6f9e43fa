"""Local wall-clock arithmetic: due times in a county's zone, quiet hours and working days."""

from __future__ import annotations

import datetime as dt

from bot.policy.profile import Profile

UTC = dt.UTC
_MAX_DAYS = 400  # a profile that makes every day a holiday must not loop forever


def local_to_utc(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """Return the aware UTC instant of a local date and time in ``tz``.

    A wall time inside a DST gap does not exist; zoneinfo reads it with the offset before the
    change, which lands it just after the gap, as a wall clock that sprang forward would.
    """
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(UTC)


def next_open(moment: dt.datetime, tz: dt.tzinfo, profile: Profile) -> dt.datetime:
    """Return the first instant at or after ``moment`` outside quiet hours and on a working day."""
    local = moment.astimezone(tz)
    quiet, working = profile.quiet_hours, profile.working_days
    opening = quiet.end if quiet else dt.time(0, 0)
    for _ in range(_MAX_DAYS * 2):
        if quiet and quiet.contains(local.timetz().replace(tzinfo=None)):
            crosses = quiet.start > quiet.end and local.time() >= quiet.start
            day = local.date() + dt.timedelta(days=1 if crosses else 0)
            local = dt.datetime.combine(day, quiet.end, tzinfo=tz)
            continue
        if not working.is_working(local.date()):
            local = dt.datetime.combine(local.date() + dt.timedelta(days=1), opening, tzinfo=tz)
            continue
        return local.astimezone(UTC)
    return moment.astimezone(UTC)


def previous_working_at(moment: dt.datetime, tz: dt.tzinfo, profile: Profile, at: dt.time) -> dt.datetime:
    """Return time ``at`` on the last working day before the local date of ``moment``."""
    day = moment.astimezone(tz).date()
    for _ in range(_MAX_DAYS):
        day -= dt.timedelta(days=1)
        if profile.working_days.is_working(day):
            break
    return local_to_utc(day, at, tz)


def local_text(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """Return 'YYYY-MM-DD HH:MM' of an instant as read on the county's wall clock."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
