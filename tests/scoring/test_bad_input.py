"""Bad facts files are refused with exit code 2 and a message naming the field."""

from decimal import Decimal

import pytest
from click.testing import CliRunner

from bot.scoring.engine import score_facts_file
from bot.scoring.errors import ScoringInputError
from bot.scoring_cli import score
from tests.scoring.scoring_factories import full_marks_file, write_yaml


def spoil_missing_fact(data):
    del data["facts"]["funds"]["spent"]


def spoil_unknown_indicator(data):
    data["judgments"]["Z999"] = {"1": "met"}


def spoil_unknown_item(data):
    data["judgments"]["A101"]["9"] = "met"


def spoil_deduction(data):
    data["judgments"]["A102"]["3"] = {"status": "partly", "deduction": 0.9, "reason": "too much"}


def spoil_text_number(data):
    data["facts"]["funds"]["budget"] = "二百万"


def spoil_bad_date(data):
    data["facts"]["dates"]["actual_completion"] = "last autumn"


def spoil_missing_judgment(data):
    del data["judgments"]["B203"]["2"]


def spoil_reasonless_partly(data):
    data["judgments"]["D104"]["1"] = {"status": "partly", "deduction": 1}


def spoil_unknown_status(data):
    data["judgments"]["D103"]["1"] = "yes"


def spoil_zero_denominator(data):
    data["facts"]["surveys"]["cadres"]["answered"] = 0


def spoil_negative(data):
    data["facts"]["income"]["annual_return"] = -5


def spoil_rubric(data):
    data["rubric"] = "no-such-rubric"


CASES = [
    (spoil_missing_fact, "facts.funds.spent", "Missing fact: facts.funds.spent"),
    (spoil_unknown_indicator, "judgments.Z999", "unknown indicator"),
    (spoil_unknown_item, "judgments.A101.9", "unknown sub-item"),
    (spoil_deduction, "judgments.A102.3.deduction", "deduction 0.9 is larger than the sub-item's 0.8 points"),
    (spoil_text_number, "facts.funds.budget", "must be a number"),
    (spoil_bad_date, "facts.dates.actual_completion", "must be a date"),
    (spoil_missing_judgment, "judgments.B203.2", "Missing judgment"),
    (spoil_reasonless_partly, "judgments.D104.1.reason", "Missing value"),
    (spoil_unknown_status, "judgments.D103.1.status", "unknown status"),
    (spoil_zero_denominator, "facts.surveys.cadres.answered", "greater than zero"),
    (spoil_negative, "facts.income.annual_return", "must not be negative"),
    (spoil_rubric, "rubric", "unknown rubric"),
]


@pytest.mark.parametrize("spoil, field, words", CASES, ids=[c[0].__name__ for c in CASES])
def test_it_refuses_bad_input_naming_the_field(tmp_path, spoil, field, words):
    data = full_marks_file()
    spoil(data)
    path = write_yaml(tmp_path, data)
    with pytest.raises(ScoringInputError) as caught:
        score_facts_file(path)
    assert caught.value.field == field
    result = CliRunner().invoke(score, ["project", str(path), "--lang", "en"])
    assert result.exit_code == 2
    assert field in result.output and words in result.output


def test_it_refuses_in_chinese_by_default(tmp_path):
    data = full_marks_file()
    spoil_deduction(data)
    result = CliRunner().invoke(score, ["project", str(write_yaml(tmp_path, data))])
    assert result.exit_code == 2
    assert "judgments.A102.3.deduction：扣分 0.9 超过该评分要点的分值 0.8 分" in result.output


def test_it_refuses_a_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("facts: [unclosed", encoding="utf-8")
    result = CliRunner().invoke(score, ["project", str(path), "--lang", "en"])
    assert result.exit_code == 2
    assert str(path) in result.output


def test_it_accepts_a_deduction_equal_to_the_points(tmp_path):
    data = full_marks_file()
    data["judgments"]["A102"]["3"] = {"status": "partly", "deduction": 0.8, "reason": "nothing on file"}
    assert score_facts_file(write_yaml(tmp_path, data)).total == Decimal("99.2")
