"""Compliance scores per village and township, per month and year, rolled up to the county."""

import datetime as dt
from decimal import Decimal

import pytest

from bot.scoring.compliance import ProblemRecord, ReportRecord, score_compliance
from bot.scoring.errors import ScoringInputError

DUE = dt.date(2024, 5, 25)
AS_OF = dt.date(2024, 7, 1)


def report(village="甲村", township="一镇", period="2024-05", submitted=DUE, complete=True, photos=True):
    return ReportRecord(township, village, period, dt.date.fromisoformat(period + "-25"), submitted, complete, photos)


def test_it_gives_100_to_a_village_that_did_everything():
    [score] = score_compliance([report()], [ProblemRecord("一镇", "甲村", DUE, DUE)], level="village",
                               period="2024-05", as_of=AS_OF)
    assert (score.scope, score.score) == ("一镇/甲村", Decimal(100))


def test_it_weighs_each_part_of_a_village_month():
    reports = [report(submitted=DUE + dt.timedelta(days=1)), report(complete=False), report(photos=False),
               report(submitted=None)]
    problems = [ProblemRecord("一镇", "甲村", DUE, None), ProblemRecord("一镇", "甲村", DUE, DUE)]
    [score] = score_compliance(reports, problems, level="village", period="2024-05", as_of=AS_OF)
    # on time 2/4 = 50 % × 30 = 15; complete 2/4 × 25 = 12.5; evidence 2/4 × 25 = 12.5; problems 1/2 × 20 = 10
    assert score.rates == {"on_time": 50, "complete": 50, "evidence": 50, "problems": 50}
    assert score.score == Decimal("50")


def test_it_does_not_count_an_open_problem_before_its_deadline():
    problem = ProblemRecord("一镇", "甲村", dt.date(2024, 5, 30), None)
    [score] = score_compliance([report()], [problem], level="village", period="2024-05", as_of=dt.date(2024, 5, 26))
    assert score.counts["problems_due"] == 0 and score.score == 100


def test_it_rolls_villages_up_to_townships_and_the_county_by_pooled_counts():
    reports = [report(), report(village="乙村", submitted=None), report(village="丙村", township="二镇")]
    by_township = score_compliance(reports, [], level="township", period="2024", as_of=AS_OF)
    assert [(s.scope, s.rates["on_time"]) for s in by_township] == [("一镇", 50), ("二镇", 100)]
    [county] = score_compliance(reports, [], level="county", period="2024", as_of=AS_OF)
    # pooled: 2 of 3 reports on time → 67 %, not the mean of the townships' 50 % and 100 %
    assert county.rates["on_time"] == 67


def test_it_keeps_a_year_to_its_own_months():
    reports = [report(), report(period="2023-12", submitted=None)]
    [score] = score_compliance(reports, [], level="village", period="2024", as_of=AS_OF)
    assert score.expected == 1


def test_it_refuses_an_unknown_level():
    with pytest.raises(ScoringInputError) as caught:
        score_compliance([], [], level="province", period="2024", as_of=AS_OF)
    assert caught.value.field == "level"
