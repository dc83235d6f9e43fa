"""Item 9: "设施不完善" is a difficulty (002 第十一条); the village "两委" studies the check (002 第五条);
household assets (到户类) are not scored on the operating rubric (004 三); the year-end rubrics give no
invented "published" wording to their sub-items."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session

from bot.flows import load_form
from bot.i18n import translate
from bot.scoring.errors import ScoringInputError
from bot.scoring.rubric import RUBRICS_DIR
from bot.services.assessment import score_asset
from tests.factories import make_asset
from tests.fidelity.conftest import MONTHLY, problems, submit_monthly


def test_facilities_incomplete_is_the_first_named_difficulty():
    options = load_form("monthly-operating").question("difficulties").options
    assert options[0].key == "facilities" and translate("zh_CN", options[0].label) == "设施不完善"


def test_a_check_not_studied_by_the_village_committee_is_a_finding(engine, world):
    submit_monthly(engine, world.cadre, world.workshop, {**MONTHLY, "committee_studied": "no",
                                                         "board_missing": "missing", "sign_missing": "missing"})
    found = problems(engine, world.workshop)["not_studied_by_committee"]
    assert (found.severity, found.owner_level) == ("minor", "village") and "两委" in found.description


def test_facilities_as_a_difficulty_is_reported(engine, world):
    result = submit_monthly(engine, world.cadre, world.workshop, {
        **MONTHLY, "has_difficulties": "yes", "difficulties": ["facilities"], "difficulty_description": "大棚老化",
        "board_missing": "missing", "sign_missing": "missing"})
    assert result.report.answers["difficulties"] == ["facilities"]
    assert "difficulties" in {p.kind for p in result.problems}


def test_a_household_asset_is_not_scored_on_the_operating_rubric(engine, world):
    with Session(engine) as session:
        cow = make_asset(session, world.tree.village_a1, name="到户养牛", asset_type="到户类",
                         industry_category="养殖业")
        session.commit()
        with pytest.raises(ScoringInputError) as refused:
            score_asset(session, cow.id, year=2026)
        assert "到户类" in refused.value.message("zh_CN")
        with pytest.raises(ScoringInputError) as operating:  # an operating asset gets its rubric (and its facts)
            score_asset(session, world.workshop, year=2026)
        assert operating.value.field.startswith("judgments.")


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


@pytest.mark.parametrize("name", ["qinbei-2023-operating", "qinbei-2023-public-welfare"])
def test_the_year_end_rubrics_give_their_sub_items_no_invented_published_wording(name):
    doc = yaml.safe_load(Path(RUBRICS_DIR, f"{name}.yaml").read_text(encoding="utf-8"))
    sub_items = [(path, node) for path, node in _walk(doc) if re.search(r"\.(items|parts)\[\d+\]$", path)]
    assert sub_items and not [path for path, node in sub_items if "published" in node]
