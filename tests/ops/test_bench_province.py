"""The province benchmark (bench/bench_province.py) keeps working: its COPY generator writes a province the
services accept (a cadre signed in by the generated session sees their village's assets; a Telegram draft is
ready at its photo), its checks fail when an answer is lost or a message arrives twice, and, at the tiny size,
the whole morning with three processes and a kill passes them."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlmodel import Session, select

from bench import bench_province
from bot.services import reports, sessions
from bot.storage.db import make_engine
from bot.storage.models import Asset, OrgUnit, Report, TelegramIdentity, User
from bot.storage.models_schedule import OutboxMessage
from tests.fakes.botapi import BotApiDouble


@pytest.mark.postgres
def test_the_generator_writes_a_province_the_services_accept(pg_url):
    size = bench_province.SIZES["tiny"]
    province = bench_province.generate(pg_url, size)
    engine = make_engine(pg_url)
    try:
        with Session(engine) as session:
            levels = [u.level for u in session.exec(select(OrgUnit)).all()]
            assert levels.count("county") == 2 and levels.count("township") == 4 and levels.count("village") == 20
            assert len(session.exec(select(Asset)).all()) == 20 * 5
            assert province.rows == 26 + 24 + 24 + 20 + 100  # units, users, Telegram accounts, sessions, assets

            village = province.village_ids[5]
            signed_in = sessions.find(session, province.session_token(province.cadre_of_village[village]))
            assert signed_in is not None and signed_in.user_id == province.cadre_of_village[village]
            cadre = session.get(User, signed_in.user_id)
            rows = reports.month_overview(session, cadre)
            assert sorted(r.asset.id for r in rows) == [province.first_asset_of_village[village] + n for n in range(5)]
            assert {r.state for r in rows} == {"todo"}
            session.commit()

        drafts = bench_province.open_telegram_drafts(province, province.village_ids[:3])
        with Session(engine) as session:
            for village, report_id in drafts.items():
                report = session.get(Report, report_id)
                assert report.status == "draft" and report.asset_id == province.first_asset_of_village[village]
                assert reports.walker_for(report).current().key == "board_photo"
                identity = session.exec(select(TelegramIdentity).where(
                    TelegramIdentity.user_id == province.cadre_of_village[village])).one()
                assert identity.active_report_id == report_id
                assert identity.telegram_user_id == bench_province.Province.tg_id(identity.user_id)
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_tiny_morning_with_three_processes_and_a_kill_passes_its_checks(capsys):
    rows, ok = bench_province.run_day(bench_province.SIZES["tiny"])
    out = capsys.readouterr().out
    assert ok, out
    assert "killed the process" in out
    assert "FAIL" not in out and out.count("PASS") == 12
    names = {row["name"] for row in rows}
    assert {"1 process: answers/s", "3 processes: answers/s", "3 processes, one killed: answers/s",
            "3 processes / 1: answers/s", "3 processes, one killed / 1: answers/s"} <= names


@pytest.mark.postgres
def test_the_checks_fail_on_a_lost_answer_and_on_a_message_sent_twice(pg_url):
    province = bench_province.generate(pg_url, bench_province.SIZES["tiny"])
    since = dt.datetime.now(dt.UTC)
    drafts = bench_province.open_telegram_drafts(province, province.village_ids[:1])
    (report_id,) = drafts.values()
    leader = len(province.village_ids) + 1  # the first township leader's user id
    engine = make_engine(pg_url)
    try:
        with Session(engine) as session:
            now = dt.datetime.now(dt.UTC)
            session.add(OutboxMessage(key=f"n|problem/1|alert-now|u{leader}/telegram", county_id=1, kind="alert",
                                      step="alert-now", subject="problem/1", item="serious", period="1",
                                      role="township_leader", scope="43000100000", channel="telegram",
                                      recipient=f"u{leader}", send_at=now, next_attempt_at=now, status="sent",
                                      sent_at=now, created_at=now))
            session.commit()
    finally:
        engine.dispose()
    morning = bench_province.Morning([1], 1, acked_answers=[(report_id, "intact"), (report_id, "board_photo")],
                                     acked_submits=[report_id])
    with BotApiDouble(strict_chats=False) as botapi:
        for _ in range(2):  # the same alert delivered twice
            httpx.post(f"{botapi.url}/bot{botapi.token}/sendMessage",
                       json={"chat_id": bench_province.Province.tg_id(leader), "text": "⚠ 第1村光伏电站1号"})
        lines, delays = bench_province.check(pg_url, morning, botapi, since, 0)
    assert lines[0].startswith("FAIL: no answer lost") and "1 missing" in lines[0]  # intact is stored, no photo
    assert lines[1].startswith("FAIL") and "1 not submitted" in lines[1]
    assert lines[2].startswith("FAIL: no outbox message twice") and "1 repeated" in lines[2]
    assert lines[3].startswith("PASS: every notice delivered")
    assert len(delays) == 1
