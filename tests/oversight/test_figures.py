"""The dashboard's figures, counted on SQLite and PostgreSQL from a small known county."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from bot.services import oversight
from bot.services.access import AccessDenied
from tests.oversight.conftest import NOW, PERIOD


def test_it_counts_reports_on_time_by_village(engine, world):
    with Session(engine) as session:
        figures = oversight.dashboard(session, world.users["county"], world.tree.county, PERIOD, now=NOW)
    rows = {
        (r.township, r.village): (r.expected, r.done, r.on_time, r.late, r.missing) for r in figures.villages
    }
    # the household asset is not checked monthly; the greenhouse's first submission was on time;
    # the solar station came in at 00:30 local time on the 26th; the cattle farm's draft is not in.
    assert rows == {
        ("新桥镇", "新桥村"): (3, 3, 3, 0, 0),
        ("新桥镇", "王庄村"): (1, 1, 0, 1, 0),
        ("北坡乡", "梨树村"): (1, 0, 0, 0, 1),
    }
    assert str(figures.due) == "2026-10-25"
    assert figures.totals.on_time_percent == 60


def test_it_counts_open_problems_by_severity_and_age(engine, world):
    with Session(engine) as session:
        figures = oversight.dashboard(session, None, world.tree.county, PERIOD, now=NOW)
    assert figures.problems == {"serious": [1, 0, 0, 0], "major": [0, 0, 1, 0], "minor": [0, 0, 0, 1]}


def test_it_counts_classes_industries_and_funds(engine, world):
    with Session(engine) as session:
        figures = oversight.dashboard(session, None, world.tree.county, PERIOD, now=NOW)
    assert figures.classes == {"巩固": 1, "提升": 0, "盘活": 1, "处置": 0, oversight.UNCLASSIFIED: 2}
    assert {k: v for k, v in figures.industries.items() if v} == {
        "加工业": 1,
        "种植业": 1,
        "光伏扶贫": 1,
        "养殖业": 1,
    }
    assert figures.fund_totals() == {
        "central": Decimal("275"),
        "province": Decimal("30"),
        "city": Decimal("10"),
        "county": Decimal("120"),
        "other": Decimal("20.5"),
    }
    assert figures.funds["central"]["公益性"] == Decimal("80")


def test_it_draws_the_year_trend(engine, world):
    with Session(engine) as session:
        figures = oversight.dashboard(session, None, world.tree.county, PERIOD, now=NOW)
    by_month = {p.period: (p.expected, p.done, p.on_time) for p in figures.trend}
    assert len(by_month) == 12
    assert (
        by_month["2026-09"] == (5, 2, 1)
        and by_month["2026-10"] == (5, 4, 3)
        and by_month["2026-11"] == (5, 0, 0)
    )


def test_a_township_sees_only_its_villages(engine, world):
    with Session(engine) as session:
        figures = oversight.dashboard(
            session, world.users["leader_b"], world.tree.township_b, PERIOD, now=NOW
        )
    assert [(r.village, r.expected) for r in figures.villages] == [("梨树村", 1)]
    assert figures.open_by_severity() == {"serious": 0, "major": 0, "minor": 1}


@pytest.mark.parametrize(
    "who, where",
    [
        ("leader_a", "township_b"),
        ("leader_a", "county"),
        ("foreign_county", "county"),
        ("county", "other_county"),
        ("cadre", "township_a"),
        ("supervisor", "township_a"),
    ],
)
def test_it_refuses_units_outside_the_users_area(engine, world, who, where):
    with Session(engine) as session, pytest.raises(AccessDenied):
        oversight.dashboard(session, world.users[who], getattr(world.tree, where), PERIOD, now=NOW)


def test_the_countys_policy_profile_sets_the_due_date(engine, world, tmp_path, monkeypatch):
    from bot.policy import loading as profiles

    text = (profiles.PROFILES_DIR / "yanshan-2024.yaml").read_text(encoding="utf-8")
    (tmp_path / "oversight-due-20th.yaml").write_text(
        text.replace("id: yanshan-2024", "id: oversight-due-20th").replace(
            "due: {day: 25,", "due: {day: 20,"
        ).replace("asset_types: [经营性]", "asset_types: [经营性, 公益性]"),  # this county widens the duty
        encoding="utf-8",
    )
    monkeypatch.setattr(profiles, "PROFILES_DIR", tmp_path)
    with Session(engine) as session:
        county = session.get(type(world.tree.county), world.tree.county.id)
        county.policy_profile = "oversight-due-20th"
        session.add(county)
        session.commit()
        figures = oversight.dashboard(session, None, county, PERIOD, now=NOW)
    assert str(figures.due) == "2026-10-20"
    assert [(r.village, r.done, r.on_time) for r in figures.villages] == [
        ("梨树村", 0, 0),
        ("新桥村", 3, 1),
        ("王庄村", 1, 0),
    ]
