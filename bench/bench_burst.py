"""The longest pause of the bot when fifty cadres act in the same second (a reminder everyone taps).

Fifty cadres sign in; then at once each presses the checklist button, sends the photo its draft
waits for and asks for ``/report`` (150 updates). The bot runs our real Application against the
Bot API double in a child process (tests/fakes/botapi_process.py), on SQLite and, when
``BENCH_PG_URL`` names a PostgreSQL server (e.g. ``postgresql://postgres@127.0.0.1:5432/test``), on a
fresh database there. Reported: the longest stretch in which no reply left the bot, and the time
until the last reply. Issue 13's target: no pause longer than a second.

    python -m bench.bench_burst            # BENCH_BURST_CADRES=50
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import time
import uuid
from pathlib import Path

from bot.adapters.telegram_app import build_application
from bot.storage.db import make_engine, upgrade
from tests.fakes.botapi_process import DoubleProcess
from tests.telegram.conftest import photo_bytes
from tests.telegram.crowd import make_crowd, open_drafts, settings_for


async def burst(double: DoubleProcess, db_url: str, workdir: Path, size: int) -> tuple[float, float]:
    """Run one burst; return (longest pause, seconds until the last reply)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    crowd = make_crowd(engine, settings_for(db_url, workdir / "data", double), double, size,
                       first_tg_id=80_000 + int(time.time()) % 10_000 * 10)
    people = [double.user(c.tg_id, f"cadre{c.index}") for c in crowd.cadres]
    application = build_application(crowd.world.settings, engine, rate_limit=False)
    try:
        async with application:
            await application.start()
            await application.updater.start_polling(poll_interval=0, timeout=1)
            try:
                for person, cadre in zip(people, crowd.cadres):
                    double.send_command(person, "start", cadre.code)
                for person in people:
                    await double.wait_reply(person.id, timeout=60)
                open_drafts(engine, crowd)  # each joined cadre's draft now waits for its photo
                photos = [(person, photo_bytes(cadre.index + 1)) for person, cadre in zip(people, crowd.cadres)]
                start = time.time()
                double.press_latest([(person, f"a:{cadre.asset_id}") for person, cadre in zip(people, crowd.cadres)])
                double.send_photos(photos)
                for person in people:
                    double.send_command(person, "report")
                replies = [sent.at for person in people
                           for sent in await double.wait_reply(person.id, count=3, timeout=300)]
            finally:
                await application.updater.stop()
                await application.stop()
    finally:
        engine.dispose()
    moments = [start, *sorted(replies)]
    return max(b - a for a, b in itertools.pairwise(moments)), moments[-1] - start


def _pg_database(server_url: str):
    import psycopg

    name = f"bench_burst_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url.rsplit('/', 1)[0]}/{name}", name


def _drop(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run() -> list[dict]:
    size = int(os.environ.get("BENCH_BURST_CADRES", "50"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp, DoubleProcess(pin=True) as double:
        targets = [("SQLite", f"sqlite:///{Path(tmp) / 'burst.sqlite3'}", None)]
        server = os.environ.get("BENCH_PG_URL")
        if server:
            url, name = _pg_database(server)
            targets.append(("PostgreSQL", url, name))
        for label, url, name in targets:
            workdir = Path(tmp) / label
            workdir.mkdir()
            try:
                pause, total = asyncio.run(burst(double, url, workdir, size))
            finally:
                if name:
                    _drop(server, name)
            rows.append({"name": f"telegram burst ({label}): longest pause", "value": round(pause, 2), "unit": "s",
                         "note": f"{size} cadres × (button, photo, /report) at once; target <= 1 s"})
            rows.append({"name": f"telegram burst ({label}): last reply", "value": round(total, 2), "unit": "s",
                         "note": f"{3 * size} updates"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<45} {row['value']:>10} {row['unit']:<10} {row['note']}")
