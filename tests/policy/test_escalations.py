"""Escalation digests: per township then per county, stopping when everyone is done, readable in size."""

from __future__ import annotations

import dataclasses

from bot.policy import Facts, Recipient, Scope, SeriousProblem, Submission, load, occurrences, plan, render
from tests.policy.county import SHANGHAI, county, local

YANSHAN = load("yanshan-2024")


def _monthly(facts, until):
    occ = [o for o in occurrences(YANSHAN, SHANGHAI, local(2026, 11, 1), local(2026, 11, 30))
           if o.item == "village_monthly_report"]
    return [m for m in plan(YANSHAN, SHANGHAI, occ, facts, until=until) if m.kind == "digest"]


def test_it_climbs_township_then_county_and_stops_when_all_are_in():
    late = _monthly(county(), local(2026, 12, 10))
    assert sorted({(m.step, m.recipient, m.at) for m in late}) == sorted({
        ("escalate-1-township", "u-t1", local(2026, 11, 26, 8)), ("escalate-1-township", "u-t2", local(2026, 11, 26, 8)),
        ("escalate-1-township", "g-t2", local(2026, 11, 26, 8)),   # West Town's WeCom group too
        ("escalate-2-county", "u-c", local(2026, 11, 30, 8)),       # +48 h is Saturday: Monday morning
        ("escalate-2-county-repeat-2", "u-c", local(2026, 12, 2, 8)),  # repeat 1 folded onto Monday
    })
    everyone = tuple(Submission("village_monthly_report", "2026-11", v, local(2026, 11, 27, 15))
                     for v in ("V11", "V12", "V21", "V22"))
    stopped = _monthly(county(everyone), local(2026, 12, 10))
    assert {m.step for m in stopped} == {"escalate-1-township"}  # nothing left for the county


def test_a_digest_lists_at_most_forty_units_and_counts_the_rest():
    villages = tuple(Scope(f"V{i}", "village", f"Village {i}", parent="T1") for i in range(50))
    facts = Facts(scopes=(Scope("C", "county", "C"), Scope("T1", "township", "East", parent="C"), *villages),
                  recipients=(Recipient("u-t1", "Leader", "township_leader", "T1", locale="en"),))
    digest = next(m for m in _monthly(facts, local(2026, 11, 27)) if m.recipient == "u-t1")
    text = render(digest)
    assert text.splitlines()[0].endswith("Still missing (50):")
    assert len(text.splitlines()) == 1 + 40 + 1 and text.splitlines()[-1] == "…and 10 more."


def _acts(problem, until):
    return [(m.step, m.recipient, m.at) for m in plan(YANSHAN, SHANGHAI, [], county(problems=(problem,)), until=until)
            if m.step.startswith("act-")]


def test_act_reminders_pause_while_the_county_decides_a_problem_handed_up():
    # Yanshan: remind to act 72 h after the acknowledgement, twice (Mon 2 Nov 10:00 -> Thu 5th, Sun 8th -> Mon 9th).
    base = SeriousProblem("p1", "V11", "擅自抵押", local(2026, 11, 2, 9), acknowledged_at=local(2026, 11, 2, 10))
    assert _acts(base, local(2026, 11, 30)) == [("act-1", "u-t1", local(2026, 11, 5, 10)),
                                                ("act-2", "u-t1", local(2026, 11, 9, 8))]
    # Handed up on the 4th, decided on the 7th: the first reminder falls while the county decides.
    decided = dataclasses.replace(base, with_county=((local(2026, 11, 4, 9), local(2026, 11, 7, 9)),))
    assert _acts(decided, local(2026, 11, 30)) == [("act-2", "u-t1", local(2026, 11, 9, 8))]
    # Handed up and still undecided: the township is not reminded at all.
    waiting = dataclasses.replace(base, with_county=((local(2026, 11, 4, 9), None),))
    assert _acts(waiting, local(2026, 11, 30)) == []
