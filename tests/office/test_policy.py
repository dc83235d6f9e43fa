"""The policy page: a county officer sees the county's profile, chooses a shipped one or uploads the county's
own (validated, errors in Chinese, stored like `villagebot policy use`), sees the year's calendar with periods
and dates in words and this week's planned reminders; choosing is audited; other roles are refused."""

from __future__ import annotations

import datetime as dt
import re

import time_machine
from sqlmodel import Session, select

from bot.policy.loading import PROFILES_DIR, load
from bot.storage.models import AuditEntry, OrgUnit
from bot.storage.models_schedule import PolicyDocument
from tests.web.conftest import csrf_of

CODES = re.compile(r"(?<!\d)20\d\d-?(Q[1-4]|H[12])(?!\d)|(?<!\d)20\d\d-\d\d?-\d\d?(?!\d)")


def _choose(client, profile_id: str):
    page = client.get("/policy")
    return client.post("/policy/choose", data={"csrf": csrf_of(page.text), "profile": profile_id})


def _upload(client, content: bytes, name: str = "my-county.yaml"):
    page = client.get("/policy")
    return client.post("/policy/upload", data={"csrf": csrf_of(page.text)},
                       files={"file": (name, content, "application/x-yaml")})


def test_county_officer_chooses_a_shipped_profile_and_it_is_audited(office, browser, engine):
    client = browser(office.county_officer)
    page = client.get("/policy")
    assert page.status_code == 200
    assert "尚未选定政策方案" in page.text
    jiaozuo = load("jiaozuo-2020")
    assert 'value="jiaozuo-2020"' in page.text
    assert 'href="/policy' in client.get("/home").text

    chosen = _choose(client, "jiaozuo-2020")
    assert chosen.status_code == 303 and chosen.headers["location"].startswith("/policy?")
    after = client.get(chosen.headers["location"])
    assert "现已采用方案" in after.text
    with Session(engine) as session:
        county = session.get(OrgUnit, office.tree.county.id)
        assert county.policy_profile == "jiaozuo-2020"
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "policy.use")).one()
        assert entry.actor_user_id == office.county_officer.id and entry.entity_id == str(county.id)
        assert entry.after["policy_profile"] == "jiaozuo-2020"
        assert session.get(OrgUnit, office.tree.other_county.id).policy_profile is None
    assert jiaozuo.source in after.text


def test_the_calendar_says_periods_and_dates_in_words(office, browser):
    client = browser(office.county_officer)
    assert _choose(client, "jiaozuo-2020").status_code == 303
    page = client.get("/policy?year=2026").text
    assert "2026年工作日历" in page
    # the quarterly reports on the previous quarter: 2025 Q4 is due on 15 January 2026
    assert "2025年第4季度" in page and "2026年1月15日 23:59" in page
    assert "2026年第3季度" in page and "2026年10月15日 23:59" in page
    # the county's sample check of 2026 Q1 is due at the end of March
    assert "2026年3月31日 23:59" in page
    assert "乡镇领导" in page or "乡（镇）" in page
    body = re.split(r"<main[^>]*>", page, maxsplit=1)[1]
    assert not CODES.search(body), CODES.search(body)
    assert "2025-Q4" not in page and "2026Q4" not in page
    previous = client.get("/policy?year=2025").text
    assert "2025年工作日历" in previous and "2025年1月15日 23:59" in previous


def test_the_reminders_planned_this_week(office, browser):
    client = browser(office.county_officer)
    assert _choose(client, "jiaozuo-2020").status_code == 303
    # Monday 12 January 2026 (Shanghai): the reports on 2025 Q4 are due on Thursday 15 January,
    # reminded one day before (14 January, 09:00) to every township leader.
    with time_machine.travel(dt.datetime(2026, 1, 12, 10, 0, tzinfo=dt.UTC), tick=False):
        page = client.get("/policy").text
    assert "本周计划发送的提醒（2026年1月12日至2026年1月18日）" in page
    assert "2026年1月14日 09:00" in page
    assert "须于2026年1月15日 23:59前完成报送" in page  # the message's own dates in words too
    assert "吴镇长" in page and "郑乡长" in page and "新桥镇" in page
    assert "2025年第4季度" in page
    assert "未加入" in page  # the leaders were invited but have no Telegram account yet
    body = re.split(r"<main[^>]*>", page, maxsplit=1)[1]
    assert not CODES.search(body), CODES.search(body)
    with time_machine.travel(dt.datetime(2026, 2, 16, 10, 0, tzinfo=dt.UTC), tick=False):
        quiet = client.get("/policy").text
    assert "本周没有计划发送的提醒" in quiet


