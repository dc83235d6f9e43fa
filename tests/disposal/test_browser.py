"""The village's disposal request in real Chromium at a phone's width: from the home page to the sent request and
its meeting form, nothing wider than the screen; the confirmation box is required by the browser too."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.services import weblinks
from bot.storage.models import User
from bot.storage.models_disposal import Disposal
from bot.web.app import create_app
from tests.browser import ARTIFACTS, phone_page, serving

WIDEST = "Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))"


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_disposal_requested_on_a_phone(town):
    with serving(lambda url: create_app(town.settings.model_copy(update={"public_url": url}), town.engine)) as base, \
            phone_page() as page:
        with Session(town.engine) as session:
            link = weblinks.create_link(session, session.get(User, town.cadre.id), secret=town.settings.secret_key,
                                        public_url=base)
            session.commit()
        page.goto(link)
        page.get_by_role("link", name="资产处置").first.click()
        page.locator(f'a[href^="/disposals/new?asset={town.asset.id}"]').click()
        page.get_by_label("长期闲置、无法盘活").check()
        page.select_option("#way", "transfer")
        page.fill("#description", "大棚闲置两年，无人承租")
        assert page.evaluate(WIDEST) <= 360
        page.get_by_role("button", name="提交申请").click()  # the box is not ticked: the browser keeps the form
        assert "/disposals/new" in page.url
        page.get_by_label("我确认提交申请，启动处置程序。").check()
        with page.expect_navigation():
            page.get_by_role("button", name="提交申请").click()
        assert "处置申请已提交" in page.get_by_role("status").inner_text()
        assert page.locator("#meeting").count() == 1 and page.evaluate(WIDEST) <= 360
        page.screenshot(path=str(ARTIFACTS / "disposal-requested.png"), full_page=True)
    with Session(town.engine) as session:
        row = session.exec(select(Disposal)).one()
        assert (row.status, row.reason, row.method) == ("requested", "idle", "transfer")
