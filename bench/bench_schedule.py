"""Benchmark of the scheduler on PostgreSQL: one tick's planning over a large county beside the
bare SQL query for the missing reports, and sending speed against the Bot API double at 30/s.

``run()`` returns rows {name, value, unit, note}. The full size of issue 5 (1,000,000 assets in
20,000 villages, 10% of reports missing) is BENCH_SCHEDULE_SCALE=1; the default is 0.02.
BENCH_SCHEDULE_MESSAGES sets how many messages the sending part sends (default 300).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections import Counter

import psycopg
from sqlalchemy import text
from sqlmodel import Session

from bot.storage.db import make_engine, session_scope, upgrade

ADMIN_URL = os.environ.get("VILLAGEBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
UTC = dt.UTC
PERIOD = "2026-11"
NOW = dt.datetime(2026, 11, 26, 2, tzinfo=UTC)  # 10:00 local, the morning after the deadline
ASSETS_PER_VILLAGE = 50
VILLAGES_PER_TOWNSHIP = 20

BARE_QUERY = """
SELECT a.id FROM asset a
LEFT JOIN report r ON r.asset_id = a.id AND r.period = :period AND r.current
                    AND r.status IN ('submitted', 'approved')
WHERE a.status = 'active' AND a.asset_type = '经营性' AND a.created_at < '2026-11-30T16:00:00+00' AND r.id IS NULL
"""


def _seed(engine, villages: int) -> None:
    townships = max(1, villages // VILLAGES_PER_TOWNSHIP)
    statements = [
        "INSERT INTO org_unit (id, level, name, code, parent_id, path, policy_profile) "
        "VALUES (1, 'county', '基准县', '990900000000', NULL, '/1/', 'yanshan-2024')",
        f"INSERT INTO org_unit (id, level, name, code, parent_id, path) SELECT 1 + t, 'township', '镇' || t, "
        f"'9909' || lpad(t::text, 5, '0') || '000', 1, '/1/' || (1 + t) || '/' FROM generate_series(1, {townships}) t",
        f"INSERT INTO org_unit (id, level, name, code, parent_id, path) SELECT 100000 + v, 'village', '村' || v, "
        f"'99' || lpad(v::text, 10, '0'), 2 + (v - 1) % {townships}, "
        f"'/1/' || (2 + (v - 1) % {townships}) || '/' || (100000 + v) || '/' FROM generate_series(1, {villages}) v",
        f"INSERT INTO asset (id, project_code, name, village_id, asset_type, funds_total, funds_central, "
        f"funds_province, funds_city, funds_county, funds_other, status, public_token, created_at, updated_at) "
        f"SELECT a, 'B-' || a, '资产' || a, 100000 + 1 + (a - 1) / {ASSETS_PER_VILLAGE}, '经营性', 0, 0, 0, 0, 0, 0, "
        f"'active', 'tok-' || a, '2026-01-01T00:00:00+00', now() FROM generate_series(1, {villages * ASSETS_PER_VILLAGE}) a",
        # 10% of the reports are missing: every tenth asset has none.
        f"INSERT INTO report (asset_id, form_id, form_version, period, version, current, status, answers, flags, "
        f"created_at, updated_at, submitted_at) SELECT a, 'monthly', 1, '{PERIOD}', 1, true, 'submitted', '{{}}', "
        f"'[]', now(), now(), '2026-11-20T02:00:00+00' FROM generate_series(1, {villages * ASSETS_PER_VILLAGE}) a "
        f"WHERE a % 10 <> 0",
        f"INSERT INTO app_user (id, name, role, org_unit_id, locale, active, created_at) SELECT 100000 + v, "
        f"'书记' || v, 'village_cadre', 100000 + v, 'zh_CN', true, now() FROM generate_series(1, {villages}) v",
        f"INSERT INTO app_user (id, name, role, org_unit_id, locale, active, created_at) SELECT 1 + t, "
        f"'镇长' || t, 'township_leader', 1 + t, 'zh_CN', true, now() FROM generate_series(1, {townships}) t",
        "INSERT INTO app_user (id, name, role, org_unit_id, locale, active, created_at) "
        "VALUES (1, '县办', 'county_officer', 1, 'zh_CN', true, now())",
        "INSERT INTO telegram_identity (telegram_user_id, chat_id, user_id, reachable, bound_at) "
        "SELECT id, id, id, true, now() FROM app_user",
        f"INSERT INTO schedule_state (county_id, watermark, updated_at) VALUES (1, '{(NOW - dt.timedelta(days=1)).isoformat()}', now())",
        "ANALYZE",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _plan_bench(url: str, villages: int) -> list[dict]:
    from bot.services.outbox import plan_county
    from bot.storage.models import OrgUnit

    engine = make_engine(url)
    _seed(engine, villages)
    with Session(engine) as session:
        started = time.perf_counter()
        missing = len(session.execute(text(BARE_QUERY), {"period": PERIOD}).all())
        bare = time.perf_counter() - started
    with Session(engine) as session:  # warm up (a scheduler process ticks every minute), then undo
        plan_county(session, session.get(OrgUnit, 1), NOW)
        session.rollback()
    with session_scope(engine) as session:
        started = time.perf_counter()
        result = plan_county(session, session.get(OrgUnit, 1), NOW)
        planning = time.perf_counter() - started
    engine.dispose()
    size = f"{villages * ASSETS_PER_VILLAGE} assets, {villages} villages, {missing} reports missing"
    return [
        {"name": "schedule.tick_plan", "value": round(planning, 3), "unit": "s",
         "note": f"{size}; {result.inserted} messages planned; warm process (target < 5 s at full size)"},
        {"name": "schedule.bare_missing_query", "value": round(bare, 3), "unit": "s", "note": size},
        {"name": "schedule.tick_to_bare_ratio", "value": round(planning / bare, 2) if bare else None, "unit": "x",
         "note": "target at most 3x"},
    ]


def _send_bench(url: str, count: int) -> list[dict]:
    from bot.services.channels import TelegramChannel
    from bot.services.outbox import deliver
    from tests.fakes.botapi import BotApiDouble

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox_message SET status = 'done-by-bench' WHERE status = 'pending'"))
        conn.execute(text(
            "INSERT INTO outbox_message (key, county_id, kind, step, subject, item, period, role, scope, channel, "
            "recipient, recipient_name, locale, send_at, urgent, body, actions, collapsed, status, attempts, "
            "next_attempt_at, recovered, created_at) SELECT 'bench|' || u.id, 1, 'reminder', 'remind-d1', "
            "'x/1', 'x', '1', 'village_cadre', 'x', 'telegram', 'u' || u.id, u.name, 'zh_CN', now(), false, "
            "'[[\"Open reports\", {}]]', '[\"open\"]', 0, 'pending', 0, now(), 0, now() "
            f"FROM app_user u WHERE u.role = 'village_cadre' ORDER BY u.id LIMIT {count}"))
        chats = [row[0] for row in conn.execute(text(
            "SELECT chat_id FROM telegram_identity t JOIN outbox_message m ON m.recipient = 'u' || t.user_id "
            "WHERE m.status = 'pending'"))]
    with BotApiDouble() as double:
        for chat in chats:
            double.user(chat)
        double.limit_per_second(30)
        channel = TelegramChannel(double.token, double.url, per_second=30)
        started = time.perf_counter()
        sent = 0
        while sent < len(chats) and time.perf_counter() - started < 120:
            sent += deliver(engine, {"telegram": channel}).sent
        elapsed = time.perf_counter() - started
        accepted = double.accepted_sends
        refused = len([c for c in double.calls_of("sendMessage") if c.status == 429])
        channel.close()
    engine.dispose()
    duplicates = sum(n - 1 for n in Counter(accepted).values() if n > 1)
    return [
        {"name": "schedule.send_rate", "value": round(sent / elapsed, 1), "unit": "msg/s",
         "note": f"{sent} messages against the double limited to 30/s; {refused} answered 429 (target >= 29/s)"},
        {"name": "schedule.send_duplicates", "value": duplicates, "unit": "messages", "note": "target 0"},
    ]


def run() -> list[dict]:
    """Create a scratch PostgreSQL database, run both parts, drop it; return the rows."""
    scale = float(os.environ.get("BENCH_SCHEDULE_SCALE", "0.02"))
    villages = max(VILLAGES_PER_TOWNSHIP, int(20_000 * scale))
    count = int(os.environ.get("BENCH_SCHEDULE_MESSAGES", "300"))
    name = f"bench_schedule_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        return _plan_bench(url, villages) + _send_bench(url, min(count, villages))
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
