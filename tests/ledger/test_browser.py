"""The ledger in real Chromium at a phone's 360 px: upload, check, confirm; the list's wide table scrolls inside
its card and nothing is wider than the screen. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.services import weblinks
from bot.storage.models import Asset
from bot.web.app import create_app
from tests.browser import ARTIFACTS, phone_page, serving
from tests.factories import make_asset, make_tree, make_user
from tests.ledger.template import LEDGER_2020, write_template

pytestmark = pytest.mark.browser


@pytest.fixture
def live(sqlite_engine, settings):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        officer = make_user(session, "county_officer", tree.county, name="张科长")
        for i in range(12):
            make_asset(session, tree.village_a2, name=f"王庄村蔬菜大棚及配套冷库建设项目第{i + 1}期",
                       project_code=f"WZ-2019-{i:04d}")
        session.commit()
    with serving(lambda url: create_app(settings.model_copy(update={"public_url": url}), sqlite_engine)) as base:
        with Session(sqlite_engine) as session:
            link = weblinks.create_link(session, officer, secret=settings.secret_key, public_url=base)
            session.commit()
        yield base, link


@pytest.fixture
def page():
    with phone_page() as tab:
        yield tab


def _fits(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    for box in page.evaluate("() => [...document.querySelectorAll('button, a.button, select, table.ledger td a')]"
                             ".map(e => e.getBoundingClientRect().height)"):
        assert box >= 44


def test_an_officer_imports_and_browses_the_ledger_on_a_phone(live, page, tmp_path, sqlite_engine):
    base, link = live
    page.goto(link)
    page.goto(f"{base}/ledger/import")
    _fits(page)
    page.set_input_files("#file", str(write_template(tmp_path / "2020年度台账.xlsx", 2020, LEDGER_2020)))
    with page.expect_navigation() as nav:
        page.click("button:has-text('检查文件')")
    assert nav.value is not None and nav.value.status == 200 and "/ledger/import/" in page.url
    assert "新增 3 项" in page.inner_text("main")
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / "ledger-check-360.png"), full_page=True)
    page.click("button:has-text('确认导入')")
    page.wait_for_selector("text=已导入")
    with Session(sqlite_engine) as session:
        assert len(session.exec(select(Asset)).all()) == 15

    page.goto(f"{base}/ledger")
    _fits(page)
    inner = page.evaluate("() => { const s = document.querySelector('#assets .scroll');"
                          " return [s.scrollWidth, s.clientWidth, s.getBoundingClientRect().right]; }")
    assert inner[0] > inner[1] and inner[2] <= 360  # the table scrolls inside its card
    page.screenshot(path=str(ARTIFACTS / "ledger-list-360.png"), full_page=True)
    page.click("a:has-text('王庄村扶贫车间')")
    page.wait_for_selector("text=变更历史")
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / "ledger-asset-360.png"), full_page=True)
    page.click("a:has-text('修改此资产')")
    page.fill("#f-operator", "王庄村股份经济合作社")
    page.click("button:has-text('保存')")
    page.wait_for_selector("text=已保存")
    assert "经营主体：— → 王庄村股份经济合作社" in page.inner_text("#history")
