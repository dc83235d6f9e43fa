"""Reminders go out D-5 and D-1 at 09:00 local to those not yet done, never in quiet time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from bot.policy import Submission, load, occurrences, plan, render
from tests.policy.county import SHANGHAI, county, local

YANSHAN = load("yanshan-2024")


def _reminders(profile, month_start, month_end, facts, tz=SHANGHAI, until=None):
    occ = [o for o in occurrences(profile, tz, month_start, month_end) if o.item == "village_monthly_report"]
    msgs = plan(profile, tz, occ, facts, until=until or month_end)
    return [m for m in msgs if m.kind == "reminder"]


def test_it_reminds_each_village_cadre_at_d5_and_d1_nine_oclock():
    # November 2026: due Wed 25th; D-5 is Fri 20th, D-1 is Tue 24th.
    msgs = _reminders(YANSHAN, local(2026, 11, 1), local(2026, 11, 26), county())
    assert sorted((m.recipient, m.step, m.at) for m in msgs) == sorted(
        (f"u-v{v}", step, local(2026, 11, day, 9))
        for v in (11, 12, 21, 22) for step, day in (("remind-d5", 20), ("remind-d1", 24)))
    assert all(m.role == "village_cadre" and m.channel == "telegram" and not m.urgent for m in msgs)
    assert msgs[0].actions == ("open",)
    assert "2026-11-25 23:59" in render(msgs[0], "en")
    assert "2026-11-25 23:59" in render(msgs[0], "zh_CN") and "提醒" in render(msgs[0], "zh_CN")


def test_it_stops_reminding_once_the_report_is_in():
    facts = county((Submission("village_monthly_report", "2026-11", "V11", local(2026, 11, 21, 15)),))
    msgs = _reminders(YANSHAN, local(2026, 11, 1), local(2026, 11, 26), facts)
    oak = [m.step for m in msgs if m.recipient == "u-v11"]
    assert oak == ["remind-d5"]
    assert len([m for m in msgs if m.step == "remind-d1"]) == 3


def test_it_moves_a_weekend_reminder_to_the_working_day_before_a_deadline():
    # July 2026: due Sat 25th; D-1 is Fri 24th (fine); D-5 is Mon 20th.
    # October 2026: due Sun 25th; D-1 is Sat 24th -> Fri 23rd 09:00; D-5 is Tue 20th.
    msgs = _reminders(YANSHAN, local(2026, 10, 1), local(2026, 10, 26), county())
    oak = {m.step: m.at for m in msgs if m.recipient == "u-v11"}
    assert oak == {"remind-d5": local(2026, 10, 20, 9), "remind-d1": local(2026, 10, 23, 9)}


def test_it_moves_a_weekend_reminder_forward_when_the_deadline_is_later():
    # April 2026: due Sat 25th... D-5 is Mon 20th. December 2026: due Fri 25th, D-5 Sun 20th -> Mon 21st 08:00.
    msgs = _reminders(YANSHAN, local(2026, 12, 1), local(2026, 12, 26), county())
    oak = {m.step: m.at for m in msgs if m.recipient == "u-v11"}
    assert oak == {"remind-d5": local(2026, 12, 21, 8), "remind-d1": local(2026, 12, 24, 9)}


def test_it_skips_holidays_and_honours_make_up_working_days():
    holidays = frozenset(dt.date(2026, 11, d) for d in (20, 23, 24))
    working = dataclasses.replace(YANSHAN.working_days, holidays=holidays,
                                  extra_workdays=frozenset({dt.date(2026, 11, 22)}))  # a Sunday worked
    profile = dataclasses.replace(YANSHAN, working_days=working)
    msgs = _reminders(profile, local(2026, 11, 1), local(2026, 11, 26), county())
    oak = {m.step: m.at for m in msgs if m.recipient == "u-v11"}
    # D-5 Fri 20th (holiday) -> Sat, Sun 22nd is a working day at 08:00; D-1 Tue 24th (holiday) -> Wed 25th 08:00.
    assert oak == {"remind-d5": local(2026, 11, 22, 8), "remind-d1": local(2026, 11, 25, 8)}


def test_it_keeps_one_reminder_when_days_off_fold_two_onto_one_slot():
    holidays = frozenset(dt.date(2026, 11, d) for d in range(17, 25))
    profile = dataclasses.replace(YANSHAN, working_days=dataclasses.replace(YANSHAN.working_days, holidays=holidays))
    msgs = _reminders(profile, local(2026, 11, 1), local(2026, 11, 26), county())
    oak = [(m.step, m.at) for m in msgs if m.recipient == "u-v11"]
    assert oak == [("remind-d1", local(2026, 11, 16, 9))]


def test_it_reminds_signers_and_the_posting_window_for_qinbei():
    profile = load("qinbei-2023")
    occ = [o for o in occurrences(profile, SHANGHAI, local(2026, 12, 1), local(2026, 12, 31))
           if o.item == "village_self_evaluation"]
    msgs = [m for m in plan(profile, SHANGHAI, occ, county(), until=local(2026, 12, 11)) if m.kind == "reminder"]
    oak = sorted((m.at, m.step, m.recipient) for m in msgs if m.scope == "V11")
    assert oak == [
        (local(2026, 11, 25, 9), "posting-d5", "s-v11"), (local(2026, 11, 25, 9), "posting-d5", "u-v11"),
        (local(2026, 11, 30, 8), "posting-d1", "s-v11"), (local(2026, 11, 30, 8), "posting-d1", "u-v11"),
        (local(2026, 12, 7, 8), "remind-d5", "s-v11"), (local(2026, 12, 7, 8), "remind-d5", "u-v11"),
        (local(2026, 12, 9, 9), "remind-d1", "s-v11"), (local(2026, 12, 9, 9), "remind-d1", "u-v11"),
    ]
    posting = next(m for m in msgs if m.step == "posting-d5")
    assert "10" in render(posting, "en") and "2026-11-30" in render(posting, "en")


def test_it_reminds_at_nine_local_in_a_zone_with_daylight_saving():
    berlin = ZoneInfo("Europe/Berlin")
    utc = dt.UTC
    march = _reminders(YANSHAN, local(2026, 3, 1, tz=berlin), local(2026, 3, 26, tz=berlin), county(), tz=berlin)
    april = _reminders(YANSHAN, local(2026, 4, 1, tz=berlin), local(2026, 4, 26, tz=berlin), county(), tz=berlin)
    first = lambda msgs: min(m.at for m in msgs)  # noqa: E731
    assert first(march) == dt.datetime(2026, 3, 20, 8, 0, tzinfo=utc)   # 09:00 CET
    assert first(april) == dt.datetime(2026, 4, 20, 7, 0, tzinfo=utc)   # 09:00 CEST
