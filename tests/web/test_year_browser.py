"""One village's year in the browser alone (real Chromium against uvicorn), no command line, no Telegram.

The county officer signs in from the printed link, chooses the county's policy profile (qinbei-2023), imports the
ledger file, and invites the village's cadre, its two signers and the township leader; each of them joins from
the invite link in a browser of their own. Time then moves through the village's year-end (the server's clock is
travelled; the browsers keep theirs): a monthly check filed and approved, the year-end self-evaluation filled,
signed by both signers, posted on the village board with a photo, reported up after the posting, the township's
review form and score, and the county's grading. Every page is reached by links and buttons from each role's home.
Screenshots go to test-artifacts/year/.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from sqlmodel import Session, select

from bot.services import audit, duties, weblinks
from bot.services.orgs import ensure_unit
from bot.storage.models import OrgUnit, Report, User
from bot.web.app import create_app
from tests.browser import ARTIFACTS as SHARED_ARTIFACTS
from tests.browser import chromium, phone, serving
from tests.factories import make_user
from tests.ledger.template import LEDGER_2020, write_template
from tests.services.images import make_jpeg

ARTIFACTS = SHARED_ARTIFACTS / "year"
CST = dt.timezone(dt.timedelta(hours=8))
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=CST)


@pytest.fixture
def live(sqlite_engine, web_settings):
    """The app on uvicorn in a thread (lifespan off: no bot, no scheduler); the county's tree and its officer."""
    with Session(sqlite_engine, expire_on_commit=False) as session:  # one county, one township, one village
        actor = audit.Actor(None, "test")
        county, _ = ensure_unit(session, actor, None, "county", "桃源县", "430525000000")
        township, _ = ensure_unit(session, actor, county, "township", "新桥镇", "430525100000")
        village, _ = ensure_unit(session, actor, township, "village", "新桥村", "430525101000")
        tree = SimpleNamespace(county=county, township_a=township, village_a1=village)
        officer = make_user(session, "county_officer", county, name="县乡村振兴局张科长")
        session.commit()
    made = {}

    def app(base: str):
        made["settings"] = web_settings.model_copy(update={"public_url": base})
        return create_app(made["settings"], sqlite_engine)

    with serving(app) as base:
        yield base, tree, officer, made["settings"]


@pytest.fixture
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as running:
        yield running


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def go(page, selector: str) -> None:
    """Follow a link or press a button of the page, and wait for the next page."""
    with page.expect_navigation():
        page.locator(selector).first.click()
    assert page.locator("main").count(), page.url


def home(page, base: str) -> None:
    """Back to the role's home through the header link, as a person would."""
    go(page, "header a.home, header a[href^='/home']")
    assert page.url.startswith(f"{base}/home")


def answer_all(page, photo: Path, day: str) -> None:
    """Answer whatever the form asks, one screen at a time, until the review page; then confirm and submit."""
    for _ in range(150):
        submit = page.locator("form[action*='/submit'] button[type=submit]")
        if submit.count():
            shot(page, f"review-{page.url.rsplit('/', 1)[-1][:12]}")
            go(page, "form[action*='/submit'] button[type=submit]")
            return
        form = page.locator("form#question")
        assert form.count(), f"neither a question nor the review at {page.url}: {page.inner_text('main')[:400]}"
        key = form.get_attribute("data-question")

        def press(action: str) -> None:
            go(page, f"form#question button[name=action][value={action}]")

        if form.locator("input[type=file]").count():
            if form.locator("button[value=done]").count():
                press("done")
            else:
                form.locator("input[type=file]").set_input_files(str(photo))
                press("photo")
            continue
        for attempt, value in enumerate(("10", "1", "0")):
            if form.locator("input[type=radio]").count():
                form.locator("input[type=radio]").first.check()
            elif form.locator("input[type=checkbox]").count():
                form.locator("input[type=checkbox]").first.check()
            elif form.locator("input[name=lat]").count():
                form.locator("input[name=lat]").fill("31.40123")
                form.locator("input[name=lon]").fill("117.20456")
            elif form.locator("textarea").count():
                form.locator("textarea").fill("情况正常，按要求落实。")
            elif form.locator("input[type=date]").count():
                form.locator("input[type=date]").fill(day)
            else:
                form.locator("input[name=value]").fill(value)
            press("answer")
            form = page.locator("form#question")
            if not (form.count() and form.get_attribute("data-question") == key and page.locator(".error").count()):
                break
            if attempt == 2 and form.locator("button[value=skip]").count():
                press("skip")
                break
        else:
            raise AssertionError(f"question {key} refused every answer: {page.inner_text('main')[:400]}")
    raise AssertionError("the form did not end")


