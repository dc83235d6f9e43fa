"""The entry points of the officers' duties: the /duties page and its record form, the command line, the
sign-in link that leads to a score sheet, and the township's Telegram button for the year-end review."""

from __future__ import annotations

import re

import time_machine
from sqlmodel import Session, select

from bot.adapters.telegram_forms import forms_menu
from bot.services import cycle, duties, weblinks
from bot.storage.db import session_scope
from bot.storage.models import User
from bot.storage.models_schedule import DutyRecord
from tests.cycle.test_year import REVIEW, YEAREND
from tests.cycle.world import fill, make_county, post_on_board, sign_both
from tests.duties.harness import TZ, Web, csrf, local, run_cli, settings_for
from tests.policy.world import build


def test_the_duty_page_records_only_the_officers_own_open_duties(sqlite_url, sqlite_engine, tmp_path):
    engine, settings = sqlite_engine, settings_for(tmp_path)
    with session_scope(engine) as session:
        world = build(session, "yanshan-2024")
    ids = {k: u.id for k, u in world.people.items()}
    with time_machine.travel(local(2026, 6, 20, 10), tick=False):
        dept = Web(engine, settings, ids["dept"])
        page = dept.client.get("/duties")
        assert page.status_code == 200 and "行业主管部门每半年督促指导乡（镇）" in page.text
        assert "2026年上半年" in page.text and "2026-H1" not in page.text.replace('value="2026-H1"', "")
        # No CSRF token, a form duty, another role's duty, a day to come, no note: refused, nothing written.
        data = {"item": "department_supervision", "period": "2026-H1", "occurred_on": "2026-06-19", "note": "督导"}
        assert dept.client.post("/duties/record", data=data).status_code == 403
        for change, status in (({"item": "township_inspection", "period": "2026-Q2"}, 400),
                               ({"item": "county_half_year_report"}, 400),
                               ({"occurred_on": "2026-06-21"}, 400), ({"note": "  "}, 400),
                               ({"period": "2026-H2"}, 400), ({"occurred_on": "昨天"}, 400)):
            assert dept.post("/duties/record", {**data, **change}).status_code == status, change
        with Session(engine) as session:
            assert session.exec(select(DutyRecord)).all() == []
        assert dept.post("/duties/record", data).status_code == 200
        assert dept.post("/duties/record", data).status_code == 400  # once
        page = dept.client.get("/duties").text
        assert 'name="item" value="department_supervision"' not in page and "督导" in page
        # A village cadre has no duty page; a township leader's lists the inspection as a form to fill.
        assert Web(engine, settings, ids["cadre_a1"]).client.get("/duties").status_code == 403
        leader = Web(engine, settings, ids["leader_a"]).client.get("/duties").text
        assert "乡（镇）实地督查（每季度不少于1次）" in leader
        assert 'href="/f' in leader and 'name="item" value="township_inspection"' not in leader
        # …and its monthly study of the villages' reports as a record (issue 16, seed 002 第六条).
        assert 'name="item" value="township_study"' in leader
        # The home pages link to it.
        assert 'href="/duties' in Web(engine, settings, ids["leader_a"]).client.get("/review").text
        assert 'href="/duties' in dept.client.get("/oversight").text
    # The command line: a form duty cannot be recorded by hand; an unknown unit is refused.
    refused = run_cli(sqlite_url, "duty", "record", "township_inspection", "--unit", "新桥镇", "--period", "2026-Q2",
                      "--date", "2026-06-01", "--note", "x")
    assert refused.exit_code == 2 and "own form" in refused.output
    wrong_unit = run_cli(sqlite_url, "duty", "record", "county_half_year_report", "--unit", "新桥镇",
                         "--period", "2026-H1", "--date", "2026-06-01", "--note", "x")
    assert wrong_unit.exit_code == 2
    listed = run_cli(sqlite_url, "duty", "list", "--scope", "桃源县", "--at", "2026-06-21T10:00")
    assert "Department supervision of townships (half-yearly)" in listed.output and "officer's record" in listed.output


