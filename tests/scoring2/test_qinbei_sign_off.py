"""Issue 16, item 5: the Qinbei sign-off and posting (seed 004 五(二), 五(三)1).

"村（居）务监督委员会主任、村（居）民合作社监事会主任分别签字确认…并在村务公开栏及受益村屯将绩效完成情况自评结果进行
公示10天，无异议后报镇政府": two signers, the posting on the village's physical board (a photo of the posted
notice), and an objection raised during the posting — a villager's report from the QR page — holds the
report until it is answered.
"""

from __future__ import annotations

import re

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.clock import as_utc
from bot.config import Settings
from bot.services import cycle, problems
from bot.services.access import AccessDenied
from bot.services.evidence import EvidenceError, EvidenceStore
from bot.storage.models import Report
from bot.storage.models_cycle import CycleStep
from bot.storage.models_scoring import ReportSignature
from bot.web.app import create_app
from tests.cycle.test_year import YEAREND
from tests.cycle.world import fill, local, make_county
from tests.services.images import make_jpeg

MB = 1024 * 1024


def submitted(session, c) -> Report:
    with time_machine.travel(local(2026, 11, 15), tick=False):
        return fill(session, c.cadre, cycle.start(session, c.cadre, cycle.YEAREND, c.tree.village_a1.id, "2026",
                                                  channel="web"), YEAREND)


def test_a_qinbei_report_needs_both_signatures(engine):
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        report = submitted(session, c)
        with time_machine.travel(local(2026, 11, 16), tick=False):
            first = cycle.sign_off(session, c.supervisor, report.id)
            assert first.status == "submitted"   # one signature is not a sign-off
            assert session.exec(select(CycleStep).where(CycleStep.report_id == report.id)).all() == []
            assert cycle.posted_evaluation(session, c.road) is None
            with pytest.raises(cycle.CycleError) as twice:  # the same person cannot sign for both posts
                cycle.sign_off(session, c.supervisor, report.id, post="cooperative_board")
            assert twice.value.msgid == cycle.MSG_SIGNED_ALREADY
            with pytest.raises(cycle.CycleError) as taken:
                cycle.sign_off(session, c.board, report.id, post="supervisory_committee")
            assert taken.value.msgid == cycle.MSG_NO_SUCH_POST
            state = cycle.signing(session, session.get(Report, report.id))
            assert state.waiting == ("cooperative_board",) and [n for _, n in state.signed] == ["李监委"]
            done = cycle.sign_off(session, c.board, report.id)
        assert done.status == "signed_off"
        posts = {(s.post, s.user_id) for s in session.exec(select(ReportSignature)).all()}
        assert posts == {("supervisory_committee", c.supervisor.id), ("cooperative_board", c.board.id)}
        step = session.exec(select(CycleStep).where(CycleStep.step == "sign_off")).one()
        assert {s["post"] for s in step.data["signers"]} == {"supervisory_committee", "cooperative_board"}


def test_the_posting_is_on_the_board_and_counts_from_the_photo_of_the_notice(engine, tmp_path):
    store = EvidenceStore(tmp_path / "evidence", 5 * MB)
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        report = submitted(session, c)
        with time_machine.travel(local(2026, 11, 16), tick=False):
            cycle.sign_off(session, c.supervisor, report.id)
            cycle.sign_off(session, c.board, report.id)
            assert cycle.posted_evaluation(session, c.road) is None  # not posted until the notice is up
            assert [r.id for r in cycle.awaiting_posting(session, c.cadre)] == [report.id]
            assert cycle.to_report_up(session, c.cadre) == []
        with time_machine.travel(local(2026, 11, 30), tick=False), pytest.raises(cycle.CycleError) as early:
            cycle.report_up(session, c.cadre, report.id)
        assert early.value.msgid == cycle.MSG_NO_PHOTO
        with time_machine.travel(local(2026, 11, 18, 15), tick=False):
            with pytest.raises(EvidenceError):
                cycle.record_posting(session, c.cadre, report.id, b"not a photo", store)
            with pytest.raises(AccessDenied):  # the supervisor does not post it; the village does
                cycle.record_posting(session, c.supervisor, report.id, make_jpeg(), store)
            step = cycle.record_posting(session, c.cadre, report.id, make_jpeg(), store)
            with pytest.raises(cycle.CycleError):
                cycle.record_posting(session, c.cadre, report.id, make_jpeg(seed=2), store)
        assert as_utc(step.at) == local(2026, 11, 18, 15) and as_utc(step.until) == local(2026, 11, 28, 15)
        assert step.data["on"] == "board" and (tmp_path / "evidence").exists()
        assert cycle.posted_evaluation(session, c.road, local(2026, 11, 20)) is not None
        with time_machine.travel(local(2026, 11, 28, 14), tick=False), pytest.raises(cycle.CycleError) as posted:
            cycle.report_up(session, c.cadre, report.id)
        assert posted.value.msgid == cycle.MSG_POSTING
        with time_machine.travel(local(2026, 11, 28, 16), tick=False):
            assert cycle.report_up(session, c.cadre, report.id).status == "reported"


