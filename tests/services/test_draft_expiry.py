"""A monthly check's draft is kept until its month ends (in the county's time zone), then it expires."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from bot.clock import UTC
from bot.services import reports
from bot.storage.models import AuditEntry, Report, User
from tests.factories import make_asset, make_tree, make_user

OCTOBER = dt.datetime(2026, 10, 20, 4, 0, tzinfo=UTC)
# Asia/Shanghai is UTC+8: 15:59 UTC on 31 October is still October there, 16:00 is November.
LAST_MINUTE = dt.datetime(2026, 10, 31, 15, 59, tzinfo=UTC)
NOVEMBER = dt.datetime(2026, 10, 31, 16, 0, tzinfo=UTC)


@pytest.fixture
def world(engine):
    with Session(engine) as session:
        tree = make_tree(session)
        cadre = make_user(session, "village_cadre", tree.village_a1, "张村干")
        workshop = make_asset(session, tree.village_a1, name="扶贫车间")
        road = make_asset(session, tree.village_a1, name="村道", asset_type="公益性")
        session.commit()
        ids = {"cadre": cadre.id, "workshop": workshop.id, "road": road.id}
    with Session(engine) as session:
        cadre = session.get(User, ids["cadre"])
        draft = reports.start_or_resume(session, cadre, ids["workshop"], channel="telegram", now=OCTOBER)
        reports.answer(session, cadre, draft.id, "operating_normally", "yes", now=OCTOBER)
        ids["draft"] = draft.id
        ids["road_draft"] = reports.start_or_resume(session, cadre, ids["road"], channel="web", now=OCTOBER).id
    return ids


def _status(engine, report_id):
    with Session(engine) as session:
        return session.get(Report, report_id).status


def test_a_draft_can_be_answered_until_the_last_minute_of_its_month(engine, world):
    with Session(engine) as session:
        cadre = session.get(User, world["cadre"])
        reports.answer(session, cadre, world["draft"], "intact", "yes", now=LAST_MINUTE)
    assert _status(engine, world["draft"]) == reports.DRAFT


def test_answering_after_the_month_ended_is_refused_and_expires_the_draft(engine, world):
    with Session(engine) as session:
        cadre = session.get(User, world["cadre"])
        with pytest.raises(reports.ReportError) as caught:
            reports.answer(session, cadre, world["draft"], "intact", "yes", now=NOVEMBER)
    assert caught.value.message("zh_CN") == "2026年10月 的检查没有在月底前提交，草稿已过期。请做本月的检查。"
    assert "October 2026 check was not submitted before the month ended" in caught.value.message("en")
    with Session(engine) as session:
        report = session.get(Report, world["draft"])
        assert report.status == reports.EXPIRED
        assert report.answers == {"operating_normally": "yes"}  # kept as it was, for the record
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "report.expire")).one()
        assert entry.actor == "system" and entry.entity_id == str(world["draft"])


def test_submitting_or_reopening_an_expired_month_is_refused(engine, world):
    with Session(engine) as session:
        cadre = session.get(User, world["cadre"])
        with pytest.raises(reports.ReportError, match="expired"):
            reports.submit(session, cadre, world["draft"], now=NOVEMBER)
        with pytest.raises(reports.ReportError, match="expired"):
            reports.start_or_resume(session, cadre, world["workshop"], channel="web", period="2026-10",
                                    now=NOVEMBER)
        # This month's check starts as usual, beside the expired one.
        current = reports.start_or_resume(session, cadre, world["workshop"], channel="web", now=NOVEMBER)
        assert current.period == "2026-11" and current.status == reports.DRAFT
        october = {item.asset.id: item.state for item in reports.month_overview(session, cadre, "2026-10", now=NOVEMBER)}
        assert october == {world["workshop"]: "todo", world["road"]: "todo"}


def test_the_sweep_expires_every_ended_month_once_and_leaves_the_rest(engine, world):
    with Session(engine) as session:
        cadre = session.get(User, world["cadre"])
        november = reports.start_or_resume(session, cadre, world["workshop"], channel="web", now=NOVEMBER).id
        assert reports.expire_drafts(session, LAST_MINUTE) == []
        assert sorted(reports.expire_drafts(session, NOVEMBER)) == sorted([world["draft"], world["road_draft"]])
        assert reports.expire_drafts(session, NOVEMBER) == []
    assert _status(engine, november) == reports.DRAFT
    with Session(engine) as session:
        assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "report.expire")).all()) == 2


def test_forms_of_longer_periods_do_not_expire_at_a_month_end(engine, world):
    with Session(engine) as session:
        session.add(Report(asset_id=world["workshop"], form_id="yearend-self-evaluation", form_version=1,
                           period="2026", version=1, status=reports.DRAFT, answers={}, flags=[], channel="web",
                           created_by=world["cadre"], created_at=OCTOBER, updated_at=OCTOBER))
        session.commit()
        assert world["draft"] in reports.expire_drafts(session, dt.datetime(2027, 1, 5, tzinfo=UTC))
        year = session.exec(select(Report).where(Report.form_id == "yearend-self-evaluation")).one()
        assert year.status == reports.DRAFT


async def test_the_scheduler_sweeps_ended_months_at_once_and_every_hour(engine, world, settings):
    import asyncio

    from apscheduler.events import EVENT_JOB_EXECUTED

    from bot.services import scheduler_runner

    runner = await scheduler_runner.start(None, settings, engine)
    try:
        job = runner.scheduler.get_job("villagebot-expire-drafts")
        assert job.trigger.interval == dt.timedelta(hours=1) and job.max_instances == 1
        swept = asyncio.Event()
        runner.scheduler.add_listener(lambda event: event.job_id == job.id and swept.set(), EVENT_JOB_EXECUTED)
        await asyncio.wait_for(swept.wait(), 30)
    finally:
        await runner.stop()
    # Today is after October 2026: both October drafts were expired by the first run.
    assert _status(engine, world["draft"]) == _status(engine, world["road_draft"]) == reports.EXPIRED
