"""The problem list on SQLite and PostgreSQL: filters, scope, in hand, escalation and the county's decision."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.services import problem_list
from bot.services.access import AccessDenied
from bot.storage.models import AuditEntry, Problem
from tests.factories import make_asset, make_tree, make_user


@pytest.fixture
def setup(engine):
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        a1, a2, b1 = (make_asset(session, tree.village_a1), make_asset(session, tree.village_a2),
                      make_asset(session, tree.village_b1))
        x = make_asset(session, tree.village_x)
        now = utcnow()
        problems = {
            "a1_serious": Problem(asset_id=a1.id, source="report", kind="unauthorised_transfer", severity="serious",
                                  created_at=now - dt.timedelta(days=10)),
            "a2_minor": Problem(asset_id=a2.id, source="villager", kind="villager_report", severity="minor",
                                created_at=now - dt.timedelta(days=2)),
            "b1_major": Problem(asset_id=b1.id, source="report", kind="idle", severity="major", created_at=now),
            "x_major": Problem(asset_id=x.id, source="report", kind="idle", severity="major", created_at=now),
        }
        session.add_all(problems.values())
        people = {
            "leader_a": make_user(session, "township_leader", tree.township_a),
            "leader_b": make_user(session, "township_leader", tree.township_b),
            "county": make_user(session, "county_officer", tree.county),
            "other_county": make_user(session, "county_officer", tree.other_county),
            "cadre": make_user(session, "village_cadre", tree.village_a1),
        }
        session.commit()
        return engine, tree, {k: p.id for k, p in problems.items()}, people


def ids(rows) -> set[int]:
    return {r.problem.id for r in rows}


def test_each_role_sees_its_area_and_filters_narrow_it(setup):
    engine, tree, p, people = setup
    with Session(engine) as session:
        assert ids(problem_list.list_problems(session, people["leader_a"])) == {p["a1_serious"], p["a2_minor"]}
        assert ids(problem_list.list_problems(session, people["leader_b"])) == {p["b1_major"]}
        assert ids(problem_list.list_problems(session, people["county"])) == {p["a1_serious"], p["a2_minor"],
                                                                              p["b1_major"]}
        assert ids(problem_list.list_problems(session, people["other_county"])) == {p["x_major"]}
        county = people["county"]
        assert ids(problem_list.list_problems(session, county, severity="serious")) == {p["a1_serious"]}
        assert ids(problem_list.list_problems(session, county, unit_id=tree.village_a2.id)) == {p["a2_minor"]}
        assert ids(problem_list.list_problems(session, county, min_age_days=5)) == {p["a1_serious"]}
        rows = problem_list.list_problems(session, county, problem_id=p["a1_serious"])
        assert rows[0].overdue(utcnow()) and rows[0].age_days == 10  # serious: 7 days by default
        with pytest.raises(AccessDenied):
            problem_list.list_problems(session, people["leader_a"], unit_id=tree.village_b1.id)
        with pytest.raises(problem_list.ProblemListError):
            problem_list.list_problems(session, county, status="lost")


def test_the_township_escalates_and_the_county_decides(setup):
    engine, _, p, people = setup
    pid = p["a1_serious"]
    with Session(engine) as session:
        with pytest.raises(AccessDenied):
            problem_list.escalate(session, people["leader_b"], pid, "收回")
        with pytest.raises(AccessDenied):
            problem_list.take_in_hand(session, people["cadre"], pid)
        with pytest.raises(problem_list.ProblemListError):
            problem_list.escalate(session, people["leader_a"], pid, "  ")
        problem_list.take_in_hand(session, people["leader_a"], pid, "已约谈经营主体")
        problem_list.escalate(session, people["leader_a"], pid, "建议解除合同，收回资产")
        session.commit()
        with pytest.raises(AccessDenied):
            problem_list.decide(session, people["leader_a"], pid, "同意")
        with pytest.raises(AccessDenied):
            problem_list.decide(session, people["other_county"], pid, "同意")
        problem_list.decide(session, people["county"], pid, "同意解除合同，由乡镇组织收回")
        session.commit()
        problem = session.get(Problem, pid)
        assert (problem.status, problem.owner_level) == ("in_hand", "township")
        events = problem_list.history(session, people["county"], pid)
        assert [(e.action, e.note) for e in events] == [
            ("in_hand", "已约谈经营主体"), ("escalated", "建议解除合同，收回资产"),
            ("decided", "同意解除合同，由乡镇组织收回")]
        audited = [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.entity == "problem"))]
        assert audited == ["problem.in_hand", "problem.escalated", "problem.decided"]
        with pytest.raises(problem_list.ProblemListError):
            problem_list.decide(session, people["county"], pid, "再次决定")


def test_the_scheduler_sees_when_a_problem_waited_for_the_county(setup):
    from bot.services.schedule_facts import county_view, load_facts

    engine, tree, p, people = setup
    pid, now = p["a1_serious"], utcnow()
    with Session(engine) as session:
        problem_list.escalate(session, people["leader_a"], pid, "建议收回", now=now - dt.timedelta(days=3))
        session.commit()
        county = session.get(type(tree.county), tree.county.id)
        county.policy_profile = "yanshan-2024"
        session.add(county)
        session.commit()
        view = county_view(session, county)
        since = now - dt.timedelta(days=30)
        (waiting,) = [f for f in load_facts(session, view, [], since).problems if f.id == str(pid)]
        assert len(waiting.with_county) == 1 and waiting.with_county[0][1] is None
        assert waiting.waits_for_county(now)
        problem_list.decide(session, people["county"], pid, "同意", now=now - dt.timedelta(days=1))
        session.commit()
        (decided,) = [f for f in load_facts(session, view, [], since).problems if f.id == str(pid)]
        start, end = decided.with_county[0]
        assert end - start == dt.timedelta(days=2)
        assert decided.waits_for_county(start + dt.timedelta(hours=1)) and not decided.waits_for_county(now)
