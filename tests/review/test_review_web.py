"""The send-back loop on the web, in real Chromium: the township sends a report back with a reason, the cadre
reopens it prefilled, corrects and submits a new version, and the history shows both."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.config import Settings
from bot.services import reports, weblinks
from bot.services.evidence import EvidenceStore
from bot.storage.models import Report, User
from bot.web.app import create_app
from tests.factories import make_asset, make_tree, make_user
from tests.services.images import make_jpeg

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
GOOD = {"operating_normally": "yes", "intact": "yes", "at_risk": "no", "income_distributed": "not_due",
        "farmers_linked": "no", "effective": "yes", "unauthorised": "no", "has_difficulties": "no",
        "committee_studied": "yes"}


@pytest.fixture
def county(sqlite_engine, tmp_path):
    """A submitted monthly report of 新桥村 with two photos; its cadre, their township leader and another."""
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    store = EvidenceStore.from_settings(settings)
    with Session(sqlite_engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        asset = make_asset(session, tree.village_a1, name="新桥村蔬菜大棚")
        cadre = make_user(session, "village_cadre", tree.village_a1, "李书记")
        leader = make_user(session, "township_leader", tree.township_a, "王镇长")
        outsider = make_user(session, "township_leader", tree.township_b, "北坡乡书记")
        session.commit()
        report = reports.start_or_resume(session, cadre, asset.id, channel="web")
        for key, raw in GOOD.items():
            reports.answer(session, cadre, report.id, key, raw)
        for seed, key in ((1, "board_photo"), (2, "sign_photo")):
            reports.add_photo(session, cadre, report.id, key, make_jpeg(800, 600, seed=seed), store)
            reports.done(session, cadre, report.id, key)
        reports.skip(session, cadre, report.id, "location")
        reports.submit(session, cadre, report.id)
    return settings, report.id, asset.id, cadre.id, leader.id, outsider.id


def sign_in_link(engine, settings: Settings, user_id: int, base: str) -> str:
    with Session(engine) as session:
        link = weblinks.create_link(session, session.get(User, user_id), secret=settings.secret_key, public_url=base)
        session.commit()
    return link


def test_another_township_and_forged_posts_are_refused(sqlite_engine, county):
    settings, report_id, _, _, _, outsider_id = county
    client = TestClient(create_app(settings, sqlite_engine))
    landing = client.get(sign_in_link(sqlite_engine, settings, outsider_id, "http://testserver").removeprefix(
        "http://testserver"))
    assert landing.url.path == "/home"  # a sign-in link lands on the home page
    assert client.get(f"/review/{report_id}").status_code == 403
    assert client.get("/review").status_code == 200 and "新桥村蔬菜大棚" not in client.get("/review").text
    # No CSRF token: refused before anything else.
    assert client.post(f"/review/{report_id}/approve").status_code == 403
    with Session(sqlite_engine) as session:
        assert session.get(Report, report_id).status == "submitted"


@pytest.mark.browser
def test_the_send_back_loop_in_the_browser(sqlite_engine, county, tmp_path):
    from playwright.sync_api import sync_playwright

    settings, report_id, asset_id, cadre_id, leader_id, _ = county
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings.model_copy(update={"public_url": base})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, sqlite_engine), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            leader = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                         locale="zh-CN").new_page()
            leader.goto(sign_in_link(sqlite_engine, settings, leader_id, base))
            leader.goto(f"{base}/review")
            leader.get_by_role("link", name="新桥村 · 新桥村蔬菜大棚").click()
            leader.wait_for_url(f"**/review/{report_id}*")
            assert leader.locator("img.photo").count() == 2
            leader.screenshot(path=str(ARTIFACTS / "review-detail.png"), full_page=True)
            leader.fill("#reason", "公示牌照片<b>看不清</b>，请重拍")
            with leader.expect_navigation():
                leader.get_by_role("button", name="↩ 退回").click()
            assert "已退回村里：新桥村蔬菜大棚" in leader.get_by_role("status").inner_text()

            cadre = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                        locale="zh-CN").new_page()
            cadre.goto(sign_in_link(sqlite_engine, settings, cadre_id, base))
            cadre.get_by_role("link", name="本月检查").first.click()  # from the home page
            cadre.get_by_role("button", name="新桥村蔬菜大棚").click()
            cadre.wait_for_url("**/f/report/*")
            new_id = int(cadre.url.split("/f/report/")[1].split("?")[0])
            assert new_id != report_id
            assert "公示牌照片<b>看不清</b>，请重拍" in cadre.get_by_role("alert").inner_text()
            cadre.screenshot(path=str(ARTIFACTS / "review-reopened.png"), full_page=True)
            with cadre.expect_navigation():
                cadre.get_by_role("button", name="确认并提交").click()

            leader.goto(f"{base}/review/{new_id}")
            history = leader.locator("h2 + ul.list").inner_text()
            assert "第1版" in history and "第2版" in history and "公示牌照片<b>看不清</b>，请重拍" in history
            leader.screenshot(path=str(ARTIFACTS / "review-history.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    with Session(sqlite_engine) as session:
        versions = session.exec(select(Report).where(Report.asset_id == asset_id).order_by(Report.version)).all()
        assert [(r.version, r.status) for r in versions] == [(1, "returned"), (2, "submitted")]
        assert versions[1].answers == versions[0].answers


def test_the_problem_list_filters_and_escalates_on_the_web(sqlite_engine, county):
    import re

    from bot.storage.models import Problem

    settings, _, asset_id, _, leader_id, outsider_id = county
    with Session(sqlite_engine) as session:
        for severity, text in (("serious", "大棚被擅自转租"), ("minor", "公示牌褪色")):
            session.add(Problem(asset_id=asset_id, source="villager", kind="villager_report", severity=severity,
                                description=text))
        session.commit()
    leader = TestClient(create_app(settings, sqlite_engine))
    leader.get(sign_in_link(sqlite_engine, settings, leader_id, "http://testserver").removeprefix(
        "http://testserver"))
    everything = leader.get("/problems")
    assert "大棚被擅自转租" in everything.text and "公示牌褪色" in everything.text
    serious = leader.get("/problems?severity=serious&open=1")
    assert "大棚被擅自转租" in serious.text and "公示牌褪色" not in serious.text
    pid = int(re.search(r'href="/problems/(\d+)\?', serious.text).group(1))
    page = leader.get(f"/problems/{pid}")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    escalated = leader.post(f"/problems/{pid}/escalate", data={"csrf": token, "text": "建议收回并追责"})
    assert escalated.status_code == 200 and "建议收回并追责" in escalated.text

    outsider = TestClient(create_app(settings, sqlite_engine))
    outsider.get(sign_in_link(sqlite_engine, settings, outsider_id, "http://testserver").removeprefix(
        "http://testserver"))
    assert "大棚被擅自转租" not in outsider.get("/problems").text
    assert outsider.get(f"/problems/{pid}").status_code == 403
    with Session(sqlite_engine) as session:
        assert session.get(Problem, pid).status == "escalated"
