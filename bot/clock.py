"""The one place that reads the wall clock, so tests can travel in time (time_machine).

Every stored time is an aware UTC datetime (sqlmodel's UTCDateTime refuses naive ones);
conversion to a county's time zone happens at the edges.
"""

from __future__ import annotations

import datetime as dt

UTC = dt.UTC


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Return a datetime as aware UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def period_of(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """Return the reporting month 'YYYY-MM' of a moment as seen in the given zone."""
    local = as_utc(moment).astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"
