"""A Telegram-only township leader gets the serious-problem alert with Acknowledge / Resolve, and a
village supervisor the "report waits for your sign-off" with its button: both outbox rows, delivered
by the courier as soon as the submission commits; pressing the buttons works."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.clock import utcnow
from bot.i18n import translate
from bot.services import cycle, notices, users
from bot.storage.models import OrgUnit, Problem, Report, User
from bot.storage.models_schedule import OutboxMessage
from tests.cycle.test_year import MIDYEAR
from tests.cycle.world import fill
from tests.outbox.helpers import SERIOUS, fill_draft, store_at
from tests.telegram.conftest import data_of, double, reply, running_bot, sign_in, world  # noqa: F401


def zh(msgid: str, **params) -> str:
    return translate("zh_CN", msgid, **params)


async def test_the_leaders_alert_and_the_supervisors_notice_come_with_working_buttons(world, tmp_path):  # noqa: F811
    double = world.double  # noqa: F811 - the fixture is imported for pytest
    with Session(world.engine) as session:
        village = session.exec(select(OrgUnit).where(OrgUnit.name == "新桥村")).one()
        created = users.create_invite(session, None, scope=village, role="village_supervisor", name="李监委")
        world.invites["supervisor"] = (created.user.id, created.code)
        village_id = village.id
        session.commit()
    cadre_id = world.invites["cadre_a"][0]
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        supervisor = await sign_in(world, "supervisor", 6101)
        cadre = await sign_in(world, "cadre_a", 5001)  # an invited cadre can act once they have joined
        report_id = fill_draft(world.engine, cadre_id, world.assets["greenhouse"], SERIOUS,
                               store_at(tmp_path / "ev"), now=utcnow())

        # The cadre confirms the submission in Telegram; the township is told at once.
        double.press(cadre, double._latest_bot_message_id(cadre.id), f"n:{report_id}:confirm")
        await reply(double, cadre)
        alert = await reply(double, leader)
        with Session(world.engine) as session:
            (problem,) = session.exec(select(Problem).where(Problem.report_id == report_id,
                                                            Problem.severity == "serious")).all()
        assert "新桥村蔬菜大棚" in alert.text and "新桥村" in alert.text
        assert data_of(alert) == [f"pb:ack:{problem.id}", f"pb:res:{problem.id}"]
        double.press(leader, alert.message_id, f"pb:ack:{problem.id}")
        acknowledged = await reply(double, leader)
        assert zh("Acknowledged. You will be reminded to act; press Resolve when it is dealt with.") in \
            acknowledged.text
        double.press(leader, alert.message_id, f"pb:res:{problem.id}")
        await reply(double, leader)
        double.send_text(leader, "已约谈经营主体，解除抵押")
        assert zh("Resolved and recorded. Thank you.") in (await reply(double, leader)).text

        # A form the supervisor signs: the notice carries the sign-off button, which opens the answers.
        with Session(world.engine, expire_on_commit=False) as session:
            cadre_user = session.get(User, cadre_id)
            midyear = fill(session, cadre_user, cycle.start(session, cadre_user, "midyear-self-check", village_id,
                                                            "2026", channel="web"), MIDYEAR)
        told = await reply(double, supervisor)
        assert zh(notices.SIGN_OFF_WAITING, title="").rstrip() in told.text and "新桥村" in told.text
        assert data_of(told) == [f"so:{midyear.id}"]
        double.press(supervisor, told.message_id, f"so:{midyear.id}")
        shown = await reply(double, supervisor)
        assert data_of(shown) == [f"so:{midyear.id}:ok", f"so:{midyear.id}:back"]
        double.press(supervisor, shown.message_id, f"so:{midyear.id}:ok")
        await reply(double, supervisor)
    with Session(world.engine) as session:
        resolved = session.get(Problem, problem.id)
        assert resolved.status == "resolved" and resolved.acknowledged_at is not None
        assert session.get(Report, midyear.id).status == "reported"
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.key.startswith("n|"))).all()
        assert {(m.step, m.recipient, m.status) for m in sent} == {
            ("alert-now", f"u{world.invites['leader'][0]}", "sent"),
            (f"sign-off-v{midyear.version}", f"u{world.invites['supervisor'][0]}", "sent")}
    # Each was delivered once.
    assert double.accepted_sends[6001] >= 1
    assert sum(1 for s in double.messages_to(6001) if "新桥村蔬菜大棚" in (s.text or "") and not s.is_edit
               and s.buttons and s.buttons[0].callback_data.startswith("pb:ack")) == 1
