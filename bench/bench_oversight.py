"""County dashboard and monthly exports over a large county on PostgreSQL (issue 7).

A scratch database on VILLAGEBOT_BENCH_PG_URL's server gets one county of 10 townships × 30 villages,
VILLAGEBOT_BENCH_OVERSIGHT_ASSETS assets (default 10,000; a third each operating, public-welfare,
household) and VILLAGEBOT_BENCH_OVERSIGHT_MONTHS months of monthly reports (default 36) for every
checked asset, a few thousand problems and four-way classes, then ANALYZE (as autovacuum would after
such a load: without statistics the planner picks nested loops and the trend takes seconds); it is
dropped at the end.
Measured (median of 5 after one warm-up): the figures alone, the county page over HTTP (signed-in
county officer, in-process ASGI client), the monthly summary and problem list, and the quarterly 附件2.
Targets: dashboard < 300 ms, monthly export < 5 s.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import secrets
import statistics
import time
import uuid
from decimal import Decimal

PG_ADMIN_URL = os.environ.get("VILLAGEBOT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
N_ASSETS = int(os.environ.get("VILLAGEBOT_BENCH_OVERSIGHT_ASSETS", "10000"))
N_MONTHS = int(os.environ.get("VILLAGEBOT_BENCH_OVERSIGHT_MONTHS", "36"))
TOWNSHIPS, VILLAGES = 10, 30
REPEATS = 5
TARGETS = {"dashboard": 300.0, "export": 5000.0}


def _months(last: str, count: int) -> list[str]:
    year, month = int(last[:4]), int(last[5:])
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


def populate(engine, period: str) -> tuple[int, int]:
    """Fill the database; return (county id, county officer id)."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from bot.clock import UTC
    from bot.services import audit
    from bot.services.orgs import ensure_unit
    from bot.storage.models import INDUSTRY_CATEGORIES, Asset, AssetClass, Problem, Report, User

    rng = random.Random(7)
    actor = audit.Actor(None, "bench")
    with Session(engine) as session:
        county, _ = ensure_unit(session, actor, None, "county", "基准县", "990700000000")
        villages = []
        for t in range(1, TOWNSHIPS + 1):
            township, _ = ensure_unit(session, actor, county, "township", f"第{t}镇", f"990700{t:03d}000")
            for v in range(1, VILLAGES + 1):
                unit, _ = ensure_unit(
                    session, actor, township, "village", f"第{t}镇{v}村", f"990700{t:03d}{v:03d}"
                )
                villages.append(unit.id)
        officer = User(name="县乡村振兴局", role="county_officer", org_unit_id=county.id)
        session.add(officer)
        session.commit()
        county_id, officer_id = county.id, officer.id
    registered = dt.datetime(2020, 1, 1, tzinfo=UTC)
    assets = []
    for i in range(N_ASSETS):
        kind = ("经营性", "公益性", "到户类")[i % 3]
        assets.append(
            dict(
                project_code=f"BO-{i:06d}",
                name=f"第{i}号帮扶项目",
                village_id=villages[i % len(villages)],
                asset_type=kind,
                industry_category=INDUSTRY_CATEGORIES[i % 7] if kind == "经营性" else None,
                funds_total=Decimal("100"),
                funds_central=Decimal("60"),
                funds_province=Decimal("0"),
                funds_city=Decimal("0"),
                funds_county=Decimal("40"),
                funds_other=Decimal("0"),
                public_token=secrets.token_urlsafe(16),
                status="active",
                created_at=registered,
                updated_at=registered,
            )
        )
    months = _months(period, N_MONTHS)
    with engine.begin() as conn:
        conn.execute(insert(Asset.__table__), assets)
        ids = [
            row[0]
            for row in conn.exec_driver_sql("SELECT id, asset_type FROM asset ORDER BY id")
            if row[1] != "到户类"
        ]
        batch = []
        for month in months:
            year, mon = int(month[:4]), int(month[5:])
            for asset_id in ids:
                if rng.random() < 0.1:
                    continue  # not in
                at = dt.datetime(year, mon, rng.randint(10, 28), 3, tzinfo=UTC)
                batch.append(
                    dict(
                        asset_id=asset_id,
                        form_id="monthly-operating",
                        form_version=1,
                        period=month,
                        version=1,
                        current=True,
                        status="submitted",
                        answers={"operating_normally": "yes"},
                        flags=[],
                        created_at=at,
                        updated_at=at,
                        submitted_at=at,
                    )
                )
                if len(batch) >= 20_000:
                    conn.execute(insert(Report.__table__), batch)
                    batch = []
        if batch:
            conn.execute(insert(Report.__table__), batch)
        now = dt.datetime.now(UTC)
        conn.execute(
            insert(Problem.__table__),
            [
                dict(
                    asset_id=rng.choice(ids),
                    source="report",
                    kind="idle",
                    severity=rng.choice(("serious", "major", "minor")),
                    status=rng.choice(("open", "acknowledged", "resolved")),
                    owner_level="township",
                    created_at=now - dt.timedelta(days=rng.randint(0, 400)),
                )
                for _ in range(N_ASSETS // 3)
            ],
        )
        operating = ids[::2]
        conn.execute(
            insert(AssetClass.__table__),
            [
                dict(asset_id=a, period=m, suggested=rng.choice(("巩固", "提升", "盘活", "处置")), reasons=[])
                for a in operating
                for m in months[-3:]
            ],
        )
    with engine.begin() as conn:  # what autovacuum does soon after a bulk load; plans depend on it
        conn.exec_driver_sql("ANALYZE")
    return county_id, officer_id


def _median_ms(action) -> float:
    action()
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(engine, county_id: int, officer_id: int, period: str) -> list[dict]:
    """Time the figures, the page and the exports; return the rows."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from bot.config import Settings
    from bot.services import exports, oversight, weblinks
    from bot.storage.models import OrgUnit, User
    from bot.web.app import create_app

    settings = Settings(public_url="http://bench", secret_key="bench-secret-0123456789")
    client = TestClient(create_app(settings, engine), follow_redirects=False)
    with Session(engine) as session:
        url = weblinks.create_link(
            session, session.get(User, officer_id), secret=settings.secret_key, public_url="http://bench"
        )
        session.commit()
    assert client.get(url.removeprefix("http://bench")).status_code == 303

    def figures() -> None:
        with Session(engine) as session:
            oversight.dashboard(
                session, session.get(User, officer_id), session.get(OrgUnit, county_id), period
            )

    def page() -> None:
        assert client.get(f"/oversight/{county_id}?month={period}").status_code == 200

    def export(writer, value):
        def action() -> None:
            with Session(engine) as session:
                writer(session, None, session.get(OrgUnit, county_id), value, io.BytesIO())

        return action

    quarter = f"{period[:4]}Q{(int(period[5:]) - 1) // 3 + 1}"
    note = f"{N_ASSETS} assets, {N_MONTHS} months of reports, PostgreSQL"
    rows = [
        ("dashboard figures", _median_ms(figures), TARGETS["dashboard"]),
        ("county dashboard page (HTTP)", _median_ms(page), TARGETS["dashboard"]),
        ("monthly summary export", _median_ms(export(exports.write_summary, period)), TARGETS["export"]),
        (
            "monthly problem list export",
            _median_ms(export(exports.write_problems, period)),
            TARGETS["export"],
        ),
        ("quarterly 附件2 export", _median_ms(export(exports.write_monitoring, quarter)), None),
    ]
    return [
        {
            "name": name,
            "value": round(value, 1),
            "unit": "ms",
            "note": note + (f"; target < {target:.0f} ms" if target else ""),
        }
        for name, value, target in rows
    ]


def run() -> list[dict]:
    """Create the scratch county, measure, drop it; return the rows."""
    import psycopg

    from bot.clock import utcnow
    from bot.storage.db import make_engine, upgrade

    name = f"vb_bench_oversight_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    engine = None
    try:
        upgrade(url)
        engine = make_engine(url)
        period = f"{utcnow().year:04d}-{utcnow().month:02d}"
        start = time.perf_counter()
        county_id, officer_id = populate(engine, period)
        loaded = time.perf_counter() - start
        rows = measure(engine, county_id, officer_id, period)
        rows.append(
            {
                "name": "loading the county",
                "value": round(loaded, 1),
                "unit": "s",
                "note": "setup, not a target",
            }
        )
        return rows
    finally:
        if engine is not None:
            engine.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<32} {row['value']:>10} {row['unit']:<3} {row['note']}")
