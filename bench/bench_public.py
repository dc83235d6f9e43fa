"""Public QR page under load: requests/s and p50/p99 latency, beside a bare FastAPI route in the same server.

One uvicorn process with one worker serves the real app (create_app on a SQLite file holding a
village with a disclosed asset, a submitted report with photos, a problem) plus a bare route
``/bench/bare`` that returns a constant JSON object. A load generator in another process keeps
``BENCH_PUBLIC_CONNECTIONS`` keep-alive connections busy for ``BENCH_PUBLIC_SECONDS`` per side,
the sides interleaved twice. Memory is the server's RSS after the load and its peak (VmHWM).
Targets (issue 4): ≥ 800 requests/s, p99 < 50 ms, ≥ half the bare route's rate.

    python -m bench public
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_PUBLIC_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_PUBLIC_CONNECTIONS", "16"))


def _populate(db_url: str, data_dir: Path) -> str:
    """Create a migrated database with one disclosed asset; return its public token."""
    import datetime as dt
    import io
    import secrets
    from decimal import Decimal

    from PIL import Image
    from sqlmodel import Session

    from bot.clock import utcnow
    from bot.services import audit, evidence
    from bot.services.orgs import ensure_unit
    from bot.storage.db import make_engine, upgrade
    from bot.storage.models import Asset, Problem, Report

    upgrade(db_url)
    engine = make_engine(db_url)
    actor = audit.Actor(None, "bench")
    store = evidence.EvidenceStore(data_dir / "evidence", 20 * evidence.MB)
    with Session(engine) as session:
        county, _ = ensure_unit(session, actor, None, "county", "桃源县", "430525000000")
        town, _ = ensure_unit(session, actor, county, "township", "新桥镇", "430525100000")
        village, _ = ensure_unit(session, actor, town, "village", "新桥村", "430525101000")
        token = secrets.token_urlsafe(16)
        asset = Asset(project_code="BENCH-1", name="新桥村光伏电站", village_id=village.id,
                      asset_type="经营性",
                      industry_category="光伏扶贫", funds_total=Decimal("120.5"), funds_central=Decimal("80"),
                      funds_province=Decimal("40.5"), year_completed=2019, owner="新桥村股份经济合作社",
                      custodian="新桥村村民委员会", operator="桃源县光伏运维有限公司",
                      contract_start=dt.date(2020, 1, 1), contract_end=dt.date(2029, 12, 31),
                      public_token=token)
        session.add(asset)
        session.flush()
        now = utcnow()
        report = Report(asset_id=asset.id, form_id="monthly-operating", period=f"{now.year}-01",
                        status="submitted", answers={"income_amount": "3.5", "households_benefited": 45},
                        submitted_at=now)
        session.add(report)
        session.flush()
        for seed, key in enumerate(("board_photo", "sign_photo")):
            out = io.BytesIO()
            Image.new("RGB", (800, 600), (seed * 90, 120, 60)).save(out, "JPEG")
            photo = store.ingest(out.getvalue())
            use = evidence.record_use(session, photo=photo, report=report, question_key=key,
                                      period_start=dt.date(now.year, 1, 1))
            report.answers = {**report.answers, key: [{"sha256": photo.sha256, "photo_id": use.photo_id}]}
        session.add(report)
        session.add(Problem(asset_id=asset.id, source="report", kind="idle", severity="major"))
        session.commit()
    engine.dispose()
    return token


def app_factory():
    """Return the app served in the benchmark (uvicorn --factory), with the bare route added."""
    from bot.config import Settings
    from bot.web.app import create_app

    settings = Settings(data_dir=Path(os.environ["BENCH_PUBLIC_DATA"]),
                        database_url=os.environ["BENCH_PUBLIC_DB"], telegram_token="", public_url="http://127.0.0.1")
    app = create_app(settings)

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict:
        return {"status": "ok"}

    return app


async def _client(host: str, port: int, path: str, until: float, latencies: list[float]) -> None:
    """Send GETs on one keep-alive connection until ``until``; record each latency in seconds."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


def load(port: int, path: str, seconds: float, connections: int) -> dict:
    """Run the load on ``path`` and return requests/s and latency percentiles in ms."""
    latencies: list[float] = []

    async def main() -> float:
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(*(_client("127.0.0.1", port, path, until, latencies)
                               for _ in range(connections)))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    ordered = sorted(latencies)
    return {"rps": len(ordered) / elapsed, "p50": statistics.median(ordered) * 1000,
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, "n": len(ordered)}


def _load_in_subprocess(port: int, path: str, seconds: float) -> dict:
    """Run ``load`` in its own process, so that the client does not share the server's interpreter."""
    code = (f"import json; from bench.bench_public import load; "
            f"print(json.dumps(load({port}, {path!r}, {seconds}, {CONNECTIONS})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _memory_kb(pid: int) -> tuple[int, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited: " + (proc.stderr.read() if proc.stderr else ""))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def run() -> list[dict]:
    """Return rows {name, value, unit, note} for the public page and the bare route."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        db_url = f"sqlite:///{data / 'bench.sqlite3'}"
        token = _populate(db_url, data)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "BENCH_PUBLIC_DB": db_url, "BENCH_PUBLIC_DATA": str(data)}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.bench_public:app_factory", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log",
             "--log-level", "warning",
             "--lifespan", "off"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        try:
            _wait_ready(port, server)
            paths = {"public": f"/p/{token}", "bare": "/bench/bare"}
            for path in paths.values():  # warm up
                _load_in_subprocess(port, path, 1)
            results: dict[str, list[dict]] = {name: [] for name in paths}
            for _round in range(2):
                for name, path in paths.items():
                    results[name].append(_load_in_subprocess(port, path, SECONDS))
            rss, peak = _memory_kb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    best = {name: max(runs, key=lambda r: r["rps"]) for name, runs in results.items()}
    pub, bare = best["public"], best["bare"]
    note = f"uvicorn 1 worker, {CONNECTIONS} connections, {SECONDS:g} s, best of 2"
    return [
        {"name": "public page requests/s", "value": round(pub["rps"]), "unit": "req/s",
         "note": note + "; target ≥ 800"},
        {"name": "public page p50", "value": round(pub["p50"], 2), "unit": "ms", "note": ""},
        {"name": "public page p99", "value": round(pub["p99"], 2), "unit": "ms", "note": "target < 50 ms"},
        {"name": "bare route requests/s", "value": round(bare["rps"]), "unit": "req/s", "note": note},
        {"name": "bare route p50", "value": round(bare["p50"], 2), "unit": "ms", "note": ""},
        {"name": "bare route p99", "value": round(bare["p99"], 2), "unit": "ms", "note": ""},
        {"name": "public / bare rate", "value": round(pub["rps"] / bare["rps"], 2), "unit": "ratio",
         "note": "target ≥ 0.5"},
        {"name": "server RSS after load", "value": round(rss / 1024, 1), "unit": "MB", "note": ""},
        {"name": "server peak RSS", "value": round(peak / 1024, 1), "unit": "MB", "note": "VmHWM"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<28} {row['value']:>10} {row['unit']:<6} {row['note']}")
