"""Factories for scoring tests: facts files that reach full marks, to be spoiled one field at a time."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from bot.scoring.rubric import load_rubric

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "score-project-example.yaml"

PROJECT_FACTS: dict[str, Any] = {
    "funds": {"budget": 1_000_000, "in_place": 1_000_000, "spent": 1_000_000, "poverty_funds": 1_000_000},
    "outputs": {"planned": 10, "actual": 10, "qualified": 10},
    "dates": {"planned_completion": dt.date(2021, 10, 31), "actual_completion": dt.date(2021, 10, 31)},
    "amounts": {"approved": 900_000, "final": 900_000},
    "income": {"annual_return": 80_000},
    "poor": {"employed": 20, "households_planned": 50, "households_benefiting": 50},
    "surveys": {"cadres": {"satisfied": 20, "answered": 20}, "households": {"satisfied": 100, "answered": 100}},
}

YEAR_END_FACTS: dict[str, Any] = {
    "upkeep": {"inspections_done": 12, "inspections_planned": 12, "funds_in_place": 5000, "funds_needed": 5000},
    "income": {"received": 30000, "agreed": 30000},
    "surveys": {"villagers": {"satisfied": 50, "answered": 50}},
    "complaints": {"upkeep_related": 0},
}


def all_met(rubric_id: str) -> dict[str, dict[str, str]]:
    """Return judgments marking every sub-item of the rubric met."""
    rubric = load_rubric(rubric_id)
    judged = {}
    for _, _, third in rubric.leaves():
        ids = third.rule.item_ids()
        if ids:
            judged[third.code] = {i: "met" for i in ids}
    return judged


def full_marks_file(rubric_id: str = "project-performance-2021") -> dict[str, Any]:
    """Return a facts-file mapping that earns every point of the rubric."""
    facts = PROJECT_FACTS if rubric_id == "project-performance-2021" else YEAR_END_FACTS
    return {"rubric": rubric_id, "project": {"name": "test"}, "facts": copy.deepcopy(facts),
            "judgments": all_met(rubric_id)}


def write_yaml(tmp_path: Path, data: Any, name: str = "facts.yaml") -> Path:
    """Write ``data`` as a YAML file and return its path."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
