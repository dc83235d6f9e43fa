"""Fifty cadres acting in the same second, against the real Application over real HTTP, on SQLite and PostgreSQL.

The township's reminder goes out and everyone taps it: fifty ``/start``s at once, then at once each
cadre presses the checklist button, sends the photo its draft waits for and asks for ``/report``.
The database pool is made much smaller than the burst (4 connections, no overflow, against 32
updates processed at once), so the burst can only pass by queueing for the database: before this
work handlers held their connection while waiting on Telegram and the pool ran dry ("QueuePool
limit … reached"). Every update must be handled, none may fail. The longest pause is printed, not
asserted (timing belongs to ``bench/bench_burst.py``); the waits only bound a hang.
"""

from __future__ import annotations

import itertools
import logging
import time

from sqlmodel import Session, func, select

from bot.storage.db import db_sections, make_engine
from bot.storage.models import ProcessedUpdate, Report
from tests.telegram.conftest import data_of, photo_bytes, running_bot
from tests.telegram.crowd import make_crowd, open_drafts, settings_for

CADRES = 50
SORRY = "出了点问题"  # the start of the apologies ("Something went wrong…")


def longest_pause(times: list[float], start: float) -> float:
    """The longest stretch from ``start`` during which the bot made no Bot API call."""
    moments = [start, *sorted(t for t in times if t >= start)]
    return max(b - a for a, b in itertools.pairwise(moments)) if len(moments) > 1 else 0.0


async def test_fifty_cadres_in_the_same_second_are_all_answered(db_url, tmp_path, double, caplog):
    caplog.set_level(logging.WARNING)
    engine = make_engine(db_url, pool_size=4, max_overflow=0)
    assert db_sections(engine) == 4
    crowd = make_crowd(engine, settings_for(db_url, tmp_path / "data", double), double, CADRES)
    people = [double.user(c.tg_id, f"村干部{c.index + 1}") for c in crowd.cadres]
    try:
        async with running_bot(crowd.world):
            started = time.time()
            for person, cadre in zip(people, crowd.cadres):
                double.send_command(person, "start", cadre.code)
            greetings = [(await double.wait_reply(p.id, timeout=120))[0] for p in people]
            signed_in = time.time()
            open_drafts(engine, crowd)  # each joined cadre's draft now waits for its photo

            burst = time.time()
            presses = []
            for person, cadre, greeting in zip(people, crowd.cadres, greetings):
                presses.append(double.press(person, greeting.message_id, f"a:{cadre.asset_id}"))
                double.send_photo(person, photo_bytes(cadre.index + 1))
                double.send_command(person, "report")
            answers = {p.id: await double.wait_reply(p.id, count=3, timeout=180) for p in people}
            done = time.time()
            calls = [c.at for c in double.calls if c.method.lower() != "getupdates"]
    finally:
        engine.dispose()

    print(f"\n[{engine.dialect.name}] {CADRES} sign-ins in {signed_in - started:.2f}s "
          f"(longest pause {longest_pause(calls, started):.2f}s); burst of {3 * CADRES} updates in "
          f"{done - burst:.2f}s, longest pause {longest_pause(calls, burst):.2f}s")

    for person, cadre, greeting in zip(people, crowd.cadres, greetings):
        assert f"第{cadre.index + 1}村" in greeting.text
        question, after_photo, overview = answers[person.id]
        done_button = f"n:{cadre.report_id}:done:{cadre.photo_key}"
        assert f"n:{cadre.report_id}:back" in data_of(question) and done_button not in data_of(question)
        assert done_button in data_of(after_photo)  # the photo is in: "done" is offered
        assert f"a:{cadre.asset_id}" in data_of(overview)
        assert not any(SORRY in text for text in double.texts_to(person.id))
    for pressed in presses:
        assert double.callback_answer(pressed["callback_query"]["id"]) is not None
    check = make_engine(db_url)
    try:
        with Session(check) as session:
            for cadre in crowd.cadres:
                report = session.get(Report, cadre.report_id)
                assert report.status == "draft" and len(report.answers[cadre.photo_key]) == 1
            assert session.exec(select(func.count()).select_from(ProcessedUpdate)).one() == 4 * CADRES
    finally:
        check.dispose()
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or "QueuePool" in r.getMessage()]
    assert failures == []
