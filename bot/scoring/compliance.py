"""Compliance scores of villages and townships per month or year, rolled up to the county.

Pure: the caller passes every EXPECTED monthly report (submitted or not) and every problem with its
resolution deadline, plus ``as_of`` (no clock here). Four parts make 100 points (our reading,
docs/scoring.md): reports on time 30, complete 25, valid photo evidence 25, problems resolved in time 20.
Rates pool the counts of the whole scope and period, so a year is not an average of months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.i18n import N_
from bot.scoring.errors import ScoringInputError
from bot.scoring.numbers import HUNDRED, round_half_up

LEVELS = ("village", "township", "county")
WEIGHTS = {"on_time": Decimal(30), "complete": Decimal(25), "evidence": Decimal(25), "problems": Decimal(20)}


@dataclass(frozen=True)
class ReportRecord:
    """One expected monthly report of one asset: when due, when (if) submitted, and its quality."""

    township: str
    village: str
    period: str                  # "YYYY-MM"
    due: dt.date
    submitted: dt.date | None = None
    complete: bool = False
    photos_valid: bool = False


@dataclass(frozen=True)
class ProblemRecord:
    """One problem with its resolution deadline and, once solved, the day it was."""

    township: str
    village: str
    due: dt.date
    resolved_on: dt.date | None = None


@dataclass(frozen=True)
class ComplianceScore:
    """Counts, rates (whole percent) and the score of one scope over one period."""

    scope: str
    period: str
    expected: int
    counts: dict[str, int]
    rates: dict[str, Decimal]
    score: Decimal


def scope_of(record: ReportRecord | ProblemRecord, level: str) -> str:
    """Return the key a record rolls up to at ``level``."""
    if level == "village":
        return f"{record.township}/{record.village}"
    return record.township if level == "township" else "county"


def in_period(day_or_period: str, period: str) -> bool:
    """True when a "YYYY-MM" month or ISO day falls in a "YYYY" or "YYYY-MM" period."""
    return day_or_period.startswith(period)


def score_compliance(reports: Iterable[ReportRecord], problems: Iterable[ProblemRecord], *, level: str,
                     period: str, as_of: dt.date) -> list[ComplianceScore]:
    """Return one ComplianceScore per scope at ``level`` for ``period`` ("YYYY" or "YYYY-MM")."""
    if level not in LEVELS:
        raise ScoringInputError(N_("{field}: unknown level {value}"), field="level", value=repr(level))
    chosen = [r for r in reports if in_period(r.period, period)]
    # a problem counts once its deadline has passed or it was solved: open ones not yet due are not late
    due = [p for p in problems if in_period(p.due.isoformat(), period) and (p.due < as_of or p.resolved_on)]
    scopes = sorted({scope_of(r, level) for r in chosen} | {scope_of(p, level) for p in due})
    return [score_scope(scope, period, [r for r in chosen if scope_of(r, level) == scope],
                        [p for p in due if scope_of(p, level) == scope]) for scope in scopes]


def score_scope(scope: str, period: str, reports: Sequence[ReportRecord],
                problems: Sequence[ProblemRecord]) -> ComplianceScore:
    """Score one scope: each part's rate × its weight; nothing expected of a part earns it in full."""
    counts = {
        "on_time": sum(1 for r in reports if r.submitted is not None and r.submitted <= r.due),
        "complete": sum(1 for r in reports if r.submitted is not None and r.complete),
        "evidence": sum(1 for r in reports if r.submitted is not None and r.photos_valid),
        "problems": sum(1 for p in problems if p.resolved_on is not None and p.resolved_on <= p.due),
    }
    bases = {"on_time": len(reports), "complete": len(reports), "evidence": len(reports), "problems": len(problems)}
    rates = {k: (round_half_up(Decimal(counts[k]) * HUNDRED / bases[k], 0) if bases[k] else HUNDRED) for k in counts}
    score = sum((round_half_up(rates[k] / HUNDRED * WEIGHTS[k], 2) for k in counts), Decimal(0))
    return ComplianceScore(scope, period, len(reports), {**counts, "problems_due": len(problems)}, rates, score)
