"""What the duty tests share: people on the web (TestClient) and on the command line (click's runner), a
year of daily ticks with events at given local moments, and the check that no reminder or escalation
reached a unit for a duty it had done."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from zoneinfo import ZoneInfo

import time_machine
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.cli import cli
from bot.config import Settings
from bot.flows import load_form
from bot.i18n import translate
from bot.policy.escalations import LATE_LINE, LATE_LINE_NOBODY
from bot.services import duties, weblinks
from bot.services.outbox import tick
from bot.services.schedule_facts import DEPARTMENTS, county_view
from bot.storage.models import OrgUnit, Report, User
from bot.storage.models_schedule import OutboxMessage
from bot.web.app import create_app
from tests.policy.world import Recorder
from tests.services.images import make_jpeg

TZ = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
SECRET = "test-secret-key-0123456789"
KEY_RE = re.compile(r'data-question="([^"]+)"')
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
NO = {"disaster_damage", "at_risk", "unauthorised", "posting_objections", "unauthorised_acts"}
_seeds = itertools.count(1)


def local(*parts: int) -> dt.datetime:
    """A moment in the county's time (Asia/Shanghai) as aware UTC."""
    return dt.datetime(*parts, tzinfo=TZ).astimezone(UTC)


def settings_for(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", public_url="http://testserver", secret_key=SECRET)


def csrf(page: str) -> str:
    return CSRF_RE.search(page).group(1)


class Web:
    """One person signed in on the web (a single-use link, as the bot sends it)."""

    def __init__(self, engine, settings: Settings, user_id: int) -> None:
        self.engine, self.client = engine, TestClient(create_app(settings, engine))
        with Session(engine) as session:
            link = weblinks.create_link(session, session.get(User, user_id), secret=SECRET,
                                        public_url="http://testserver")
            session.commit()
        assert self.client.get(link.removeprefix("http://testserver")).status_code == 200

    def device_token(self) -> str:
        """The CSRF token of this client's device (for a page that shows no form)."""
        from bot.web.common import DEVICE_COOKIE, csrf_token

        device = weblinks.unsign(SECRET, "device", self.client.cookies.get(DEVICE_COOKIE))
        return csrf_token(SECRET, device)

    def token(self) -> str:
        return csrf(self.client.get("/f").text)

    def fill(self, report_id: int, answers: dict | None = None) -> None:
        """Answer every question of the report on its page (photos uploaded) and submit it."""
        answers = answers or {}
        report = self._report(report_id)
        form = load_form(report.form_id, version=report.form_version)
        for _ in range(80):
            page = self.client.get(f"/f/report/{report_id}")
            assert page.status_code == 200, page.text[-500:]
            match = KEY_RE.search(page.text)
            if match is None:
                break
            key = match.group(1)
            question = form.question(key)
            data: dict = {"csrf": csrf(page.text), "key": key, "action": "answer"}
            files = None
            if question.type == "photo":
                if f"/f/report/{report_id}/photo/" in page.text:
                    data["action"] = "done"
                else:
                    data["action"] = "photo"
                    files = {"photo": ("p.jpg", make_jpeg(320, 240, seed=next(_seeds)), "image/jpeg")}
            elif key in answers and answers[key] is None:
                data["action"] = "skip"
            elif key in answers:
                data["value"] = answers[key]
            elif question.type == "yesno":
                data["value"] = "no" if key in NO else "yes"
            elif question.type == "choice":
                data["value"] = question.options[0].key
            elif question.type == "multi":
                data["value"] = [question.options[0].key]
            elif question.type == "number":
                data["value"] = "3"
            elif question.type == "text":
                data["value"] = "正常"
            elif question.type == "date":
                data["value"] = "2026-03-01"
            elif question.type == "location":
                data.update(lat="31.4", lon="117.2")
            response = self.client.post(f"/f/report/{report_id}/step", data=data, files=files)
            assert response.status_code == 200, (key, response.text[-800:])
        page = self.client.get(f"/f/report/{report_id}")
        done = self.client.post(f"/f/report/{report_id}/submit", data={"csrf": csrf(page.text)})
        assert done.status_code == 200, done.text[-800:]
        assert self._report(report_id).submitted_at is not None

    def _report(self, report_id: int) -> Report:
        with Session(self.engine) as session:
            return session.get(Report, report_id)

    def monthly(self, asset_id: int) -> int:
        """Start (or resume) this month's check of an asset on /f and fill and submit it; return the report id."""
        started = self.client.post(f"/f/start/{asset_id}", data={"csrf": self.token()})
        assert started.status_code == 200 and "/f/report/" in str(started.url), started.text[-500:]
        report_id = int(str(started.url).split("/f/report/")[1].split("?")[0])
        self.fill(report_id)
        return report_id

    def form(self, form_id: str, subject_id: int, period: str, answers: dict | None = None) -> int:
        """Start a calendar form from /f (it must be listed there), fill and submit it; return the report id."""
        home = self.client.get("/f").text
        assert f'value="{form_id}"' in home, (form_id, home[-1500:])
        started = self.client.post("/f/form/start", data={"csrf": csrf(home), "form_id": form_id,
                                                          "subject_id": str(subject_id), "period": period})
        assert started.status_code == 200 and "/f/report/" in str(started.url), started.text[-500:]
        report_id = int(str(started.url).split("/f/report/")[1].split("?")[0])
        self.fill(report_id, answers)
        return report_id

    def post(self, url: str, data: dict | None = None, files=None, page: str = "/duties"):
        """POST a form of a page with that page's CSRF token; return the response (redirects followed)."""
        found = CSRF_RE.search(self.client.get(page).text)
        token = found.group(1) if found else self.device_token()
        return self.client.post(url, data={"csrf": token, **(data or {})}, files=files)

    def record(self, item: str, period: str, day: str, note: str, attachment: bytes | None = None):
        """Record a duty done on the officer's duty page."""
        page = self.client.get("/duties")
        assert page.status_code == 200 and f'name="item" value="{item}"' in page.text, page.text[-1500:]
        files = {"attachment": ("纪要.pdf", attachment, "application/pdf")} if attachment else None
        response = self.post("/duties/record", {"item": item, "period": period, "occurred_on": day, "note": note},
                             files=files)
        assert response.status_code == 200, response.text[-800:]
        return response


def run_cli(url: str, *args: str):
    return CliRunner().invoke(cli, ["--lang", "en", *args], env={"VILLAGEBOT_DATABASE_URL": url},
                              catch_exceptions=False)


def run_year(engine, events: list[tuple[dt.datetime, object]], *, start: dt.datetime | None = None,
             end: dt.datetime | None = None) -> Recorder:
    """Tick once a day at 00:00 UTC (08:00 local) from ``start`` to ``end``; before each tick, run the events
    whose moment has come, each at its own moment (time-travelled)."""
    recorder = Recorder()
    day = start or dt.datetime(2026, 1, 1, tzinfo=UTC)
    end = end or dt.datetime(2027, 1, 10, tzinfo=UTC)
    pending = sorted(events, key=lambda e: e[0])
    while day < end:
        while pending and pending[0][0] <= day:
            moment, event = pending.pop(0)
            with time_machine.travel(moment, tick=False):
                event()
        tick(engine, {"telegram": recorder}, now=day)
        day += dt.timedelta(hours=24)
    for moment, event in pending:
        with time_machine.travel(moment, tick=False):
            event()
    return recorder


def done_by_unit(engine, county_id: int) -> dict[tuple[str, int, str], duties.DutyState]:
    """Every duty state of the county over 2025–2027, as of far later (what was done and when)."""
    with Session(engine) as session:
        county = session.get(OrgUnit, county_id)
        states = duties.states(session, county, local(2025, 1, 1), local(2028, 1, 1), now=local(2030, 1, 1))
    return {(s.item, s.unit_id, s.period): s for s in states}


def messages_for_done_duties(engine, county_id: int) -> list[str]:
    """Return the reminders and escalations that reached a unit for a duty it had already done when sent."""
    states = done_by_unit(engine, county_id)
    with Session(engine) as session:
        view = county_view(session, session.get(OrgUnit, county_id))
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.county_id == county_id,
                                                        OutboxMessage.kind.in_(("reminder", "digest")))).all()
    by_name = {translate(lang, DEPARTMENTS): county_id for lang in ("zh_CN", "en")}
    for unit in view.units.values():
        by_name.setdefault(unit.name, unit.id)
    wrong = []
    for row in rows:
        if row.kind == "reminder":
            units = [view.units[row.scope].id]
        else:
            names = [params["scope"].split(" / ")[-1] for msgid, params in row.body
                     if msgid in (LATE_LINE, LATE_LINE_NOBODY)]
            units = [by_name[n] for n in names] or [view.units[row.scope].id]
        for unit_id in units:
            state = states.get((row.item, unit_id, row.period))
            if state is not None and state.done is not None and state.done.at <= row.send_at:
                wrong.append(f"{row.key} sent {row.send_at} though done {state.done.at} ({state.done.by})")
    return wrong


def rows(engine, **where) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.send_at, OutboxMessage.key)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(session.exec(query).all())
