"""Property tests: scores stay within weights, levels add up, rates are monotone, grades match bands."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.scoring.engine import evaluate
from bot.scoring.facts import parse_facts
from bot.scoring.grades import grade_scales
from bot.scoring.rubric import load_rubric, shipped_rubrics
from bot.scoring.rules import Bands, Rate, Sum
from tests.scoring.scoring_factories import PROJECT_FACTS, YEAR_END_FACTS, all_met

amount = st.integers(min_value=0, max_value=5_000_000)
positive = st.integers(min_value=1, max_value=5_000_000)
fraction = st.integers(min_value=0, max_value=1000)


def verdict(points: Decimal):
    """Strategy for one sub-item judgment worth ``points``."""
    deduction = st.integers(min_value=0, max_value=int(points * 100)).map(lambda c: float(Decimal(c) / 100))
    return st.one_of(st.just("met"), st.just("not_met"),
                     deduction.map(lambda d: {"status": "partly", "deduction": d, "reason": "x"}))


@st.composite
def facts_file(draw, rubric_id: str):
    """Draw a valid facts file for ``rubric_id`` with arbitrary numbers, dates and judgments."""
    rubric = load_rubric(rubric_id)
    judgments = {}
    for _, _, third in rubric.leaves():
        parts = [p.rule for p in third.rule.parts] if isinstance(third.rule, Sum) else [third.rule]
        items = [i for rule in parts for i in getattr(rule, "items", ())]
        if items:
            judgments[third.code] = {i.id: draw(verdict(i.points)) for i in items}
    if rubric_id == "project-performance-2021":
        planned = draw(st.dates())
        facts = {
            "funds": {"budget": draw(positive), "in_place": draw(positive), "spent": draw(amount),
                      "poverty_funds": draw(positive)},
            "outputs": {"planned": draw(positive), "actual": draw(positive), "qualified": draw(amount)},
            "dates": {"planned_completion": planned, "actual_completion": draw(st.dates())},
            "amounts": {"approved": draw(positive), "final": draw(amount)},
            "income": {"annual_return": draw(amount)},
            "poor": {"employed": draw(fraction), "households_planned": draw(positive),
                     "households_benefiting": draw(amount)},
            "surveys": {"cadres": {"satisfied": draw(fraction), "answered": draw(positive)},
                        "households": {"satisfied": draw(fraction), "answered": draw(positive)}},
        }
    else:
        facts = {
            "upkeep": {"inspections_done": draw(fraction), "inspections_planned": draw(positive),
                       "funds_in_place": draw(amount), "funds_needed": draw(positive)},
            "income": {"received": draw(amount), "agreed": draw(positive)},
            "surveys": {"villagers": {"satisfied": draw(fraction), "answered": draw(positive)}},
            "complaints": {"upkeep_related": draw(st.integers(0, 5))},
        }
    return rubric, parse_facts({"rubric": rubric_id, "facts": facts, "judgments": judgments})


any_sheet = st.sampled_from(sorted(shipped_rubrics())).flatmap(facts_file)


@settings(max_examples=150, deadline=None)
@given(any_sheet)
def test_it_keeps_every_indicator_between_0_and_its_weight(drawn):
    rubric, facts = drawn
    for row in evaluate(rubric, facts).rows:
        assert Decimal(0) <= row.score <= row.third.weight
        assert row.score == row.score.quantize(Decimal("0.01"))


@settings(max_examples=150, deadline=None)
@given(any_sheet)
def test_it_adds_subtotals_up_to_the_total(drawn):
    rubric, facts = drawn
    sheet = evaluate(rubric, facts)
    for first in rubric.roots:
        assert sheet.subtotals[first.code] == sum(sheet.subtotals[s.code] for s in first.children)
        for second in first.children:
            assert sheet.subtotals[second.code] == sum(r.score for r in sheet.rows if r.second is second)
    assert sheet.total == sum(sheet.subtotals[f.code] for f in rubric.roots)
    assert sheet.grade == rubric.grades.grade(sheet.total)


def rate_rules():
    """Every rate and bands rule of the shipped rubrics, with where it sits."""
    found = []
    for rubric in shipped_rubrics().values():
        for _, _, third in rubric.leaves():
            parts = [p.rule for p in third.rule.parts] if isinstance(third.rule, Sum) else [third.rule]
            found += [(third.code, r) for r in parts if isinstance(r, (Rate, Bands))]
    return found


percent = st.integers(min_value=0, max_value=200).map(Decimal)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(rate_rules()), percent, percent)
def test_it_never_scores_a_rate_lower_when_the_rate_rises(where, low, high):
    _, rule = where
    low, high = sorted((low, high))
    score_low = rule.score_rate(low, 2)[0] if isinstance(rule, Rate) else rule.score_rate(low)[0]
    score_high = rule.score_rate(high, 2)[0] if isinstance(rule, Rate) else rule.score_rate(high)[0]
    assert Decimal(0) <= score_low <= score_high <= rule.points


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(grade_scales())), st.decimals(min_value=0, max_value=100, places=2))
def test_it_grades_any_total_by_its_band(scale_id, total):
    scale = grade_scales()[scale_id]
    grade = scale.grade(total)
    above = [g for g in scale.grades if g.minimum > grade.minimum]
    assert total >= grade.minimum
    assert all(total < g.minimum for g in above)


def test_it_gives_full_marks_when_everything_is_met():
    for rubric_id, facts in (("project-performance-2021", PROJECT_FACTS), ("qinbei-2023-operating", YEAR_END_FACTS),
                             ("qinbei-2023-public-welfare", YEAR_END_FACTS)):
        sheet = evaluate(load_rubric(rubric_id), parse_facts({"rubric": rubric_id, "facts": facts,
                                                              "judgments": all_met(rubric_id)}))
        assert sheet.total == 100
