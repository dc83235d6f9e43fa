"""Boundary tests at every threshold of the shipped rubrics, including ones reached only by rounding."""

import datetime as dt
from decimal import Decimal

import pytest

from bot.scoring.engine import evaluate
from bot.scoring.facts import parse_facts
from bot.scoring.grades import grade_scale
from bot.scoring.rubric import load_rubric
from tests.scoring.scoring_factories import full_marks_file


def score_of(code: str, data: dict, rubric_id: str = "project-performance-2021") -> Decimal:
    """Score a facts mapping and return one indicator's score."""
    sheet = evaluate(load_rubric(rubric_id), parse_facts(data))
    return next(row.score for row in sheet.rows if row.third.code == code)


def with_fact(section: str, key: str, value, *, sub: str | None = None, data: dict | None = None) -> dict:
    """Return a full-marks file with one fact changed."""
    data = data or full_marks_file()
    target = data["facts"][section]
    target = target[sub] if sub else target
    target[key] = value
    return data


# B102: spent / in_place (1,000,000); ≥ 97 % → 1 point, below → rate × 1.
@pytest.mark.parametrize("spent, expected", [
    (970_000, "1"),       # exactly 97 %
    (965_000, "1"),       # 96.5 % rounds half-up to 97 %
    (964_999, "0.96"),    # 96.4999 % rounds to 96 % → 0.96 × 1
    (960_000, "0.96"),
    (1_000_000, "1"),
    (0, "0"),
])
def test_it_gives_budget_execution_full_marks_from_97_percent_after_rounding(spent, expected):
    assert score_of("B102", with_fact("funds", "spent", spent)) == Decimal(expected)


# B101: in_place / budget; 100 % → 2, below → rate × 2 (our reading).
@pytest.mark.parametrize("in_place, expected", [(1_000_000, "2"), (995_000, "2"), (994_999, "1.98"),
                                                (500_000, "1"), (1_200_000, "2")])
def test_it_scores_funds_in_place_against_100_percent(in_place, expected):
    assert score_of("B101", with_fact("funds", "in_place", in_place)) == Decimal(expected)


# C101: actual / planned 10; proportional below 100 %, capped above.
@pytest.mark.parametrize("actual, expected", [(10, "6"), (12, "6"), (9, "5.4"), (1, "0.6")])
def test_it_scores_completion_rate_proportionally_and_caps_it(actual, expected):
    data = with_fact("outputs", "actual", actual)
    data["facts"]["outputs"]["qualified"] = actual
    assert score_of("C101", data) == Decimal(expected)


# C201: qualified / actual (200); 99.5 % rounds to 100 % → 7; 99.4 % → 99 % × 7 = 6.93.
@pytest.mark.parametrize("qualified, expected", [(200, "7"), (199, "7"), (198, "6.93")])
def test_it_scores_quality_pass_rate_after_rounding(qualified, expected):
    data = with_fact("outputs", "actual", 200)
    data["facts"]["outputs"]["planned"] = 200
    data["facts"]["outputs"]["qualified"] = qualified
    assert score_of("C201", data) == Decimal(expected)


# D102 ①: annual return / poverty funds (1,000,000): ≥ 8 % → 5, 5–8 % → 3, < 5 % → 0; rates rounded first.
@pytest.mark.parametrize("annual_return, expected", [
    (80_000, "10"),   # 8 %
    (75_000, "10"),   # 7.5 % → 8 %
    (74_999, "8"),    # 7.4999 % → 7 %
    (50_000, "8"),    # 5 %
    (45_000, "8"),    # 4.5 % → 5 %
    (44_999, "5"),    # 4.4999 % → 4 %
    (0, "5"),
])
def test_it_bands_return_on_poverty_funds_at_8_and_5_percent(annual_return, expected):
    # the two judged sub-items (2 + 3 points) are met, so D102 = band points + 5
    assert score_of("D102", with_fact("income", "annual_return", annual_return)) == Decimal(expected)


