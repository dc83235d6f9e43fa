"""Reporting periods as people write them and as the product stores them, within sane bounds.

Stored labels: ``2026-11`` (a month), ``2026-Q4`` (a quarter), ``2026-H2`` (a half-year), ``2026``
(a year). People may also type ``2026Q4`` or ``2026h2``. Years outside ``MIN_YEAR``–``MAX_YEAR`` are
refused: no county reports on year 0 or 9999, and date arithmetic on them would fail.
Pure: no database, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.i18n import N_, PARAM_FORMATTERS

MIN_YEAR, MAX_YEAR = 2000, 2099

_PATTERNS = {
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "quarter": re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE),
    "half": re.compile(r"^(\d{4})-?H([12])$", re.IGNORECASE),
    "year": re.compile(r"^(\d{4})$"),
}


@dataclass(frozen=True)
class Period:
    """A parsed period: its kind, year and index within the year (month 1–12, quarter 1–4, half 1–2; 0 for a year)."""

    kind: str
    year: int
    index: int

    @property
    def label(self) -> str:
        """Return the stored label: 2026-11, 2026-Q4, 2026-H2 or 2026."""
        if self.kind == "month":
            return f"{self.year:04d}-{self.index:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.index}"
        if self.kind == "half":
            return f"{self.year:04d}-H{self.index}"
        return f"{self.year:04d}"

    @property
    def months(self) -> list[int]:
        """Return the months (1–12) the period covers."""
        size = {"month": 1, "quarter": 3, "half": 6, "year": 12}[self.kind]
        first = (self.index - 1) * size + 1 if self.kind != "year" else 1
        return list(range(first, first + size))


def parse(value: object, *kinds: str) -> Period | None:
    """Return the period written in ``value`` (of one of ``kinds``, default any), or None when it is not one."""
    if not isinstance(value, str) or len(value) > 16:
        return None
    text = value.strip()
    for kind in kinds or tuple(_PATTERNS):
        match = _PATTERNS[kind].match(text)
        if match:
            year = int(match.group(1))
            if not MIN_YEAR <= year <= MAX_YEAR:
                return None
            return Period(kind, year, int(match.group(2)) if kind != "year" else 0)
    return None


def valid_label(value: object, *kinds: str) -> bool:
    """Return True when ``value`` is a stored period label (exactly as stored) of one of ``kinds``."""
    found = parse(value, *kinds)
    return found is not None and found.label == value


# --- in words -------------------------------------------------------------------------------------
# A period shown to people is never its stored label: 2026年12月, 2026年第四季度, 2026年下半年, 2026年.
# Web pages (the ``period`` filter and every ``{period}`` parameter of a message), Telegram messages,
# notices and the PDF exports all call ``words``.

_MONTHS = (N_("January {year}"), N_("February {year}"), N_("March {year}"), N_("April {year}"),
           N_("May {year}"), N_("June {year}"), N_("July {year}"), N_("August {year}"),
           N_("September {year}"), N_("October {year}"), N_("November {year}"), N_("December {year}"))
_QUARTERS = (N_("first quarter of {year}"), N_("second quarter of {year}"), N_("third quarter of {year}"),
             N_("fourth quarter of {year}"))
_HALVES = (N_("first half of {year}"), N_("second half of {year}"))
_YEAR = N_("the year {year}")


def words(value: object, locale: str | None = None) -> str:
    """Return a period as people read it (zh_CN default): 2026年12月, 2026年第四季度, 2026年下半年, 2026年;
    December 2026, fourth quarter of 2026… in English. Anything that is not a period comes back as it was."""
    from bot.i18n import translate

    found = parse(value)
    if found is None:
        return "" if value is None else str(value)
    msgid = {"month": lambda i: _MONTHS[i - 1], "quarter": lambda i: _QUARTERS[i - 1],
             "half": lambda i: _HALVES[i - 1], "year": lambda i: _YEAR}[found.kind](found.index)
    return translate(locale, msgid, year=found.year)


# Every message shows a stored label given as one of these parameters in words (bot.i18n.shown).
PARAM_FORMATTERS.update(dict.fromkeys(("period", "previous", "month", "quarter", "half"), words))
