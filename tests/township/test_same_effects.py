"""A problem handled on the web and one handled in Telegram: the same services, so the same effects — the
same statuses, history events, audit entries and outbox notices (the county told of a hand-up)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.services import weblinks
from bot.storage.models import AuditEntry, Problem, ProblemEvent, User
from bot.storage.models_schedule import OutboxMessage
from bot.web.app import create_app
from tests.factories import make_user
from tests.telegram.conftest import double, reply, running_bot, sign_in, world  # noqa: F401
from tests.township.conftest import csrf


def _problems(world) -> list[int]:  # noqa: F811
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with Session(world.engine) as session:
        from bot.storage.models import OrgUnit

        county = session.exec(select(OrgUnit).where(OrgUnit.name == "桃源县")).one()
        make_user(session, "county_officer", county, "县乡村振兴局张科长")
        made = [Problem(asset_id=world.assets[name], source="report", kind="unauthorised_mortgage",
                        severity="serious", description="资产被擅自抵押", created_at=at)
                for name in ("greenhouse", "workshop", "greenhouse", "workshop")]
        session.add_all(made)
        session.commit()
        return [p.id for p in made]


def _effects(engine, problem_id: int) -> dict:
    subject = f"problem/{problem_id}"
    with Session(engine) as session:
        problem = session.get(Problem, problem_id)
        events = session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == problem_id)
                              .order_by(ProblemEvent.id)).all()
        audits = [a for a in session.exec(select(AuditEntry).where(AuditEntry.entity_id.in_([str(problem_id), subject]))
                                          .order_by(AuditEntry.id)).all() if a.entity in ("problem", "outbox_message")]
        notices = session.exec(select(OutboxMessage).where(OutboxMessage.subject == subject)
                               .order_by(OutboxMessage.id)).all()
        return {
            "problem": (problem.status, problem.owner_level, problem.resolution_note,
                        problem.acknowledged_by is not None, problem.resolved_by is not None),
            "events": [(e.action, e.note, e.actor_user_id) for e in events],
            "audit": [(a.action, a.actor_user_id) for a in audits],
            "notices": [(m.kind, m.step.split("-")[0], m.role, m.recipient, [b[0] for b in m.body])
                        for m in notices],
        }


async def test_the_web_and_telegram_handle_a_problem_with_the_same_effects(world):  # noqa: F811
    double = world.double  # noqa: F811
    first_tg, first_web, second_tg, second_web = _problems(world)
    leader_id = world.invites["leader"][0]
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        message = double._latest_bot_message_id(leader.id)
        double.press(leader, message, f"pb:ack:{first_tg}")
        await reply(double, leader)
        double.press(leader, message, f"pl:hand:{first_tg}")
        await reply(double, leader)
        double.press(leader, message, f"pl:esc:{first_tg}")
        await reply(double, leader)
        double.send_text(leader, "建议收回资产并追责")
        await reply(double, leader)
        double.press(leader, message, f"pb:res:{second_tg}")
        await reply(double, leader)
        double.send_text(leader, "已解除抵押")
        await reply(double, leader)

    client = TestClient(create_app(world.settings, world.engine))
    with Session(world.engine) as session:
        link = weblinks.create_link(session, session.get(User, leader_id), secret=world.settings.secret_key,
                                    public_url="http://testserver")
        session.commit()
    client.get(link.removeprefix("http://testserver"))
    for step, text in (("ack", ""), ("hand", ""), ("escalate", "建议收回资产并追责")):
        page = client.get(f"/problems/{first_web}")
        assert client.post(f"/problems/{first_web}/{step}", data={"csrf": csrf(page), "text": text}).status_code == 200
    page = client.get(f"/problems/{second_web}")
    assert client.post(f"/problems/{second_web}/resolve", data={"csrf": csrf(page), "note": "已解除抵押"}
                       ).status_code == 200

    on_telegram, on_web = _effects(world.engine, first_tg), _effects(world.engine, first_web)
    assert on_web == on_telegram
    assert on_web["problem"][:2] == ("escalated", "county")
    assert [n[2] for n in on_web["notices"]] == ["county_officer"]  # the county office is told
    assert _effects(world.engine, second_web) == _effects(world.engine, second_tg)
    assert _effects(world.engine, second_web)["problem"][0] == "resolved"