def test_a_villagers_objection_from_the_qr_page_holds_the_report_until_it_is_answered(engine, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    store = EvidenceStore(tmp_path / "evidence", 5 * MB)
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        report = submitted(session, c)
        leader = c.leader
        with time_machine.travel(local(2026, 11, 16), tick=False):
            cycle.sign_off(session, c.supervisor, report.id)
            cycle.sign_off(session, c.board, report.id)
            cycle.record_posting(session, c.cadre, report.id, make_jpeg(), store)
        token = c.road.public_token
    # A villager reads the posted self-evaluation on the road's QR page and objects there.
    with time_machine.travel(local(2026, 11, 20), tick=False):
        client = TestClient(create_app(settings, engine))
        page = client.get(f"/p/{token}")
        assert YEAREND["summary"] in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        sent = client.post(f"/p/{token}/report", data={"csrf": csrf, "text": "自评说道路完好，其实去年冬天就塌了一段",
                                                      "category": "damaged"})
        assert sent.status_code == 200 and "sent=filed" in str(sent.url)
    with Session(engine, expire_on_commit=False) as session:
        held = cycle.objections(session, session.get(Report, report.id))
        assert len(held) == 1
        with time_machine.travel(local(2026, 11, 27), tick=False):
            with pytest.raises(cycle.CycleError) as holding:
                cycle.report_up(session, c.cadre, report.id)
            assert holding.value.msgid == cycle.MSG_HELD and holding.value.params == {"count": 1}
            assert [r.id for r, _ in cycle.held_by_objections(session, c.cadre)] == [report.id]
            problems.resolve(session, session.get(type(leader), leader.id), held[0].problem_id,
                             "已核实：塌方路段十月已修复，现场拍照公示")
            session.commit()
            assert cycle.held_by_objections(session, c.cadre) == []
            assert cycle.report_up(session, c.cadre, report.id).status == "reported"


def test_a_report_before_the_posting_or_about_another_village_is_no_objection(engine, tmp_path):
    from bot.services import villager_reports

    store = EvidenceStore(tmp_path / "evidence", 5 * MB)
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        report = submitted(session, c)
        villager_reports.report_problem(session, c.road, text="路灯坏了", category="damaged", device_id="d1",
                                        address="10.0.0.1", secret="s", now=local(2026, 11, 15, 12))
        with time_machine.travel(local(2026, 11, 16), tick=False):
            cycle.sign_off(session, c.supervisor, report.id)
            cycle.sign_off(session, c.board, report.id)
            cycle.record_posting(session, c.cadre, report.id, make_jpeg(), store)
        villager_reports.report_problem(session, c.pv, text="王庄村光伏板脏了", category="other", device_id="d2",
                                        address="10.0.0.2", secret="s", now=local(2026, 11, 18))
        session.commit()
        with time_machine.travel(local(2026, 11, 27), tick=False):
            assert cycle.report_up(session, c.cadre, report.id).status == "reported"


def test_the_sign_off_page_shows_who_signed_and_asks_the_post(engine, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        report = submitted(session, c)
        cycle.sign_off(session, c.supervisor, report.id)
    from tests.cycle.test_web import client_for

    board = client_for(engine, settings, c.board.id)
    page = board.get(f"/f/signoff/{report.id}")
    assert "李监委" in page.text and "村务监督委员会主任" in page.text
    assert '<option value="cooperative_board">村民合作社监事会主任</option>' in page.text
    assert "supervisory_committee" not in page.text


def test_the_posting_page_is_chinese_and_linked_from_the_cadres_home(engine, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    with Session(engine, expire_on_commit=False) as session:
        c = make_county(session, "qinbei-2023", boards=True)
        report = submitted(session, c)
        cycle.sign_off(session, c.supervisor, report.id)
        cycle.sign_off(session, c.board, report.id)
    from tests.cycle.test_web import client_for

    cadre = client_for(engine, settings, c.cadre.id)
    assert 'href="/posting' in cadre.get("/home").text
    page = cadre.get("/posting")
    assert page.status_code == 200 and "公开栏公示" in page.text and "公示照片" in page.text
    main = re.sub(r"<[^>]+>", " ", page.text[page.text.index("<main"):])  # the visible text
    assert not re.search(r"\b(Posting|notice|photo|Record)\b", main)
    assert client_for(engine, settings, c.leader.id).get("/posting").text.count(f"/posting/{report.id}") == 0
