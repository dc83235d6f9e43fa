"""The office pages in real Chromium at a phone's 360 px and a desk's 1280 px: a county officer reaches
signboards, policy and audit log from the home page by links alone, downloads a township's signboards,
chooses a profile and checks the audit log; nothing overflows, tap targets are at least 44 px, no English
on the Chinese pages. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

import pytest
import uvicorn
from pypdf import PdfReader
from sqlmodel import Session

from bot.services import weblinks
from bot.web.app import create_app
from tests.browser import CHROMIUM_ARGS
from tests.office.conftest import SECRET, office_settings, populate

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ALLOWED_LATIN = {"A4", "PDF", "YAML", "yaml", "yml", "UTF", "Telegram", "https", "http", "VILLAGEBOT_PUBLIC_URL",
                 "VILLAGEBOT_ALLOW_LOCAL_PUBLIC_URL", "kB"}
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def live(sqlite_engine, tmp_path):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        office = populate(session)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = office_settings(tmp_path, public_url=base, allow_local_public_url=True)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, sqlite_engine), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield base, office, sqlite_engine
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def _check_layout(tab, name: str) -> None:
    width = tab.viewport_size["width"]
    tab.screenshot(path=str(ARTIFACTS / f"office-{name}-{width}.png"), full_page=True)
    wide = tab.evaluate("""() => [...document.querySelectorAll('main *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => e.tagName + '.' + e.className)""")
    assert not wide, (name, wide)
    small = tab.evaluate("""() => [...document.querySelectorAll('main a, main button, main select, main input')]
        .map(e => (e.type === 'radio' || e.type === 'checkbox') && e.closest('label') ? e.closest('label') : e)
        .filter(e => e.type !== 'hidden' && e.offsetParent !== null && e.getBoundingClientRect().height < 44)
        .map(e => e.tagName + ':' + (e.textContent || e.name).trim().slice(0, 20))""")
    assert not small, (name, small)
    text = tab.evaluate("() => document.querySelector('main').innerText")
    latin = {w for w in re.findall(r"[A-Za-z][A-Za-z_]{2,}", text)} - ALLOWED_LATIN
    latin = {w for w in latin if not re.fullmatch(r"[a-z]+", w) or w not in text.split("://")[-1]}
    assert not {w for w in latin if not re.search(r"127\.0\.0\.1", w)}, (name, latin)


@pytest.mark.parametrize("viewport", [(360, 740), (1280, 800)])
def test_county_officer_works_the_office_pages_in_chromium(live, tmp_path, viewport):
    from playwright.sync_api import sync_playwright

    base, office, engine = live
    ARTIFACTS.mkdir(exist_ok=True)
    with Session(engine) as session:
        link = weblinks.create_link(session, session.get(type(office.county_officer), office.county_officer.id),
                                    secret=SECRET, public_url=base)
        session.commit()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="zh-CN",
                                      accept_downloads=True)
        tab = context.new_page()
        tab.goto(link)
        assert "/home" in tab.url
        tab.click("a[href^='/signboards']")
        tab.wait_for_url("**/signboards*")
        _check_layout(tab, "signboards")
        with tab.expect_download() as download:
            tab.click(f"a[href='/signboards/{office.tree.township_a.id}.pdf']")
        saved = tmp_path / "board.pdf"
        download.value.save_as(saved)
        assert len(PdfReader(saved).pages) == 3

        tab.goto(base + "/home")
        tab.click("a[href^='/policy']")
        tab.wait_for_url("**/policy*")
        tab.check("input[value='yanshan-2024']")
        tab.click("form[action^='/policy/choose'] button")
        tab.wait_for_url("**/policy?*chosen=1*")
        assert "现已采用方案" in tab.inner_text("main")
        _check_layout(tab, "policy")

        tab.goto(base + "/home")
        tab.click("a[href^='/audit']")
        tab.wait_for_url("**/audit*")
        assert "选定政策方案" in tab.inner_text("main")
        _check_layout(tab, "audit")
        tab.click("form[action='/audit/verify'] button")
        tab.wait_for_url("**/audit/verify*")
        assert "审计日志完好" in tab.inner_text("main")
        _check_layout(tab, "audit-verify")
        context.close()
        browser.close()
