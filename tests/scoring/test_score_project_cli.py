"""A complete worked evaluation of docs/examples/score-project-example.yaml, end to end through the CLI.

Hand calculation from the rubric of seed 001 (rates rounded to whole percent first, scores to 0.01):

A 决策 15
  A101  all five ① – ⑤ met                                      2.00
  A102  ③ partly, −0.3 of 0.8                                   2 − 0.3 = 1.70
  A201  ⑥ partly, −0.5 of 1                                     4 − 0.5 = 3.50
  A202  ② not met, −0.8                                         4 − 0.8 = 3.20
  A301  2.00, A302 1.00
  A1 = 3.70, A2 = 6.70, A3 = 3.00                              A = 13.40
B 过程 25
  B101  2,000,000 / 2,000,000 = 100 %                           2.00
  B102  1,930,000 / 2,000,000 = 96.5 % → 97 % ≥ 97 %            1.00  (reached only by rounding)
  B103  2.00; B104 ⑤ not met −1                                 5.00
  B201  2.00; B202 ⑦ not met −0.4 → 3.60; B203 ② partly −0.5 → 3.50; B204 4.00
  B1 = 10.00, B2 = 13.10                                       B = 23.10
C 产出 25
  C101  48 / 50 = 96 % → 0.96 × 6                               5.76
  C201  47 / 48 = 97.92 % → 98 % → 0.98 × 7                      6.86
  C301  2021-10-25 ≤ 2021-10-31                                 5.00
  C401  1,930,000 ≤ 1,950,000 (saving rate −1.03 %)             7.00
                                                               C = 24.62
D 效益 35
  D101  36 ÷ (2,000,000 ÷ 50,000 = 40) = 90 % → 0.9 × 5 = 4.50; 120 / 120 = 100 % → 5    9.50
  D102  148,000 / 2,000,000 = 7.4 % → 7 %: 5–8 % band → 3; ② met 2; ③ partly −1 → 2     7.00
  D103  2.00; D104 partly −0.5 → 2.50
  D105  cadres 19 / 20 = 95 % → 3; households 187 / 200 = 93.5 % → 94 % → 3.5           6.50
                                                               D = 27.50
Total 13.40 + 23.10 + 24.62 + 27.50 = 88.62 → 良 (80 ≤ 88.62 < 90)
"""

import json
from decimal import Decimal

from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from bot.scoring_cli import score
from tests.scoring.scoring_factories import EXAMPLE

HAND = {
    "A101": "2.00", "A102": "1.70", "A201": "3.50", "A202": "3.20", "A301": "2.00", "A302": "1.00",
    "B101": "2.00", "B102": "1.00", "B103": "2.00", "B104": "5.00", "B201": "2.00", "B202": "3.60",
    "B203": "3.50", "B204": "4.00", "C101": "5.76", "C201": "6.86", "C301": "5.00", "C401": "7.00",
    "D101": "9.50", "D102": "7.00", "D103": "2.00", "D104": "2.50", "D105": "6.50",
}
SUBTOTALS = {"A": "13.40", "A1": "3.70", "A2": "6.70", "A3": "3.00", "B": "23.10", "B1": "10.00", "B2": "13.10",
             "C": "24.62", "D": "27.50", "D1": "27.50"}


def run(*args: str):
    return CliRunner().invoke(score, ["project", str(EXAMPLE), *args])


def test_it_scores_the_worked_example_as_calculated_by_hand():
    result = run("--json")
    assert result.exit_code == 0, result.output
    sheet = json.loads(result.output)
    assert {row["code"]: row["score"] for row in sheet["indicators"]} == HAND
    assert {k: v for k, v in sheet["subtotals"].items() if k in SUBTOTALS} == SUBTOTALS
    assert sheet["total"] == "88.62"
    assert sheet["grade"]["published"] == "良"


def test_it_explains_every_point_in_the_trace():
    sheet = json.loads(run("--json", "--lang", "en").output)
    b102 = next(row for row in sheet["indicators"] if row["code"] == "B102")
    texts = [step["text"] for step in b102["trace"]]
    assert texts == ["Budget execution rate = 1930000 ÷ 2000000 × 100% = 96.5%, rounded to 97%.",
                     "97% reaches the threshold of 97%: full marks, 1 points."]
    a102 = next(row for row in sheet["indicators"] if row["code"] == "A102")
    assert a102["trace"][2]["msgid"] == "{item}: partly met, {deduction} of {points} points deducted: {reason}"
    assert a102["trace"][2]["params"]["reason"] == "未见专家论证意见"


def test_it_prints_the_published_layout_in_chinese_by_default():
    result = run()
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [c.strip() for c in lines[1].split("|")] == ["一级指标", "二级指标", "三级指标", "分值", "得分", "评分过程"]
    assert any(line.startswith("合计") and "88.62" in line for line in lines)
    assert lines[-1].split("|")[4].strip() == "良"
    assert "预算执行率＝1930000÷2000000×100%＝96.5%，取整为97%。" in result.output


def test_it_writes_an_xlsx_that_another_reader_reads_back(tmp_path):
    out = tmp_path / "sheet.xlsx"
    assert run("-o", str(out), "--lang", "zh_CN").exit_code == 0
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    assert rows[1] == ["一级指标", "二级指标", "三级指标", "分值", "得分", "评分过程"]
    indicators = {r[2].split()[0]: r for r in rows[2:] if r[2]}
    assert {code: f"{r[4]:.2f}" for code, r in indicators.items()} == HAND
    assert Decimal(str(sum(r[3] for r in indicators.values()))) == 100
    total = next(r for r in rows if r[0] == "合计")
    assert (total[3], total[4]) == (100, 88.62)
    assert next(r for r in rows if r[0] == "等次")[4] == "良"
    subtotal_a = next(r for r in rows if r[0].startswith("A 决策") and "小计" in r[0])
    assert subtotal_a[4] == 13.4
    assert "部分符合" in indicators["A102"][5]
