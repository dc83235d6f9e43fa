"""Rubrics as data: a three-level indicator tree with weights, read from bot/scoring/rubrics/*.yaml."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from bot.i18n import N_
from bot.reloading import reloading
from bot.scoring.errors import RubricError, ScoringInputError
from bot.scoring.grades import GradeScale, grade_scale
from bot.scoring.numbers import ZERO, as_decimal
from bot.scoring.rules import Bands, Rate, Rule, Sum, build_rule, optional_points

RUBRICS_DIR = Path(__file__).resolve().parent / "rubrics"
LEVELS = 3


@dataclass(frozen=True)
class Node:
    """An indicator: first and second levels have children, third-level ones a rule."""

    code: str
    label: str
    published: str
    weight: Decimal
    children: tuple[Node, ...] = ()
    rule: Rule | None = None
    unknown: Decimal | None = None  # what the indicator scores when a fact its rule reads is unknown


@dataclass(frozen=True)
class Rubric:
    """A whole rubric: its indicator tree, rounding and grade scale."""

    id: str
    title: str
    source: str
    roots: tuple[Node, ...]
    grades: GradeScale
    rate_places: int = 0
    score_places: int = 2
    unknown: Decimal | None = None  # ``unknown: zero``: a rule whose fact is unknown scores 0; None: refused

    @property
    def weight(self) -> Decimal:
        return sum((n.weight for n in self.roots), ZERO)

    def leaves(self) -> Iterator[tuple[Node, Node, Node]]:
        """Yield (first, second, third)-level triples in published order."""
        for first in self.roots:
            for second in first.children:
                for third in second.children:
                    yield first, second, third

    def indicator(self, code: str) -> Node | None:
        """Return the third-level indicator ``code``, if the rubric has it."""
        return next((third for _, _, third in self.leaves() if third.code == code), None)


def build_node(spec: Mapping[str, Any], depth: int) -> Node:
    """Return the indicator described by ``spec`` at ``depth`` (1 = first level), validated."""
    code = str(spec["code"])
    weight = as_decimal(spec["weight"])
    if depth == LEVELS:
        rule = build_rule(spec["rule"], code, weight)
        check_rule(code, weight, rule)
        unknown = optional_points(spec)
        if unknown is not None and not ZERO <= unknown <= weight:
            raise RubricError(f"{code}: unknown must be within 0…{weight}")
        return Node(code, spec["label"], spec.get("published", ""), weight, rule=rule, unknown=unknown)
    children = tuple(build_node(child, depth + 1) for child in spec["children"])
    total = sum((c.weight for c in children), ZERO)
    if total != weight:
        raise RubricError(f"{code}: children weigh {total}, not {weight}")
    return Node(code, spec["label"], spec.get("published", ""), weight, children=children)


def check_rule(code: str, weight: Decimal, rule: Rule) -> None:
    """Refuse a rule whose full marks differ from its weight or whose bands exceed it."""
    if rule.points != weight:
        raise RubricError(f"{code}: rule gives {rule.points} points, weight is {weight}")
    parts = [p.rule for p in rule.parts] if isinstance(rule, Sum) else [rule]
    for part in parts:
        if isinstance(part, Bands) and any(b.points > part.points for b in part.bands):
            raise RubricError(f"{code}: a band gives more than {part.points} points")
        if isinstance(part, Rate) and not ZERO < part.threshold:
            raise RubricError(f"{code}: a rate threshold must be positive")
    ids = rule.item_ids()
    if len(ids) != len(set(ids)):
        raise RubricError(f"{code}: sub-item ids repeat")


def build_rubric(data: Mapping[str, Any]) -> Rubric:
    """Return the validated Rubric of parsed YAML ``data``."""
    try:
        roots = tuple(build_node(spec, 1) for spec in data["indicators"])
        rubric = Rubric(str(data["id"]), data["title"], data.get("source", ""), roots,
                        grade_scale(data["grades"]), int(data.get("rate_places", 0)),
                        int(data.get("score_places", 2)), rubric_unknown(data.get("unknown", "refuse")))
    except (KeyError, TypeError) as exc:
        raise RubricError(f"rubric {data.get('id', '?')}: missing or malformed {exc}") from exc
    codes = [node.code for node in walk(rubric.roots)]
    if len(codes) != len(set(codes)):
        raise RubricError(f"rubric {rubric.id}: indicator codes repeat")
    return rubric


def rubric_unknown(value: Any) -> Decimal | None:
    """Return what an unknown fact scores by default: ``zero`` → 0 points, ``refuse`` → None (input error)."""
    if value == "zero":
        return ZERO
    if value == "refuse":
        return None
    raise RubricError(f"unknown must be zero or refuse, not {value!r}")


def walk(nodes: tuple[Node, ...]) -> Iterator[Node]:
    """Yield every node of the tree, parents before children."""
    for node in nodes:
        yield node
        yield from walk(node.children)


@reloading(lambda: RUBRICS_DIR.glob("*.yaml"))
def shipped_rubrics() -> dict[str, Rubric]:
    """Return every rubric in bot/scoring/rubrics/, by id."""
    rubrics = {}
    for path in sorted(RUBRICS_DIR.glob("*.yaml")):
        rubric = build_rubric(yaml.safe_load(path.read_text(encoding="utf-8")))
        rubrics[rubric.id] = rubric
    return rubrics


def load_rubric(name: str) -> Rubric:
    """Return the shipped rubric ``name``; an unknown name is an input error on the ``rubric`` field."""
    try:
        return shipped_rubrics()[name]
    except KeyError:
        raise ScoringInputError(N_("{field}: unknown rubric {value}; known: {known}"), field="rubric",
                                value=repr(name), known=", ".join(sorted(shipped_rubrics()))) from None
