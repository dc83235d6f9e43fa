"""四个一批: the suggested class of an operating asset from its recent monthly reports."""

import datetime as dt

import pytest

from bot.scoring.classify import (
    CONSOLIDATE,
    DISPOSE,
    REVITALISE,
    UPGRADE,
    ClassifyPolicy,
    MonthlySummary,
    classify,
)
from bot.scoring.errors import ScoringInputError


def months(n: int, **changes) -> list[MonthlySummary]:
    """Return n healthy monthly summaries ending 2024-06, the last one changed by ``changes``."""
    reports = [MonthlySummary(period=dt.date(2024, 6 - n + 1 + i, 1), year_completed=2019) for i in range(n)]
    reports[-1] = MonthlySummary(**{**reports[-1].__dict__, **changes})
    return reports


def test_it_consolidates_an_asset_running_normally():
    result = classify(months(6))
    assert result.suggested == CONSOLIDATE
    assert result.reasons[0].params == {"months": 6}


@pytest.mark.parametrize("changes", [{"difficulties": ("sales",)}, {"open_serious_problems": 1},
                                     {"operating_normally": False}, {"income_distributed": False},
                                     {"contract_end": dt.date(2024, 11, 28)}])
def test_it_upgrades_an_asset_with_difficulties_or_one_bad_month(changes):
    assert classify(months(6, **changes)).suggested == UPGRADE


@pytest.mark.parametrize("changes", [{"idle_months": 4}, {"idle_risk": True},
                                     {"unauthorised_acts": ("sublease",)}, {"contract_end": dt.date(2024, 5, 31)}])
def test_it_revitalises_an_idle_or_endangered_asset(changes):
    assert classify(months(6, **changes)).suggested == REVITALISE


def test_it_allows_three_months_of_seasonal_idleness():
    assert classify(months(6, idle_months=3)).suggested == CONSOLIDATE


def test_it_revitalises_after_two_abnormal_months_and_keeps_weaker_signals():
    reports = months(6, operating_normally=False, difficulties=("technology",))
    reports[-2] = MonthlySummary(**{**reports[-2].__dict__, "operating_normally": False})
    result = classify(reports)
    assert result.suggested == REVITALISE
    assert result.reasons[0].params == {"count": 2, "months": 6}
    assert any(s.params.get("difficulties") == "technology" for s in result.other_signals)


@pytest.mark.parametrize("changes", [{"year_completed": 2009}, {"disaster_damage": True, "intact": False},
                                     {"idle_months": 12, "intact": False}])
def test_it_suggests_disposal_at_end_of_life_disaster_or_long_idle_ruin(changes):
    assert classify(months(6, **changes)).suggested == DISPOSE


def test_it_reads_only_the_recent_window_in_period_order():
    old_trouble = MonthlySummary(period=dt.date(2023, 1, 1), operating_normally=False)
    reports = list(reversed(months(6))) + [old_trouble, old_trouble]
    assert classify(reports, ClassifyPolicy(window=6)).suggested == CONSOLIDATE


def test_it_refuses_an_empty_history():
    with pytest.raises(ScoringInputError):
        classify([])


def test_it_warns_of_contract_end_only_within_180_days():
    # the latest report is for 2024-06-01: 2024-11-28 is 180 days on, 2024-11-29 is 181
    assert classify(months(6, contract_end=dt.date(2024, 11, 29))).suggested == CONSOLIDATE
