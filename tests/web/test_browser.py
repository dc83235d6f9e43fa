"""Real Chromium (Playwright) at a phone viewport against uvicorn: a villager and a cadre use the web side.

Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from sqlmodel import Session, select

from bot.flows import load_form
from bot.services import reports, weblinks
from bot.storage.models import Problem, Report, User
from bot.web.app import create_app
from tests.browser import ARTIFACTS, phone_page, serving
from tests.services.images import make_jpeg
from tests.web.conftest import populate


def _wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Wait until a JavaScript expression is true on the page.

    Not page.wait_for_function: its polling evaluates a string, which the pages' Content Security
    Policy (script-src 'self') rightly forbids, so it failed whenever the first check was false.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(50)

pytestmark = pytest.mark.browser


@pytest.fixture
def live(sqlite_engine, web_settings, store):
    """Serve the app with uvicorn (one worker) in a thread on a listening socket; yield (base URL, world)."""
    with Session(sqlite_engine, expire_on_commit=False) as session:
        world = populate(session, store)
    made = {}

    def app(base: str):
        made["settings"] = web_settings.model_copy(update={"public_url": base})
        return create_app(made["settings"], sqlite_engine)

    with serving(app) as base:
        yield base, world, made["settings"]


@pytest.fixture
def page():
    with phone_page(geolocation={"latitude": 31.40123, "longitude": 117.20456}, permissions=["geolocation"]) as tab:
        yield tab


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_villager_reports_a_problem(live, page, sqlite_engine, tmp_path):
    base, world, _settings = live
    page.goto(f"{base}/p/{world.asset.public_token}")
    assert page.locator("h1").first.inner_text() == "新桥村光伏电站"
    _wait_until(page, "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    _no_horizontal_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "public-page.png"), full_page=True)
    photo = tmp_path / "broken.jpg"
    photo.write_bytes(make_jpeg(800, 600, seed=5))
    page.select_option("#category", "damaged")
    page.fill("#text", "水泵坏了<b>两周</b>没人修")
    page.set_input_files("#photo", str(photo))
    page.get_by_role("button", name="提交反映").click()
    page.get_by_role("status").wait_for()
    assert "已转给乡镇" in page.get_by_role("status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "public-report-sent.png"), full_page=True)
    page.goto(f"{base}/p/{world.asset.public_token}?lang=en")
    assert "Report a problem" in page.content()
    with Session(sqlite_engine) as session:
        problem = session.exec(select(Problem).where(Problem.source == "villager")).one()
    assert problem.description == "水泵坏了<b>两周</b>没人修" and problem.severity == "major"


def _answer_on_screen(page, form, tmp_path, step: int) -> str | None:
    """Answer the question shown with the page's own controls; return its key (None at the review)."""
    shown = page.locator("form#question")
    if shown.count() == 0:
        return None
    key = shown.get_attribute("data-question")
    question = form.question(key)
    if question.type == "photo":
        if page.locator("img[src*='/photo/']").count():
            button = "照片已传完"
        else:
            path = tmp_path / f"{key}.jpg"
            path.write_bytes(make_jpeg(1024, 768, seed=100 + step))
            page.set_input_files("#photo", str(path))
            button = "上传照片"
        with page.expect_navigation():
            page.get_by_role("button", name=button).click()
        return key
    if question.type in ("yesno", "choice"):
        wanted = {"yesno": "no", "choice": question.options[0].key}[question.type]
        page.locator(f"input[type=radio][value='{wanted}']").check()
    elif question.type == "multi":
        page.locator("input[type=checkbox]").first.check()
    elif question.type == "number":
        page.fill("input[name=value]", "2")
    elif question.type == "text":
        page.fill("textarea[name=value]", "<script>alert('x')</script>")
    elif question.type == "date":
        page.fill("input[name=value]", "2026-03-01")
    elif question.type == "location":  # the browser's position, through the page's button
        page.get_by_role("button", name="使用我当前的位置").click()
        _wait_until(page, "document.querySelector('input[name=lon]').value !== ''")
        assert page.input_value("input[name=lat]") == "31.401230"
    with page.expect_navigation():
        page.get_by_role("button", name="下一题").click()
    return key


