"""The disposal's rules in the service: the county's profile sets the notice's days; the industry department of
the asset's category may approve for the county (another department may not); one disposal at a time; the
public page shows the notice only from its first day; a counterpart is never a person's number."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.services import departments, disposal
from bot.services.access import AccessDenied
from bot.storage.models import Asset, OrgUnit, User
from tests.factories import make_user

NOW = utcnow()


def _through_township(session: Session, town) -> int:
    """A disposal of the greenhouse requested, agreed by the village, valued and approved by the township."""
    cadre, leader = session.get(User, town.cadre.id), session.get(User, town.leader.id)
    row = disposal.request(session, cadre, town.asset.id, reason="idle", method="transfer", description="闲置两年")
    day = disposal.today(session, session.get(OrgUnit, town.asset.village_id), NOW)
    disposal.record_meeting(session, cadre, row.id, kind="villagers", held_on=day, attendees=60, result="agreed")
    disposal.record_valuation(session, cadre, row.id, amount="12.5", valuer="桃源县评估所", valued_on=day)
    disposal.approve_township(session, leader, row.id)
    session.commit()
    return row.id


def test_the_department_of_the_assets_industry_approves_for_the_county(town):
    with Session(town.engine, expire_on_commit=False) as session:
        county = session.get(OrgUnit, session.get(OrgUnit, town.leader.org_unit_id).parent_id)
        farming = make_user(session, "department_officer", county, "县农业农村局")
        industry = make_user(session, "department_officer", county, "县工信局")
        departments.set_categories(session, None, farming.id, ["种植业"])
        departments.set_categories(session, None, industry.id, ["加工业"])  # the greenhouse's category
        session.commit()
        disposal_id = _through_township(session, town)
        with pytest.raises(AccessDenied):
            disposal.approve_county(session, farming, disposal_id)
        with pytest.raises(AccessDenied):  # a township leader is not the county
            disposal.approve_county(session, session.get(User, town.leader.id), disposal_id)
        assert disposal.approve_county(session, industry, disposal_id).status == "county_approved"
        # Before the notice starts the public page says nothing of it.
        asset = session.get(Asset, town.asset.id)
        assert disposal.public_facts(session, asset, NOW) is None


def test_the_profile_sets_the_notice_days_and_the_record_waits_for_them(town):
    with Session(town.engine, expire_on_commit=False) as session:
        county = session.get(OrgUnit, session.get(OrgUnit, town.leader.org_unit_id).parent_id)
        county.policy_profile = "qinbei-2023"  # 五(三)1: postings last 10 days
        session.add(county)
        session.commit()
        disposal_id = _through_township(session, town)
        disposal.approve_county(session, session.get(User, town.officer.id), disposal_id)
        leader = session.get(User, town.leader.id)
        village = session.get(OrgUnit, town.asset.village_id)
        first = disposal.today(session, village, NOW)
        with pytest.raises(disposal.DisposalError) as refused:
            disposal.start_notice(session, leader, disposal_id, starts_on=first - dt.timedelta(days=1), now=NOW)
        assert refused.value.msgid == disposal.MSG_NOTICE_START
        row = disposal.start_notice(session, leader, disposal_id, now=NOW)
        assert (row.notice_from, row.notice_until) == (first, first + dt.timedelta(days=9))
        asset = session.get(Asset, town.asset.id)
        assert disposal.public_facts(session, asset, NOW)["notice_until"] == row.notice_until.isoformat()
        record = {"done_on": first, "method": "transfer", "amount": "10", "counterpart": "桃源县某合作社"}
        with pytest.raises(disposal.DisposalError) as early:  # the tenth day is still the notice's
            disposal.record_outcome(session, leader, disposal_id, now=NOW + dt.timedelta(days=9), **record)
        assert early.value.msgid == disposal.MSG_NOTICE_RUNNING
        with pytest.raises(disposal.DisposalError) as personal:
            disposal.record_outcome(session, leader, disposal_id, now=NOW + dt.timedelta(days=10),
                                    **{**record, "counterpart": "张三 410102199001011234"})
        assert personal.value.msgid == disposal.MSG_COUNTERPART
        done = disposal.record_outcome(session, leader, disposal_id, now=NOW + dt.timedelta(days=10), **record)
        assert done.status == "recorded" and session.get(Asset, town.asset.id).status == "disposed"
        # A disposed asset cannot be disposed of again.
        with pytest.raises(disposal.DisposalError):
            disposal.request(session, session.get(User, town.cadre.id), town.asset.id, reason="other",
                             method="other", description="再次")


def test_one_disposal_at_a_time(town):
    with Session(town.engine, expire_on_commit=False) as session:
        cadre = session.get(User, town.cadre.id)
        disposal.request(session, cadre, town.asset.id, reason="damaged", method="scrap", description="损毁")
        with pytest.raises(disposal.DisposalError) as twice:
            disposal.request(session, cadre, town.asset.id, reason="damaged", method="scrap", description="损毁")
        assert twice.value.msgid == disposal.MSG_ALREADY_OPEN
        assert town.asset.id not in {a.id for a in disposal.requestable_assets(session, cadre)}


def test_the_months_before_a_disposal_still_expect_the_assets_check_the_dashboards_alike(town):
    """A greenhouse disposed of in April: March (and before) still expected its monthly check, in the duty and
    on the dashboards alike; April and after do not. An asset deleted as a mistake is expected in no month."""
    from zoneinfo import ZoneInfo

    from bot.services import duties, oversight
    from bot.storage.models_disposal import Disposal

    tz = ZoneInfo("Asia/Shanghai")
    with Session(town.engine, expire_on_commit=False) as session:
        asset = session.get(Asset, town.asset.id)
        asset.created_at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        village = session.get(OrgUnit, asset.village_id)
        others = session.exec(select(Asset).where(Asset.village_id == village.id, Asset.id != asset.id)).all()
        for other in others:  # the greenhouse alone in its village
            other.status, other.updated_at = "deleted", dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # after the months
            session.add(other)
        session.add(Disposal(asset_id=asset.id, status="recorded", reason="idle", method="auction",
                             outcome_on=dt.date(2026, 4, 10), outcome_method="auction"))
        asset.status, asset.updated_at = "disposed", dt.datetime(2026, 4, 10, 3, tzinfo=dt.UTC)
        session.add(asset)
        session.commit()
        periods = ["2026-02", "2026-03", "2026-04", "2026-05"]
        _done, expected = duties.monthly_done(session, [village.id], periods, (asset.asset_type,), tz)
        assert sorted(p for v, p in expected if v == village.id) == ["2026-02", "2026-03"]
        grid = oversight.reporting_grid(session, session.get(OrgUnit, village.parent_id), periods)
        assert [grid.cells.get((village.id, p), (0, 0, 0))[0] for p in periods] == [1, 1, 0, 0]
