"""Answers per second through the real Telegram adapter, beside a bare echo handler, on one Bot API double.

Both run in this process against the same double with its flood limit off (we measure our cost per
answer, not Telegram's limit). The double is served from a child process, as a Bot API server is
never inside the bot: in this process its server threads would compete with the bot for the
interpreter lock at every socket write and SQLite call (tests/fakes/botapi_process.py). The adapter's figure includes everything a real answer costs: the
dedup gate, the access check, saving the answer (one SQLite transaction), and the next question.
Target (issue 3): at least half the echo handler's rate.

    python -m bench.bench_telegram            # BENCH_TELEGRAM_N=600 answers by default
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlmodel import Session

from bench.bench_telegram_echo import echo_rate
from bot.adapters.telegram_app import build_application
from bot.config import Settings
from bot.services import reports, users
from bot.storage.db import make_engine, upgrade
from tests.factories import make_asset, make_tree
from tests.fakes.botapi_process import DoubleProcess

CADRES = 4


async def _run_app(application, work):
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            return await work()
        finally:
            await application.updater.stop()
            await application.stop()


def _prepare(db_url: str, data_dir: Path) -> tuple[list[tuple[int, int]], list[str]]:
    """One village per cadre with an asset; return the invited cadres' (user id, asset id) and invite codes."""
    engine = make_engine(db_url)
    people, codes = [], []
    with Session(engine) as session:
        tree = make_tree(session)
        villages = [tree.village_a1, tree.village_a2, tree.village_b1, tree.village_x]
        for village in villages[:CADRES]:
            asset = make_asset(session, village)
            created = users.create_invite(session, None, scope=village, role="village_cadre")
            session.commit()
            people.append((created.user.id, asset.id))
            codes.append(created.code)
        session.commit()
    engine.dispose()
    return people, codes


def _open_checklists(db_url: str, people: list[tuple[int, int]]) -> list[tuple[int, int, str, str]]:
    """Start each (redeemed) cadre's checklist; return (report, asset, first key, its first option)."""
    from bot.storage.models import User

    engine = make_engine(db_url)
    plan = []
    with Session(engine) as session:
        for user_id, asset_id in people:
            report = reports.start_or_resume(session, session.get(User, user_id), asset_id, channel="telegram")
            first = reports.walker_for(report).current()
            plan.append((report.id, asset_id, first.key, first.options[0].key))
        session.commit()
    engine.dispose()
    return plan


async def adapter_rate(double: DoubleProcess, n: int, workdir: Path) -> float:
    """Answers per second through our adapter (each answer re-answers the first question of a checklist)."""
    db_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    upgrade(db_url)
    cadres, codes = _prepare(db_url, workdir)
    settings = Settings(data_dir=workdir, database_url=db_url, telegram_token=double.token,
                        telegram_api_url=double.url)
    engine = make_engine(db_url)
    people = [double.user(9200 + i, f"cadre{i}") for i in range(CADRES)]
    application = build_application(settings, engine, rate_limit=False)

    async def work() -> float:
        for person, code in zip(people, codes):
            double.send_command(person, "start", code)
        for person in people:
            await double.wait_reply(person.id, timeout=30)
        # An invited cadre can act once the invite is redeemed: their drafts are opened now.
        plan = _open_checklists(db_url, cadres)
        # Each cadre opens their checklist (the report is already a draft: this resumes it).
        for person, (_rid, asset_id, _key, _option) in zip(people, plan):
            double.send_command(person, "report")
            await double.wait_reply(person.id, timeout=30)
            double.press_latest([(person, f"a:{asset_id}")])
            await double.wait_reply(person.id, timeout=30)
        start = time.perf_counter()
        presses = []
        for i in range(n):
            rid, _, key, option = plan[i % CADRES]
            presses.append((people[i % CADRES], f"v:{rid}:{key}:{option}"))
        double.press_latest(presses)
        for person in people:
            await double.wait_reply(person.id, count=n // CADRES, timeout=300)
        return n / (time.perf_counter() - start)

    try:
        return await _run_app(application, work)
    finally:
        engine.dispose()


def run() -> list[dict]:
    """Measure both rates, alternating, over a few rounds; return rows {name, value, unit, note}.

    This machine's timing wanders by ±20 % from one second to the next, so each rate is the median
    of ``BENCH_TELEGRAM_ROUNDS`` runs (5), the two taking turns to go first, and the ratio is the
    median of the rounds' ratios. The double runs on a core of its own and this process on the
    other(s), as a bot and a Bot API server on different machines would.
    """
    n = int(os.environ.get("BENCH_TELEGRAM_N", "1200"))
    n -= n % CADRES
    rounds = int(os.environ.get("BENCH_TELEGRAM_ROUNDS", "5"))
    echoes, ours = [], []
    with tempfile.TemporaryDirectory() as tmp, DoubleProcess(pin=True) as double:
        for index in range(rounds):
            workdir = Path(tmp) / f"round{index}"
            workdir.mkdir()
            if index % 2:
                ours.append(asyncio.run(adapter_rate(double, n, workdir)))
                echoes.append(asyncio.run(echo_rate(double, n)))
            else:
                echoes.append(asyncio.run(echo_rate(double, n)))
                ours.append(asyncio.run(adapter_rate(double, n, workdir)))
    echo, adapter = statistics.median(echoes), statistics.median(ours)
    # Each round's two rates are measured back to back: the ratio is taken per round, then the median.
    per_round = [a / e for a, e in zip(ours, echoes)]
    ratios = ", ".join(f"{r:.2f}" for r in per_round)
    return [
        {"name": "telegram: bare echo handler", "value": round(echo, 1), "unit": "replies/s",
         "note": f"median of {rounds} runs of {n} text messages, {CADRES} chats "
                 f"({min(echoes):.0f}–{max(echoes):.0f})"},
        {"name": "telegram: checklist answers via adapter", "value": round(adapter, 1), "unit": "answers/s",
         "note": f"SQLite, dedup + access check + save + next question ({min(ours):.0f}–{max(ours):.0f})"},
        {"name": "telegram: adapter / echo", "value": round(statistics.median(per_round), 2), "unit": "ratio",
         "note": f"target >= 0.5; median of the rounds: {ratios}"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<45} {row['value']:>10} {row['unit']:<10} {row['note']}")