def test_cadre_signs_in_by_link_fills_and_submits(live, page, sqlite_engine, tmp_path):
    base, world, settings = live
    with Session(sqlite_engine) as session:
        link = weblinks.create_link(session, session.get(User, world.cadre.id), secret=settings.secret_key,
                                    public_url=base)
        session.commit()
    page.goto(link)
    assert page.url == f"{base}/home"  # sign-in lands on the home page; its menu leads to the checks
    page.get_by_role("link", name=re.compile("本月检查")).click()
    page.wait_for_url("**/f?*")
    page.screenshot(path=str(ARTIFACTS / "form-overview.png"), full_page=True)
    page.get_by_role("button", name="新桥村光伏电站").click()
    page.wait_for_url("**/f/report/*")
    report_id = int(page.url.split("/f/report/")[1].split("?")[0])
    form = load_form("monthly-operating")
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    keys = []
    for step in range(80):
        if step == 0:
            _no_horizontal_scroll(page)
            page.screenshot(path=str(ARTIFACTS / "form-question.png"), full_page=True)
        if step == 3:  # the same draft continued from Telegram, then back on the phone
            with Session(sqlite_engine) as session:
                user = session.get(User, world.cadre.id)
                question = reports.walker_for(session.get(Report, report_id)).current()
                raw = question.options[0].key if question.options else "1"
                reports.answer(session, user, report_id, question.key, raw)
            keys.append(question.key)
            page.reload()
        key = _answer_on_screen(page, form, tmp_path, step)
        if key is None:
            break
        keys.append(key)
    assert {"board_photo", "sign_photo"} <= set(keys)
    assert "核对您的回答" in page.content()
    page.screenshot(path=str(ARTIFACTS / "form-review.png"), full_page=True)
    page.get_by_role("button", name="确认并提交").click()
    page.get_by_role("status").wait_for()
    page.screenshot(path=str(ARTIFACTS / "form-submitted.png"), full_page=True)
    assert alerts == []  # the text answer was shown escaped, never run
    with Session(sqlite_engine) as session:
        report = session.get(Report, report_id)
        assert report.status == "submitted"
        assert report.answers["location"] == {"lat": 31.40123, "lon": 117.20456}
        assert len(report.answers["board_photo"]) == 1 and len(report.answers["sign_photo"]) == 1
    page.goto(f"{base}/f")
    assert "已提交" in page.content()


def test_answer_given_offline_is_sent_when_back_online(live, page, sqlite_engine):
    base, world, settings = live
    with Session(sqlite_engine) as session:
        link = weblinks.create_link(session, session.get(User, world.cadre.id), secret=settings.secret_key,
                                    public_url=base)
        session.commit()
    page.goto(link)
    page.goto(f"{base}/f")
    page.get_by_role("button", name="新桥村光伏电站").click()
    page.wait_for_url("**/f/report/*")
    report_id = int(page.url.split("/f/report/")[1].split("?")[0])
    page.context.set_offline(True)
    page.locator("input[type=radio][value='yes']").check()
    page.get_by_role("button", name="下一题").click()
    page.locator("#offline").wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "form-offline.png"), full_page=True)
    with Session(sqlite_engine) as session:
        assert session.get(Report, report_id).answers == {}
    with page.expect_navigation():  # the kept answer is sent, then the page reloads on the next question
        page.context.set_offline(False)
    page.locator("form#question").wait_for()
    assert page.locator("form#question").get_attribute("data-question") != "operating_normally"
    with Session(sqlite_engine) as session:
        assert session.get(Report, report_id).answers == {"operating_normally": "yes"}
    assert page.evaluate("localStorage.getItem('villagebot-outbox')") == "[]"


def test_mini_app_signs_in_with_init_data(live, page, sqlite_engine):
    from bot.storage.models import TelegramIdentity
    from tests.web.conftest import BOT_TOKEN
    from tests.web.test_signin import telegram_init_data

    base, world, _settings = live
    with Session(sqlite_engine) as session:
        session.add(TelegramIdentity(telegram_user_id=4242, chat_id=4242, user_id=world.cadre.id))
        session.commit()
    # Telegram opens the Mini App with its launch parameters in the URL fragment
    page.goto(f"{base}/app#tgWebAppData={quote(telegram_init_data(BOT_TOKEN))}&tgWebAppVersion=7.0")
    page.wait_for_url(f"{base}/f")
    assert "新桥村光伏电站" in page.content()
