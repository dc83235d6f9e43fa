"""The mobile checklist form over HTTP: sign in, walk a whole form, review, submit; scope and CSRF."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from bot.flows import load_form
from bot.flows.values import MSG_NUMBER
from bot.i18n import translate
from bot.services import reports, weblinks
from bot.storage.models import Problem, Report, User
from tests.services.images import make_jpeg
from tests.web.conftest import csrf_of

KEY_RE = re.compile(r'data-question="([^"]+)"')
SCRIPT = "<script>alert('x')</script>"


def sign_in(client, engine, user: User) -> None:
    with Session(engine) as session:
        url = weblinks.create_link(session, user, secret="test-secret-key-0123456789",
                                   public_url="http://testserver")
        session.commit()
    assert client.get(url.removeprefix("http://testserver")).status_code == 303


def start(client, asset_id: int) -> int:
    csrf = csrf_of(client.get("/f").text)
    response = client.post(f"/f/start/{asset_id}", data={"csrf": csrf})
    assert response.status_code == 303, response.text
    return int(re.search(r"/f/report/(\d+)", response.headers["location"]).group(1))


def answer_current(client, report_id: int, form, *, seed: int = 0) -> str | None:
    """Answer the question on screen with a valid value; return its key (None at the review)."""
    page = client.get(f"/f/report/{report_id}")
    assert page.status_code == 200
    match = KEY_RE.search(page.text)
    if match is None:
        return None
    key = match.group(1)
    question = form.question(key)
    data = {"csrf": csrf_of(page.text), "key": key, "action": "answer"}
    files = None
    if question.type == "photo":
        if f"/f/report/{report_id}/photo/" in page.text:
            data["action"] = "done"
        else:
            data["action"] = "photo"
            files = {"photo": ("p.jpg", make_jpeg(320, 240, seed=seed + hash(key) % 1000), "image/jpeg")}
    elif question.type == "yesno":
        data["value"] = "no" if key in ("operating_normally",) else "yes" if key == "intact" else "no"
    elif question.type == "choice":
        data["value"] = question.options[0].key
    elif question.type == "multi":
        data["value"] = [question.options[0].key]
    elif question.type == "number":
        data["value"] = "3"
    elif question.type == "text":
        data["value"] = SCRIPT
    elif question.type == "date":
        data["value"] = "2026-03-01"
    elif question.type == "location":
        data.update(lat="31.4", lon="117.2")
    response = client.post(f"/f/report/{report_id}/step", data=data, files=files)
    assert response.status_code == 303, (key, response.text[-2000:])
    return key


@pytest.fixture
def cadre_client(client, engine, world):
    sign_in(client, engine, world.cadre)
    return client


def test_overview_needs_sign_in(client, world):
    page = client.get("/f")
    assert page.status_code == 401 and "/form" in page.text


def test_overview_lists_only_own_assets(cadre_client, world):
    html = cadre_client.get("/f").text
    assert "新桥村光伏电站" in html and "梨树村冷库" not in html
    assert "待填" in html


def test_walk_a_whole_form_and_submit(cadre_client, engine, world):
    report_id = start(cadre_client, world.asset.id)
    form = load_form("monthly-operating")
    seen = []
    for step in range(80):
        key = answer_current(cadre_client, report_id, form, seed=step)
        if key is None:
            break
        seen.append(key)
    assert "board_photo" in seen and "sign_photo" in seen
    review = cadre_client.get(f"/f/report/{report_id}").text
    assert "确认" in review
    assert SCRIPT not in review and "&lt;script&gt;" in review
    response = cadre_client.post(f"/f/report/{report_id}/submit", data={"csrf": csrf_of(review)})
    assert response.status_code == 303
    done = cadre_client.get(f"/f/report/{report_id}")
    assert "已提交" in done.text and SCRIPT not in done.text
    with Session(engine) as session:
        report = session.get(Report, report_id)
        assert report.status == "submitted" and report.channel == "web"
        assert session.exec(select(Problem).where(Problem.report_id == report_id)).all()
    assert "已提交" in cadre_client.get("/f").text


def test_bad_answer_is_explained_and_not_saved(cadre_client, engine, world):
    report_id = start(cadre_client, world.asset.id)
    form = load_form("monthly-operating")
    for step in range(40):
        page = cadre_client.get(f"/f/report/{report_id}").text
        key = KEY_RE.search(page).group(1)
        if form.question(key).type == "number":
            break
        answer_current(cadre_client, report_id, form, seed=step)
    with Session(engine) as session:
        before = dict(session.get(Report, report_id).answers)
    posted = cadre_client.post(f"/f/report/{report_id}/step",
                               data={"csrf": csrf_of(page), "key": key, "action": "answer", "value": "abc<b>"})
    assert posted.status_code == 303  # post/redirect/get: the refusal is shown at an address that reloads
    address = posted.headers["location"]
    assert address.startswith(f"/f/report/{report_id}?")
    response = cadre_client.get(address)
    assert response.status_code == 400
    assert translate("zh_CN", MSG_NUMBER) in response.text and "abc&lt;b&gt;" in response.text
    assert cadre_client.get(address).text == response.text  # reloading shows the same page
    english = cadre_client.get(address.replace("lang=zh_CN", "lang=en"))
    assert english.status_code == 400 and translate("en", MSG_NUMBER) in english.text
    assert "Method Not Allowed" not in english.text
    forged = cadre_client.get(address[:-3] + "xyz")  # a message nobody signed is not shown
    assert forged.status_code == 200 and translate("zh_CN", MSG_NUMBER) not in forged.text
    with Session(engine) as session:
        assert session.get(Report, report_id).answers == before


def test_a_draft_of_an_ended_month_is_refused_with_the_reason(cadre_client, engine, world):
    report_id = start(cadre_client, world.asset.id)
    page = cadre_client.get(f"/f/report/{report_id}").text
    key = KEY_RE.search(page).group(1)
    with Session(engine) as session:  # the month ends with the draft unfinished
        report = session.get(Report, report_id)
        report.period = "2000-01"
        session.add(report)
        session.commit()
    reason = translate("zh_CN", reports.MSG_EXPIRED, period="2000-01")
    for _attempt in range(2):  # the first expires it on the spot, the second finds it expired
        response = cadre_client.post(f"/f/report/{report_id}/step",
                                     data={"csrf": csrf_of(page), "key": key, "action": "answer", "value": "yes"})
        assert response.status_code == 303
        response = cadre_client.get(response.headers["location"])
        assert response.status_code == 400 and reason in response.text
    with Session(engine) as session:
        report = session.get(Report, report_id)
        assert (report.status, report.answers) == (reports.EXPIRED, {})


def test_draft_continues_from_telegram(cadre_client, engine, world):
    report_id = start(cadre_client, world.asset.id)
    form = load_form("monthly-operating")
    first = answer_current(cadre_client, report_id, form)
    with Session(engine) as session:  # the Telegram adapter answers the next question on the same draft
        user = session.get(User, world.cadre.id)
        question = reports.walker_for(session.get(Report, report_id)).current()
        assert question.key != first
        _report, walker = reports.answer(session, user, report_id, question.key, question.options[0].key)
        nxt = walker.current().key
    page = cadre_client.get(f"/f/report/{report_id}").text
    assert KEY_RE.search(page).group(1) == nxt
    # starting again from the list resumes the same draft
    assert start(cadre_client, world.asset.id) == report_id


def test_csrf_on_every_post(cadre_client, world):
    report_id = start(cadre_client, world.asset.id)
    for path, data in ((f"/f/start/{world.asset.id}", {}),
                       (f"/f/report/{report_id}/step", {"key": "operating_normally", "value": "yes"}),
                       (f"/f/report/{report_id}/goto", {"key": "operating_normally"}),
                       (f"/f/report/{report_id}/submit", {})):
        assert cadre_client.post(path, data={**data, "csrf": "nope"}).status_code == 403, path


def test_other_village_refused_on_every_route(client, engine, world):
    # the other village's cadre starts a draft of their own asset
    sign_in(client, engine, world.other_cadre)
    foreign_report = start(client, world.other_asset.id)
    client.cookies.clear()
    sign_in(client, engine, world.cadre)
    csrf = csrf_of(client.get("/f").text)
    assert client.post(f"/f/start/{world.other_asset.id}", data={"csrf": csrf}).status_code == 403
    assert client.get(f"/f/report/{foreign_report}").status_code == 403
    assert client.get(f"/f/report/{world.report.id + 999}").status_code == 403  # unknown looks the same
    for path, data in ((f"/f/report/{foreign_report}/step", {"key": "operating_normally", "value": "yes"}),
                       (f"/f/report/{foreign_report}/goto", {"key": "operating_normally"}),
                       (f"/f/report/{foreign_report}/submit", {})):
        assert client.post(path, data={**data, "csrf": csrf}).status_code == 403, path
    assert client.get(f"/f/report/{foreign_report}/photo/{'a' * 64}.jpg").status_code == 403
    with Session(engine) as session:
        assert session.get(Report, foreign_report).answers == {}


def test_pages_speak_the_users_language(client, engine, world):
    with Session(engine) as session:
        user = session.get(User, world.cadre.id)
        user.locale = "en"
        session.add(user)
        session.commit()
    sign_in(client, engine, world.cadre)
    assert "This month&#39;s checks" in client.get("/f").text
    assert "本月检查" in client.get("/f?lang=zh_CN").text
