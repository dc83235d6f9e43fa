"""Evaluators' judgments of checklist sub-items: met, not met, or partly met with a deduction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.i18n import N_
from bot.scoring.errors import ScoringInputError
from bot.scoring.facts import require_number
from bot.scoring.numbers import ZERO

STATUSES = ("met", "not_met", "partly")


@dataclass(frozen=True)
class Judgment:
    """One sub-item's verdict; ``deduction`` is what is taken off its points."""

    status: str
    deduction: Decimal
    reason: str = ""


def parse_judgment(raw: Any, points: Decimal, name: str) -> Judgment:
    """Return the Judgment written at ``name`` for a sub-item worth ``points``."""
    if isinstance(raw, str):
        raw = {"status": raw}
    if not isinstance(raw, Mapping):
        raise ScoringInputError(N_("{field} must be met, not_met or a mapping with a status"), field=name)
    status = raw.get("status")
    if status not in STATUSES:
        raise ScoringInputError(
            N_("{field}: unknown status {value}; use met, not_met or partly"), field=f"{name}.status",
            value=repr(status))
    reason = raw.get("reason")
    reason = "" if reason is None else str(reason).strip()
    if status == "met":
        return Judgment("met", ZERO, reason)
    if status == "not_met":
        return Judgment("not_met", points, reason)
    return parse_partly(raw, points, name, reason)


def parse_partly(raw: Mapping[str, Any], points: Decimal, name: str, reason: str) -> Judgment:
    """Return a partly-met Judgment, whose deduction and reason must both be stated."""
    if raw.get("deduction") is None:
        raise ScoringInputError(N_("Missing value: {field}"), field=f"{name}.deduction")
    deduction = require_number(raw["deduction"], f"{name}.deduction")
    if deduction > points:
        raise ScoringInputError(
            N_("{field}: deduction {deduction} is larger than the sub-item's {points} points"),
            field=f"{name}.deduction", deduction=str(deduction), points=str(points))
    if not reason:
        raise ScoringInputError(N_("Missing value: {field}"), field=f"{name}.reason")
    return Judgment("partly", deduction, reason)
