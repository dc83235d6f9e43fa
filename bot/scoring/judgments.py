"""Evaluators' judgments: of checklist sub-items (met, not met, partly met with a deduction, unknown), and the
evaluator's documented deduction that stands in place of any formula (``{deduction, reason}``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.i18n import N_
from bot.scoring.errors import ScoringInputError
from bot.scoring.facts import require_number
from bot.scoring.numbers import ZERO, plain

STATUSES = ("met", "not_met", "partly", "unknown")


@dataclass(frozen=True)
class Judgment:
    """One sub-item's verdict; ``deduction`` is what is taken off its points."""

    status: str
    deduction: Decimal
    reason: str = ""


def parse_judgment(raw: Any, points: Decimal, name: str, unknown: Decimal | None = None) -> Judgment:
    """Return the Judgment written at ``name`` for a sub-item worth ``points``.

    ``{deduction, reason}`` without a status is the evaluator's deduction (partly met, or met when 0);
    ``unknown`` scores ``unknown`` points, as the rubric says, and is refused where it says nothing.
    """
    if isinstance(raw, str):
        raw = {"status": raw}
    if not isinstance(raw, Mapping):
        raise ScoringInputError(N_("{field} must be met, not_met or a mapping with a status"), field=name)
    if "status" not in raw and "deduction" in raw:
        return parse_deduction(raw, name, points)
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
    if status == "unknown":
        if unknown is None:
            raise ScoringInputError(N_("{field} is unknown, and the rubric does not say what an unknown "
                                       "sub-item scores"), field=name)
        return Judgment("unknown", points - min(points, unknown), reason)
    return parse_partly(raw, points, name, reason)


def parse_deduction(raw: Any, name: str, points: Decimal) -> Judgment:
    """Return the evaluator's documented deduction written at ``name`` (``{deduction, reason}``).

    It stands in place of the sub-item's formula or checklist: points minus the deduction, with the reason
    the evaluation report gives. A deduction of 0 needs no reason.
    """
    if not isinstance(raw, Mapping) or raw.get("deduction") is None:
        raise ScoringInputError(N_("Missing value: {field}"), field=f"{name}.deduction")
    extra = sorted(str(k) for k in raw if k not in ("deduction", "reason"))
    if extra:
        raise ScoringInputError(N_("Judgment for an unknown sub-item: {field}"), field=f"{name}.{extra[0]}")
    deduction = require_number(raw["deduction"], f"{name}.deduction")
    if deduction > points:
        raise ScoringInputError(
            N_("{field}: deduction {deduction} is larger than the sub-item's {points} points"),
            field=f"{name}.deduction", deduction=plain(deduction), points=plain(points))
    reason = "" if raw.get("reason") is None else str(raw["reason"]).strip()
    if deduction and not reason:
        raise ScoringInputError(N_("Missing value: {field}"), field=f"{name}.reason")
    return Judgment("met" if not deduction else "partly", deduction, reason)


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
