"""The scheduler keeps going: a county's own profile survives restarts, one county's failure leaves
the others' deliveries intact, and nothing stale or pointless is sent after downtime."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.cli import cli
from bot.policy.loading import PROFILES_DIR
from bot.services import outbox
from bot.services.outbox import tick
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, OrgUnit, TelegramIdentity
from bot.storage.models_schedule import OutboxMessage, PolicyDocument, ScheduleState
from tests.factories import make_asset, make_user
from tests.policy.world import LEDGER_SINCE, Recorder, build

UTC = dt.UTC
NOV = dt.datetime(2026, 11, 10, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _run(url: str, *args: str):
    return CliRunner().invoke(cli, ["--lang", "en", *args], env={"VILLAGEBOT_DATABASE_URL": url},
                              catch_exceptions=False)


def _own_profile(tmp_path: Path, profile_id: str = "taoyuan-own", day: int = 20) -> Path:
    """Write a county's own profile: Yanshan's, under another id, with the report due on ``day``."""
    text = (PROFILES_DIR / "yanshan-2024.yaml").read_text(encoding="utf-8")
    text = text.replace("id: yanshan-2024", f"id: {profile_id}", 1)
    assert f"id: {profile_id}" in text
    path = tmp_path / "my-county.yaml"
    path.write_text(_due_day(text, day), encoding="utf-8")
    return path


def _due_day(text: str, day: int) -> str:
    """Move the monthly report's due day (the first ``day: 25`` of the file) to ``day``."""
    assert "day: 25" in text
    return text.replace("day: 25", f"day: {day}", 1)


def test_a_profile_given_by_path_survives_restarts_and_ticks(sqlite_url, sqlite_engine, tmp_path):
    with session_scope(sqlite_engine) as session:
        build(session, "jiaozuo-2020")
    path = _own_profile(tmp_path)
    used = _run(sqlite_url, "policy", "use", str(path), "--county", "桃源县")
    assert used.exit_code == 0, used.output
    path.unlink()  # the file is gone: the stored text must be enough from now on
    with Session(sqlite_engine) as session:
        county = session.exec(select(OrgUnit).where(OrgUnit.name == "桃源县")).one()
        doc = session.exec(select(PolicyDocument)).one()
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "policy.use")).one()
    assert county.policy_profile == "taoyuan-own" and "day: 20" in doc.content
    assert entry.after["document"] == doc.sha256

    # A new process (a restart) ticks on the stored profile: the D-5 reminder of a report due on the 20th
    # (Sunday the 15th is quiet: it goes out on Monday).
    env = {**os.environ, "VILLAGEBOT_DATABASE_URL": sqlite_url, "PYTHONPATH": str(ROOT)}
    for at in ("2026-11-10T08:00", "2026-11-16T10:00"):
        done = subprocess.run([sys.executable, "-m", "bot", "--lang", "en", "schedule", "tick", "--at", at],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Profile file not found" not in done.stderr + done.stdout
    with Session(sqlite_engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "reminder")).all()
        state = session.get(ScheduleState, county.id)
    assert rows and {r.step for r in rows} == {"remind-d5"} and all("2026-11-20" in str(r.body) for r in rows)
    assert state.error is None
    shown = _run(sqlite_url, "policy", "show", "--county", "桃源县")
    assert shown.exit_code == 0 and "taoyuan-own" in shown.output


def test_an_edited_profile_file_replaces_the_stored_text_and_shipped_ids_are_not_shadowed(
        sqlite_url, sqlite_engine, tmp_path):
    with session_scope(sqlite_engine) as session:
        build(session, "jiaozuo-2020")
    path = _own_profile(tmp_path, day=20)
    assert _run(sqlite_url, "policy", "use", str(path), "--county", "桃源县").exit_code == 0
    path.write_text(_due_day(path.read_text(encoding="utf-8").replace("day: 20", "day: 25", 1), 18),
                    encoding="utf-8")
    assert _run(sqlite_url, "policy", "use", str(path), "--county", "桃源县").exit_code == 0
    with Session(sqlite_engine) as session:
        docs = session.exec(select(PolicyDocument)).all()
    assert len(docs) == 1 and "day: 18" in docs[0].content
    shadow = _own_profile(tmp_path, profile_id="yanshan-2024")
    refused = _run(sqlite_url, "policy", "use", str(shadow), "--county", "桃源县")
    assert refused.exit_code == 2 and "shipped profile" in refused.output
    missing = _run(sqlite_url, "policy", "use", str(tmp_path / "nowhere.yaml"), "--county", "桃源县")
    assert missing.exit_code == 2 and "not found" in missing.output


