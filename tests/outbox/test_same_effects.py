"""Submitting the same kind of report on the web and on Telegram is one service call with the same
effects: the same problems, the same problem events, the same notices in the outbox (and the same
people told)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.services import weblinks
from bot.storage.models import Problem, ProblemEvent, Report, User
from bot.storage.models_schedule import OutboxMessage
from bot.web.app import create_app
from tests.outbox.helpers import SERIOUS, fill_draft, store_at
from tests.telegram.conftest import double, reply, running_bot, sign_in, world  # noqa: F401
from tests.web.conftest import csrf_of


def _effects(engine, report_id: int) -> dict:
    """What a submission caused, without ids and names."""
    with Session(engine) as session:
        problems = session.exec(select(Problem).where(Problem.report_id == report_id).order_by(Problem.kind)).all()
        ids = {p.id: p.kind for p in problems}
        events = session.exec(select(ProblemEvent).where(ProblemEvent.problem_id.in_(list(ids)))).all()
        subjects = {f"problem/{pid}": kind for pid, kind in ids.items()}
        rows = [m for m in session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
                if m.subject in subjects]
        return {
            "problems": sorted((p.kind, p.severity, p.owner_level, p.status) for p in problems),
            "events": sorted((ids[e.problem_id], e.action) for e in events),
            "notices": sorted((subjects[m.subject], m.kind, m.step, m.role, m.channel, m.recipient, m.urgent,
                               tuple(msgid for msgid, _ in m.body), tuple(a.split(":")[0] for a in m.actions))
                              for m in rows),
        }


async def test_a_web_submit_and_a_telegram_submit_have_the_same_effects(world, tmp_path):  # noqa: F811
    double = world.double  # noqa: F811 - the fixture is imported for pytest
    cadre_id = world.invites["cadre_a"][0]
    store = store_at(tmp_path / "ev")
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        cadre = await sign_in(world, "cadre_a", 5001)  # an invited cadre can act once they have joined
        on_web = fill_draft(world.engine, cadre_id, world.assets["greenhouse"], SERIOUS, store, now=utcnow(),
                            channel="web")
        on_telegram = fill_draft(world.engine, cadre_id, world.assets["workshop"], SERIOUS, store, seed=20,
                                 now=utcnow())

        client = TestClient(create_app(world.settings, world.engine), follow_redirects=False)
        with Session(world.engine) as session:
            link = weblinks.create_link(session, session.get(User, cadre_id), secret=world.settings.secret_key,
                                        public_url="http://testserver")
            session.commit()
        assert client.get(link.removeprefix("http://testserver")).status_code == 303
        page = client.get(f"/f/report/{on_web}")
        answer = client.post(f"/f/report/{on_web}/submit", data={"csrf": csrf_of(page.text)})
        assert answer.status_code == 303
        first = await reply(double, leader)  # the web submission's alert, through the outbox

        double.press(cadre, double._latest_bot_message_id(cadre.id), f"n:{on_telegram}:confirm")
        await reply(double, cadre)
        second = await reply(double, leader)
    assert "新桥村蔬菜大棚" in first.text and "新桥村扶贫车间" in second.text
    assert [b.callback_data.split(":")[:2] for b in first.buttons] == \
        [b.callback_data.split(":")[:2] for b in second.buttons] == [["pb", "ack"], ["pb", "res"]]
    with Session(world.engine) as session:
        assert {session.get(Report, rid).status for rid in (on_web, on_telegram)} == {"submitted"}
    web, telegram = _effects(world.engine, on_web), _effects(world.engine, on_telegram)
    assert web == telegram
    assert ("unauthorised_mortgage", "alerted") in web["events"]
    assert [n[1:3] for n in web["notices"]] == [("alert", "alert-now")]
