"""The web speaks the web (issue 15): what the form page says, where a refusal is shown, confirmations, periods
in words; and the phone-first details: fingerprinted static files, the favicon, HEAD."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session

from bot import periods
from bot.flows import load_form, parse_form, wording
from bot.flows.values import MSG_WHOLE_NUMBER, AnswerError, parse_number
from bot.i18n import translate
from bot.services import reports
from bot.storage.models import Report
from bot.web.assets import IMMUTABLE, fingerprint
from tests.web.conftest import csrf_of
from tests.web.test_form import KEY_RE, answer_current, sign_in, start


@pytest.fixture
def cadre_client(client, engine, world):
    sign_in(client, engine, world.cadre)
    return client


# --- periods in words ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("label", "zh", "en"), [
    ("2026-12", "2026年12月", "December 2026"),
    ("2026-Q4", "2026年第四季度", "Q4 2026"),
    ("2026Q1", "2026年第一季度", "Q1 2026"),
    ("2026-H2", "2026年下半年", "second half of 2026"),
    ("2026H1", "2026年上半年", "first half of 2026"),
    ("2026", "2026年", "2026"),
])
def test_a_period_reads_in_words(label, zh, en):
    assert periods.words(label) == zh and periods.words(label, "zh_CN") == zh
    assert periods.words(label, "en") == en


def test_anything_that_is_not_a_period_comes_back_unchanged():
    assert periods.words("新桥村") == "新桥村" and periods.words("2026-13") == "2026-13"
    assert periods.words(None) == "" and periods.words(7) == "7"


def test_every_message_shows_its_period_in_words():
    """A {period} (or {month}, {quarter}, {half}) parameter holding a stored label is shown in words."""
    assert translate("zh_CN", reports.MSG_EXPIRED, period="2026-11").startswith("2026年11月")
    assert "2026-11" not in translate("zh_CN", reports.MSG_EXPIRED, period="2026-11")
    assert "November 2026" in translate("en", reports.MSG_EXPIRED, period="2026-11")


# --- one definition of a question, per-channel words -------------------------------------------------------

PROMPTS_THAT_NAME_A_BUTTON = re.compile(r"press Done|then Done|Share your location|点“完成”|发送您的位置")


def test_no_prompt_of_any_form_names_one_channels_buttons():
    from bot.flows import all_forms

    for form in all_forms():
        for q in form.questions:
            for msgid in filter(None, (q.prompt, q.help)):
                for locale in ("zh_CN", "en"):
                    assert not PROMPTS_THAT_NAME_A_BUTTON.search(translate(locale, msgid)), (form.id, q.key)


def test_each_channel_is_told_how_to_answer_with_its_own_controls():
    form = load_form("monthly-operating")
    multi, photo = form.question("risk_kinds"), form.question("board_photo")
    location = next(q for q in form.questions if q.type == "location")
    web = {q.type: translate("zh_CN", wording.instruction(q, wording.WEB)) for q in (multi, photo, location)}
    assert "下一题" in web["multi"] and "完成”" not in web["multi"]
    assert "照片已传完" in web["photo"] and "上传照片" in web["photo"]
    assert "使用我当前的位置" in web["location"]
    telegram = translate("zh_CN", wording.instruction(multi, wording.TELEGRAM))
    assert telegram == translate("zh_CN", "Tap every option that applies, then Done.")


def test_a_form_may_word_a_questions_help_for_one_channel(tmp_path):
    text = """
id: channels
version: 1
title: Monthly check of an operating asset
applies_to: [经营性]
questions:
  - key: board_photo
    type: photo
    prompt: Take a photo on site.
    help: Common help.
    web_help: Help on the web.
    telegram_help: Help on Telegram.
  - key: note
    type: text
    prompt: Describe the risk of loss.
    help: Common help.
