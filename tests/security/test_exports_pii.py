"""Issue 14, points 3 and 5: text never becomes a formula in an export, and personal numbers in posted text are
masked on the public page and in /api/public (which publish the same fields), the author being told first."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from zoneinfo import ZoneInfo

import openpyxl
import time_machine
from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.services import audit, cycle, public, reports, sheets
from bot.services.ledger import export_ledger, import_ledger
from bot.services.orgs import import_org
from bot.storage.models import Asset, OrgUnit, Report, User
from bot.web.api import PublicAsset
from bot.web.app import create_app
from tests.cycle.test_web import client_for, county_and_settings, csrf
from tests.cycle.world import local
from tests.factories import make_user
from tests.web.conftest import app, client, csrf_of, store, web_settings, world  # noqa: F401 (fixtures)
from tests.web.test_form import sign_in

FORMULA = '=HYPERLINK("http://evil.example/steal","点击查看")'
TRICKY = [FORMULA, "+86 138", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "=1+1"]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def xlsx_text_cells(data: bytes) -> dict[str, tuple[object, str]]:
    """Return every non-empty cell of the first sheet as coordinate → (value, data type), read by openpyxl."""
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    return {c.coordinate: (c.value, c.data_type) for row in sheet.iter_rows() for c in row if c.value is not None}


def formulas_in(data: bytes) -> list[str]:
    """Return the <f> elements of the workbook's sheets: none may come from our text."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [name for name in z.namelist() if name.startswith("xl/worksheets/") and b"<f>" in z.read(name)]


def assert_text_not_formula(data: bytes, expected: str) -> None:
    cells = xlsx_text_cells(data)
    found = [(value, kind) for value, kind in cells.values() if value == expected]
    assert found, f"{expected!r} not in the export"
    assert all(kind == "s" for _value, kind in found), found  # a text cell, not a formula ("f")
    assert not formulas_in(data)
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert any(expected in row for row in calamine)


# --- exports ---------------------------------------------------------------------------------------


def test_villager_formula_reaches_the_problem_list_as_text(client, engine, world, tmp_path):  # noqa: F811
    token = world.asset.public_token
    page = client.get(f"/p/{token}")
    sent = client.post(f"/p/{token}/report", data={"csrf": csrf_of(page.text), "text": FORMULA,
                                                    "category": "other"})
    assert sent.status_code == 303, sent.text
    with Session(engine, expire_on_commit=False) as session:
        officer = make_user(session, "county_officer", world.tree.county, "周主任")
        session.commit()
        county_id = world.tree.county.id
    sign_in(client, engine, officer)
    month = utcnow().astimezone(SHANGHAI).strftime("%Y-%m")

    xlsx = client.get(f"/oversight/{county_id}/export/problems?month={month}")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxml")
    assert_text_not_formula(xlsx.content, FORMULA)

    as_csv = client.get(f"/oversight/{county_id}/export/problems?month={month}&format=csv")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="problems.csv"' in as_csv.headers["content-disposition"]
    text = as_csv.content.decode("utf-8-sig")
    fields = [field for row in csv.reader(io.StringIO(text)) for field in row]
    assert "'" + FORMULA in fields and FORMULA not in fields  # guarded with a single quote (OWASP)
    (tmp_path / "problems.csv").write_bytes(as_csv.content)
    assert any(FORMULA in row for row in sheets.read_rows(tmp_path / "problems.csv"))  # and read back as typed

    summary = client.get(f"/oversight/{county_id}/export/summary?month={month}&format=csv")
    assert summary.status_code == 200 and "村级资产月度监管报告汇总表" in summary.content.decode("utf-8-sig")


def _load_sample_ledger(session: Session, samples) -> OrgUnit:
    import_org(session, audit.Actor(None, "test"), samples / "org-sample.xlsx")
    import_ledger(session, None, samples / "ledger-sample.xlsx")
    session.commit()
    return session.exec(select(OrgUnit).where(OrgUnit.name == "桃源县")).one()


