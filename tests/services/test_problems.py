"""Acknowledge and resolve a problem: access by township, events, audit, and the scheduler's view."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from bot.services import audit, problems
from bot.services.access import AccessDenied
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, ProblemEvent
from tests.factories import make_user
from tests.policy.world import build, serious_problem

UTC = dt.UTC
AT = dt.datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


def test_it_acknowledges_once_and_resolves_with_a_note(engine):
    with session_scope(engine) as session:
        world = build(session)
        problem = serious_problem(session, world.assets["village_a1"], AT)
        leader = world.people["leader_a"]
        problems.acknowledge(session, leader, problem.id, now=AT + dt.timedelta(hours=2))
        again = problems.acknowledge(session, leader, problem.id, now=AT + dt.timedelta(hours=5))
        assert again.acknowledged_at == AT + dt.timedelta(hours=2) and again.status == "acknowledged"
        with pytest.raises(problems.ProblemError, match="short note"):
            problems.resolve(session, leader, problem.id, "   ")
        done = problems.resolve(session, leader, problem.id, "已整改", now=AT + dt.timedelta(days=2))
        assert (done.status, done.resolution_note, done.resolved_by) == ("resolved", "已整改", leader.id)
        with pytest.raises(problems.ProblemError, match="already resolved"):
            problems.acknowledge(session, leader, problem.id)
        events = session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)
                              .order_by(ProblemEvent.id)).all()
        assert [(e.action, e.note) for e in events] == [("alerted", None), ("acknowledged", None),
                                                        ("resolved", "已整改")]
        entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "problem")).all()
        assert [e.action for e in entries] == ["problem.acknowledge", "problem.resolve"]
        assert entries[0].actor_user_id == leader.id
        assert audit.verify(session).ok


def test_it_refuses_other_townships_roles_and_unknown_problems(engine):
    with session_scope(engine) as session:
        world = build(session)
        problem = serious_problem(session, world.assets["village_a1"], AT)
        for who in ("leader_b", "cadre_a1", "dept"):
            with pytest.raises(AccessDenied):
                problems.acknowledge(session, world.people[who], problem.id)
        with pytest.raises(AccessDenied, match="outside your area"):
            problems.resolve(session, world.people["leader_a"], problem.id + 999, "x")
        stranger = make_user(session, "county_officer", world.tree.other_county)
        with pytest.raises(AccessDenied):
            problems.resolve(session, stranger, problem.id, "x")
        # The county office covers every township of its county.
        problems.resolve(session, world.people["office"], problem.id, "县级督办", now=AT)
        assert problem.status == "resolved"
