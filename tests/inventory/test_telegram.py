"""/inventory on Telegram answers with a single-use link that opens the village's inventory page on the web."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from bot.web.app import create_app
from tests.telegram.conftest import double, reply, running_bot, sign_in, world  # noqa: F401


async def test_the_command_links_to_the_inventory_page(world):  # noqa: F811
    async with running_bot(world):
        cadre = await sign_in(world, "cadre_a", 601)
        world.double.send_command(cadre, "inventory")
        answer = await reply(world.double, cadre)
    assert "年度资产清查和收益清算在网页上填报" in answer.text
    link = re.search(r"http://testserver(/auth/link/\S+)", answer.text).group(1)
    assert link.endswith("?next=%2Finventory")
    client = TestClient(create_app(world.settings, world.engine))
    page = client.get(link)
    assert page.status_code == 200 and str(page.url).split("?")[0].endswith("/inventory")
    assert "年度资产清查和收益清算" in page.text and "新桥村" in page.text
    assert client.get(link).status_code == 403  # single use