def test_the_township_reaches_the_year_end_review_from_telegram_and_the_web(sqlite_engine, tmp_path):
    engine, settings = sqlite_engine, settings_for(tmp_path)
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        xq = c.tree.village_a1
        with time_machine.travel(local(2026, 11, 10), tick=False):
            yearend = fill(session, c.cadre, cycle.start(session, c.cadre, cycle.YEAREND, xq.id, "2026",
                                                         channel="web"), YEAREND)
            sign_both(session, c.supervisor, c.board, yearend.id)  # Qinbei: two signers, then the board posting
            post_on_board(session, c.cadre, yearend.id, tmp_path / "evidence")
        with time_machine.travel(local(2026, 11, 25), tick=False):
            cycle.report_up(session, c.cadre, yearend.id)
            _text, markup = forms_menu(session, session.get(User, c.leader.id), "zh_CN", TZ)
            assert "ye:" not in str(markup)  # its own review form comes first
            fill(session, c.leader, cycle.start(session, c.leader, cycle.TOWNSHIP_REVIEW, xq.id, "2026",
                                                channel="web"), REVIEW)
            _text, markup = forms_menu(session, session.get(User, c.leader.id), "zh_CN", TZ)
            buttons = [b.callback_data for row in markup.inline_keyboard for b in row]
            assert f"ye:{xq.id}:2026" in buttons
            # The button's link signs in and opens the score sheet; other targets are ignored.
            link = weblinks.create_link(session, c.leader, secret=settings.secret_key, public_url="http://testserver")
            session.commit()
    with time_machine.travel(local(2026, 11, 25, 11), tick=False):
        web = Web(engine, settings, c.leader.id)
        opened = web.client.get(link.removeprefix("http://testserver") + f"?next=/duties/review/{xq.id}%3Fyear%3D2026")
        assert opened.status_code == 200 and str(opened.url).endswith(f"/duties/review/{xq.id}?year=2026")
        assert "新桥村扶贫车间" in opened.text and "新桥村产业路" in opened.text
        with Session(engine) as session:
            other = weblinks.create_link(session, session.get(User, c.leader.id), secret=settings.secret_key,
                                         public_url="http://testserver")
            session.commit()
        elsewhere = web.client.get(other.removeprefix("http://testserver") + "?next=https://evil.example/")
        assert "evil" not in str(elsewhere.url)
        # Another township's leader may not see or score 新桥村.
        outsider = Web(engine, settings, c.other_leader.id)
        assert outsider.client.get(f"/duties/review/{xq.id}?year=2026").status_code == 403
        page = web.client.get(f"/duties/review/{xq.id}?year=2026").text
        boxes = dict.fromkeys(re.findall(r'name="(j:[^"]+)"', page), "1")
        facts = {name: "10" for name in re.findall(r'name="(f:[^"]+)"', page)}
        assert outsider.client.post(f"/duties/review/{xq.id}?year=2026",
                                    data={"csrf": outsider.device_token(), **boxes, **facts}
                                    ).status_code == 403
        done = web.client.post(f"/duties/review/{xq.id}?year=2026", data={"csrf": csrf(page), **boxes, **facts})
        assert done.status_code == 200 and re.search(r"已评分 \d+\.\d\d", done.text)
        again = web.client.post(f"/duties/review/{xq.id}?year=2026", data={"csrf": csrf(page), **boxes, **facts})
        assert again.status_code == 409
    with Session(engine) as session:
        # 王庄村 is not reviewed yet: the township's duty stays open.
        assert session.exec(select(DutyRecord).where(DutyRecord.item == "township_review")).all() == []
        states = {s.unit_id: s.state for s in duties.states(session, session.get(type(c.tree.county), c.tree.county.id),
                                                              local(2026, 12, 1), local(2026, 12, 31), now=local(2026, 12, 21))
                  if s.item == "township_review"}
        assert states == {c.tree.township_a.id: duties.LATE, c.tree.township_b.id: duties.LATE}
