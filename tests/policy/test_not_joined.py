"""Nobody silently unreachable: people invited who never joined are previewed, named in digests,
listed for their township and county, and can be given a new invite (web and command line)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.cli import cli
from bot.services import users
from bot.services.outbox import tick
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, TelegramIdentity, User
from bot.storage.models_schedule import OutboxMessage
from bot.web.app import create_app
from tests.policy.world import Recorder, build
from tests.web.conftest import csrf_of
from tests.web.test_form import sign_in

UTC = dt.UTC
NOV = dt.datetime(2026, 11, 10, tzinfo=UTC)


def _run(url: str, *args: str):
    return CliRunner().invoke(cli, ["--lang", "en", *args], env={"VILLAGEBOT_DATABASE_URL": url},
                              catch_exceptions=False)


def _invite_unjoined(session: Session, world) -> tuple[User, str]:
    """Replace 王庄村's cadre (cadre_a2) by an invited person who has not joined; return them and the code."""
    old = world.people["cadre_a2"]
    for identity in session.exec(select(TelegramIdentity).where(TelegramIdentity.user_id == old.id)).all():
        session.delete(identity)
    old.active = False
    session.add(old)
    created = users.create_invite(session, None, scope=world.tree.village_a2, role="village_cadre", name="王新来")
    session.flush()
    return created.user, created.code


def test_preview_lists_messages_for_people_who_have_not_joined_and_tick_sends_them_none(sqlite_url, sqlite_engine):
    with session_scope(sqlite_engine) as session:
        world = build(session)
        newcomer, _ = _invite_unjoined(session, world)
    preview = _run(sqlite_url, "schedule", "preview", "--from", "2026-11-20", "--to", "2026-11-26",
                   "--scope", "王庄村", "--json")
    rows = [json.loads(line) for line in preview.output.splitlines() if line.startswith("{")]
    absent = [r for r in rows if not r["joined"]]
    assert absent and {r["recipient_name"] for r in absent} == {"王新来"}
    assert {r["channel"] for r in absent} == {"none"} and {r["kind"] for r in absent} == {"reminder"}
    text = _run(sqlite_url, "schedule", "preview", "--from", "2026-11-20", "--to", "2026-11-26", "--scope", "王庄村")
    assert "not joined" in text.output and "王新来" in text.output and "cannot be sent" in text.output

    recorder = Recorder()
    tick(sqlite_engine, {"telegram": recorder}, now=NOV)
    recorder.sent.clear()  # the first morning's notices of the contract problems (contract_watch): not the digest
    tick(sqlite_engine, {"telegram": recorder}, now=dt.datetime(2026, 11, 26, 2, tzinfo=UTC))
    with Session(sqlite_engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    assert not [r for r in rows if r.recipient == f"u{newcomer.id}"]
    # (the township's own reminders — its study and classification of the month, issue 16 — are not the digest)
    digest = [t for chat, t, _ in recorder.sent if chat == world.chats["leader_a"] and "王庄村" in t]
    assert len(digest) == 1 and "王庄村：无人能收到提醒——王新来已受邀但尚未加入" in digest[0]


@pytest.fixture
def people(sqlite_engine):
    with session_scope(sqlite_engine) as session:
        world = build(session)
        newcomer, code = _invite_unjoined(session, world)
        far = users.create_invite(session, None, scope=world.tree.village_x, role="village_cadre", name="远方人")
        session.flush()
        return world, newcomer.id, code, far.user.id


def test_the_township_lists_its_people_who_have_not_joined_and_reissues_an_invite(sqlite_engine, settings, people):
    world, newcomer_id, old_code, far_id = people
    with TestClient(create_app(settings, sqlite_engine), follow_redirects=False) as client:
        sign_in(client, sqlite_engine, world.people["leader_a"])
        home = client.get("/review")
        assert "/people/waiting" in home.text
        page = client.get("/people/waiting")
        assert page.status_code == 200 and "王新来" in page.text and "远方人" not in page.text
        assert "village_cadre" not in page.text and "村干部" in page.text
        forbidden = client.post(f"/people/waiting/{far_id}/reinvite", data={"csrf": csrf_of(page.text)})
        assert forbidden.status_code == 403
        done = client.post(f"/people/waiting/{newcomer_id}/reinvite", data={"csrf": csrf_of(page.text)})
        assert done.status_code == 200 and "王新来" in done.text and 'src="data:image/png;base64,' in done.text
        code = re.search(r"start=([\w-]+)", done.text).group(1)
    with session_scope(sqlite_engine) as session:
        with pytest.raises(users.InviteError):
            users.redeem_invite(session, old_code, telegram_user_id=9101, chat_id=9101)
    with session_scope(sqlite_engine) as session:
        assert users.redeem_invite(session, code, telegram_user_id=9102, chat_id=9102).id == newcomer_id
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "user.reinvite")).one()
        assert (entry.entity_id, entry.actor_user_id) == (str(newcomer_id), world.people["leader_a"].id)
    with TestClient(create_app(settings, sqlite_engine), follow_redirects=False) as client:
        sign_in(client, sqlite_engine, world.people["leader_a"])
        assert "王新来" not in client.get("/people/waiting").text  # joined now


def test_the_county_sees_everyone_and_a_cadre_is_refused(sqlite_engine, settings, people):
    world, _, _, _ = people
    with TestClient(create_app(settings, sqlite_engine), follow_redirects=False) as client:
        sign_in(client, sqlite_engine, world.people["office"])
        page = client.get("/people/waiting")
        assert "王新来" in page.text and "远方人" not in page.text  # 远方人 is in the other county
    with TestClient(create_app(settings, sqlite_engine), follow_redirects=False) as client:
        sign_in(client, sqlite_engine, world.people["cadre_a1"])
        assert client.get("/people/waiting").status_code == 403


def test_the_command_line_lists_and_reissues(sqlite_url, sqlite_engine, people):
    _, newcomer_id, _, _ = people
    listed = _run(sqlite_url, "users", "pending", "--scope", "桃源县")
    assert listed.exit_code == 0 and "王新来" in listed.output and "远方人" not in listed.output
    assert "Village cadre" in listed.output and "1 person(s) have not joined." in listed.output
    again = _run(sqlite_url, "users", "reinvite", str(newcomer_id))
    assert again.exit_code == 0 and "New invite for 王新来." in again.output and "start=" in again.output
    with session_scope(sqlite_engine) as session:
        session.add(TelegramIdentity(telegram_user_id=9200, chat_id=9200, user_id=newcomer_id))
    joined = _run(sqlite_url, "users", "reinvite", str(newcomer_id))
    assert joined.exit_code == 2 and "already joined" in joined.output
