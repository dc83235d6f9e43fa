"""Reading a year's income of many assets: one asset at a time against ``income.year_totals_many``, and the daily
check of income not received (``income.raise_in``) over a county whose income is paid.

A SQLite file holds one county of ``BENCH_INCOME_ASSETS`` operating assets (default 3,000) in 100 villages, each
with a contract promising a yearly rent, twelve months of income received and a distribution plan with two shares
and a payment. The baseline is ``year_totals`` called per asset (what the income list and the inventory did); the
ratio is how many times faster the batched reader gives the same figures (checked equal). The daily check reads a
paid county: its cost is what every county pays each morning.

    python -m bench income
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

N_ASSETS = int(os.environ.get("BENCH_INCOME_ASSETS", "3000"))
YEAR = 2025


def _populate(db_url: str) -> tuple[object, list[int], int]:
    from sqlmodel import Session

    from bot.services import audit
    from bot.services.orgs import ensure_unit
    from bot.storage.db import make_engine, upgrade
    from bot.storage.models import Asset
    from bot.storage.models_contract import AssetContract
    from bot.storage.models_income import AssetIncome, DistributionPlan, DistributionRecord, DistributionShare

    upgrade(db_url)
    engine = make_engine(db_url)
    actor = audit.Actor(None, "bench")
    ids = []
    with Session(engine) as session:
        county, _ = ensure_unit(session, actor, None, "county", "桃源县", "430525000000")
        town, _ = ensure_unit(session, actor, county, "township", "新桥镇", "430525100000")
        villages = [ensure_unit(session, actor, town, "village", f"第{i}村", f"430525101{i:03d}")[0]
                    for i in range(100)]
        for n in range(N_ASSETS):
            asset = Asset(project_code=f"B-{n}", name=f"大棚{n}", village_id=villages[n % 100].id,
                          asset_type="经营性", industry_category="种植业", funds_total=Decimal("50"),
                          public_token=f"bench-income-{n}")
            session.add(asset)
            session.flush()
            ids.append(asset.id)
            session.add(AssetContract(asset_id=asset.id, operator="某合作社", start=dt.date(2020, 1, 1),
                                      income_amount=Decimal("12"), current=True))
            for month in range(1, 13):
                session.add(AssetIncome(asset_id=asset.id, period=f"{YEAR}-{month:02d}", received=Decimal("1")))
            plan = DistributionPlan(asset_id=asset.id, year=YEAR, status="distributed", total=Decimal("12"))
            session.add(plan)
            session.flush()
            session.add(DistributionShare(plan_id=plan.id, category="households", percent=Decimal("60"),
                                          amount=Decimal("7.2"), households=40))
            session.add(DistributionShare(plan_id=plan.id, category="reinvest", percent=Decimal("40"),
                                          amount=Decimal("4.8")))
            session.add(DistributionRecord(plan_id=plan.id, date=dt.date(YEAR, 12, 20), amount=Decimal("7.2"),
                                           category="households"))
            if n % 500 == 499:
                session.commit()
        session.commit()
        return engine, ids, county.id


def run() -> list[dict]:
    from sqlmodel import Session

    from bot.services import income
    from bot.storage.models import OrgUnit

    with tempfile.TemporaryDirectory(prefix="bench-income-") as tmp:
        engine, ids, county_id = _populate(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        with Session(engine) as session:
            began = time.perf_counter()
            alone = {a: income.year_totals(session, a, YEAR) for a in ids}
            one_by_one = time.perf_counter() - began
        with Session(engine) as session:
            began = time.perf_counter()
            many = income.year_totals_many(session, ids, YEAR)
            batched = time.perf_counter() - began
        same = all((many[a].due, many[a].received, many[a].distributed, many[a].planned) ==
                   (alone[a].due, alone[a].received, alone[a].distributed, alone[a].planned) for a in ids)
        if not same:
            raise AssertionError("year_totals_many disagrees with year_totals")
        with Session(engine) as session:
            county = session.get(OrgUnit, county_id)
            now = dt.datetime(YEAR + 1, 3, 1, 2, tzinfo=dt.UTC)
            began = time.perf_counter()
            raised = income.raise_in(session, county, now.date(), now)
            check = time.perf_counter() - began
            session.rollback()
        engine.dispose()
    return [
        {"name": "year_totals, one asset at a time", "value": one_by_one, "unit": "s",
         "note": f"baseline: {N_ASSETS:,} assets, 12 months, a plan each ({N_ASSETS / one_by_one:,.0f} assets/s)"},
        {"name": "year_totals_many", "value": batched, "unit": "s",
         "note": f"{one_by_one / batched:.1f}x the baseline; the same figures ({N_ASSETS / batched:,.0f} assets/s)"},
        {"name": "daily check, a paid county", "value": check, "unit": "s",
         "note": f"income.raise_in over {N_ASSETS:,} assets with contracts: {len(raised)} problems raised"},
    ]
