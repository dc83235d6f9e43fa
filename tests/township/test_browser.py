"""The township's problem handling in real Chromium at a phone's width: from the home page to a resolved
problem with a photo, nothing wider than the screen; screenshots kept in test-artifacts/."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.services import weblinks
from bot.storage.models import Problem, User
from bot.web.app import create_app
from tests.browser import ARTIFACTS, phone_page, serving
from tests.services.images import make_jpeg

WIDEST = "Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))"


def _leader_link(town, base: str) -> str:
    """The township leader's single-use sign-in link (as the bot's /form gives)."""
    with Session(town.engine) as session:
        link = weblinks.create_link(session, session.get(User, town.leader.id), secret=town.settings.secret_key,
                                    public_url=base)
        session.commit()
    return link


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_problem_resolved_with_a_photo_on_a_phone(town, tmp_path):
    photo = tmp_path / "after.jpg"
    photo.write_bytes(make_jpeg(1200, 900, seed=5))
    with serving(lambda url: create_app(town.settings.model_copy(update={"public_url": url}), town.engine)) as base, \
            phone_page() as page:
        link = _leader_link(town, base)
        page.goto(link)
        page.get_by_role("link", name="问题").first.click()
        page.locator(f'a[href^="/problems/{town.villager_problem_id}?"]').click()
        page.wait_for_url(f"**/problems/{town.villager_problem_id}*")
        assert page.locator("#villager-photos img.photo").count() == 1
        assert page.evaluate(WIDEST) <= 360
        page.screenshot(path=str(ARTIFACTS / "township-problem.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("button", name="确认收到").click()
        assert "已确认收到" in page.get_by_role("status").inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name="标为处理中").click()
        assert page.get_by_role("button", name="标为处理中").count() == 0
        assert "处理中" in page.locator("#status").inner_text()
        page.fill("#note", "已更换棚膜")
        page.set_input_files("#photo", str(photo))
        with page.expect_navigation():
            page.get_by_role("button", name="已解决").click()
        assert "已解决" in page.locator("#status").inner_text()
        assert page.locator("#history img.photo").count() == 1  # the resolution's (the villager's is above)
        assert page.evaluate(WIDEST) <= 360
        page.screenshot(path=str(ARTIFACTS / "township-problem-resolved.png"), full_page=True)
        page.reload()
        assert page.get_by_role("status").count() == 0
    with Session(town.engine) as session:
        assert session.get(Problem, town.villager_problem_id).status == "resolved"


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_four_way_class_on_a_phone(town):
    from tests.township.conftest import submit_report

    submit_report(town)
    with serving(lambda url: create_app(town.settings.model_copy(update={"public_url": url}), town.engine)) as base, \
            phone_page() as page:
        link = _leader_link(town, base)
        page.goto(link)
        page.get_by_role("link", name="四个一批分类").first.click()
        page.locator(f'a[href^="/classify/{town.asset.id}?"]').click()
        assert "尚有1个严重问题未解决" in page.inner_text("main")
        assert page.evaluate(WIDEST) <= 360
        page.screenshot(path=str(ARTIFACTS / "township-classify.png"), full_page=True)
        page.get_by_label("盘活一批").check()
        page.fill("#note", "棚膜已修复，计划引进新的经营主体")
        with page.expect_navigation():
            page.get_by_role("button", name="保存分类").click()
        assert "已记录：新桥村蔬菜大棚 — 盘活一批。" in page.get_by_role("status").inner_text()
        assert page.evaluate(WIDEST) <= 360
