"""The rule kinds that score a third-level indicator: checklist, finding, rate, bands, date, amount, sum.

Each rule knows its full marks (``points``), the sub-items an evaluator may judge (``item_ids``)
and returns (score, trace steps) for a project's facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from bot.i18n import N_
from bot.scoring.errors import RubricError, ScoringInputError
from bot.scoring.facts import FactsFile, UnknownFact
from bot.scoring.judgments import Judgment, parse_deduction, parse_judgment
from bot.scoring.numbers import HUNDRED, ZERO, as_decimal, percent, round_half_up
from bot.scoring.trace import Step, Text


@dataclass(frozen=True)
class Context:
    """What a rule needs besides its own data: the facts, where it sits, and the rubric's rounding."""

    facts: FactsFile
    indicator: str
    rate_places: int = 0
    score_places: int = 2
    unknown: Decimal | None = None  # what a rule reading an unknown fact scores (the rubric's ``unknown``)

    def judgment_of(self, item_id: str) -> tuple[Any, str]:
        """Return the raw judgment of a sub-item and its field name; a missing one is an error."""
        raw, name = self.optional_judgment(item_id)
        if raw is None:
            raise ScoringInputError(N_("Missing judgment: {field}"), field=name)
        return raw, name

    def optional_judgment(self, item_id: str) -> tuple[Any, str]:
        """Return the raw judgment of a sub-item (None when there is none) and its field name."""
        name = f"judgments.{self.indicator}.{item_id}"
        block = self.facts.judgments.get(self.indicator)
        return (block.get(item_id) if isinstance(block, Mapping) else None), name


def unknown_points(stated: Decimal | None, ctx: Context, points: Decimal, exc: UnknownFact) -> Decimal:
    """Return what a rule worth ``points`` scores when a fact it reads is unknown; re-raise if nobody says."""
    value = stated if stated is not None else ctx.unknown
    if value is None:
        raise exc
    return min(points, value)


def unknown_step(label: str, exc: UnknownFact, points: Decimal) -> Step:
    """Explain the points of a rule whose fact is unknown."""
    return Step(N_("{part}: {fact} is unknown; the rubric scores an unknown fact {points} points."),
                {"part": Text(label), "fact": exc.field, "points": points})


def deduction_step(label: str, verdict: Judgment, points: Decimal) -> Step:
    """Explain an evaluator's deduction that stands in place of a formula."""
    if not verdict.deduction:
        return Step(N_("{part}: scored by the evaluator, nothing deducted, {points} points."),
                    {"part": Text(label), "points": points})
    return Step(N_("{part}: scored by the evaluator, {deduction} of {points} points deducted: {reason}"),
                {"part": Text(label), "deduction": verdict.deduction, "points": points, "reason": verdict.reason})


class Rule(Protocol):
    """A way of scoring: full marks, judgeable sub-items, and the scoring itself."""

    @property
    def points(self) -> Decimal: ...

    def item_ids(self) -> list[str]: ...

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]: ...


@dataclass(frozen=True)
class Item:
    """A checklist sub-item (①②… in the published rules) worth ``points``."""

    id: str
    label: str
    points: Decimal
    unknown: Decimal | None = None  # what "unknown" scores here, when it differs from the rubric's


@dataclass(frozen=True)
class Checklist:
    """Sum the points of sub-items an evaluator judged met, minus stated deductions."""

    items: tuple[Item, ...]

    @property
    def points(self) -> Decimal:
        return sum((i.points for i in self.items), ZERO)

    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]:
        total, steps = ZERO, []
        for item in self.items:
            raw, name = ctx.judgment_of(item.id)
            verdict = parse_judgment(raw, item.points, name, item.unknown if item.unknown is not None else ctx.unknown)
            total += item.points - verdict.deduction
            steps.append(item_step(item, verdict.status, verdict.deduction, verdict.reason))
        return total, steps


@dataclass(frozen=True)
class Finding:
    """A sub-item the source states only by its heading and points (e.g. seed 001 D101② "带动贫困户受益情况
    （5分）"): no formula; full points unless the evaluator records a finding with its deduction."""

    item: Item

    @property
    def points(self) -> Decimal:
        return self.item.points

    def item_ids(self) -> list[str]:
        return [self.item.id]

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]:
        raw, name = ctx.optional_judgment(self.item.id)
        if raw is None:
            return self.points, [Step(N_("{item}: no finding recorded by the evaluator, {points} points."),
                                      {"item": Text(self.item.label), "points": self.points})]
        unknown = self.item.unknown if self.item.unknown is not None else ctx.unknown
        verdict = parse_judgment(raw, self.points, name, unknown)
        return self.points - verdict.deduction, [item_step(self.item, verdict.status, verdict.deduction,
                                                           verdict.reason)]


