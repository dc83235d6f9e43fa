"""Item 3: a missing signboard or disclosure board does not block the report (seed 001 B202 ⑥⑦): the village
answers "标识牌缺失" / "公示栏缺失" instead of a photo, the report submits, and a problem is raised."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlmodel import Session

from bot.flows import AnswerError, load_form
from bot.i18n import translate
from bot.services import exports, reports
from bot.storage.models import User
from tests.fidelity.conftest import MONTHLY, NOW, fill, problems


def test_the_missing_answers_read_as_the_seed_words():
    form = load_form("monthly-operating")
    assert translate("zh_CN", form.question("board_missing").option("missing").label) == "公示栏缺失"
    assert translate("zh_CN", form.question("sign_missing").option("missing").label) == "标识牌缺失"


def test_a_village_without_a_signboard_submits_and_a_problem_is_raised(engine, world):
    with Session(engine) as session:
        report_id = reports.start_or_resume(session, session.get(User, world.cadre), world.workshop,
                                            channel="web", now=NOW).id
    fill(engine, world.cadre, report_id, {**MONTHLY, "board_missing": "missing", "sign_missing": "missing"})
    with Session(engine, expire_on_commit=False) as session:
        result = reports.submit(session, session.get(User, world.cadre), report_id, now=NOW)
    assert result.report.status == "submitted"
    assert result.report.answers["board_photo"] is None and result.report.answers["sign_missing"] == "missing"
    found = problems(engine, world.workshop)
    assert {k: (p.severity, p.owner_level) for k, p in found.items()} == {
        "board_missing": ("minor", "village"), "sign_missing": ("minor", "village")}
    assert found["sign_missing"].description == "资产的永久性标识牌缺失。"
    # The quarter's monitoring form says so where the disclosure is asked.
    out = io.BytesIO()
    with Session(engine) as session:
        exports.write_monitoring(session, None, world.tree.county, "2026Q2", out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    row = next(r for r in sheet.iter_rows(values_only=True) if r[3] == "新桥村扶贫车间")
    assert row[7] == "公示栏缺失"


def test_a_public_welfare_asset_without_a_board_submits_too(engine, world):
    with Session(engine) as session:
        report_id = reports.start_or_resume(session, session.get(User, world.cadre), world.road, channel="web", now=NOW).id
        walker = reports.walker_for(session.get(reports.Report, report_id))
    script = {q.key: "yes" for q in walker.form.questions if q.type == "yesno"}
    script.update(board_missing="not_shown", sign_missing="unreadable", complaints="no")
    fill(engine, world.cadre, report_id, script)
    with Session(engine, expire_on_commit=False) as session:
        result = reports.submit(session, session.get(User, world.cadre), report_id, now=NOW)
    assert {p.kind for p in result.problems} == {"board_not_disclosed", "sign_unreadable"}


def test_without_a_photo_the_board_question_must_still_be_answered(engine, world):
    with Session(engine) as session:
        report_id = reports.start_or_resume(session, session.get(User, world.cadre), world.workshop,
                                            channel="web", now=NOW).id
    fill(engine, world.cadre, report_id, {**MONTHLY, "board_missing": "missing", "sign_missing": "missing"})
    with Session(engine) as session:
        cadre = session.get(User, world.cadre)
        reports.goto(session, cadre, report_id, "board_missing", now=NOW)
        with pytest.raises(AnswerError):
            reports.answer(session, cadre, report_id, "board_missing", "gone", now=NOW)  # not an option
        walker = reports.walker_for(session.get(reports.Report, report_id))
        assert walker.complete
