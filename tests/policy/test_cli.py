"""`villagebot policy …` and `villagebot schedule …` on a real database."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, OrgUnit
from bot.storage.models_schedule import OutboxMessage
from tests.policy.world import build


def _run(url: str, *args: str):
    result = CliRunner().invoke(cli, ["--lang", "en", *args], env={"VILLAGEBOT_DATABASE_URL": url},
                                catch_exceptions=False)
    return result


def test_policy_list_use_show_preview_and_tick(sqlite_url, sqlite_engine):
    with session_scope(sqlite_engine) as session:
        build(session, "jiaozuo-2020")
    listed = _run(sqlite_url, "policy", "list")
    assert [line.split()[0] for line in listed.output.splitlines()] == ["jiaozuo-2020", "qinbei-2023", "yanshan-2024"]
    used = _run(sqlite_url, "policy", "use", "yanshan-2024", "--county", "桃源县")
    assert used.exit_code == 0 and "yanshan-2024" in used.output
    assert _run(sqlite_url, "policy", "use", "no-such", "--county", "桃源县").exit_code == 2
    with Session(sqlite_engine) as session:
        county = session.exec(select(OrgUnit).where(OrgUnit.name == "桃源县")).one()
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "policy.use")).one()
    assert county.policy_profile == "yanshan-2024"
    assert (entry.before, entry.after) == ({"policy_profile": "jiaozuo-2020"}, {"policy_profile": "yanshan-2024"})
    shown = _run(sqlite_url, "policy", "show", "--county", "430525000000").output
    assert "Village monthly asset check report" in shown and "21:00–08:00" in shown

    preview = _run(sqlite_url, "schedule", "preview", "--from", "2026-11-20", "--to", "2026-11-26",
                   "--scope", "王庄村", "--json")
    rows = [json.loads(line) for line in preview.output.splitlines()]
    assert [(r["at"], r["kind"], r["role"], r["channel"], r["item"]) for r in rows] == [
        ("2026-11-20T09:00:00+08:00", "reminder", "village_cadre", "telegram", "village_monthly_report"),
        ("2026-11-24T09:00:00+08:00", "reminder", "village_cadre", "telegram", "village_monthly_report"),
        ("2026-11-26T08:00:00+08:00", "digest", "township_leader", "telegram", "village_monthly_report"),
    ]
    assert rows[2]["scope"] == "430525100000" and "王庄村" in rows[2]["text"]
    with Session(sqlite_engine) as session:
        assert session.exec(select(OutboxMessage)).first() is None  # preview writes nothing

    ticked = _run(sqlite_url, "schedule", "tick", "--at", "2026-11-20T10:00")
    # The three reminders, and the first day's notices of the contract watch to the two townships (the world's
    # assets are operated without a contract: bot.services.contract_watch).
    assert ticked.exit_code == 0 and "Planned 5 new message(s)" in ticked.output
    with Session(sqlite_engine) as session:
        pending = session.exec(select(OutboxMessage)).all()
    # No Telegram token is configured: the reminders wait in the outbox.
    assert len(pending) == 5 and {m.status for m in pending} == {"pending"}
    assert sorted(m.kind for m in pending) == ["notice", "notice", "reminder", "reminder", "reminder"]
    assert {m.item for m in pending if m.kind == "notice"} == {"contract"}


def test_schedule_add_group_registers_an_audited_route(sqlite_url, sqlite_engine):
    from bot.storage.models_schedule import ChannelRoute

    with session_scope(sqlite_engine) as session:
        build(session)
    added = _run(sqlite_url, "schedule", "add-group", "--township", "新桥镇", "--kind", "dingtalk",
                 "--url", "https://oapi.dingtalk.com/robot/send?access_token=abc", "--name", "新桥镇工作群",
                 "--secret", "SEC-1")
    assert added.exit_code == 0 and "新桥镇工作群" in added.output
    refused = _run(sqlite_url, "schedule", "add-group", "--township", "新桥镇", "--kind", "wecom",
                   "--url", "ftp://x", "--name", "x")
    assert refused.exit_code == 2
    with Session(sqlite_engine) as session:
        route = session.exec(select(ChannelRoute)).one()
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "channel.register")).one()
    assert (route.kind, route.secret, route.reachable) == ("dingtalk", "SEC-1", True)
    assert entry.after["signed"] is True and "SEC-1" not in json.dumps(entry.after)