def test_a_village_year_in_the_browser_alone(live, browser, sqlite_engine, tmp_path):
    base, tree, officer, settings = live
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(make_jpeg(800, 600, seed=7))
    row = next(r for r in LEDGER_2020 if r[17] == "新桥村")
    ledger = write_template(tmp_path / "2020年度台账.xlsx", 2020, [row])

    with time_machine.travel(at(2026, 10, 20, 9), tick=True):
        with Session(sqlite_engine) as session:  # the link `villagebot demo` / `users invite` prints for the office
            link = weblinks.create_link(session, session.get(User, officer.id), secret=settings.secret_key,
                                        public_url=base)
            session.commit()
        county = phone(browser)
        county.goto(link)
        assert county.url.startswith(f"{base}/home")
        shot(county, "county-home")
        # the policy profile
        go(county, "main a[href^='/policy']")
        county.locator("input[name=profile][value='qinbei-2023']").check()
        go(county, "form[action^='/policy/choose'] button[type=submit]")
        with Session(sqlite_engine) as session:
            assert session.get(OrgUnit, tree.county.id).policy_profile == "qinbei-2023"
        # the ledger
        home(county, base)
        go(county, "main a[href^='/ledger/import']")
        county.set_input_files("input[name=file]", str(ledger))
        go(county, "form[action^='/ledger/import'] button[type=submit]")
        shot(county, "ledger-check")
        go(county, "form[action$='/confirm'] button[type=submit], form[action*='/confirm?'] button[type=submit]")
        assert "已导入" in county.inner_text("main")
        # the invitations
        links = {}
        for key, name, role, unit in (("cadre", "新桥村刘书记", "village_cadre", tree.village_a1),
                                      ("chair", "新桥村监委会陈主任", "village_supervisor", tree.village_a1),
                                      ("board", "合作社监事会周主任", "village_supervisor", tree.village_a1),
                                      ("leader", "新桥镇李镇长", "township_leader", tree.township_a)):
            home(county, base)
            go(county, "main a[href^='/people/invite']")
            county.fill("input[name=name]", name)
            county.select_option("select[name=role]", role)
            county.select_option("select[name=unit]", str(unit.id))
            go(county, "form[action^='/people/invite'] button[type=submit]")
            links[key] = county.input_value("#invite-link")
            shot(county, f"invite-{key}")
        people = {}
        for key, url in links.items():
            page = phone(browser)
            page.goto(url)
            go(page, "form[action^='/join/'] button[type=submit]")
            assert page.url.startswith(f"{base}/home"), page.url
            people[key] = page
        shot(people["cadre"], "cadre-home")

    cadre, leader = people["cadre"], people["leader"]
    with time_machine.travel(at(2026, 10, 28, 10), tick=True):  # the October check, filed and approved
        home(cadre, base)
        go(cadre, "main a[href^='/f']")
        go(cadre, "form[action^='/f/start/'] button[type=submit]")
        answer_all(cadre, photo, "2026-10-28")
        shot(cadre, "monthly-submitted")
        home(leader, base)
        go(leader, "main a[href^='/review']")
        go(leader, "main a[href^='/review/']")
        go(leader, "form[action*='/approve'] button[type=submit]")
        shot(leader, "monthly-approved")
        with Session(sqlite_engine) as session:
            monthly = session.exec(select(Report).where(Report.form_id.startswith("monthly"))).one()
            assert monthly.status == "approved"

    with time_machine.travel(at(2026, 11, 10, 10), tick=True):  # the year-end self-evaluation
        home(cadre, base)
        go(cadre, "main a[href^='/f']")
        go(cadre, "form[action^='/f/form/start'] button[type=submit]")
        answer_all(cadre, photo, "2026-11-10")
        shot(cadre, "yearend-submitted")

    with time_machine.travel(at(2026, 11, 12, 10), tick=True):  # two signatures, then the notice on the board
        for key in ("chair", "board"):
            page = people[key]
            home(page, base)
            go(page, "main a[href^='/f']")
            go(page, "main a[href^='/f/signoff/']")
            shot(page, f"signoff-{key}")
            go(page, "form[action^='/f/signoff/']:not([action*='/back']) button[type=submit]")
        home(cadre, base)
        go(cadre, "main a[href^='/posting']")
        cadre.set_input_files("form[action^='/posting/'] input[type=file]", str(photo))
        go(cadre, "form[action^='/posting/'] button[type=submit]")
        shot(cadre, "posted")

    with time_machine.travel(at(2026, 11, 15, 9), tick=True):  # the office looks in (its session stays alive)
        home(county, base)

    with time_machine.travel(at(2026, 11, 23, 10), tick=True):  # the ten days are over: report up
        home(cadre, base)
        go(cadre, "main a[href^='/f']")
        go(cadre, "form[action$='/up'] button[type=submit], form[action*='/up?'] button[type=submit]")
        shot(cadre, "reported-up")
        with Session(sqlite_engine) as session:
            yearend = session.exec(select(Report).where(Report.form_id == "yearend-self-evaluation",
                                                        Report.current.is_(True))).one()
            assert yearend.status == "reported", (yearend.status, cadre.inner_text("main")[:500])

    with time_machine.travel(at(2026, 11, 25, 10), tick=True):  # the township's review form
        home(leader, base)
        go(leader, "main a[href^='/duties/review']")
        go(leader, "main a[href^='/f']")  # the review form comes first: "fill in the forms"
        go(leader, "form[action^='/f/form/start'] button[type=submit]")
        answer_all(leader, photo, "2026-11-25")

    with time_machine.travel(at(2026, 12, 1, 10), tick=True):  # the township scores the village
        home(leader, base)
        go(leader, "main a[href^='/duties/review']")
        go(leader, "main a[href^='/duties/review/']")
        for box in leader.locator("form input[type=checkbox][name^='j:']").all():
            box.check()
        for fact in leader.locator("form input[name^='f:']").all():
            fact.fill("10")
        shot(leader, "review-sheet")
        go(leader, "form[action^='/duties/review/'] button[type=submit]")
        shot(leader, "review-saved")

    with time_machine.travel(at(2026, 12, 10, 9), tick=True):
        home(county, base)

    with time_machine.travel(at(2026, 12, 28, 10), tick=True):  # the county grades the township
        home(county, base)
        go(county, "main a[href^='/duties/grade']")
        go(county, "form[action^='/duties/grade/'] button[type=submit]")
        shot(county, "graded")
        with Session(sqlite_engine) as session:
            county_unit = session.get(OrgUnit, tree.county.id)
            states = duties.states(session, county_unit, at(2026, 1, 1, 0).astimezone(dt.UTC),
                                   at(2027, 1, 1, 0).astimezone(dt.UTC), now=at(2026, 12, 28, 11).astimezone(dt.UTC),
                                   items=["village_self_evaluation", "township_review", "county_grading"])
            done = {(s.item, s.unit_id): s.state for s in states}
        assert done[("village_self_evaluation", tree.village_a1.id)] == duties.DONE
        assert done[("township_review", tree.township_a.id)] == duties.DONE
        assert done[("county_grading", tree.county.id)] == duties.DONE
