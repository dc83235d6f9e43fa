"""One draft, two transports: a cadre starts the checklist in Telegram, takes the /form link and finishes it in
a real browser (Chromium) on the web form; nothing answered is lost and one report is submitted."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session, select

from bot.storage.models import Report
from bot.web.app import create_app
from tests.services.images import make_jpeg
from tests.telegram.conftest import current_question, current_report, reply, running_bot, safe_option, sign_in
from tests.telegram.test_checklist import open_checklist

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


def finish_in_browser(link: str, tmp_path: Path) -> list[str]:
    """Open the link on a phone-sized Chromium, answer what is left with the page's controls, submit."""
    from playwright.sync_api import sync_playwright

    seen = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                   locale="zh-CN").new_page()
        page.goto(link)
        page.get_by_role("button", name="新桥村蔬菜大棚").click()
        page.wait_for_url("**/f/report/*")
        for step in range(40):
            form = page.locator("form#question")
            if form.count() == 0:
                break
            seen.append(form.get_attribute("data-question"))
            if page.locator("input[type=file]").count():
                if page.locator("img[src*='/photo/']").count():
                    button = "照片已传完"
                else:
                    photo = tmp_path / f"p{step}.jpg"
                    photo.write_bytes(make_jpeg(900, 700, seed=300 + step))
                    page.set_input_files("#photo", str(photo))
                    button = "上传照片"
            elif page.locator("input[type=radio][value=not_due]").count():
                page.locator("input[type=radio][value=not_due]").check()
                button = "下一题"
            elif page.locator("input[type=radio][value=no]").count():
                page.locator("input[type=radio][value=no]").check()
                button = "下一题"
            elif page.locator("textarea[name=value]").count():
                page.fill("textarea[name=value]", "情况正常")
                button = "下一题"
            elif page.get_by_role("button", name="跳过").count():
                button = "跳过"
            else:
                page.locator("input[type=radio]").first.check()
                button = "下一题"
            with page.expect_navigation():
                page.get_by_role("button", name=button).click()
        page.screenshot(path=str(ARTIFACTS / "telegram-then-web-review.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("button", name="确认并提交").click()
        browser.close()
    return seen


async def test_a_draft_started_in_telegram_is_finished_on_the_web(world, tmp_path):
    asset = world.assets["greenhouse"]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    world.settings = world.settings.model_copy(update={"public_url": base})
    server = uvicorn.Server(uvicorn.Config(create_app(world.settings, world.engine), log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with running_bot(world):
            cadre = await sign_in(world, "cadre_a", 5001)
            await open_checklist(world, cadre, asset)
            answered = []
            for _ in range(3):  # three answers in Telegram
                report, q = current_question(world, asset)
                world.double.press(cadre, world.double._latest_bot_message_id(cadre.id),
                                   f"v:{report.id}:{q.key}:{safe_option(world, asset, q)}")
                await reply(world.double, cadre)
                answered.append(q.key)
            kept = dict(current_report(world, asset).answers)
            world.double.send_command(cadre, "form")
            message = await reply(world.double, cadre)
        (button,) = [b for row in message.reply_markup["inline_keyboard"] for b in row]
        seen = await asyncio.to_thread(finish_in_browser, button["url"], tmp_path)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert seen and seen[0] not in answered  # the web form went on where Telegram stopped
    with Session(world.engine) as session:
        (report,) = session.exec(select(Report).where(Report.asset_id == asset)).all()
        assert report.status == "submitted" and report.channel == "telegram"
        assert all(report.answers[k] == kept[k] for k in answered)
