"""Ledger import and export of 10,000 assets on SQLite and PostgreSQL: time and peak memory beside baselines.

Every measured step runs in a fresh process, so its peak RSS is its own (interpreter and libraries
included, as in a real `villagebot import assets`); CPU time is printed beside wall time because a busy
machine stretches the latter. Baselines in the same run: calamine reading the
file plus a raw INSERT of its rows (no validation, no ORM, no audit), openpyxl reading the file, and a
raw SELECT written with openpyxl. Targets (issue 2): import < 10 s, export < 5 s, < 300 MB.
PostgreSQL runs in a scratch database created on VILLAGEBOT_BENCH_PG_URL's server and dropped after.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path

N_ASSETS = 10_000
TOWNSHIPS = 10
VILLAGES_PER_TOWNSHIP = 10
HEADER_ROWS = 4  # title, 填报单位 line, two-row header
TARGETS = {"import": 10.0, "export": 5.0, "rss": 300.0}
PG_ADMIN_URL = os.environ.get("VILLAGEBOT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


# --- data -----------------------------------------------------------------------------------------

def make_tree(session) -> dict[tuple[str, str], int]:
    """Create the benchmark county's townships and villages; return {(township, village): id}."""
    from bot.services import audit
    from bot.services.orgs import ensure_unit

    actor = audit.Actor(None, "bench")
    county, _ = ensure_unit(session, actor, None, "county", "基准县", "990900000000")
    villages = {}
    for t in range(1, TOWNSHIPS + 1):
        township, _ = ensure_unit(session, actor, county, "township", f"第{t}镇", f"990900{t:03d}000")
        for v in range(1, VILLAGES_PER_TOWNSHIP + 1):
            village, _ = ensure_unit(session, actor, township, "village", f"第{t}镇{v}村", f"990900{t:03d}{v:03d}")
            villages[(township.name, village.name)] = village.id
    return villages


def _asset_rows(villages: list[int]) -> list[dict]:
    from bot.storage.models import INDUSTRY_CATEGORIES

    rng = random.Random(10_000)
    rows = []
    for i in range(N_ASSETS):
        kind = ("经营性", "公益性", "到户类")[i % 3]
        split = [Decimal(rng.randint(0, 50_000)) / 100 for _ in range(5)]
        year = rng.randint(2016, 2024)
        rows.append(dict(
            project_code=f"JZ-{year}-{i:05d}", name=f"{year}年第{i}号帮扶项目", village_id=villages[i % len(villages)],
            asset_type=kind, industry_category=INDUSTRY_CATEGORIES[i % 7] if kind == "经营性" else None,
            funds_total=sum(split), funds_central=split[0], funds_province=split[1], funds_city=split[2],
            funds_county=split[3], funds_other=split[4], construction_type="新建", year_completed=year,
            year_in_production=year + 1, responsible_unit="乡镇人民政府", construction_content="建设扶贫车间及配套设施",
            beneficiaries=f"脱贫户{rng.randint(10, 90)}户", performance_targets="带动脱贫户年增收1000元",
            owner="村股份经济合作社", custodian="村委会", operator="农业发展有限公司" if kind == "经营性" else None,
            contract_end=dt.date(year + 5, 12, 31) if kind == "经营性" else None,
            latitude=round(30 + rng.random(), 6), longitude=round(114 + rng.random(), 6),
            public_token=secrets.token_urlsafe(16), status="active",
        ))
    return rows


def make_ledger(folder: Path) -> Path:
    """Write a 10,000-asset ledger in the official layout (through a scratch SQLite export); return it."""
    from sqlalchemy import insert

    from bot.services.ledger import export_ledger
    from bot.storage.db import make_engine, session_scope, upgrade
    from bot.storage.models import Asset

    url = f"sqlite:///{folder / 'source.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        villages = make_tree(session)
        session.execute(insert(Asset), _asset_rows(list(villages.values())))
    path = folder / f"ledger-{N_ASSETS}.xlsx"
    with session_scope(engine) as session:
        export_ledger(session, None, path)
    engine.dispose()
    return path


def prepare(url: str) -> None:
    """Migrate an empty database, create the tree and the baseline's bare copy of the asset table."""
    from sqlalchemy import text

    from bot.storage.db import make_engine, session_scope, upgrade

    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        make_tree(session)
        session.execute(text("CREATE TABLE bench_raw AS SELECT * FROM asset WHERE 1 = 0"))
    engine.dispose()


# --- measured steps (each in its own process) ------------------------------------------------------

def _import(url: str, path: Path, out: Path) -> str:
    from bot.services.ledger import import_ledger
    from bot.storage.db import make_engine, session_scope

    with session_scope(make_engine(url)) as session:
        result = import_ledger(session, None, path)
    if result.errors:
        raise RuntimeError(f"import failed: {result.errors[:3]}")
    return f"{result.created} new, {result.updated} changed, {result.unchanged} unchanged"


def _export(url: str, path: Path, out: Path) -> str:
    from bot.services.ledger import export_ledger
    from bot.storage.db import make_engine, session_scope

    with session_scope(make_engine(url)) as session:
        return f"{export_ledger(session, None, out)} rows"


def _raw_insert(url: str, path: Path, out: Path) -> str:
    from python_calamine import CalamineWorkbook
    from sqlalchemy import text

    from bot.services.ledger import COLUMNS
    from bot.storage.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        villages = {(t, v): i for t, v, i in conn.execute(text(
            "SELECT t.name, v.name, v.id FROM org_unit v JOIN org_unit t ON t.id = v.parent_id "
            "WHERE v.level = 'village'"))}
        fields = [c.field for c in COLUMNS]
        rows = []
        for cells in CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[HEADER_ROWS:]:
            record = dict(zip(fields, (None if c == "" else c for c in cells)))
            record["village_id"] = villages[(record.pop("township"), record.pop("village"))]
            record.pop("county")
            record["public_token"] = secrets.token_urlsafe(16)
            rows.append(record)
        columns = list(rows[0])
        conn.execute(text(f"INSERT INTO bench_raw ({', '.join(columns)}) VALUES "
                          f"({', '.join(':' + c for c in columns)})"), rows)
    return f"{len(rows)} rows"


