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


def own_csrf(client: TestClient, settings: Settings) -> str:
    """The valid CSRF token of this client's own device (for pages that show it no form)."""
    from bot.web.common import DEVICE_COOKIE, csrf_token

    client.get("/f")
    device = weblinks.unsign(settings.secret_key, "device", client.cookies.get(DEVICE_COOKIE))
    return csrf_token(settings.secret_key, device)


def county_and_settings(engine, tmp_path, profile: str):
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, profile, boards=profile == "qinbei-2023")
        session.commit()
    return c, settings


def test_a_quarterly_form_is_found_filled_and_submitted_on_the_web(sqlite_engine, tmp_path):
    c, settings = county_and_settings(sqlite_engine, tmp_path, "jiaozuo-2020")
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


def _submitted_yearend(engine, tmp_path):
    """A county on the yearly cycle whose cadre submitted 新桥村's 2026 year-end self-evaluation on 15 November."""
    from bot.services import cycle
    from tests.cycle.test_year import YEAREND
    from tests.cycle.world import fill

    c, settings = county_and_settings(engine, tmp_path, "qinbei-2023")
    with Session(engine, expire_on_commit=False) as session:
        with time_machine.travel(local(2026, 11, 15), tick=False):
            report = fill(session, c.cadre, cycle.start(session, c.cadre, cycle.YEAREND, c.cadre.org_unit_id, "2026",
                                                        channel="web"), YEAREND)
    assert report.status == "submitted"
    return c, settings, report


def test_the_supervisor_signs_off_on_the_web_and_the_cadre_reports_up_after_the_posting(sqlite_engine, tmp_path):
    from tests.cycle.test_year import YEAREND

    c, settings, report = _submitted_yearend(sqlite_engine, tmp_path)

    with time_machine.travel(local(2026, 11, 16, 9, 30), tick=False):
        supervisor = client_for(sqlite_engine, settings, c.supervisor.id)
        home = supervisor.get("/f")
        assert f'href="/f/signoff/{report.id}?' in home.text
        assert "/f/start/" not in home.text  # a supervisor checks nothing: no checklist buttons
        page = supervisor.get(f"/f/signoff/{report.id}")
        assert page.status_code == 200 and YEAREND["summary"] in page.text
        assert supervisor.post(f"/f/signoff/{report.id}", data={"csrf": "forged"}).status_code == 403

        other = client_for(sqlite_engine, settings, c.other_supervisor.id)
        assert f"/f/signoff/{report.id}" not in other.get("/f").text
        assert other.get(f"/f/signoff/{report.id}").status_code == 403
        assert other.post(f"/f/signoff/{report.id}", data={"csrf": own_csrf(other, settings)}).status_code == 403
        cadre = client_for(sqlite_engine, settings, c.cadre.id)
        assert cadre.get(f"/f/signoff/{report.id}").status_code == 403  # nobody signs their own report off

        signed = supervisor.post(f"/f/signoff/{report.id}", data={"csrf": csrf(page.text)})
        assert signed.status_code == 200 and f"/f/signoff/{report.id}" not in signed.text
        again = supervisor.post(f"/f/signoff/{report.id}", data={"csrf": csrf(page.text)})
        assert again.status_code == 409  # signed already: said so, nothing changes

        # Qinbei 五(三)1: the cooperative board's chair signs too, then the notice goes up on the village board
        board = client_for(sqlite_engine, settings, c.board.id)
        board_page = board.get(f"/f/signoff/{report.id}")
        assert 'name="post"' in board_page.text and "李监委" in board_page.text
        assert board.post(f"/f/signoff/{report.id}", data={"csrf": csrf(board_page.text),
                                                            "post": "cooperative_board"}).status_code == 200
        posting = cadre.get("/posting")
        assert f'action="/posting/{report.id}?' in posting.text
        from tests.services.images import make_jpeg
        posted = cadre.post(f"/posting/{report.id}", data={"csrf": csrf(posting.text)},
                            files={"photo": ("notice.jpg", make_jpeg(), "image/jpeg")})
        assert posted.status_code == 200 and f'action="/posting/{report.id}?' not in posted.text, posted.text[-1500:]

        listed = cadre.get("/f")
        assert "2026-11-26 09:30" in listed.text and f"/f/report/{report.id}/up" not in listed.text
        early = cadre.post(f"/f/report/{report.id}/up", data={"csrf": csrf(listed.text)})
        assert early.status_code == 409 and "2026-11-26" in early.text
    with Session(sqlite_engine) as session:
        assert session.get(Report, report.id).status == "signed_off"

    with time_machine.travel(local(2026, 11, 27), tick=False):
        cadre = client_for(sqlite_engine, settings, c.cadre.id)
        listed = cadre.get("/f")
        assert f'action="/f/report/{report.id}/up?' in listed.text
        outsider = client_for(sqlite_engine, settings, c.other_supervisor.id)
        assert outsider.post(f"/f/report/{report.id}/up",
                             data={"csrf": own_csrf(outsider, settings)}).status_code == 403
        done = cadre.post(f"/f/report/{report.id}/up", data={"csrf": csrf(listed.text)})
        assert done.status_code == 200 and f"/f/report/{report.id}/up" not in done.text
    with Session(sqlite_engine) as session:
        assert session.get(Report, report.id).status == "reported"


