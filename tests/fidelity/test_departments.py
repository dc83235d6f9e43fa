"""Item 6: departments and townships have duties of their own (seed 002 第六、七条; 000 四(二)1).

- a problem on a 种植业 asset reaches the agriculture department (an outbox notice to its officer), not
  another department, and a problem on an asset of no department's category reaches none;
- the quarterly forms may be filed by the responsible department as well as the township ("相关责任单位或乡镇"),
  and count for the township's duty;
- the township's study (班子会议专题研究) and four-way classification (四个一批) are duties of yanshan-2024:
  the study by the township's record, the classification once every operating asset is classified.
"""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.clock import UTC
from bot.policy import load
from bot.services import cycle, departments, duties
from bot.services.access import AccessDenied
from bot.services.assessment import confirm_class, suggest_classes
from bot.storage.models import Report, User
from bot.storage.models_schedule import DutyRecord
from tests.fidelity.conftest import MONITORING, MONTHLY, NOW, outbox_to, submit_form, submit_monthly


def test_a_problem_on_a_planting_asset_reaches_the_agriculture_department(engine, world):
    result = submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.greenhouse,
                         {**MONITORING, "operating_normally": "no"})
    problem = next(p for p in result.problems if p.kind == "not_operating_normally")
    rows = outbox_to(engine, world.department)
    assert [(m.subject, m.role, m.step) for m in rows] == [(f"problem/{problem.id}", "department_officer",
                                                            "department")]
    assert "种植业" in str(rows[0].body)
    assert outbox_to(engine, world.tourism) == []  # 旅游业 is another department's


def test_a_problem_on_an_asset_of_no_departments_category_reaches_none(engine, world):
    submit_monthly(engine, world.cadre, world.workshop, {**MONTHLY, "intact": "no", "damage_note": "设备丢失",
                                                         "disaster_damage": "no", "board_missing": "missing",
                                                         "sign_missing": "missing"})
    assert outbox_to(engine, world.department) == [] and outbox_to(engine, world.tourism) == []


def test_minor_problems_stay_in_the_village(engine, world):
    submit_monthly(engine, world.cadre, world.greenhouse, {**MONTHLY, "board_missing": "missing",
                                                           "sign_missing": "missing"})
    assert outbox_to(engine, world.department) == []


def test_department_categories_are_checked_and_set_by_the_county(engine, world):
    with Session(engine) as session:
        assert departments.categories_of(session, world.department) == ["种植业", "养殖业"]
        with pytest.raises(departments.DepartmentError):
            departments.set_categories(session, None, world.department, ["渔业"])
        with pytest.raises(departments.DepartmentError):
            departments.set_categories(session, None, world.leader, ["种植业"])
        with pytest.raises(AccessDenied):
            departments.set_categories(session, session.get(User, world.leader), world.department, ["种植业"])
        departments.set_categories(session, session.get(User, world.county), world.department, ["养殖业"])
        session.commit()
        assert departments.categories_of(session, world.department) == ["养殖业"]


def test_the_command_line_sets_a_departments_categories(sqlite_url, sqlite_engine, monkeypatch, tmp_path):
    from bot.cli import cli
    from tests.factories import make_tree, make_user

    with Session(sqlite_engine) as session:
        tree = make_tree(session)
        officer = make_user(session, "department_officer", tree.county, "水利局")
        session.commit()
        officer_id = officer.id
    monkeypatch.setenv("VILLAGEBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    done = runner.invoke(cli, ["department", "set", str(officer_id), "--category", "种植业"])
    assert done.exit_code == 0, done.output
    refused = runner.invoke(cli, ["department", "set", str(officer_id), "--category", "渔业"])
    assert refused.exit_code == 2 and "渔业" in refused.output
    listed = runner.invoke(cli, ["department", "list"])
    assert "水利局" in listed.output and "种植业" in listed.output


def test_the_responsible_department_files_the_quarterly_forms(engine, world):
    with Session(engine) as session:
        session.get(type(world.tree.county), world.tree.county.id).policy_profile = "jiaozuo-2020"
        session.commit()
        department = session.get(User, world.department)
        due = cycle.due_forms(session, department, NOW)
    # 种植业 is the department's: it sees the greenhouse, not the workshop (加工业).
    assert {(d.form_id, d.subject_name) for d in due} == {
        ("quarterly-monitoring", "新桥村蔬菜大棚"), ("benefit-self-evaluation", "新桥村蔬菜大棚")}
    result = submit_form(engine, world.department, "quarterly-monitoring", "2026-Q1", world.greenhouse, MONITORING)
    assert result.report.submitted_by == world.department
    submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.workshop, MONITORING)
    with Session(engine) as session:
        record = session.exec(select(DutyRecord).where(DutyRecord.item == "quarterly_monitoring")).one()
    assert (record.org_unit_id, record.period) == (world.tree.township_a.id, "2026-Q1")


