"""Event notices go out when their transaction commits (the courier is nudged), not at the next tick;
a rolled-back change nudges nothing, and a notice nobody nudged for is delivered by the tick."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlmodel import Session

from bot.clock import utcnow
from bot.services import outbox, public
from bot.services.audit import SYSTEM
from bot.services.channels import register_route
from bot.storage.models import Asset
from tests.factories import make_asset, make_tree
from tests.fakes.webhooks import WebhookDouble
from tests.outbox.helpers import channels, close, outbox_rows


def _world(session, robots) -> int:
    tree = make_tree(session)
    register_route(session, SYSTEM, tree.township_a, "wecom", robots.wecom_robot("wk"), "新桥镇工作群")
    asset = make_asset(session, tree.village_a1, name="新桥村扶贫车间")
    session.commit()
    return asset.id


def test_a_commit_that_queued_a_notice_nudges_and_a_rollback_does_not(sqlite_engine):
    nudged = []
    def hear() -> None:
        nudged.append(1)

    outbox.listen(hear)
    try:
        with WebhookDouble() as robots, Session(sqlite_engine) as session:
            asset_id = _world(session, robots)
            assert nudged == []  # committing other changes nudges nothing
            public.report_problem(session, session.get(Asset, asset_id), text="大门被锁", category="misuse", device_id="d1")
            session.rollback()
            assert nudged == [] and outbox_rows(sqlite_engine) == []
            public.report_problem(session, session.get(Asset, asset_id), text="大门被锁",
                                  category="misuse", device_id="d1")
            session.commit()
            assert nudged == [1] and len(outbox_rows(sqlite_engine)) == 1
    finally:
        outbox.unlisten(hear)


async def test_the_courier_delivers_on_commit_and_the_tick_delivers_without_it(sqlite_engine):
    with WebhookDouble() as robots:
        with Session(sqlite_engine) as session:
            asset_id = _world(session, robots)
        found = channels()
        courier = await outbox.Courier(sqlite_engine, found).start()  # no periodic delivery: nudges only
        try:
            await asyncio.sleep(0)
            with Session(sqlite_engine) as session:
                public.report_problem(session, session.get(Asset, asset_id), text="大门被锁",
                                      category="misuse", device_id="d1")
                session.commit()
            for _ in range(500):
                if robots.accepted:
                    break
                await asyncio.sleep(0.01)
            assert [name for name, _ in robots.accepted] == ["wk"]
        finally:
            await courier.stop()
        # Without a courier (e.g. written by the CLI or another process), the tick delivers it.
        with Session(sqlite_engine) as session:
            public.report_problem(session, session.get(Asset, asset_id), text="窗户破了",
                                  category="damaged", device_id="d2")
            session.commit()
        assert len(robots.accepted) == 1
        result = await asyncio.to_thread(outbox.tick, sqlite_engine, found, now=utcnow() + dt.timedelta(seconds=1))
        close(found)
    assert result.sent == 1 and len(robots.accepted) == 2 and "窗户破了" in str(robots.accepted[1][1])