def test_the_supervisor_sends_a_report_back_on_the_web_with_a_reason(sqlite_engine, tmp_path):
    from bot.i18n import translate
    from bot.services import cycle, reports

    c, settings, report = _submitted_yearend(sqlite_engine, tmp_path)
    with time_machine.travel(local(2026, 11, 16, 9, 30), tick=False):
        supervisor = client_for(sqlite_engine, settings, c.supervisor.id)
        page = supervisor.get(f"/f/signoff/{report.id}")
        assert f'action="/f/signoff/{report.id}/back?' in page.text and 'name="reason"' in page.text
        token = csrf(page.text)
        empty = supervisor.post(f"/f/signoff/{report.id}/back", data={"csrf": token, "reason": "  "})
        assert empty.status_code == 409
        assert translate("zh_CN", "Please give a reason (up to {max} characters) so the village knows what to "
                                  "correct.", max=500) in empty.text
        other = client_for(sqlite_engine, settings, c.other_supervisor.id)
        assert other.post(f"/f/signoff/{report.id}/back",
                          data={"csrf": own_csrf(other, settings), "reason": "不行"}).status_code == 403
        assert supervisor.post(f"/f/signoff/{report.id}/back",
                               data={"csrf": "forged", "reason": "不行"}).status_code == 403
        cadre = client_for(sqlite_engine, settings, c.cadre.id)  # nobody sends their own report back
        assert cadre.post(f"/f/signoff/{report.id}/back",
                          data={"csrf": own_csrf(cadre, settings), "reason": "不行"}).status_code == 403
        with Session(sqlite_engine) as session:
            assert session.get(Report, report.id).status == "submitted"  # nothing changed so far

        sent = supervisor.post(f"/f/signoff/{report.id}/back", data={"csrf": token, "reason": "请补充差距原因"})
        assert sent.status_code == 200 and f"/f/signoff/{report.id}" not in sent.text
        again = supervisor.post(f"/f/signoff/{report.id}/back", data={"csrf": token, "reason": "再退一次"})
        assert again.status_code == 409
        assert translate("zh_CN", reports.status_label("returned")) in again.text
    with Session(sqlite_engine) as session:
        versions = session.exec(select(Report).where(Report.form_id == cycle.YEAREND).order_by(Report.version)).all()
        assert [(r.version, r.status, r.current) for r in versions] == [(1, "returned", False), (2, "draft", True)]
        assert versions[1].answers == versions[0].answers and versions[0].review_note == "请补充差距原因"