def _second_county(session: Session, world) -> int:
    """Give 远山县 the Yanshan profile, a cadre on Telegram and an asset; return the cadre's chat id."""
    other = world.tree.other_county
    other.policy_profile = "yanshan-2024"
    session.add(other)
    cadre = make_user(session, "village_cadre", world.tree.village_x, name="远山村干部")
    session.add(TelegramIdentity(telegram_user_id=7001, chat_id=7001, user_id=cadre.id))
    make_asset(session, world.tree.village_x, created_at=LEDGER_SINCE)  # in the ledger long before
    session.flush()
    return 7001


def test_an_error_in_one_countys_planning_leaves_the_others_deliveries_intact(engine, monkeypatch, caplog,
                                                                             settings):
    with session_scope(engine) as session:
        world = build(session)
        far_chat = _second_county(session, world)
        broken_id = world.tree.county.id
    recorder = Recorder()
    tick(engine, {"telegram": recorder}, now=NOV)
    recorder.sent.clear()  # the first morning's notices of the contract problems (contract_watch)

    real = outbox.planned

    def failing(session, view, until, since):
        if view.county.id == broken_id:
            raise RuntimeError("injected fault")
        return real(session, view, until, since)

    monkeypatch.setattr(outbox, "planned", failing)
    at = dt.datetime(2026, 11, 20, 2, tzinfo=UTC)  # after the D-5 reminders
    result = tick(engine, {"telegram": recorder}, now=at)
    assert result.county_errors == 1
    assert [chat for chat, _, _ in recorder.sent] == [far_chat]  # the other county was told
    assert "桃源县" in caplog.text and "injected fault" in caplog.text

    from bot.web.app import create_app

    with TestClient(create_app(settings, engine)) as client:
        health = client.get("/healthz").json()
    assert health["status"] == "degraded"
    assert [(e["county"], "injected fault" in e["error"]) for e in health["schedule_errors"]] == [("桃源县", True)]

    monkeypatch.setattr(outbox, "planned", real)  # mended: the next tick catches up and clears the error
    later = tick(engine, {"telegram": recorder}, now=at + dt.timedelta(minutes=1))
    assert later.county_errors == 0 and later.sent == 3
    with TestClient(create_app(settings, engine)) as client:
        assert client.get("/healthz").json()["status"] == "ok"


def test_a_village_already_posting_is_not_told_to_start_posting(sqlite_engine):
    """Qinbei: the year-end self-evaluation is posted 10 days before Dec 10; posting reminders stop
    for a village that started posting, the other villages still get theirs."""
    from bot.storage.models import Report
    from bot.storage.models_cycle import CycleStep

    with session_scope(sqlite_engine) as session:
        world = build(session, "qinbei-2023")
        a1 = world.tree.village_a1
        report = Report(org_unit_id=a1.id, form_id="yearend-self-evaluation", period="2026", status="signed_off",
                        created_at=NOV, updated_at=NOV)
        session.add(report)
        session.flush()
        started = dt.datetime(2026, 11, 16, 2, tzinfo=UTC)
        session.add(CycleStep(report_id=report.id, org_unit_id=a1.id, form_id="yearend-self-evaluation",
                              period="2026", step="post", at=started, until=started + dt.timedelta(days=10)))
    recorder = Recorder()
    tick(sqlite_engine, {"telegram": recorder}, now=NOV)
    moment = NOV
    while moment < dt.datetime(2026, 12, 1, tzinfo=UTC):
        moment += dt.timedelta(hours=1)
        tick(sqlite_engine, {"telegram": recorder}, now=moment)
    posting = [(world.who(chat), text) for chat, text, _ in recorder.sent if "公示" in text]
    assert posting, "the other villages are reminded to post"
    assert not [who for who, _ in posting if who in ("cadre_a1", "super_a1")]
    assert {who for who, _ in posting} >= {"cadre_a2", "cadre_b1"}
