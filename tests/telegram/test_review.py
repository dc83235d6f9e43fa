"""The township's review on Telegram: approve, or send back with a reason; the cadre corrects a new version."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.i18n import translate
from bot.services import users
from bot.storage.models import AuditEntry, Report
from tests.telegram.conftest import (
    current_question,
    current_report,
    data_of,
    reply,
    running_bot,
    sign_in,
    walk_to_review,
)
from tests.telegram.test_checklist import open_checklist, submit


def zh(msgid: str, **params) -> str:
    return translate("zh_CN", msgid, **params)


async def test_send_back_reaches_the_cadre_who_corrects_a_new_version(world):
    double = world.double
    asset = world.assets["greenhouse"]
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        cadre = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, cadre, asset)
        await walk_to_review(world, cadre, asset)
        first = current_report(world, asset)
        await submit(world, cadre, first.id)

        double.send_command(leader, "review")
        listing = await reply(double, leader)
        assert f"rv:{first.id}" in data_of(listing)
        double.press(leader, listing.message_id, f"rv:{first.id}")
        photos = sum(len(v) for v in first.answers.values() if isinstance(v, list) and v and isinstance(v[0], dict))
        detail, *shown = await double.wait_reply(leader.id, count=1 + photos)
        assert [s.method for s in shown] == ["sendPhoto"] * photos  # the evidence, as EXIF-free display copies
        assert "新桥村蔬菜大棚" in detail.text and {f"rv:ok:{first.id}", f"rv:back:{first.id}"} <= set(data_of(detail))
        double.press(leader, detail.message_id, f"rv:back:{first.id}")
        asked = await reply(double, leader)
        assert zh("Reply with the reason: what should the village correct?") in asked.text
        double.send_text(leader, "公示牌照片看不清，请重拍")
        await reply(double, leader)

        told = await reply(double, cadre)  # an outbox notice, delivered when the send-back commits
        second = current_report(world, asset)
        # The button reopens exactly the new version.
        assert "公示牌照片看不清，请重拍" in told.text and data_of(told) == [f"n:{second.id}:resume"]
        double.press(cadre, told.message_id, f"n:{second.id}:resume")
        reopened = await reply(double, cadre)
        assert second.id != first.id and second.version == first.version + 1
        assert second.answers == first.answers  # prefilled
        assert f"n:{second.id}:submit" in data_of(reopened)  # straight to the review of the kept answers

        # Change the last question's answer (the board photo is replaced), then submit again.
        photo_key = "board_photo"
        double.press(cadre, reopened.message_id, f"n:{second.id}:edit:{photo_key}")
        await reply(double, cadre)
        from tests.telegram.conftest import photo_bytes
        report, q = current_question(world, asset)
        assert q.key == photo_key
        double.send_photo(cadre, photo_bytes(99))
        await reply(double, cadre)
        await submit(world, cadre, second.id)

    with Session(world.engine) as session:
        versions = session.exec(select(Report).where(Report.asset_id == asset).order_by(Report.version)).all()
        assert [(r.version, r.status, r.current) for r in versions] == [(1, "returned", False),
                                                                        (2, "submitted", True)]
        assert versions[0].review_note == "公示牌照片看不清，请重拍"
        assert len(versions[1].answers[photo_key]) == len(first.answers[photo_key]) + 1
        actions = [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.entity == "report"))]
        assert actions.count("report.submit") == 2 and "report.send_back" in actions and "report.reopen" in actions


async def test_a_leader_of_another_township_cannot_review(world):
    double = world.double
    asset = world.assets["greenhouse"]
    with Session(world.engine) as session:
        from bot.storage.models import OrgUnit
        other = session.exec(select(OrgUnit).where(OrgUnit.name == "北坡乡")).one()
        created = users.create_invite(session, None, scope=other, role="township_leader", name="北坡乡书记")
        session.commit()
        world.invites["leader_b"] = (created.user.id, created.code)
    async with running_bot(world):
        cadre = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, cadre, asset)
        await walk_to_review(world, cadre, asset)
        report = current_report(world, asset)
        await submit(world, cadre, report.id)

        outsider = await sign_in(world, "leader_b", 6002)
        double.send_command(outsider, "review")
        listing = await reply(double, outsider)
        assert f"rv:{report.id}" not in data_of(listing)
        for data in (f"rv:{report.id}", f"rv:ok:{report.id}", f"rv:back:{report.id}"):
            double.press(outsider, listing.message_id, data)
            refusal = await reply(double, outsider)
            assert zh("This is outside your area.") in refusal.text, data
        # And a cadre cannot approve their own report.
        double.press(cadre, double._latest_bot_message_id(cadre.id), f"rv:ok:{report.id}")
        refusal = await reply(double, cadre)
        assert zh("Your role cannot do this.") in refusal.text
    assert current_report(world, asset).status == "submitted"


async def test_form_sends_a_single_use_link_that_signs_in_on_the_web(world):
    from fastapi.testclient import TestClient

    from bot.web.app import create_app

    double = world.double
    async with running_bot(world):
        cadre = await sign_in(world, "cadre_a", 5001)
        double.send_command(cadre, "form")
        message = await reply(double, cadre)
    (button,) = [b for row in message.reply_markup["inline_keyboard"] for b in row]
    link = button["url"]
    assert link.startswith("http://testserver/auth/link/")
    client = TestClient(create_app(world.settings, world.engine))  # no lifespan: the bot is not started again
    first = client.get(link.removeprefix("http://testserver"), follow_redirects=True)
    assert first.status_code == 200 and "新桥村蔬菜大棚" in first.text
    again = TestClient(create_app(world.settings, world.engine)).get(link.removeprefix("http://testserver"))
    assert again.status_code in (400, 403, 410)


async def test_the_township_leader_confirms_or_changes_the_four_way_class(world):
    from bot.storage.models import AssetClass

    double = world.double
    asset = world.assets["greenhouse"]
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        cadre = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, cadre, asset)
        await walk_to_review(world, cadre, asset)
        await submit(world, cadre, current_report(world, asset).id)

        double.send_command(leader, "classes")
        listing = await reply(double, leader)
        assert f"cl:{asset}" in data_of(listing)
        double.press(leader, listing.message_id, f"cl:{asset}")
        detail = await reply(double, leader)
        assert {f"cl:set:{asset}:{k}" for k in ("consolidate", "upgrade", "revitalise", "dispose")} \
            <= set(data_of(detail))
        with Session(world.engine) as session:
            suggested = session.exec(select(AssetClass).where(AssetClass.asset_id == asset)).one().suggested
        other = "dispose" if suggested != "处置" else "upgrade"
        double.press(leader, detail.message_id, f"cl:set:{asset}:{other}")
        asked = await reply(double, leader)
        assert zh("You change the suggested class. Reply with a short note saying why.") in asked.text
        double.send_text(leader, "经营主体已撤场，村两委决议处置")
        recorded = await reply(double, leader)
        assert "新桥村蔬菜大棚" in recorded.text

        if other == "dispose":
            # The village hears of it through the outbox before anything else reaches the cadre's chat.
            notice = await reply(double, cadre)
            assert notice.text == zh("The township classified {asset} ({village}) for disposal (处置一批): "
                                     "complete the disposal request on the web (处置).").format(
                asset="新桥村蔬菜大棚", village="新桥村")

        # A cadre cannot classify.
        double.press(cadre, double._latest_bot_message_id(cadre.id), f"cl:set:{asset}:upgrade")
        refusal = await reply(double, cadre)
        assert zh("Your role cannot do this.") in refusal.text
    with Session(world.engine) as session:
        row = session.exec(select(AssetClass).where(AssetClass.asset_id == asset)).one()
        assert row.confirmed == {"dispose": "处置", "upgrade": "提升"}[other]
        assert row.note == "经营主体已撤场，村两委决议处置"
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "asset.classify")).one()
        assert entry.after["note"] == row.note and entry.actor_user_id == world.invites["leader"][0]