def test_ledger_text_stays_text_and_the_export_reimports_unchanged(engine, samples, tmp_path):
    with Session(engine) as session:
        county = _load_sample_ledger(session, samples)
        assets = session.exec(select(Asset).order_by(Asset.project_code)).all()
        first = assets[0]
        first.operator, first.construction_content, first.beneficiaries = FORMULA, "-", "@SUM(A1:A9)"
        first.owner = "+86 138 村委会"
        session.add(first)
        session.commit()
        count = len(assets)
        before = {a.project_code: a.model_dump(exclude={"id", "updated_at", "created_at"}) for a in
                  session.exec(select(Asset)).all()}

        out = tmp_path / "ledger.xlsx"
        assert export_ledger(session, None, out, county=county) == count
        data = out.read_bytes()
        for text in (FORMULA, "-", "@SUM(A1:A9)", "+86 138 村委会"):
            assert_text_not_formula(data, text)
        numbers = [kind for value, kind in xlsx_text_cells(data).values() if isinstance(value, (int, float))]
        assert numbers and set(numbers) == {"n"}  # amounts stay numbers
        again = import_ledger(session, None, out)
        assert (again.created, again.updated, again.unchanged) == (0, 0, count)

        as_csv = tmp_path / "ledger.csv"
        assert export_ledger(session, None, as_csv, county=county) == count  # the format from the suffix
        rows = list(csv.reader(io.StringIO(as_csv.read_bytes().decode("utf-8-sig"))))
        fields = {field for row in rows for field in row}
        assert {"'" + FORMULA, "'-", "'@SUM(A1:A9)", "'+86 138 村委会"} <= fields
        assert FORMULA not in fields
        again = import_ledger(session, None, as_csv)
        assert (again.created, again.updated, again.unchanged) == (0, 0, count)
        after = {a.project_code: a.model_dump(exclude={"id", "updated_at", "created_at"}) for a in
                 session.exec(select(Asset)).all()}
        assert after == before


def test_every_tricky_start_is_text_in_both_formats(tmp_path):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet("t")
    ws.append(sheets.xlsx_row(ws, [*TRICKY, -5, -2.5, 0, None, "普通文字"]))
    book.save(tmp_path / "t.xlsx")
    cells = xlsx_text_cells((tmp_path / "t.xlsx").read_bytes())
    assert [cells[f"{c}1"] for c in "ABCDEFG"] == [(text, "s") for text in TRICKY]
    assert cells["H1"] == (-5, "n") and cells["I1"] == (-2.5, "n") and cells["J1"] == (0, "n") and cells["L1"] == ("普通文字", "s")
    assert not formulas_in((tmp_path / "t.xlsx").read_bytes())

    sheets.write_csv([[*TRICKY, -5, "普通文字", "it's"]], tmp_path / "t.csv")
    [row] = list(csv.reader(io.StringIO((tmp_path / "t.csv").read_bytes().decode("utf-8-sig"))))
    assert row == ["'" + text for text in TRICKY] + ["-5", "普通文字", "it's"]


def test_score_sheet_text_is_text(tmp_path, monkeypatch):
    from bot.scoring.engine import evaluate
    from bot.scoring.facts import parse_facts
    from bot.scoring.rubric import load_rubric
    from bot.services import score_sheet as xlsx
    from tests.scoring.scoring_factories import full_marks_file

    data = full_marks_file()
    data["project"]["name"] = FORMULA
    sheet = evaluate(load_rubric(data["rubric"]), parse_facts(data))
    xlsx.write_xlsx(sheet, tmp_path / "named.xlsx", "zh_CN")
    assert not formulas_in((tmp_path / "named.xlsx").read_bytes())
    monkeypatch.setattr(xlsx, "title_line", lambda _sheet, _locale: FORMULA)  # a heading that is all formula
    xlsx.write_xlsx(sheet, tmp_path / "score.xlsx", "zh_CN")
    assert_text_not_formula((tmp_path / "score.xlsx").read_bytes(), FORMULA)


# --- personal data on public pages ----------------------------------------------------------------

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
SUMMARY = f"道路完好，车间分红到户。联系人张三，身份证{ID_NUMBER}，电话{PHONE}。"
ANSWERS = {"targets_met": "most", "self_score": "92", "summary": SUMMARY, "shortfalls": "分红晚了一个月"}


def _answer_all(session: Session, user: User, report_id: int) -> None:
    for _ in range(50):
        question = reports.walker_for(session.get(Report, report_id)).current()
        if question is None:
            return
        reports.answer(session, user, report_id, question.key, ANSWERS[question.key])


