"""Score a project's facts against a rubric: one row per third-level indicator, subtotals, total, grade."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bot.i18n import N_
from bot.scoring.errors import ScoringInputError
from bot.scoring.facts import FactsFile, load_facts
from bot.scoring.grades import Grade
from bot.scoring.numbers import ZERO, round_half_up
from bot.scoring.rubric import Node, Rubric, load_rubric
from bot.scoring.rules import Context, score_part
from bot.scoring.trace import Step

OVERRIDE_KEYS = ("deduction", "reason")  # judgments.<code>: {deduction, reason}: the evaluator's score of it


@dataclass(frozen=True)
class Row:
    """One third-level indicator's line on the score sheet."""

    first: Node
    second: Node
    third: Node
    score: Decimal
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class ScoreSheet:
    """The published score sheet: rows, subtotals per first/second-level code, total and grade."""

    rubric: Rubric
    project: Mapping[str, object]
    rows: tuple[Row, ...]
    subtotals: Mapping[str, Decimal]
    total: Decimal
    grade: Grade


def evaluate(rubric: Rubric, facts: FactsFile) -> ScoreSheet:
    """Score every third-level indicator of ``rubric`` on ``facts`` and add up the levels."""
    check_judgment_targets(rubric, facts)
    rows = tuple(score_row(rubric, facts, first, second, third) for first, second, third in rubric.leaves())
    subtotals: dict[str, Decimal] = {}
    for row in rows:
        for node in (row.first, row.second):
            subtotals[node.code] = subtotals.get(node.code, ZERO) + row.score
    total = sum((r.score for r in rows), ZERO)
    return ScoreSheet(rubric, facts.project, rows, subtotals, total, rubric.grades.grade(total))


def score_row(rubric: Rubric, facts: FactsFile, first: Node, second: Node, third: Node) -> Row:
    """Score one indicator, rounded to the rubric's score precision and kept within 0…weight."""
    assert third.rule is not None
    ctx = Context(facts, third.code, rubric.rate_places, rubric.score_places, rubric.unknown)
    block = facts.judgments.get(third.code)
    # judgments.<code>: {deduction, reason}: the whole indicator as the evaluator scored it
    override = (block, f"judgments.{third.code}") if isinstance(block, Mapping) and "deduction" in block else None
    raw, steps = score_part(third.rule, third.label, override, third.unknown, ctx)
    score = min(third.weight, max(ZERO, round_half_up(raw, rubric.score_places)))
    return Row(first, second, third, score, tuple(steps))


def check_judgment_targets(rubric: Rubric, facts: FactsFile) -> None:
    """Refuse judgments for indicators or sub-items the rubric does not have."""
    for code, block in facts.judgments.items():
        node = rubric.indicator(code)
        if node is None or node.rule is None:
            raise ScoringInputError(N_("Judgment for an unknown indicator: {field}"), field=f"judgments.{code}")
        if not isinstance(block, Mapping):
            raise ScoringInputError(N_("{field} must be a mapping of names to values"), field=f"judgments.{code}")
        if "deduction" in block:
            others = sorted(str(k) for k in block if k not in OVERRIDE_KEYS)
            if others:
                raise ScoringInputError(N_("{field}: an indicator scored by the evaluator's deduction takes no "
                                           "other judgments"), field=f"judgments.{code}.{others[0]}")
            continue
        known = set(node.rule.item_ids()) | set(getattr(node.rule, "part_ids", list)())
        for item in block:
            if str(item) not in known:
                raise ScoringInputError(N_("Judgment for an unknown sub-item: {field}"),
                                        field=f"judgments.{code}.{item}")


def score_facts_file(path: str | Path) -> ScoreSheet:
    """Read a facts file, pick its rubric and score it."""
    facts = load_facts(path)
    return evaluate(load_rubric(facts.rubric), facts)
