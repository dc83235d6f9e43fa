"""`villagebot schedule preview` lists the event notices waiting in the outbox beside the planned
reminders: a villager's report to the township (its leader on Telegram, its WeCom group) and the
county's decision on a problem, until they are delivered."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlmodel import Session

from bot.cli import cli
from bot.services import outbox, problem_list, public
from bot.services.audit import SYSTEM
from bot.services.channels import register_route
from bot.storage.models import User
from tests.factories import make_asset, make_tree, make_user
from tests.fakes.webhooks import WebhookDouble
from tests.outbox.helpers import NOW, bind_telegram, channels, close, outbox_rows


def _preview(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--lang", "en", "schedule", "preview", "--from", "2026-03-10",
                                      "--to", "2026-03-11", *args],
                                env={"VILLAGEBOT_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_preview_lists_the_notices_waiting_in_the_outbox(sqlite_url, sqlite_engine):
    with WebhookDouble() as robots, Session(sqlite_engine) as session:
        tree = make_tree(session)
        tree.county.policy_profile = "yanshan-2024"
        leader = make_user(session, "township_leader", tree.township_a, "赵镇长")
        officer = make_user(session, "county_officer", tree.county, "周主任")
        bind_telegram(session, leader, 6001)
        register_route(session, SYSTEM, tree.township_a, "wecom", robots.wecom_robot("wk"), "新桥镇工作群")
        asset = make_asset(session, tree.village_a1, name="新桥村扶贫车间")
        far = make_asset(session, tree.village_b1, name="梨树村果园")
        problem = public.report_problem(session, asset, text="车间大门被人锁了", category="misuse", device_id="d1",
                                        now=NOW)
        public.report_problem(session, far, text="果园荒了", category="idle", device_id="d2", now=NOW)
        session.commit()
        problem = problem.problem  # filed: the township has a problem to act on
        problem_list.escalate(session, session.get(User, leader.id), problem.id, "建议收回", now=NOW)
        problem_list.decide(session, session.get(User, officer.id), problem.id, "同意收回", now=NOW)
        session.commit()
        problem_id = problem.id

        rows = [json.loads(line) for line in _preview(sqlite_url, "--json").splitlines()]
        notices = [r for r in rows if r["status"] == "pending"]
        stamp = str(int(NOW.timestamp()))
        assert {(r["step"], r["channel"], r["recipient_name"]) for r in notices} == {
            ("villager-report", "telegram", "赵镇长"), ("villager-report", "wecom", "新桥镇工作群"),
            ("escalated-" + stamp, "telegram", "周主任"),  # not joined: forwarded, or marked, at delivery
            ("decided-" + stamp, "telegram", "赵镇长"), ("decided-" + stamp, "wecom", "新桥镇工作群")}
        # 北坡乡 has nobody who could be told: its villager's report is written to nobody, and says so in the log.
        texts = {r["text"] for r in notices}
        assert "A villager reported a problem at 新桥村扶贫车间 (新桥村): 车间大门被人锁了" in texts
        assert "The county decided on the problem at 新桥村扶贫车间 (新桥村): 同意收回" in texts
        assert {tuple(r["buttons"]) for r in notices} == {(f"pl:{problem_id}",)}
        assert all(r["at"].startswith("2026-03-10T12:00") for r in notices)  # shown in the county's time

        shown = _preview(sqlite_url, "--scope", "梨树村")
        assert "(waiting in the outbox)" not in shown  # another township's
        shown = _preview(sqlite_url, "--scope", "新桥村")
        assert shown.count("(waiting in the outbox)") == 5

        found = channels()
        try:
            outbox.deliver(sqlite_engine, found, now=NOW + dt.timedelta(minutes=1))
        finally:
            close(found)
    # The group's notices went out and are no longer listed; the Telegram ones wait (no bot token here).
    assert {r.status for r in outbox_rows(sqlite_engine) if r.channel == "wecom"} == {"sent"}
    assert _preview(sqlite_url, "--scope", "新桥村").count("(waiting in the outbox)") == 2
