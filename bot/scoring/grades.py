"""Grade bands as data (bot/scoring/grades.yaml): a total of 100 points mapped to a named grade."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from bot.reloading import reloading
from bot.scoring.errors import RubricError
from bot.scoring.numbers import as_decimal

GRADES_FILE = Path(__file__).resolve().parent / "grades.yaml"


@dataclass(frozen=True)
class Grade:
    """A grade reached by a total of at least ``minimum``; ``label`` is its msgid."""

    minimum: Decimal
    label: str
    published: str


@dataclass(frozen=True)
class GradeScale:
    """Grades from the highest minimum down; the last one must start at 0."""

    id: str
    source: str
    grades: tuple[Grade, ...]

    def grade(self, total: Decimal) -> Grade:
        """Return the grade whose band holds ``total`` (a total below 0 is refused)."""
        for grade in self.grades:
            if total >= grade.minimum:
                return grade
        raise ValueError(f"total {total} is below every band of {self.id}")


@reloading(lambda: [GRADES_FILE])
def grade_scales() -> dict[str, GradeScale]:
    """Return every grade scale shipped in grades.yaml, by id."""
    data = yaml.safe_load(GRADES_FILE.read_text(encoding="utf-8"))
    return {key: build_scale(key, spec) for key, spec in data.items()}


def build_scale(key: str, spec: dict) -> GradeScale:
    """Return one validated grade scale."""
    grades = tuple(Grade(as_decimal(g["min"]), g["label"], g["published"]) for g in spec["bands"])
    minima = [g.minimum for g in grades]
    if minima != sorted(minima, reverse=True) or minima[-1] != 0:
        raise RubricError(f"grade scale {key}: minima must fall strictly and end at 0")
    return GradeScale(key, spec["source"], grades)


def grade_scale(key: str) -> GradeScale:
    """Return the grade scale ``key``."""
    try:
        return grade_scales()[key]
    except KeyError:
        raise RubricError(f"unknown grade scale {key!r}") from None
