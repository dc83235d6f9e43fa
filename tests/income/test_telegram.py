"""/income on Telegram: the year's income of the cadre's own operating assets in words, what waits for the township
leader, and a button with a single-use link to the income pages; /disposals links to the disposals page."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.clock import utcnow
from bot.services import income
from bot.storage.models import User
from bot.storage.models_income import AssetIncome
from bot.web.app import create_app
from tests.telegram.conftest import double, reply, running_bot, sign_in, world  # noqa: F401


def _button_url(message) -> str:
    (button,) = [b for row in message.reply_markup["inline_keyboard"] for b in row]
    return button["url"]


async def test_income_in_words_and_a_link_to_the_pages(world):  # noqa: F811
    year = utcnow().astimezone(world.settings.tz).year
    async with running_bot(world):
        cadre = await sign_in(world, "cadre_a", 701)
        leader = await sign_in(world, "leader", 702)
        with Session(world.engine) as session:
            session.add(AssetIncome(asset_id=world.assets["greenhouse"], period=f"{year}-01",
                                    received=Decimal("1.5"), due=Decimal("2")))
            cadre_user = session.get(User, world.invites["cadre_a"][0])
            plan = income.draft_plan(session, cadre_user, world.assets["greenhouse"], year, "1.5",
                                     [income.ShareIn("households", "100", 12)])
            income.submit_plan(session, cadre_user, plan.id)
            session.commit()
        await reply(world.double, leader)  # the township is told a plan waits (through the outbox)
        world.double.send_command(cadre, "income")
        answer = await reply(world.double, cadre)
        world.double.send_command(leader, "income")
        township = await reply(world.double, leader)
        world.double.send_command(cadre, "disposals")
        disposals = await reply(world.double, cadre)
    assert f"{year}年资产收益（万元）" in answer.text
    assert "新桥村蔬菜大棚：实收1.5，应收2；分配方案：待乡镇审核" in answer.text
    assert "新桥村扶贫车间：实收未填报，应收未填报；分配方案：尚未制定" in answer.text
    assert "王庄村光伏电站" not in answer.text and "新桥村产业路" not in answer.text  # another village; not operating
    assert "submitted" not in answer.text and "None" not in answer.text
    client = TestClient(create_app(world.settings, world.engine))
    link = _button_url(answer).removeprefix("http://testserver")
    page = client.get(link)
    assert page.status_code == 200 and str(page.url).split("?")[0].endswith("/income")
    assert "新桥村蔬菜大棚" in page.text
    assert client.get(link).status_code == 403  # single use

    assert "王庄村光伏电站" in township.text and "待您审核的收益分配方案：1个。" in township.text
    page = TestClient(create_app(world.settings, world.engine)).get(_button_url(township).removeprefix(
        "http://testserver"))
    assert page.status_code == 200 and "show=approve" in str(page.url) and "新桥村蔬菜大棚" in page.text

    assert "资产处置" in disposals.text
    page = TestClient(create_app(world.settings, world.engine)).get(_button_url(disposals).removeprefix(
        "http://testserver"))
    assert page.status_code == 200 and str(page.url).split("?")[0].endswith("/disposals")
