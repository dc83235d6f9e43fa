"""The year-end review of the villages and the county's grading, reached from the home page by links alone."""

from __future__ import annotations

import re

import time_machine
from sqlmodel import Session

from bot.services import cycle
from tests.cycle.test_year import REVIEW, YEAREND
from tests.cycle.world import fill, make_county, post_on_board, sign_both
from tests.duties.harness import Web, csrf, local, settings_for
from tests.township.conftest import CHINESE_CODES, text_of


def _follow(client, page, path: str):
    """Follow the first link on ``page`` to an address starting with ``path``."""
    found = re.search(r'<a[^>]*href="(' + re.escape(path) + r'[^"]*)"', page.text)
    assert found, (path, text_of(page.text)[:800])
    return client.get(found.group(1).replace("&amp;", "&"))


def test_review_and_grading_from_the_home_menu(sqlite_engine, tmp_path):
    engine, settings = sqlite_engine, settings_for(tmp_path)
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        xq = c.tree.village_a1
        with time_machine.travel(local(2026, 11, 10), tick=False):
            yearend = fill(session, c.cadre, cycle.start(session, c.cadre, cycle.YEAREND, xq.id, "2026",
                                                         channel="web"), YEAREND)
            sign_both(session, c.supervisor, c.board, yearend.id)  # Qinbei's two signers
            post_on_board(session, c.cadre, yearend.id, tmp_path / "board")
        with time_machine.travel(local(2026, 11, 25), tick=False):
            cycle.report_up(session, c.cadre, yearend.id)
    with time_machine.travel(local(2026, 11, 26, 10), tick=False):
        leader = Web(engine, settings, c.leader.id)
        home = leader.client.get("/home")
        listed = _follow(leader.client, home, "/duties/review?")
        assert listed.status_code == 200 and "新桥村" in listed.text
        # The township's own review form first: the list links to the forms, which offer it.
        forms = _follow(leader.client, listed, "/f?")
        assert 'value="township-review"' in forms.text
        started = leader.client.post("/f/form/start", data={"csrf": csrf(forms.text), "form_id": "township-review",
                                                            "subject_id": str(xq.id), "period": "2026"})
        leader.fill(int(str(started.url).split("/f/report/")[1].split("?")[0]), REVIEW)
        listed = _follow(leader.client, leader.client.get("/home"), "/duties/review?")
        sheet = _follow(leader.client, listed, "/duties/review/")
        assert sheet.status_code == 200 and "新桥村扶贫车间" in sheet.text
        boxes = dict.fromkeys(re.findall(r'name="(j:[^"]+)"', sheet.text), "1")
        facts = {name: "10" for name in re.findall(r'name="(f:[^"]+)"', sheet.text)}
        done = leader.client.post(re.search(r'<form method="post" action="([^"]+)"', sheet.text).group(1)
                                  .replace("&amp;", "&"), data={"csrf": csrf(sheet.text), **boxes, **facts})
        assert done.status_code == 200 and re.search(r"已评分 \d+\.\d\d", done.text)
        assert not CHINESE_CODES.search(text_of(done.text))

        office = Web(engine, settings, c.county_officer.id)
        grading = _follow(office.client, office.client.get("/home"), "/duties/grade?")
        assert grading.status_code == 200 and "新桥镇" in grading.text
        graded = office.client.post(f"/duties/grade/{c.tree.township_a.id}?lang=zh_CN",
                                    data={"csrf": csrf(grading.text), "year": "2026"})
        assert graded.status_code == 200 and graded.url.path == "/duties/grade"
        assert f'action="/duties/grade/{c.tree.township_a.id}' not in graded.text
        assert not CHINESE_CODES.search(text_of(graded.text))
