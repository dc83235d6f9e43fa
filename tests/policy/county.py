"""A small synthetic county for the policy tests: 2 townships × 2 villages, a department, people."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.policy import Facts, Recipient, Scope, SeriousProblem, Submission

SHANGHAI = ZoneInfo("Asia/Shanghai")

SCOPES = (
    Scope("C", "county", "Demo County"),
    Scope("D", "department", "Agriculture Bureau", parent="C"),
    Scope("T1", "township", "East Town", parent="C"),
    Scope("T2", "township", "West Town", parent="C"),
    Scope("V11", "village", "Oak", parent="T1"),
    Scope("V12", "village", "Pine", parent="T1"),
    Scope("V21", "village", "Elm", parent="T2"),
    Scope("V22", "village", "Ash", parent="T2"),
)

PEOPLE = (
    Recipient("u-v11", "Cadre Oak", "village_cadre", "V11"),
    Recipient("u-v12", "Cadre Pine", "village_cadre", "V12"),
    Recipient("u-v21", "Cadre Elm", "village_cadre", "V21"),
    Recipient("u-v22", "Cadre Ash", "village_cadre", "V22"),
    Recipient("s-v11", "Supervisor Oak", "village_supervisor", "V11"),
    Recipient("u-t1", "Leader East", "township_leader", "T1"),
    Recipient("u-t2", "Leader West", "township_leader", "T2"),
    Recipient("g-t2", "West Town group", "township_leader", "T2", channel="wecom"),
    Recipient("u-d", "Officer Agri", "department_officer", "D"),
    Recipient("u-c", "County Office", "county_officer", "C", locale="en"),
)


def local(*parts: int, tz: dt.tzinfo = SHANGHAI) -> dt.datetime:
    """Return an aware UTC instant from a local wall-clock time (year, month, day, hour, minute)."""
    return dt.datetime(*parts, tzinfo=tz).astimezone(dt.UTC)


def county(submissions: tuple[Submission, ...] = (), problems: tuple[SeriousProblem, ...] = (),
           people: tuple[Recipient, ...] = PEOPLE) -> Facts:
    """Return the demo county's facts with the given submissions and problems."""
    return Facts(scopes=SCOPES, recipients=people, submissions=submissions, problems=problems)
