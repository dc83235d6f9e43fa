"""The calendar's forms on the web: a township leader finds the quarterly form due on /f, starts it, answers it
page by page and submits; another township's leader is refused the same report."""

from __future__ import annotations

import re

import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.config import Settings
from bot.services import weblinks
from bot.storage.models import Report, User
from bot.web.app import create_app
from tests.cycle.test_quarterly import MONITORING
from tests.cycle.world import local, make_county


def client_for(engine, settings: Settings, user_id: int) -> TestClient:
    client = TestClient(create_app(settings, engine))
    with Session(engine) as session:
        link = weblinks.create_link(session, session.get(User, user_id), secret=settings.secret_key,
                                    public_url="http://testserver")
        session.commit()
    client.get(link.removeprefix("http://testserver"))
    return client


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_a_quarterly_form_is_found_filled_and_submitted_on_the_web(sqlite_engine, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    with Session(sqlite_engine, expire_on_commit=False) as session:
        c = make_county(session, "jiaozuo-2020")
        session.commit()
    with time_machine.travel(local(2026, 1, 10), tick=False):
        leader = client_for(sqlite_engine, settings, c.leader.id)
        home = leader.get("/f")
        assert 'value="quarterly-monitoring"' in home.text and "2025-Q4" in home.text
        started = leader.post("/f/form/start", data={"csrf": csrf(home.text), "form_id": "quarterly-monitoring",
                                                      "subject_id": str(c.workshop.id), "period": "2025-Q4"})
        assert started.status_code == 200 and "/f/report/" in str(started.url)
        report_id = int(str(started.url).split("/f/report/")[1].split("?")[0])
        page = started.text
        for _ in range(30):
            key = re.search(r'data-question="([a-z_]+)"', page)
            if key is None:
                break
            answer = leader.post(f"/f/report/{report_id}/step", data={
                "csrf": csrf(page), "action": "answer", "key": key.group(1),
                "value": MONITORING.get(key.group(1), "正常")})
            assert answer.status_code == 200, answer.text
            page = answer.text
        done = leader.post(f"/f/report/{report_id}/submit", data={"csrf": csrf(page)})
        assert done.status_code == 200

        outsider = client_for(sqlite_engine, settings, c.other_leader.id)
        assert outsider.get(f"/f/report/{report_id}").status_code == 403
    with Session(sqlite_engine) as session:
        report = session.get(Report, report_id)
        assert (report.status, report.form_id, report.period, report.channel) == (
            "submitted", "quarterly-monitoring", "2025-Q4", "web")
        assert report.answers["market"] == "difficult"
        assert session.exec(select(Report).where(Report.form_id == "quarterly-monitoring")).all() == [report]