def test_the_townships_study_and_classification_are_duties_of_yanshan(engine, world):
    items = {i.kind: i for i in load("yanshan-2024").items}
    assert (items["township_study"].done_by, items["township_classification"].done_by) == ("record", "classify")
    assert items["township_study"].role == items["township_classification"].role == "township_leader"
    with Session(engine) as session:
        session.get(type(world.tree.county), world.tree.county.id).policy_profile = "yanshan-2024"
        session.commit()
    april = dt.datetime(2026, 4, 28, 4, 0, tzinfo=UTC)
    for asset in (world.greenhouse, world.workshop):  # the villages' checks the township classifies from
        submit_monthly(engine, world.cadre, asset, {**MONTHLY, "board_missing": "missing", "sign_missing": "missing"})
    with Session(engine) as session:
        leader = session.get(User, world.leader)
        states = {s.item: s.state for s in duties.for_user(session, leader, april)}
        assert states["township_study"] == states["township_classification"] == "due"
        duties.record(session, leader, "township_study", "2026-04", occurred_on=dt.date(2026, 4, 27),
                      note="班子会议专题研究4月村级上报情况", now=april)
        suggest_classes(session, world.tree.township_a, "2026-04", user=leader)
        confirm_class(session, leader, world.greenhouse, "2026-04", "巩固")
        session.commit()
        states = {s.item: s.state for s in duties.for_user(session, leader, april)}
        assert states["township_study"] == "done" and states["township_classification"] == "due"
        confirm_class(session, leader, world.workshop, "2026-04", "巩固")
        session.commit()
        done = {s.item: s for s in duties.for_user(session, leader, april)}
    assert done["township_classification"].state == "done" and done["township_classification"].done.by == "classify"


def test_a_problem_the_township_hands_up_reaches_the_department_too(engine, world):
    from bot.services import problem_list

    result = submit_monthly(engine, world.cadre, world.greenhouse, {**MONTHLY, "board_missing": "missing",
                                                                    "sign_missing": "missing"})
    minor = next(p for p in result.problems if p.kind == "sign_missing")
    assert outbox_to(engine, world.department) == []
    with Session(engine) as session:
        problem_list.escalate(session, session.get(User, world.leader), minor.id, "请县农业农村局统一制作标识牌")
        session.commit()
    assert [m.subject for m in outbox_to(engine, world.department)] == [f"problem/{minor.id}"]


def test_a_department_officers_home_links_the_quarterly_forms():
    from bot.web import menu

    officer = User(name="农业农村局", role="department_officer", org_unit_id=1)
    paths = [entry.path for _, pairs in menu.for_user(officer) for entry, _ in pairs]
    assert "/f" in paths and "/duties" in paths


def test_a_department_officer_files_a_quarterly_form_on_the_web(engine, world, tmp_path):
    import time_machine

    from tests.duties.harness import Web, settings_for

    with Session(engine) as session:
        session.get(type(world.tree.county), world.tree.county.id).policy_profile = "jiaozuo-2020"
        session.commit()
    with time_machine.travel(NOW, tick=False):
        web = Web(engine, settings_for(tmp_path), world.department)
        assert "新桥村蔬菜大棚" in web.client.get("/f").text
        report_id = web.form("quarterly-monitoring", world.greenhouse, "2026-Q1", MONITORING)  # listed, filled
    with Session(engine) as session:
        report = session.get(Report, report_id)
        assert (report.status, report.submitted_by) == ("submitted", world.department)