def _openpyxl_read(url: str, path: Path, out: Path) -> str:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return f"{count} rows"


def _raw_export(url: str, path: Path, out: Path) -> str:
    from openpyxl import Workbook
    from sqlalchemy import text

    from bot.services.ledger import ASSET_FIELDS
    from bot.storage.db import make_engine

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    columns = ", ".join(f"a.{f}" for f in ASSET_FIELDS if f != "village_id")
    count = 0
    with make_engine(url).connect() as conn:
        for row in conn.execute(text(f"SELECT {columns}, v.name FROM asset a JOIN org_unit v ON v.id = a.village_id "
                                     "ORDER BY a.project_code")):
            sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
            count += 1
    workbook.save(out)
    return f"{count} rows"


STEPS = {"import": _import, "export": _export, "raw_insert": _raw_insert, "openpyxl_read": _openpyxl_read,
         "raw_export": _raw_export}


def peak_rss_mb() -> float:
    """Return this process's peak resident memory (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def measure(step: str, url: str, path: str, out: str) -> dict:
    """Run one step (in a fresh process); return wall and CPU time, the process's peak RSS and a detail."""
    import openpyxl  # noqa: F401

    import bot.services.ledger  # noqa: F401 - the libraries load before the clock starts

    started, cpu_started = time.perf_counter(), time.process_time()
    detail = STEPS[step](url, Path(path), Path(out))
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu_started,
            "rss_mb": peak_rss_mb(), "detail": detail}


# --- the run ---------------------------------------------------------------------------------------

def _isolated(step: str, url: str, path: Path, out: Path) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, step, url, str(path), str(out)).result()


def _backend_rows(label: str, url: str, ledger: Path, folder: Path) -> list[dict]:
    prepare(url)
    imp = _isolated("import", url, ledger, folder / "unused")
    again = _isolated("import", url, ledger, folder / "unused")
    raw_in = _isolated("raw_insert", url, ledger, folder / "unused")
    exp = _isolated("export", url, ledger, folder / f"export-{label}.xlsx")
    raw_out = _isolated("raw_export", url, ledger, folder / f"raw-{label}.xlsx")
    return [
        {"name": f"{label}: import {N_ASSETS:,} assets", "value": imp["seconds"], "unit": "s",
         "note": f"target < {TARGETS['import']:.0f} s; {imp['seconds'] / raw_in['seconds']:.1f}x baseline; "
                 f"CPU {imp['cpu']:.1f} s; {imp['detail']}"},
        {"name": f"{label}: import peak RSS", "value": imp["rss_mb"], "unit": "MB",
         "note": f"target < {TARGETS['rss']:.0f} MB; {imp['rss_mb'] / raw_in['rss_mb']:.1f}x baseline"},
        {"name": f"{label}: re-import, nothing changed", "value": again["seconds"], "unit": "s",
         "note": f"{again['detail']}; CPU {again['cpu']:.1f} s; peak RSS {again['rss_mb']:.0f} MB"},
        {"name": f"{label}: baseline calamine + raw INSERT", "value": raw_in["seconds"], "unit": "s",
         "note": f"CPU {raw_in['cpu']:.1f} s; peak RSS {raw_in['rss_mb']:.0f} MB; no validation, ORM or audit"},
        {"name": f"{label}: export {N_ASSETS:,} assets", "value": exp["seconds"], "unit": "s",
         "note": f"target < {TARGETS['export']:.0f} s; {exp['seconds'] / raw_out['seconds']:.1f}x baseline; "
                 f"CPU {exp['cpu']:.1f} s; {exp['detail']}"},
        {"name": f"{label}: export peak RSS", "value": exp["rss_mb"], "unit": "MB",
         "note": f"target < {TARGETS['rss']:.0f} MB; {exp['rss_mb'] / raw_out['rss_mb']:.1f}x baseline"},
        {"name": f"{label}: baseline raw SELECT + openpyxl", "value": raw_out["seconds"], "unit": "s",
         "note": f"CPU {raw_out['cpu']:.1f} s; peak RSS {raw_out['rss_mb']:.0f} MB; no layout, headers or styles"},
    ]


def _postgres_rows(ledger: Path, folder: Path) -> list[dict]:
    import psycopg

    name = f"vb_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        return _backend_rows("postgresql", f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", ledger, folder)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run() -> list[dict]:
    """Measure import and export of 10,000 assets on SQLite and PostgreSQL; return the table rows."""
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        folder = Path(tmp)
        ledger = make_ledger(folder)
        read = _isolated("openpyxl_read", "", ledger, folder / "unused")
        rows = [
            {"name": "ledger file", "value": ledger.stat().st_size / 2**20, "unit": "MB",
             "note": f"{N_ASSETS:,} assets, official layout (seed 000 附件1)"},
            {"name": "baseline openpyxl read_only read", "value": read["seconds"], "unit": "s",
             "note": f"{read['detail']}; CPU {read['cpu']:.1f} s; peak RSS {read['rss_mb']:.0f} MB"},
        ]
        rows += _backend_rows("sqlite", f"sqlite:///{folder / 'bench.sqlite3'}", ledger, folder)
        rows += _postgres_rows(ledger, folder)
    return rows