def item_step(item: Item, status: str, deduction: Decimal, reason: str) -> Step:
    """Explain one sub-item's verdict."""
    label = Text(item.label)
    if status == "unknown":
        return Step(N_("{item}: unknown, the rubric scores it {points} points."),
                    {"item": label, "points": item.points - deduction})
    if status == "met":
        return Step(N_("{item}: met, {points} points awarded."), {"item": label, "points": item.points})
    if status == "not_met" and reason:
        return Step(N_("{item}: not met, {points} points deducted: {reason}"),
                    {"item": label, "points": item.points, "reason": reason})
    if status == "not_met":
        return Step(N_("{item}: not met, {points} points deducted."), {"item": label, "points": item.points})
    return Step(N_("{item}: partly met, {deduction} of {points} points deducted: {reason}"),
                {"item": label, "deduction": deduction, "points": item.points, "reason": reason})


@dataclass(frozen=True)
class RateOf:
    """A rate numerator / denominator (× 100 %), the denominator optionally counted per ``per`` units."""

    label: str
    numerator: str
    denominator: str
    per: Decimal | None = None

    def measure(self, ctx: Context) -> tuple[Decimal, Step]:
        """Return the rate rounded to the rubric's precision, and the step showing the sum."""
        num = ctx.facts.number(self.numerator)
        den = ctx.facts.positive(self.denominator)
        base = den / self.per if self.per else den
        raw = percent(num, base)
        rounded = round_half_up(raw, ctx.rate_places)
        params = {"rate": Text(self.label), "numerator": num, "denominator": den,
                  "raw": round_half_up(raw, 4), "rounded": rounded}
        if self.per:
            return rounded, Step(N_("{rate} = {numerator} ÷ ({denominator} ÷ {per}) × 100% = {raw}%, "
                                    "rounded to {rounded}%."), {**params, "per": self.per})
        return rounded, Step(N_("{rate} = {numerator} ÷ {denominator} × 100% = {raw}%, rounded to {rounded}%."),
                             params)


@dataclass(frozen=True)
class Rate:
    """Full marks at or above ``threshold`` %, below it rate × points ("proportional") or nothing."""

    rate: RateOf
    points: Decimal
    threshold: Decimal
    below: str = "proportional"

    def item_ids(self) -> list[str]:
        return []

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]:
        rounded, measured = self.rate.measure(ctx)
        return self.score_rate(rounded, ctx.score_places, measured)

    def score_rate(self, rounded: Decimal, places: int, measured: Step | None = None) -> tuple[Decimal, list[Step]]:
        """Score an already rounded rate (kept separate so properties can probe it directly)."""
        steps = [measured] if measured else []
        params: dict[str, object] = {"rounded": rounded, "threshold": self.threshold, "weight": self.points}
        if rounded >= self.threshold:
            return self.points, steps + [Step(N_("{rounded}% reaches the threshold of {threshold}%: full marks, "
                                                 "{points} points."), {**params, "points": self.points})]
        if self.below == "zero":
            return ZERO, steps + [Step(N_("{rounded}% is below the threshold of {threshold}%: no points."), params)]
        score = min(self.points, round_half_up(rounded / HUNDRED * self.points, places))
        return score, steps + [Step(N_("{rounded}% is below the threshold of {threshold}%: "
                                       "score = {rounded}% × {weight} = {points} points."),
                                    {**params, "points": score})]


@dataclass(frozen=True)
class Band:
    """Points for a rate at or above ``minimum`` %."""

    minimum: Decimal
    points: Decimal


@dataclass(frozen=True)
class Bands:
    """Points by the first band whose minimum the rounded rate reaches; ``otherwise`` below all."""

    rate: RateOf
    points: Decimal
    bands: tuple[Band, ...]
    otherwise: Decimal = ZERO

    def item_ids(self) -> list[str]:
        return []

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]:
        rounded, measured = self.rate.measure(ctx)
        return self.score_rate(rounded, measured)

    def score_rate(self, rounded: Decimal, measured: Step | None = None) -> tuple[Decimal, list[Step]]:
        """Score an already rounded rate."""
        steps = [measured] if measured else []
        for band in self.bands:
            if rounded >= band.minimum:
                return band.points, steps + [Step(N_("{rounded}% is at least {minimum}%: {points} points."),
                                                  {"rounded": rounded, "minimum": band.minimum,
                                                   "points": band.points})]
        lowest = self.bands[-1].minimum
        return self.otherwise, steps + [Step(N_("{rounded}% is below {minimum}%: {points} points."),
                                             {"rounded": rounded, "minimum": lowest, "points": self.otherwise})]