def _own_profile(profile_id: str) -> bytes:
    text = (PROFILES_DIR / "jiaozuo-2020.yaml").read_text(encoding="utf-8")
    return text.replace("id: jiaozuo-2020", f"id: {profile_id}", 1).replace(
        "title: Jiaozuo 2020", "title: 桃源县 2026", 1).encode("utf-8")


def test_upload_of_the_countys_own_profile_is_stored_and_followed(office, browser, engine):
    client = browser(office.county_officer)
    done = _upload(client, _own_profile("taoyuan-2026"))
    assert done.status_code == 303, done.text[-2000:]
    page = client.get(done.headers["location"]).text
    assert "桃源县 2026" in page and "本县自定方案" in page
    with Session(engine) as session:
        assert session.get(OrgUnit, office.tree.county.id).policy_profile == "taoyuan-2026"
        doc = session.exec(select(PolicyDocument).where(PolicyDocument.profile_id == "taoyuan-2026")).one()
        assert doc.content == _own_profile("taoyuan-2026").decode("utf-8")
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "policy.use")).one()
        assert entry.after["document"] == doc.sha256 and entry.actor_user_id == office.county_officer.id
    # choosing it again from the list, and going back to a shipped one
    assert _choose(client, "taoyuan-2026").status_code == 303
    assert _choose(client, "yanshan-2024").status_code == 303
    # another county cannot take over the same id
    other = browser(office.other_officer)
    refused = _upload(other, _own_profile("taoyuan-2026"))
    assert refused.status_code == 400 and "已被桃源县使用" in refused.text


def test_a_bad_profile_file_gets_a_chinese_error_and_changes_nothing(office, browser, engine):
    client = browser(office.county_officer)
    assert _choose(client, "jiaozuo-2020").status_code == 303
    cases = {
        b"id: broken\ntitle: [unclosed\n": "不是有效的YAML",
        b"id: broken\ntitle: x\nsource: y\n": "此字段为必填项",
        _own_profile("jiaozuo-2020"): "系统自带",
        "标题：测试".encode("gbk"): "UTF-8",
        b"   \n": "文件是空的",
    }
    for content, expected in cases.items():
        refused = _upload(client, content)
        assert refused.status_code == 400, content
        assert expected in refused.text, (content, refused.text[-3000:])
        assert 'class="error"' in refused.text
        # the refusal stays on a page that a reload or the language switch can open
        assert client.get("/policy/upload?lang=en").status_code == 303
    with Session(engine) as session:
        assert session.get(OrgUnit, office.tree.county.id).policy_profile == "jiaozuo-2020"
        assert session.exec(select(PolicyDocument)).all() == []
    assert _choose(client, "no-such-profile").status_code == 400


def test_only_those_who_choose_the_policy_see_the_page(office, browser):
    leader = browser(office.township_leader)
    assert leader.get("/policy").status_code == 403
    home = leader.get("/home").text
    assert 'href="/policy' not in home
    cadre = browser(office.cadre)
    assert cadre.get("/policy").status_code == 403
    # a forged post is refused too (the township leader's own device token)
    from bot.services import weblinks
    from bot.web.common import DEVICE_COOKIE, csrf_token
    from tests.office.conftest import SECRET

    device = weblinks.unsign(SECRET, "device", leader.cookies.get(DEVICE_COOKIE))
    forged = leader.post("/policy/choose", data={"csrf": csrf_token(SECRET, device), "profile": "jiaozuo-2020"})
    assert forged.status_code == 403
    other = browser(office.other_officer)
    assert other.get(f"/policy?county={office.tree.county.id}").status_code == 403


def test_an_admin_picks_the_county_first(office, browser):
    admin = browser(office.admin)
    page = admin.get("/policy").text
    assert f"/policy?county={office.tree.county.id}" in page and "远山县" in page
    county_page = admin.get(f"/policy?county={office.tree.county.id}")
    assert county_page.status_code == 200 and "桃源县的政策方案" in county_page.text
    done = admin.post(f"/policy/choose?county={office.tree.county.id}",
                      data={"csrf": csrf_of(county_page.text), "profile": "yanshan-2024",
                            "county": str(office.tree.county.id)})
    assert done.status_code == 303 and f"county={office.tree.county.id}" in done.headers["location"]
