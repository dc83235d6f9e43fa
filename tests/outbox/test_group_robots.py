"""A township leader reachable only through a WeCom (or DingTalk) group robot hears what happens: the
serious-problem alert of a submission, and the notice for the village supervisor, who has not joined,
forwarded up the chain. One road: outbox rows written with the change, delivered by ``outbox.deliver``."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlmodel import Session, select

from bot.i18n import translate
from bot.services import cycle, notices, outbox, reports
from bot.services.audit import SYSTEM
from bot.services.channels import register_route
from bot.storage.models import Problem, ProblemEvent, User
from tests.cycle.test_year import MIDYEAR
from tests.cycle.world import fill, local, make_county
from tests.fakes.webhooks import WebhookDouble
from tests.outbox.helpers import PUBLIC, SERIOUS, channels, close, fill_draft, outbox_rows, store_at

MOMENT = local(2026, 6, 20)


@pytest.fixture
def robots():
    with WebhookDouble() as running:
        yield running


def _text(kind: str, body: dict) -> str:
    return body["markdown"]["content"] if kind == "wecom" else body["markdown"]["text"]


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
def test_a_leader_reachable_only_by_a_group_robot_gets_the_alert_and_the_supervisors_notice(
        engine, robots, tmp_path, kind):
    robot = "robot-1"
    url = robots.wecom_robot(robot) if kind == "wecom" else robots.dingtalk_robot(robot, secret="SEC0123")
    with time_machine.travel(MOMENT, tick=False), Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023")  # nobody in it has joined on Telegram
        register_route(session, SYSTEM, c.tree.township_a, kind, url, "新桥镇工作群",
                       "SEC0123" if kind == "dingtalk" else None)
        session.commit()
        cadre_id, workshop_id, village_id = c.cadre.id, c.workshop.id, c.tree.village_a1.id
        # A monthly check that raises a serious problem, and the mid-year self-check the supervisor signs.
        report_id = fill_draft(engine, cadre_id, workshop_id, SERIOUS, store_at(tmp_path / "ev"), now=MOMENT)
        result = reports.submit(session, session.get(User, cadre_id), report_id, now=MOMENT)
        (serious,) = result.serious
        midyear = fill(session, c.cadre, cycle.start(session, c.cadre, "midyear-self-check", village_id, "2026",
                                                     channel="web"), MIDYEAR)
        assert cycle.needs_sign_off(midyear)

    rows = outbox_rows(engine)
    assert {(r.kind, r.recipient, r.channel) for r in rows} == {
        ("alert", "r1", kind),  # the township's group: the leader has no Telegram
        ("notice", f"u{c.supervisor.id}", "telegram"),  # the supervisor has not joined: forwarded at delivery
    }
    with Session(engine) as session:
        alerted = session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == serious.id,
                                                          ProblemEvent.action == "alerted")).all()
        assert len(alerted) == 1  # recorded with the submission: the planner will not alert again

    found = channels()
    try:
        first = outbox.deliver(engine, found, now=MOMENT + dt.timedelta(minutes=1))
        again = outbox.deliver(engine, found, now=MOMENT + dt.timedelta(minutes=2))
        # A tick later that day plans the county's messages: the alert is not repeated.
        outbox.tick(engine, found, now=MOMENT + dt.timedelta(hours=1))
    finally:
        close(found)
    assert (first.sent, first.unreachable, first.forwarded) == (2, 1, 1) and again.sent == 0
    texts = [_text(kind, body) for name, body in robots.accepted if name == robot]
    problem_text = translate("zh_CN", serious.description)
    alerts = [t for t in texts if "新桥村扶贫车间" in t and problem_text in t]
    assert len(alerts) == 1
    # Group robots have no buttons: the alert links to the problem on the web.
    assert f"({PUBLIC}/problems/{serious.id})" in alerts[0]
    forwarded = [t for t in texts if translate("zh_CN", outbox.FORWARDED, name="李监委") in t]
    assert len(forwarded) == 1
    assert translate("zh_CN", notices.SIGN_OFF_WAITING, title="").rstrip() in forwarded[0]
    assert "签字" in forwarded[0] and "/f/signoff/" not in forwarded[0]  # the sign-off is not the township's
    with Session(engine) as session:
        statuses = {(m.recipient, m.status) for m in session.exec(select(outbox.OutboxMessage)).all()
                    if m.key.startswith(outbox.NOTICE_PREFIX)}
        assert ("r1", "sent") in statuses and (f"u{c.supervisor.id}", "unreachable") in statuses
        assert session.get(Problem, serious.id).status == "open"