"""
    form = parse_form(text, Path(tmp_path / "channels.yaml"))
    photo, note = form.question("board_photo"), form.question("note")
    assert (photo.help_for("web"), photo.help_for("telegram")) == ("Help on the web.", "Help on Telegram.")
    assert note.help_for("web") == note.help_for("telegram") == "Common help."


def test_a_whole_number_question_never_suggests_a_fraction():
    question = load_form("monthly-operating").question("households_benefited")
    with pytest.raises(AnswerError) as refused:
        parse_number(question, "abc")
    assert refused.value.msgid == MSG_WHOLE_NUMBER and "3.5" not in translate("zh_CN", MSG_WHOLE_NUMBER)


def test_the_question_count_does_not_jump_while_answering(cadre_client, world):
    report_id = start(cadre_client, world.asset.id)
    form = load_form("monthly-operating")
    low, high = wording.bounds(form)
    assert low < high  # the form has questions that depend on answers
    totals, numbers, seen_types = set(), [], set()
    for step in range(60):
        page = cadre_client.get(f"/f/report/{report_id}").text
        match = re.search(r"第(\d+)题（最多(\d+)题）", page)
        if KEY_RE.search(page) is None:
            break
        assert match, page[:3000]
        numbers.append(int(match.group(1)))
        totals.add(int(match.group(2)))
        question = form.question(KEY_RE.search(page).group(1))
        seen_types.add(question.type)
        if question.type == "multi":
            assert "勾选所有符合的选项，然后点“下一题”" in page and "点“完成”" not in page
        if question.type == "photo":
            assert "照片已传完" in page and "点“完成”" not in page
        if question.type == "location":
            assert "使用我当前的位置" in page and "发送您的位置" not in page
        answer_current(cadre_client, report_id, form, seed=step)
    assert totals == {high}, totals
    assert numbers[0] == 1 and all(b - a in (0, 1) for a, b in zip(numbers, numbers[1:]))  # a photo: same n
    assert {"photo", "location"} <= seen_types


# --- post/redirect/get, confirmations ----------------------------------------------------------------------

def test_a_refusal_is_shown_at_an_address_that_reloads_and_switches_language(cadre_client, world):
    report_id = start(cadre_client, world.asset.id)
    page = cadre_client.get(f"/f/report/{report_id}").text
    key = KEY_RE.search(page).group(1)
    posted = cadre_client.post(f"/f/report/{report_id}/step",
                               data={"csrf": csrf_of(page), "key": key, "action": "answer", "value": "maybe"})
    assert posted.status_code == 303
    shown = cadre_client.get(posted.headers["location"])
    assert shown.status_code == 400 and 'role="alert"' in shown.text
    english = re.search(r'href="([^"]+)" lang="en">English', shown.text).group(1)
    assert english.startswith(f"/f/report/{report_id}?") and "msg=" in english
    in_english = cadre_client.get(english.replace("&amp;", "&"))
    assert in_english.status_code == 400 and "Please" in in_english.text
    assert "Method Not Allowed" not in in_english.text


def test_an_error_page_answering_a_post_switches_language_on_a_page_that_exists(cadre_client, world):
    refused = cadre_client.post(f"/f/start/{world.other_asset.id}",
                                data={"csrf": csrf_of(cadre_client.get("/f").text)})
    assert refused.status_code == 403
    english = re.search(r'href="([^"]+)" lang="en">English', refused.text).group(1)
    assert english == "/home?lang=en"


def test_a_sent_back_report_is_marked_with_its_reason_in_the_list(cadre_client, engine, world):
    report_id = start(cadre_client, world.asset.id)
    with Session(engine) as session:
        report = session.get(Report, report_id)
        report.review_note = "请补充公开栏照片"
        session.add(report)
        session.commit()
    page = cadre_client.get("/f").text
    assert "已退回，原因：请补充公开栏照片" in page and "需修改" in page
    assert "继续填写" not in page


def test_the_submitted_page_says_what_was_submitted(cadre_client, world):
    page = cadre_client.get(f"/f/report/{world.report.id}").text
    period = periods.words(world.report.period)
    assert f"新桥村光伏电站{period}的《经营性资产月度排查》已提交" in page
    assert "本月检查已提交" not in page and world.report.period not in page.replace("lang=", "")


# --- static files, favicon, HEAD ---------------------------------------------------------------------------

def test_static_files_are_fingerprinted_and_cached_for_good(client, world):
    page = client.get(f"/p/{world.asset.public_token}").text
    css = re.search(r'href="(/static/site\.([0-9a-f]{10})\.css)"', page)
    assert css and css.group(2) == fingerprint("site.css")
    fresh = client.get(css.group(1))
    assert fresh.status_code == 200 and fresh.headers["cache-control"] == IMMUTABLE
    assert fresh.content == client.get("/static/site.css").content
    assert client.get("/static/site.css").headers["cache-control"] == "no-cache"  # revalidated by its ETag
    stale = client.get("/static/site.0000000000.css")  # a page cached before a deploy still gets its CSS
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    assert client.get("/static/nothing.0123456789.css").status_code == 404


def test_every_page_has_a_favicon(client, world):
    page = client.get(f"/p/{world.asset.public_token}").text
    assert '<link rel="icon" href="/favicon.ico"' in page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_head_is_answered_wherever_get_is(client, world):
    for path in (f"/p/{world.asset.public_token}", "/healthz", "/favicon.ico", "/static/site.css"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    assert client.head("/f").status_code == 401  # the same answer as GET, without its body
    assert client.head(f"/p/{world.asset.public_token}/report").status_code == 405  # POST only
    assert "head" not in {m for p in client.get("/openapi.json").json()["paths"].values() for m in p}


def test_sign_off_and_send_back_are_confirmed_in_words(sqlite_engine, tmp_path):
    import time_machine

    from tests.cycle.test_web import _submitted_yearend, client_for, csrf
    from tests.cycle.world import local

    c, settings, report = _submitted_yearend(sqlite_engine, tmp_path)
    with time_machine.travel(local(2026, 11, 16, 9, 30), tick=False):
        supervisor = client_for(sqlite_engine, settings, c.supervisor.id)
        page = supervisor.get(f"/f/signoff/{report.id}")
        assert "如需退回，请填写退回原因" in page.text and "请回复" not in page.text
        refused = supervisor.post(f"/f/signoff/{report.id}/back", data={"csrf": csrf(page.text), "reason": " "},
                                  follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith(f"/f/signoff/{report.id}?")
        signed = supervisor.post(f"/f/signoff/{report.id}", data={"csrf": csrf(page.text)}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"].startswith("/f?")
        listed = supervisor.get(signed.headers["location"])
        assert listed.status_code == 200 and 'role="status"' in listed.text
        # Qinbei: two signers (seed 004 五(三)1); the first is told whose signature is still missing …
        assert "您已签署新桥村2026年的《" in listed.text and "还需村民合作社监事会主任签字" in listed.text
        board = client_for(sqlite_engine, settings, c.board.id)
        page = board.get(f"/f/signoff/{report.id}")
        signed = board.post(f"/f/signoff/{report.id}", data={"csrf": csrf(page.text)}, follow_redirects=False)
        listed = board.get(signed.headers["location"])
        # … the second that it is signed off, and that the posting starts with the photo of the posted notice.
        assert "您已签字确认新桥村2026年的《" in listed.text and "上传张贴后的照片" in listed.text
        cadre = client_for(sqlite_engine, settings, c.cadre.id)
        assert "本月检查已提交" not in cadre.get(f"/f/report/{report.id}").text


def test_starting_a_check_already_submitted_elsewhere_is_said_on_the_list(cadre_client, engine, world):
    report_id = start(cadre_client, world.asset.id)
    stale = cadre_client.get("/f").text  # a page left open on another phone
    with Session(engine) as session:  # meanwhile the check is submitted from Telegram
        report = session.get(Report, report_id)
        report.status = "submitted"
        session.add(report)
        session.commit()
    posted = cadre_client.post(f"/f/start/{world.asset.id}", data={"csrf": csrf_of(stale)})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/f?")
    listed = cadre_client.get(posted.headers["location"])
    assert listed.status_code == 409
    assert translate("zh_CN", reports.MSG_ALREADY_DONE, asset=world.asset.name) in listed.text