def test_posted_summary_is_masked_and_the_author_is_told(engine, tmp_path):
    c, settings = county_and_settings(engine, tmp_path, "qinbei-2023")
    with time_machine.travel(local(2026, 11, 15), tick=False):
        with Session(engine, expire_on_commit=False) as session:
            report = cycle.start(session, c.cadre, cycle.YEAREND, c.tree.village_a1.id, "2026", channel="web")
            _answer_all(session, c.cadre, report.id)
            session.commit()
        # The author, on the last look before submitting, is told what the public page will mask.
        cadre = client_for(engine, settings, c.cadre.id)
        review = cadre.get(f"/f/report/{report.id}")
        assert review.status_code == 200
        assert "公示页面上将隐去显示为" in review.text
        assert "身份证号 110***********002X" in review.text and "手机号 138****5678" in review.text
        submitted = cadre.post(f"/f/report/{report.id}/submit", data={"csrf": csrf(review.text)})
        assert submitted.status_code in (200, 303), submitted.text

        # The supervisor, whose sign-off posts it, is told too, on the web and on Telegram; signing off works.
        supervisor = client_for(engine, settings, c.supervisor.id)
        page = supervisor.get(f"/f/signoff/{report.id}")
        assert "身份证号 110***********002X、手机号 138****5678" in page.text
        from bot.adapters.telegram_forms import _sign_off_view

        with Session(engine) as session:
            text, _markup = _sign_off_view(session, session.get(Report, report.id), "zh_CN")
        assert "身份证号 110***********002X" in text and "手机号 138****5678" in text
        signed = supervisor.post(f"/f/signoff/{report.id}", data={"csrf": csrf(page.text)})
        assert signed.status_code == 200 and "/f/signoff" not in str(signed.url)  # back on the list
        board = client_for(engine, settings, c.board.id)  # Qinbei: the cooperative board's chair signs too
        board_page = board.get(f"/f/signoff/{report.id}")
        assert board.post(f"/f/signoff/{report.id}", data={"csrf": csrf(board_page.text)}).status_code == 200
        from tests.cycle.world import post_on_board  # then the notice goes up on the village board

        with Session(engine) as session:
            post_on_board(session, session.get(User, c.cadre.id), report.id, tmp_path / "evidence")
    with Session(engine) as session:
        assert session.get(Report, report.id).status == "signed_off"

    with time_machine.travel(local(2026, 11, 20), tick=False):
        anonymous = TestClient(create_app(settings, engine))
        for asset in (c.road, c.workshop):  # every asset of the village carries the notice
            html = anonymous.get(f"/p/{asset.public_token}").text
            body = anonymous.get(f"/api/public/{asset.public_token}").json()
            dumped = json.dumps(body, ensure_ascii=False)
            for shown in (html, dumped):
                assert ID_NUMBER not in shown and PHONE not in shown and ID_NUMBER.lower() not in shown
                assert "110***********002X" in shown and "138****5678" in shown
                assert "道路完好，车间分红到户。" in shown
            assert body["posted_evaluation"]["summary"] == (
                "道路完好，车间分红到户。联系人张三，身份证110***********002X，电话138****5678。")


def test_ledger_free_text_on_the_qr_page_is_masked(client, engine, world):  # noqa: F811
    with Session(engine) as session:
        asset = session.get(Asset, world.asset.id)
        asset.operator = f"桃源县光伏运维有限公司（王经理 {PHONE}）"
        asset.custodian = f"管护员李四 身份证{ID_NUMBER}"
        session.add(asset)
        session.commit()
    html = client.get(f"/p/{world.asset.public_token}").text
    body = client.get(f"/api/public/{world.asset.public_token}").json()
    assert body["operator"] == "桃源县光伏运维有限公司（王经理 138****5678）"
    assert body["custodian"] == "管护员李四 身份证110***********002X"
    for shown in (html, json.dumps(body, ensure_ascii=False)):
        assert PHONE not in shown and ID_NUMBER not in shown
        assert "138****5678" in shown and "110***********002X" in shown
    assert body["supervision_phone"] == "0391-5551234"  # the published hotline is not personal data


def test_page_and_api_publish_the_same_fields(client, world):  # noqa: F811
    token = world.asset.public_token
    body = client.get(f"/api/public/{token}").json()
    with Session(client.app.state.web.engine) as session:
        facts = public.published(public.disclosure(session, session.get(Asset, world.asset.id), tz=SHANGHAI,
                                                   supervision_phone="12317"))
    assert set(body) == set(facts) == set(PublicAsset.model_fields)
    schema = client.get("/openapi.json").json()["components"]["schemas"]["PublicAsset"]["properties"]
    assert set(schema) == set(facts)
    # The page shows what the API answers (the text facts that are set).
    html = client.get(f"/p/{token}").text
    for key in ("name", "village", "township", "county", "owner", "custodian", "operator", "funds_total",
                "income_distributed", "supervision_phone"):
        assert str(body[key]) in html, key
    for photo in body["photos"]:
        assert photo["sha256"] in html
