"""The contract and owners pages in real Chromium at a phone's 360 px: register a contract, set the owners; nothing
is wider than the screen and every button is big enough to tap. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.services import contracts, weblinks
from bot.web.app import create_app
from tests.browser import ARTIFACTS, phone_page, serving
from tests.factories import make_asset, make_tree, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def live(sqlite_engine, settings):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        leader = make_user(session, "township_leader", tree.township_a, name="新桥镇李镇长")
        asset = make_asset(session, tree.village_a1, name="新桥村扶贫车间及配套冷库建设项目")
        session.commit()
    with serving(lambda url: create_app(settings.model_copy(update={"public_url": url}), sqlite_engine)) as base:
        with Session(sqlite_engine) as session:
            link = weblinks.create_link(session, leader, secret=settings.secret_key, public_url=base)
            session.commit()
        yield base, link, asset.id


def _fits(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    for box in page.evaluate("() => [...document.querySelectorAll('button, a.button, select')]"
                             ".map(e => e.getBoundingClientRect().height)"):
        assert box >= 44


def test_a_township_leader_registers_the_contract_and_owners_on_a_phone(live, sqlite_engine):
    base, link, asset_id = live
    with phone_page() as page:
        page.goto(link)
        page.goto(f"{base}/ledger/assets/{asset_id}")
        _fits(page)
        page.click("a:has-text('经营合同：修改或登记')")
        _fits(page)
        page.fill("#n-operator", "桃源县农业发展有限公司")
        page.select_option("#n-mode", "lease")
        page.fill("#n-start", "2024-07-01")
        page.fill("#n-end", "2027-06-30")
        page.fill("#n-income_amount", "8")
        page.fill("#n-poverty_mechanism", "优先吸纳脱贫户务工20人")
        with page.expect_navigation():
            page.click("#new-contract button:has-text('登记')")
        assert "合同已登记" in page.inner_text("#flash")
        _fits(page)
        page.screenshot(path=str(ARTIFACTS / "contract-360.png"), full_page=True)
        page.goto(f"{base}/ledger/assets/{asset_id}/owners")
        page.fill("#o-0", "新桥村股份经济合作社")
        page.fill("#s-0", "60")
        page.fill("#o-1", "王庄村股份经济合作社")
        page.fill("#s-1", "40")
        with page.expect_navigation():
            page.click("#owners button:has-text('保存')")
        text = page.inner_text("#contract")
        assert "租赁" in text and "2024-07-01 – 2027-06-30" in text and "王庄村股份经济合作社：40 %" in text
        _fits(page)
        page.screenshot(path=str(ARTIFACTS / "contract-asset-360.png"), full_page=True)
    with Session(sqlite_engine) as session:
        assert contracts.current_contract(session, asset_id).operator == "桃源县农业发展有限公司"
