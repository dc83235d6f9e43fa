"""A county of two townships with reports, problems and classes for one month, and a foreign county.

October 2026, no policy profile: reports are due on the 25th, 23:59 Asia/Shanghai (15:59 UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.clock import UTC
from bot.services import weblinks
from bot.storage.models import Asset, AssetClass, Problem, Report, User
from bot.web.app import create_app
from tests.factories import Tree, make_asset, make_tree, make_user

PERIOD = "2026-10"
NOW = dt.datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
REGISTERED = dt.datetime(2025, 1, 1, tzinfo=UTC)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@dataclass
class World:
    """The populated database: the tree, its assets and one user of each role."""

    tree: Tree
    assets: dict[str, Asset]
    users: dict[str, User]


def _asset(session: Session, village, key: str, **values) -> Asset:
    return make_asset(session, village, project_code=f"P-{key}", created_at=REGISTERED, **values)


def _report(
    session: Session,
    asset: Asset,
    submitted_at: dt.datetime | None,
    *,
    status: str = "submitted",
    version: int = 1,
    current: bool = True,
    period: str = PERIOD,
    answers: dict | None = None,
) -> Report:
    report = Report(
        asset_id=asset.id,
        form_id="monthly-operating",
        period=period,
        version=version,
        current=current,
        status=status,
        submitted_at=submitted_at,
        answers=answers or {},
    )
    session.add(report)
    session.flush()
    return report


def populate(session: Session) -> World:
    """Create the county 桃源县 (新桥镇: 新桥村, 王庄村; 北坡乡: 梨树村) and 远山县 with their data."""
    tree = make_tree(session)
    a = {
        "workshop": _asset(
            session,
            tree.village_a1,
            "workshop",
            name="新桥村扶贫车间",
            industry_category="加工业",
            funds_total=Decimal("100"),
            funds_central=Decimal("60"),
            funds_county=Decimal("40"),
            construction_content="厂房 800 平方米",
        ),
        "greenhouse": _asset(
            session,
            tree.village_a1,
            "greenhouse",
            name="新桥村蔬菜大棚",
            industry_category="种植业",
            funds_total=Decimal("50.5"),
            funds_central=Decimal("0"),
            funds_province=Decimal("30"),
            funds_county=Decimal("0"),
            funds_other=Decimal("20.5"),
        ),
        "road": _asset(
            session,
            tree.village_a1,
            "road",
            name="新桥村通组路",
            asset_type="公益性",
            industry_category=None,
            funds_total=Decimal("80"),
            funds_central=Decimal("80"),
            funds_county=Decimal("0"),
        ),
        "solar": _asset(
            session,
            tree.village_a2,
            "solar",
            name="王庄村光伏电站",
            industry_category="光伏扶贫",
            funds_total=Decimal("120"),
            funds_central=Decimal("70"),
            funds_city=Decimal("10"),
            funds_county=Decimal("40"),
        ),
        "cattle": _asset(session, tree.village_b1, "cattle", name="梨树村养牛场", industry_category="养殖业"),
        "household": _asset(
            session,
            tree.village_b1,
            "household",
            name="梨树村到户养羊",
            asset_type="到户类",
            industry_category="养殖业",
            funds_total=Decimal("5"),
            funds_central=Decimal("5"),
            funds_county=Decimal("0"),
        ),
        "foreign": _asset(session, tree.village_x, "foreign", name="远山村茶厂", industry_category="加工业"),
    }
    good = {
        "operating_normally": "yes",
        "income_distributed": "yes",
        "income_amount": "2.5",
        "farmers_linked": "yes",
        "households_benefited": 40,
        "poor_households": 12,
    }
    _report(session, a["workshop"], utc(2026, 10, 20, 2), status="approved", answers=good)
    _report(session, a["greenhouse"], utc(2026, 10, 24, 2), status="returned", current=False)
    _report(
        session,
        a["greenhouse"],
        utc(2026, 10, 28, 2),
        version=2,
        answers={
            "operating_normally": "no",
            "abnormality_kind": "losses",
            "income_distributed": "no",
            "has_difficulties": "yes",
            "difficulties": ["sales"],
            "poor_households": 5,
        },
    )
    _report(session, a["road"], utc(2026, 10, 25, 15, 0))  # 23:00 local on the 25th: on time
    _report(session, a["solar"], utc(2026, 10, 25, 16, 30))  # 00:30 local on the 26th: late
    _report(session, a["cattle"], None, status="draft")  # not in
    _report(session, a["foreign"], utc(2026, 10, 10))
    _report(session, a["workshop"], utc(2026, 9, 20), period="2026-09", answers=good)
    _report(session, a["solar"], utc(2026, 9, 30), period="2026-09")  # late in September
    problems = [
        Problem(
            asset_id=a["workshop"].id,
            source="report",
            kind="unauthorised_transfer",
            severity="serious",
            created_at=NOW - dt.timedelta(days=3),
            description="擅自转租",
        ),
        Problem(
            asset_id=a["solar"].id,
            source="villager",
            kind="damage",
            severity="major",
            status="acknowledged",
            created_at=NOW - dt.timedelta(days=40),
            description="光伏板损坏",
        ),
        Problem(
            asset_id=a["cattle"].id,
            source="inspection",
            kind="idle",
            severity="minor",
            created_at=NOW - dt.timedelta(days=100),
        ),
        Problem(
            asset_id=a["workshop"].id,
            source="report",
            kind="idle",
            severity="major",
            status="resolved",
            created_at=NOW - dt.timedelta(days=50),
            resolved_at=NOW - dt.timedelta(days=45),
        ),
        Problem(
            asset_id=a["foreign"].id,
            source="report",
            kind="idle",
            severity="serious",
            created_at=NOW - dt.timedelta(days=2),
            description="远山县的秘密问题",
        ),
    ]
    session.add_all(problems)
    session.add_all(
        [
            AssetClass(asset_id=a["workshop"].id, period="2026-09", suggested="提升", confirmed="巩固"),
            AssetClass(asset_id=a["solar"].id, period="2026-10", suggested="盘活"),
            AssetClass(asset_id=a["cattle"].id, period="2026-11", suggested="处置"),
            AssetClass(asset_id=a["foreign"].id, period="2026-10", suggested="处置"),
        ]
    )
    users = {
        "county": make_user(session, "county_officer", tree.county),
        "department": make_user(session, "department_officer", tree.county),
        "leader_a": make_user(session, "township_leader", tree.township_a),
        "leader_b": make_user(session, "township_leader", tree.township_b),
        "cadre": make_user(session, "village_cadre", tree.village_a1),
        "supervisor": make_user(session, "village_supervisor", tree.village_a1),
        "foreign_county": make_user(session, "county_officer", tree.other_county),
        "admin": make_user(session, "admin", None),
    }
    session.commit()
    return World(tree, a, users)


@pytest.fixture
def world(engine) -> World:
    with Session(engine, expire_on_commit=False) as session:
        return populate(session)


@pytest.fixture
def app(settings, engine):
    return create_app(settings, engine)


@pytest.fixture
def sign_in(app, engine, settings):
    """Return a function giving a TestClient signed in (by a single-use link) as a user."""

    def client_for(user: User) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        with Session(engine) as session:
            url = weblinks.create_link(
                session, user, secret=settings.secret_key, public_url="http://testserver"
            )
            session.commit()
        assert client.get(url.removeprefix("http://testserver")).status_code == 303
        return client

    return client_for
