"""The problem list on Telegram: the township escalates with a proposal, the county records its decision."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.i18n import translate
from bot.services import users
from bot.storage.models import OrgUnit, Problem
from tests.telegram.conftest import data_of, reply, running_bot, sign_in


def zh(msgid: str, **params) -> str:
    return translate("zh_CN", msgid, **params)


async def test_escalation_to_the_county_and_its_decision(world):
    double = world.double
    with Session(world.engine) as session:
        county = session.exec(select(OrgUnit).where(OrgUnit.name == "桃源县")).one()
        created = users.create_invite(session, None, scope=county, role="county_officer", name="县乡村振兴局")
        problem = Problem(asset_id=world.assets["greenhouse"], source="villager", kind="villager_report",
                          severity="major", description="大棚被人转租养鸡")
        other = Problem(asset_id=world.assets["far"], source="report", kind="idle", severity="major")
        session.add_all([problem, other])
        session.commit()
        world.invites["county"] = (created.user.id, created.code)
        pid, other_id = problem.id, other.id
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        officer = await sign_in(world, "county", 7001)

        double.send_command(leader, "problems")
        listing = await reply(double, leader)
        assert f"pl:{pid}" in data_of(listing) and f"pl:{other_id}" not in data_of(listing)  # another township's
        double.press(leader, listing.message_id, f"pl:{pid}")
        detail = await reply(double, leader)
        assert "大棚被人转租养鸡" in detail.text and f"pl:esc:{pid}" in data_of(detail)
        double.press(leader, detail.message_id, f"pl:esc:{pid}")
        await reply(double, leader)
        double.send_text(leader, "建议终止转租，恢复原用途")
        done = await reply(double, leader)
        assert zh("Escalated to the county.") in done.text
        # The county office is told (an outbox notice), with a button to the problem.
        told = await reply(double, officer)
        assert "建议终止转租，恢复原用途" in told.text and data_of(told) == [f"pl:{pid}"]

        double.send_command(officer, "problems")
        listing = await reply(double, officer)
        assert data_of(listing)[0] == f"pl:{pid}"  # the escalated one first
        double.press(officer, listing.message_id, f"pl:{pid}")
        detail = await reply(double, officer)
        assert "建议终止转租，恢复原用途" in detail.text and data_of(detail) == [f"pl:dec:{pid}"]
        double.press(officer, detail.message_id, f"pl:dec:{pid}")
        await reply(double, officer)
        double.send_text(officer, "同意，限期一个月整改")
        done = await reply(double, officer)
        assert zh("Decision recorded; the township is told.") in done.text
        told = await reply(double, leader)
        assert "同意，限期一个月整改" in told.text and data_of(told) == [f"pl:{pid}"]

        # The leader cannot take the county's decision.
        double.press(leader, double._latest_bot_message_id(leader.id), f"pl:dec:{pid}")
        refusal = await reply(double, leader)
        assert zh("Your role cannot do this.") in refusal.text
    with Session(world.engine) as session:
        assert (session.get(Problem, pid).status, session.get(Problem, pid).owner_level) == ("in_hand", "township")


async def test_a_reminders_open_button_shows_a_leader_where_each_village_stands(world):
    double = world.double
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        double.press(leader, double._latest_bot_message_id(leader.id), "go:report")
        summary = await reply(double, leader)
    lines = summary.text.splitlines()
    # 新桥村 has three assets to check and 王庄村 one; none done yet; 梨树村 is another township's.
    assert "⏳ 新桥村: 0/3" in lines and "⏳ 王庄村: 0/1" in lines
    assert not any("梨树村" in line for line in lines)


async def test_a_digests_button_opens_the_problem_list(world):
    """The button of a digest of several problems (the contract watch's, ``outbox.ACTIONS['problems']``)."""
    from bot.services.outbox import action_button

    button = action_button("problems", "zh_CN")
    assert (button.label, button.data, button.link) == ("打开问题清单", "pl:list:0", "/problems")
    double = world.double
    with Session(world.engine) as session:
        problem = Problem(asset_id=world.assets["greenhouse"], source="contract", kind="no_contract",
                          severity="major", description="Operated without a contract")
        session.add(problem)
        session.commit()
        pid = problem.id
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        double.press(leader, double._latest_bot_message_id(leader.id), button.data)
        listing = await reply(double, leader)
    assert f"pl:{pid}" in data_of(listing)
