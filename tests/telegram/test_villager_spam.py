"""Telegram: a township leader marks a villager's report as spam from the problem detail (issue 14)."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.i18n import translate
from bot.services import villager_reports
from bot.storage.models import Asset, Problem
from bot.storage.models_villager import VillagerMute
from tests.telegram.conftest import data_of, reply, running_bot, sign_in


async def test_a_leader_marks_a_villager_report_as_spam(world):
    double = world.double
    with Session(world.engine) as session:
        asset = session.get(Asset, world.assets["greenhouse"])
        source = villager_reports.source_of("k", "203.0.113.7", "spam-device")
        outcome = villager_reports.submit(session, asset, text="加微信领补贴", category="other", source=source)
        monthly = Problem(asset_id=asset.id, source="report", kind="idle", severity="major", description="闲置")
        session.add(monthly)
        session.commit()
        pid, monthly_id = outcome.problem.id, monthly.id
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        double.send_command(leader, "problems")
        listing = await reply(double, leader)
        double.press(leader, listing.message_id, f"pl:{monthly_id}")
        assert f"pl:spam:{monthly_id}" not in data_of(await reply(double, leader))  # only villagers' reports
        double.press(leader, listing.message_id, f"pl:{pid}")
        detail = await reply(double, leader)
        assert f"pl:spam:{pid}" in data_of(detail)
        double.press(leader, detail.message_id, f"pl:spam:{pid}")
        choices = await reply(double, leader)
        assert data_of(choices) == [f"pl:spam:{d}:{pid}" for d in villager_reports.MUTE_DAYS]
        double.press(leader, choices.message_id, f"pl:spam:7:{pid}")
        done = await reply(double, leader)
        assert translate("zh_CN", "Marked as spam; the sender is muted for {days} days.", days=7) in done.text
        # pressing again changes nothing
        double.press(leader, choices.message_id, f"pl:spam:30:{pid}")
        refusal = await reply(double, leader)
        assert translate("zh_CN", "This problem is already closed.") in refusal.text
    with Session(world.engine) as session:
        assert session.get(Problem, pid).status == "closed"
        mutes = session.exec(select(VillagerMute)).all()
        assert {m.kind for m in mutes} == {"address", "device"} and len(mutes) == 2
        assert session.get(Problem, monthly_id).status == "open"
