"""The facts file of one project: typed access that names the field of any bad value.

Layout (see docs/scoring.md):

    rubric: project-performance-2021      # optional, that is the default
    project: {name: ..., year: ...}       # shown on the score sheet, not scored
    facts: {funds: {budget: ...}, ...}    # numbers and dates, looked up by dotted path
    judgments: {A101: {"1": met, "2": {status: partly, deduction: 0.2, reason: ...}}}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from bot.i18n import N_
from bot.scoring.errors import ScoringInputError
from bot.scoring.numbers import ZERO, as_decimal

DEFAULT_RUBRIC = "project-performance-2021"
UNKNOWN = "unknown"  # a fact the evaluators could not establish (e.g. "收益是否支付不清楚")


class UnknownFact(ScoringInputError):
    """A fact written as ``unknown``: the rule reading it scores what the rubric says unknown scores.

    Raised to the rule; a rubric that says nothing about unknown facts lets it through as an input error.
    """

    def __init__(self, path: str) -> None:
        super().__init__(N_("{field} is unknown, and the rubric does not say what an unknown fact scores"),
                         field=f"facts.{path}")
        self.path = path


@dataclass(frozen=True)
class FactsFile:
    """One project's facts and evaluators' judgments, as read from YAML."""

    rubric: str = DEFAULT_RUBRIC
    project: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    judgments: Mapping[str, Any] = field(default_factory=dict)

    def number(self, path: str) -> Decimal:
        """Return the non-negative number at ``facts.<path>``."""
        name = f"facts.{path}"
        return require_number(self.lookup(path), name)

    def positive(self, path: str) -> Decimal:
        """Return the number at ``facts.<path>``, refusing zero (it divides)."""
        value = self.number(path)
        if value <= ZERO:
            raise ScoringInputError(N_("{field} must be greater than zero"), field=f"facts.{path}")
        return value

    def date(self, path: str) -> dt.date:
        """Return the date at ``facts.<path>``."""
        return require_date(self.lookup(path), f"facts.{path}")

    def lookup(self, path: str) -> Any:
        """Return the raw value at ``facts.<path>``; a missing one is an error naming it."""
        node: Any = self.facts
        for part in path.split("."):
            if not isinstance(node, Mapping) or node.get(part) is None:
                raise ScoringInputError(N_("Missing fact: {field}"), field=f"facts.{path}")
            node = node[part]
        if isinstance(node, str) and node.strip().lower() == UNKNOWN:
            raise UnknownFact(path)
        return node


def require_number(value: Any, name: str) -> Decimal:
    """Return ``value`` as a non-negative Decimal or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ScoringInputError(N_("{field} must be a number, not {value}"), field=name, value=repr(value))
    number = as_decimal(value)
    if not number.is_finite():
        raise ScoringInputError(N_("{field} must be a number, not {value}"), field=name, value=repr(value))
    if number < ZERO:
        raise ScoringInputError(N_("{field} must not be negative"), field=name)
    return number


def require_date(value: Any, name: str) -> dt.date:
    """Return ``value`` as a date (YAML date or ISO text) or raise naming ``name``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ScoringInputError(N_("{field} must be a date (YYYY-MM-DD), not {value}"), field=name, value=repr(value))


def require_mapping(value: Any, name: str) -> Mapping[str, Any]:
    """Return ``value`` if it is a mapping (an absent section counts as empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ScoringInputError(N_("{field} must be a mapping of names to values"), field=name)
    return value


def parse_facts(data: Any) -> FactsFile:
    """Return the FactsFile of parsed YAML ``data``, checking only its outer shape."""
    top = require_mapping(data, "(file)")
    rubric = top.get("rubric", DEFAULT_RUBRIC)
    if not isinstance(rubric, str) or not rubric.strip():
        raise ScoringInputError(N_("{field} must name a rubric"), field="rubric")
    judgments = require_mapping(top.get("judgments"), "judgments")
    return FactsFile(
        rubric=rubric.strip(),
        project=require_mapping(top.get("project"), "project"),
        facts=require_mapping(top.get("facts"), "facts"),
        judgments={str(k): stringify_keys(v) for k, v in judgments.items()},
    )


def stringify_keys(block: Any) -> Any:
    """Return a judgments block with text keys, since YAML reads ``1: met`` with an integer key."""
    return {str(k): v for k, v in block.items()} if isinstance(block, Mapping) else block


def load_facts(path: str | Path) -> FactsFile:
    """Read and parse a facts file; YAML syntax errors are refused naming the file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScoringInputError(N_("Cannot read {field}: {detail}"), field=str(path), detail=str(exc)) from exc
    return parse_facts(data)
