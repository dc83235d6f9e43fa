"""Due items expand into dated occurrences computed on the county's wall clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.policy import load, occurrences
from tests.policy.county import SHANGHAI, local

YEAR = (local(2026, 1, 1), local(2027, 1, 1))


def _table(name: str, tz=SHANGHAI) -> dict[str, str]:
    found = occurrences(load(name), tz, local(2026, 1, 1, tz=tz), local(2027, 1, 1, tz=tz))
    return {o.subject: o.due_at.astimezone(tz).strftime("%m-%d %H:%M") for o in found}


def test_it_lists_yanshan_monthly_quarterly_and_half_yearly_dues():
    table = _table("yanshan-2024")
    assert [table[f"village_monthly_report/2026-{m:02d}"] for m in (1, 2, 11)] == \
        ["01-25 23:59", "02-25 23:59", "11-25 23:59"]
    assert [table[f"township_inspection/2026-Q{q}"] for q in (1, 2, 3, 4)] == \
        ["03-31 23:59", "06-30 23:59", "09-30 23:59", "12-31 23:59"]
    assert table["department_supervision/2026-H1"] == table["county_half_year_report/2026-H1"] == "06-30 23:59"
    assert table["county_half_year_report/2026-H2"] == "12-31 23:59"
    # 第六条: the township studies and classifies the villages' reports within the month (issue 16).
    assert table["township_study/2026-02"] == table["township_classification/2026-02"] == "02-28 23:59"
    assert len(table) == 12 + 12 + 12 + 4 + 2 + 2


def test_it_dates_jiaozuo_reports_on_the_previous_quarter():
    table = _table("jiaozuo-2020")
    assert table["quarterly_monitoring/2025-Q4"] == "01-15 23:59"
    assert table["benefit_self_evaluation/2026-Q1"] == "04-15 23:59"
    assert table["quarterly_monitoring/2026-Q2"] == "07-15 23:59"
    assert table["quarterly_monitoring/2026-Q3"] == "10-15 23:59"
    assert "quarterly_monitoring/2026-Q4" not in table  # due in January 2027


def test_it_dates_the_qinbei_yearly_cycle():
    table = _table("qinbei-2023")
    assert table == {
        "department_targets/2026": "01-25 23:59", "targets_issued/2026": "01-31 23:59",
        "midyear_self_check/2026": "06-30 23:59", "village_self_evaluation/2026": "12-10 23:59",
        "township_review/2026": "12-20 23:59", "county_grading/2026": "12-31 23:59",
    }


def test_it_carries_role_level_signers_and_posting_window():
    found = {o.item: o for o in occurrences(load("qinbei-2023"), SHANGHAI, *YEAR)}
    evaluation = found["village_self_evaluation"]
    assert (evaluation.role, evaluation.level, evaluation.signed_by) == \
        ("village_cadre", "village", ("village_supervisor",))
    assert evaluation.posting_by == local(2026, 11, 30, 23, 59)
    assert found["department_targets"].level == "department"
    assert found["county_grading"].level == "county"


def test_it_returns_aware_utc_and_respects_the_range_ends():
    found = occurrences(load("yanshan-2024"), SHANGHAI, local(2026, 3, 25, 23, 59), local(2026, 4, 25, 23, 59))
    assert [o.subject for o in found] == ["village_monthly_report/2026-03", "township_classification/2026-03",
                                          "township_inspection/2026-Q1", "township_study/2026-03"]
    assert all(o.due_at.utcoffset() == dt.timedelta(0) for o in found)
    assert found[0].due_at == dt.datetime(2026, 3, 25, 15, 59, tzinfo=dt.UTC)


def test_it_computes_due_times_on_local_time_across_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")  # summer time from 2026-03-29
    found = occurrences(load("yanshan-2024"), berlin, local(2026, 3, 1, tz=berlin), local(2026, 5, 1, tz=berlin))
    by_subject = {o.subject: o.due_at for o in found}
    utc = dt.UTC
    assert by_subject["village_monthly_report/2026-03"] == dt.datetime(2026, 3, 25, 22, 59, tzinfo=utc)
    assert by_subject["village_monthly_report/2026-04"] == dt.datetime(2026, 4, 25, 21, 59, tzinfo=utc)
