"""Review service on SQLite and PostgreSQL: approve, send back with a reason, versions and history."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.services import review
from bot.services.access import AccessDenied
from bot.storage.models import AuditEntry, Report
from tests.factories import make_asset, make_tree, make_user


@pytest.fixture
def setup(engine):
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        asset = make_asset(session, tree.village_a1)
        cadre = make_user(session, "village_cadre", tree.village_a1)
        leader = make_user(session, "township_leader", tree.township_a)
        outsider = make_user(session, "township_leader", tree.township_b)
        report = Report(asset_id=asset.id, form_id="monthly-operating", form_version=1, period="2026-11",
                        status="submitted", answers={"operating_normally": "yes"}, created_by=cadre.id,
                        submitted_by=cadre.id)
        session.add(report)
        session.commit()
        return engine, asset, cadre, leader, outsider, report


def test_send_back_keeps_the_old_version_and_opens_a_prefilled_one(setup):
    engine, asset, cadre, leader, _, report = setup
    with Session(engine) as session:
        new = review.send_back(session, leader, report.id, "收益分配金额有误")
        assert (new.version, new.status, new.current) == (2, "draft", True)
        assert new.answers == {"operating_normally": "yes"} and new.review_note == "收益分配金额有误"
        versions = review.history(session, leader, asset.id, "2026-11")
        assert [(r.version, r.status, r.current) for r in versions] == [(1, "returned", False), (2, "draft", True)]
        sent = session.exec(select(AuditEntry).where(AuditEntry.action == "report.send_back")).one()
        assert sent.after == {"status": "returned", "reason": "收益分配金额有误"}
        # The old version cannot be reviewed again, nor the draft.
        for rid in (report.id, new.id):
            with pytest.raises(review.ReviewError):
                review.approve(session, leader, rid)


def test_a_reason_is_required_and_other_townships_are_refused(setup):
    engine, _, cadre, leader, outsider, report = setup
    with Session(engine) as session:
        with pytest.raises(review.ReviewError):
            review.send_back(session, leader, report.id, "   ")
        with pytest.raises(AccessDenied):
            review.approve(session, outsider, report.id)
        with pytest.raises(AccessDenied):
            review.approve(session, cadre, report.id)
        with pytest.raises(AccessDenied):
            review.approve(session, leader, 999_999)
        assert [i.report.id for i in review.to_review(session, leader, "2026-11")] == [report.id]
        assert review.to_review(session, outsider, "2026-11") == []
        approved = review.approve(session, leader, report.id, "ok")
        assert approved.status == "approved"
        assert review.to_review(session, leader, "2026-11") == []