@dataclass(frozen=True)
class DateCompare:
    """Full marks when the actual date is on or before the planned one, else ``late_points``."""

    planned: str
    actual: str
    points: Decimal
    late_points: Decimal = ZERO

    def item_ids(self) -> list[str]:
        return []

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]:
        planned, actual = ctx.facts.date(self.planned), ctx.facts.date(self.actual)
        params = {"planned": planned.isoformat(), "actual": actual.isoformat()}
        if actual <= planned:
            return self.points, [Step(N_("Completed on {actual}, planned for {planned}: on or before plan, "
                                         "{points} points."), {**params, "points": self.points})]
        late = (actual - planned).days
        return self.late_points, [Step(N_("Completed on {actual}, {days} days after the planned {planned}: "
                                          "{points} points."),
                                       {**params, "days": late, "points": self.late_points})]


@dataclass(frozen=True)
class AmountCompare:
    """Full marks when ``actual`` does not exceed ``limit`` (a fact path or a number), else ``over_points``."""

    label: str
    actual: str
    limit: str | Decimal
    points: Decimal
    over_points: Decimal = ZERO
    show_saving_rate: bool = False

    def item_ids(self) -> list[str]:
        return []

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]:
        actual = ctx.facts.number(self.actual)
        limit = self.limit if isinstance(self.limit, Decimal) else ctx.facts.number(self.limit)
        steps = [self.saving_step(actual, limit)] if self.show_saving_rate else []
        params = {"value": Text(self.label), "actual": actual, "limit": limit}
        if actual <= limit:
            return self.points, steps + [Step(N_("{value} {actual} does not exceed {limit}: full marks, "
                                                 "{points} points."), {**params, "points": self.points})]
        return self.over_points, steps + [Step(N_("{value} {actual} exceeds {limit}: {points} points."),
                                               {**params, "points": self.over_points})]

    def saving_step(self, actual: Decimal, limit: Decimal) -> Step:
        """Show the published cost saving rate (final − approved) ÷ approved × 100 %."""
        if limit <= ZERO:
            raise ScoringInputError(N_("{field} must be greater than zero"), field=f"facts.{self.limit}")
        rate = round_half_up(percent(actual - limit, limit), 2)
        return Step(N_("Cost saving rate = ({actual} − {limit}) ÷ {limit} × 100% = {rate}%."),
                    {"actual": actual, "limit": limit, "rate": rate})


@dataclass(frozen=True)
class Part:
    """A labelled part of a summed rule (the ①② of an indicator scored by several rules)."""

    id: str
    label: str
    rule: Rule
    unknown: Decimal | None = None  # what the part scores when a fact it reads is unknown


@dataclass(frozen=True)
class Sum:
    """Add up several parts; checklist parts contribute their own sub-items, and any part may be scored by the
    evaluator's deduction written under its id (``judgments.D101.employment: {deduction, reason}``)."""

    parts: tuple[Part, ...]

    @property
    def points(self) -> Decimal:
        return sum((p.rule.points for p in self.parts), ZERO)

    def item_ids(self) -> list[str]:
        return [i for p in self.parts for i in p.rule.item_ids()]

    def part_ids(self) -> list[str]:
        """The parts an evaluator may score by a deduction in place of their rules."""
        return [p.id for p in self.parts]

    def score(self, ctx: Context) -> tuple[Decimal, list[Step]]:
        total, steps = ZERO, []
        for part in self.parts:
            score, part_steps = score_part(part.rule, part.label, ctx.optional_judgment(part.id), part.unknown,
                                           ctx)
            total += score
            steps.extend(part_steps)
            steps.append(Step(N_("{part}: {score} of {points} points."),
                              {"part": Text(part.label), "score": score, "points": part.rule.points}))
        return total, steps


