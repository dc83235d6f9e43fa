"""Real Chromium at a phone's 360 px against uvicorn: an invite printed by the county opens in the phone's
browser, one tap joins and lands on the person's home. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.services import users
from bot.storage.models import User, WebSession
from bot.web.app import create_app
from tests.browser import ARTIFACTS, phone_page, serving
from tests.factories import make_tree, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def live(sqlite_engine, people_settings):
    """The app served by uvicorn in a thread; yield its base URL."""
    with serving(lambda url: create_app(people_settings.model_copy(update={"public_url": url}),
                                        sqlite_engine)) as base:
        yield base


@pytest.fixture
def phone():
    with phone_page() as tab:
        yield tab


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_an_invite_link_opened_on_a_phone_joins_and_lands_on_home(live, phone, sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        officer = make_user(session, "county_officer", tree.county, name="周科长")
        created = users.create_invite(session, officer, scope=tree.village_a1, role="village_cadre", name="李书记")
        session.commit()
    phone.goto(created.web_link(live))
    assert "李书记" in phone.content() and "新桥村" in phone.content()
    _fits(phone)
    phone.screenshot(path=str(ARTIFACTS / "people-join.png"), full_page=True)
    join = phone.get_by_role("button", name="加入并登录")
    assert join.bounding_box()["height"] >= 44
    join.click()
    phone.wait_for_url(f"{live}/home")
    assert phone.locator("h1").first.inner_text() == "李书记"
    assert "本月检查" in phone.content() or "村干部" in phone.content()
    _fits(phone)
    phone.screenshot(path=str(ARTIFACTS / "people-join-home.png"), full_page=True)
    # the same link again on this phone goes home; in another browser it would be refused
    phone.goto(created.web_link(live))
    phone.wait_for_url(f"{live}/home")
    with Session(sqlite_engine) as session:
        person = session.exec(select(User).where(User.name == "李书记")).one()
        assert person.active
        assert session.exec(select(WebSession).where(WebSession.user_id == person.id)).one().via == "invite"


def test_the_printable_invite_fits_a_phone_and_copies_its_link(live, phone, sqlite_engine):
    from bot.services import weblinks

    with Session(sqlite_engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        leader = make_user(session, "township_leader", tree.township_a, name="张镇长")
        link = weblinks.create_link(session, leader, secret="test-secret-key-0123456789", public_url=live)
        session.commit()
    phone.goto(link)
    phone.wait_for_url(f"{live}/home")
    phone.get_by_role("link", name="邀请人员").first.click()
    phone.fill("#name", "孙书记")
    phone.select_option("#unit", label="王庄村 · 村")
    phone.get_by_role("button", name="生成邀请").click()
    phone.locator("#invite-link").wait_for()
    _fits(phone)
    phone.screenshot(path=str(ARTIFACTS / "people-invite-card.png"), full_page=True)
    assert "/join/" in phone.input_value("#invite-link")
    phone.get_by_role("button", name="复制链接").click()
    phone.locator("#copy-status").filter(has_text="已复制").wait_for()