# D105: cadres (3 / 1.5 / 0) and households (7 / 3.5 / 0) at 95 % and 90 %, out of 1000 answers.
@pytest.mark.parametrize("satisfied, cadres, households", [
    (1000, "3", "7"), (950, "3", "7"), (945, "3", "7"), (944, "1.5", "3.5"),
    (900, "1.5", "3.5"), (895, "1.5", "3.5"), (894, "0", "0"), (0, "0", "0"),
])
def test_it_bands_survey_satisfaction_at_95_and_90_percent(satisfied, cadres, households):
    data = full_marks_file()
    data["facts"]["surveys"]["cadres"] = {"satisfied": satisfied, "answered": 1000}
    assert score_of("D105", data) == Decimal(cadres) + 7
    data = full_marks_file()
    data["facts"]["surveys"]["households"] = {"satisfied": satisfied, "answered": 1000}
    assert score_of("D105", data) == Decimal(households) + 3


@pytest.mark.parametrize("actual, expected", [(dt.date(2021, 10, 30), "5"), (dt.date(2021, 10, 31), "5"),
                                              (dt.date(2021, 11, 1), "0")])
def test_it_gives_timeliness_full_marks_on_or_before_the_planned_date(actual, expected):
    assert score_of("C301", with_fact("dates", "actual_completion", actual)) == Decimal(expected)


@pytest.mark.parametrize("final, expected", [(899_999, "7"), (900_000, "7"), (900_001, "0")])
def test_it_gives_cost_saving_full_marks_only_when_final_does_not_exceed_approved(final, expected):
    assert score_of("C401", with_fact("amounts", "final", final)) == Decimal(expected)


# D101 ①: one poor person employed per 50,000 yuan: 1,000,000 yuan → 20 people for full marks.
@pytest.mark.parametrize("employed, expected", [(20, "10"), (21, "10"), (19, "9.75"), (0, "5")])
def test_it_measures_employment_against_one_person_per_50000_yuan(employed, expected):
    assert score_of("D101", with_fact("poor", "employed", employed)) == Decimal(expected)


@pytest.mark.parametrize("satisfied, expected", [(100, "15"), (95, "15"), (94, "7.5"), (90, "7.5"), (89, "0")])
def test_it_bands_villagers_satisfaction_in_the_year_end_rubric(satisfied, expected):
    data = full_marks_file("qinbei-2023-public-welfare")
    data["facts"]["surveys"]["villagers"] = {"satisfied": satisfied, "answered": 100}
    assert score_of("D101", data, "qinbei-2023-public-welfare") == Decimal(expected)


def test_it_takes_the_complaints_points_away_for_a_single_complaint():
    data = full_marks_file("qinbei-2023-operating")
    assert score_of("D102", data, "qinbei-2023-operating") == 10
    data["facts"]["complaints"]["upkeep_related"] = 1
    assert score_of("D102", data, "qinbei-2023-operating") == 0


@pytest.mark.parametrize("total, grade", [
    ("100", "优"), ("90", "优"), ("89.99", "良"), ("80", "良"), ("79.99", "中"), ("60", "中"),
    ("59.99", "差"), ("0", "差")])
def test_it_grades_performance_totals_at_90_80_60(total, grade):
    assert grade_scale("mof-2020").grade(Decimal(total)).published == grade


@pytest.mark.parametrize("total, grade", [
    ("100", "好"), ("90", "好"), ("89.99", "较好"), ("80", "较好"), ("79.99", "一般"), ("70", "一般"),
    ("69.99", "较差"), ("0", "较差")])
def test_it_grades_year_end_totals_at_90_80_70(total, grade):
    assert grade_scale("qinbei-2023").grade(Decimal(total)).published == grade


def test_it_grades_a_sheet_that_only_reaches_90_by_a_rounded_rate():
    # Full marks (100) minus B104 (6) and B201 ① (1) = 93; households' satisfaction at 94.5 % rounds to 95 %
    # (7 points kept); 94.4 % would round to 94 % → 3.5, total 89.5 → 良.
    data = full_marks_file()
    data["judgments"]["B104"] = {str(i): "not_met" for i in range(1, 7)}
    data["judgments"]["B201"]["1"] = "not_met"
    data["facts"]["surveys"]["households"] = {"satisfied": 945, "answered": 1000}
    sheet = evaluate(load_rubric("project-performance-2021"), parse_facts(data))
    assert (sheet.total, sheet.grade.published) == (Decimal(93), "优")
    data["facts"]["surveys"]["households"] = {"satisfied": 944, "answered": 1000}
    sheet = evaluate(load_rubric("project-performance-2021"), parse_facts(data))
    assert (sheet.total, sheet.grade.published) == (Decimal("89.5"), "良")