def score_part(rule: Rule, label: str, override: tuple[Any, str] | None, unknown: Decimal | None,
               ctx: Context) -> tuple[Decimal, list[Step]]:
    """Score a rule, unless the evaluator's deduction stands in for it (``override``: the raw judgment and its
    field); an unknown fact it reads scores what the rubric says (``unknown``, else the rubric's default), or
    stops the sheet when the rubric says nothing."""
    if override is not None and override[0] is not None:
        verdict = parse_deduction(*override, points=rule.points)
        return rule.points - verdict.deduction, [deduction_step(label, verdict, rule.points)]
    try:
        return rule.score(ctx)
    except UnknownFact as exc:
        points = unknown_points(unknown, ctx, rule.points, exc)
        return points, [unknown_step(label, exc, points)]


# --- building rules from rubric YAML -----------------------------------------------------------

def build_rule(spec: Mapping[str, Any], where: str, default_points: Decimal | None = None) -> Rule:
    """Return the rule described by ``spec`` (a rubric YAML mapping) at ``where``."""
    kind = spec.get("kind")
    builder = BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise RubricError(f"{where}: unknown rule kind {kind!r}")
    try:
        return builder(spec, where, default_points)
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise RubricError(f"{where}: malformed {kind} rule ({exc!r})") from exc


def full_marks(spec: Mapping[str, Any], default: Decimal | None) -> Decimal:
    """Return the rule's stated points, or the indicator weight it stands for."""
    if "points" in spec:
        return as_decimal(spec["points"])
    if default is None:
        raise KeyError("points")
    return default


def rate_of(spec: Mapping[str, Any]) -> RateOf:
    """Return the rate a rate or bands rule measures."""
    per = spec.get("per")
    return RateOf(spec["label"], spec["numerator"], spec["denominator"], as_decimal(per) if per else None)


def optional_points(spec: Mapping[str, Any], key: str = "unknown") -> Decimal | None:
    """Return an optional number of points (``unknown:``) of a rubric entry."""
    value = spec.get(key)
    return None if value is None else as_decimal(value)


def build_item(spec: Mapping[str, Any]) -> Item:
    item = Item(str(spec["id"]), spec["label"], as_decimal(spec["points"]), optional_points(spec))
    if item.unknown is not None and not ZERO <= item.unknown <= item.points:
        raise RubricError(f"sub-item {item.id}: unknown must be within 0…{item.points}")
    return item


def build_checklist(spec: Mapping[str, Any], where: str, default: Decimal | None) -> Rule:
    return Checklist(tuple(build_item(i) for i in spec["items"]))


def build_finding(spec: Mapping[str, Any], where: str, default: Decimal | None) -> Rule:
    item = {**spec, "points": full_marks(spec, default)}
    return Finding(build_item(item))


def build_rate(spec: Mapping[str, Any], where: str, default: Decimal | None) -> Rule:
    below = spec.get("below", "proportional")
    if below not in ("proportional", "zero"):
        raise RubricError(f"{where}: below must be proportional or zero")
    return Rate(rate_of(spec), full_marks(spec, default), as_decimal(spec["threshold"]), below)


def build_bands(spec: Mapping[str, Any], where: str, default: Decimal | None) -> Rule:
    bands = tuple(Band(as_decimal(b["min"]), as_decimal(b["points"])) for b in spec["bands"])
    if list(bands) != sorted(bands, key=lambda b: b.minimum, reverse=True):
        raise RubricError(f"{where}: bands must be listed from the highest minimum down")
    return Bands(rate_of(spec), full_marks(spec, default), bands, as_decimal(spec.get("otherwise", 0)))


def build_date(spec: Mapping[str, Any], where: str, default: Decimal | None) -> Rule:
    return DateCompare(spec["planned"], spec["actual"], full_marks(spec, default),
                       as_decimal(spec.get("late_points", 0)))


def build_amount(spec: Mapping[str, Any], where: str, default: Decimal | None) -> Rule:
    limit = spec["limit"]
    limit = limit if isinstance(limit, str) else as_decimal(limit)
    return AmountCompare(spec["label"], spec["actual"], limit, full_marks(spec, default),
                         as_decimal(spec.get("over_points", 0)), bool(spec.get("show_saving_rate", False)))


def build_sum(spec: Mapping[str, Any], where: str, default: Decimal | None) -> Rule:
    parts = tuple(Part(str(p["id"]), p["label"], build_rule(p["rule"], f"{where}.{p['id']}"), optional_points(p))
                  for p in spec["parts"])
    return Sum(parts)


BUILDERS = {"checklist": build_checklist, "finding": build_finding, "rate": build_rate, "bands": build_bands,
            "date": build_date, "amount": build_amount, "sum": build_sum}
