"""Issue 16, item 10: scoring expresses how evaluators score.

The evaluation in data/evaluation-as-published.yaml is written the way published reports are. Its authors'
sheet (seed 001 rubric; rates rounded to whole percent first, scores to 0.01):

A 决策 15
  A101  all met                                                   2.00
  A102  ③ −0.4 未见专家论证意见                                     1.60
  A201  ⑥ −0.5 未明确贫困人口收入增加目标                            3.50
  A202  all met                                                   4.00
  A301  the report's deduction for the whole indicator −0.5        1.50
  A302  all met                                                   1.00      A = 13.60
B 过程 25
  B101  1,500,000 / 1,500,000 = 100 %                              2.00
  B102  1,380,000 / 1,500,000 = 92 % < 97 % → 0.92 × 1              0.92
  B103  2.00; B104 ③⑤ not met −2 → 4.00                                       B1 = 8.92
  B201  2.00; B202 ⑥ −0.4 ⑦ −0.2 → 3.40; B203 ② −1 → 3.00; B204 ② −2 → 2.00   B2 = 10.40
                                                                            B = 19.32
C 产出 25
  C101  30 / 30 → 6.00; C201 the report's deduction −1 (not the formula) → 6.00
  C301  2021-11-15 after 2021-09-30 → 0.00; C401 1,380,000 ≤ 1,450,000 → 7.00  C = 19.00
D 效益 35
  D101  ① 24 ÷ (1,500,000 ÷ 50,000 = 30) = 80 % → 0.8 × 5 = 4.00; ② finding −2.5 → 2.50   6.50
  D102  ① return unknown (收益是否支付不清楚) → 0 as the rubric says; ② 2; ③ −1 → 2          4.00
  D103  2.00; D104 −1 → 2.00
  D105  cadres 18 / 20 = 90 % → 1.5; households 143 / 150 = 95.33 % → 95 % → 7           8.50
                                                                            D = 23.00
Total 13.60 + 19.32 + 19.00 + 23.00 = 74.92 → 中 (60 ≤ 74.92 < 80)
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.scoring.engine import evaluate, score_facts_file
from bot.scoring.errors import ScoringInputError
from bot.scoring.facts import parse_facts
from bot.scoring.rubric import build_rubric, load_rubric
from bot.scoring_cli import score
from tests.scoring.scoring_factories import full_marks_file

CASE = Path(__file__).resolve().parent / "data" / "evaluation-as-published.yaml"
AUTHORS = {
    "A101": "2.00", "A102": "1.60", "A201": "3.50", "A202": "4.00", "A301": "1.50", "A302": "1.00",
    "B101": "2.00", "B102": "0.92", "B103": "2.00", "B104": "4.00", "B201": "2.00", "B202": "3.40",
    "B203": "3.00", "B204": "2.00", "C101": "6.00", "C201": "6.00", "C301": "0.00", "C401": "7.00",
    "D101": "6.50", "D102": "4.00", "D103": "2.00", "D104": "2.00", "D105": "8.50",
}
SUBTOTALS = {"A": "13.60", "A1": "3.60", "A2": "7.50", "A3": "2.50", "B": "19.32", "B1": "8.92", "B2": "10.40",
             "C": "19.00", "C1": "6.00", "C2": "6.00", "C3": "0.00", "C4": "7.00", "D": "23.00", "D1": "23.00"}


def case() -> dict:
    return yaml.safe_load(CASE.read_text(encoding="utf-8"))


def test_it_scores_the_evaluation_exactly_as_its_authors_did():
    sheet = score_facts_file(CASE)
    assert {row.third.code: format(row.score, ".2f") for row in sheet.rows} == AUTHORS
    assert {code: format(value, ".2f") for code, value in sheet.subtotals.items()} == SUBTOTALS
    assert sheet.total == Decimal("74.92")
    assert sheet.grade.published == "中"


def test_the_command_line_shows_each_deduction_with_its_reason_and_the_unknown_fact():
    result = CliRunner().invoke(score, ["project", str(CASE), "--json", "--lang", "zh_CN"])
    assert result.exit_code == 0, result.output
    sheet = json.loads(result.output)
    assert sheet["total"] == "74.92" and sheet["grade"]["published"] == "中"
    traces = {row["code"]: " ".join(step["text"] for step in row["trace"]) for row in sheet["indicators"]}
    assert "未提供贫困户人员信息，扣2.5分" in traces["D101"] and "5分中扣2.5分" in traces["D101"]
    assert "facts.income.annual_return不清楚" in traces["D102"]
    assert "1座大棚未见验收合格资料" in traces["C201"] and "×" not in traces["C201"]
    assert "预算测算依据不充分" in traces["A301"]
    text = CliRunner().invoke(score, ["project", str(CASE), "--lang", "zh_CN"])
    assert text.exit_code == 0 and "74.92" in text.output and "中" in text.output


def test_the_spreadsheet_carries_the_authors_scores_and_reasons(tmp_path):
    from python_calamine import CalamineWorkbook

    out = tmp_path / "sheet.xlsx"
    result = CliRunner().invoke(score, ["project", str(CASE), "-o", str(out), "--lang", "zh_CN"])
    assert result.exit_code == 0, result.output
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    by_code = {str(r[2]).split(" ")[0]: r for r in rows if r[2]}
    assert {code: f"{float(by_code[code][4]):.2f}" for code in AUTHORS} == AUTHORS
    assert "未提供贫困户人员信息，扣2.5分" in by_code["D101"][5]
    assert any(r[0] == "合计" and float(r[4]) == 74.92 for r in rows)


def test_a_sub_item_without_a_published_formula_has_none():
    # D101 ② "带动贫困户受益情况（5分）": no facts are read for it; without a finding it keeps its 5 points
    data = case()
    del data["judgments"]["D101"]
    data["facts"]["poor"] = {"employed": 24}   # no households planned/benefiting anywhere
    sheet = evaluate(load_rubric("project-performance-2021"), parse_facts(data))
    d101 = next(r for r in sheet.rows if r.third.code == "D101")
    assert d101.score == Decimal("9.00")
    rule = load_rubric("project-performance-2021").indicator("D101").rule
    benefit = next(p for p in rule.parts if p.id == "benefit")
    assert type(benefit.rule).__name__ == "Finding"


def test_any_part_may_be_scored_by_the_evaluators_deduction_instead_of_its_formula():
    data = case()
    data["judgments"]["D105"] = {"households": {"deduction": 3.5, "reason": "问卷样本不足"}}
    data["facts"]["surveys"]["households"] = "unknown"   # not read: the deduction stands in for the formula
    sheet = evaluate(load_rubric("project-performance-2021"), parse_facts(data))
    assert next(r for r in sheet.rows if r.third.code == "D105").score == Decimal("5.00")


def test_an_unknown_fact_stops_the_sheet_where_the_rubric_does_not_say_what_it_scores():
    data = full_marks_file("qinbei-2023-operating")
    data["facts"]["income"]["received"] = "unknown"
    with pytest.raises(ScoringInputError) as caught:
        evaluate(load_rubric("qinbei-2023-operating"), parse_facts(data))
    assert caught.value.field == "facts.income.received"
    assert "does not say what an unknown fact scores" in caught.value.message("en")


def test_an_indicator_may_say_what_unknown_scores():
    spec = yaml.safe_load((Path(load_rubric.__code__.co_filename).parent / "rubrics"
                           / "project-performance-2021.yaml").read_text(encoding="utf-8"))
    spec = copy.deepcopy(spec)
    spec["id"] = "unknown-test"
    c301 = spec["indicators"][2]["children"][2]["children"][0]
    assert c301["code"] == "C301"
    c301["unknown"] = 2.5
    rubric = build_rubric(spec)
    data = case()
    data["facts"]["dates"]["actual_completion"] = "unknown"
    sheet = evaluate(rubric, parse_facts(data))
    assert next(r for r in sheet.rows if r.third.code == "C301").score == Decimal("2.50")


@pytest.mark.parametrize("judgment, field, words", [
    ({"deduction": 0.5}, "judgments.A301.reason", "Missing value"),
    ({"deduction": 3, "reason": "太多"}, "judgments.A301.deduction", "larger than the sub-item's 2 points"),
    ({"deduction": 0.5, "reason": "x", "1": "met"}, "judgments.A301.1", "takes no other judgments"),
])
def test_a_deduction_in_place_of_the_formula_needs_its_reason_and_fits_the_points(judgment, field, words):
    data = case()
    data["judgments"]["A301"] = judgment
    with pytest.raises(ScoringInputError) as caught:
        evaluate(load_rubric("project-performance-2021"), parse_facts(data))
    assert caught.value.field == field and words in caught.value.message("en")


def test_a_checklist_item_may_be_unknown_and_scores_what_the_rubric_says():
    data = case()
    data["judgments"]["B203"] = {"1": "met", "2": {"status": "unknown", "reason": "收益是否支付不清楚"}}
    sheet = evaluate(load_rubric("project-performance-2021"), parse_facts(data))
    assert next(r for r in sheet.rows if r.third.code == "B203").score == Decimal("2.00")
