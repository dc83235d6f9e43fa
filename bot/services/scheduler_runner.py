"""Run the scheduler inside the web app: APScheduler calls ``outbox.tick`` every minute, and
expires the drafts of monthly checks whose month has ended every hour, and takes an audit checkpoint at
start and every hour. An ``outbox.Courier`` delivers event notices (alerts, sign-off and send-back
notices) as soon as the transaction that wrote them commits in this process, without waiting for the
next tick.

APScheduler keeps no state here (its in-memory job store is per process); everything the tick
needs is in the database, so any number of processes may run this side by side.
"""

from __future__ import annotations

import asyncio
import logging
import time

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import UTC, utcnow
from bot.config import Settings
from bot.services import audit, metrics, outbox, reports
from bot.services.channels import build_channels

log = logging.getLogger(__name__)


class SchedulerRunner:
    """The running scheduler and its channels; ``await stop()`` shuts both down."""

    def __init__(self, engine: Engine, channels: dict) -> None:
        self.engine = engine
        self.channels = channels
        self.worker = outbox.worker_id()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.courier = outbox.Courier(engine, channels)
        self.started_at = time.time()  # readiness: a scheduler that has not ticked since is behind
        self.last_tick_at: float | None = None

    def run_tick(self) -> None:
        """Run one tick now; errors are logged, the next minute tries again."""
        began = time.monotonic()
        try:
            result = outbox.tick(self.engine, self.channels, worker=self.worker)
        except Exception:  # noqa: BLE001 - a failed tick must not stop the scheduler
            log.exception("schedule: tick failed")
            return
        metrics.tick_finished(time.monotonic() - began)
        self.last_tick_at = time.time()
        if result.inserted or result.sent or result.failed or result.recovered:
            log.info("schedule: %s", result)

    def run_expiry(self) -> None:
        """Expire the drafts of ended months; errors are logged, the next hour tries again."""
        try:
            with Session(self.engine) as session:
                expired = reports.expire_drafts(session)
        except Exception:  # noqa: BLE001 - a failed sweep must not stop the scheduler
            log.exception("schedule: draft expiry failed")
            return
        if expired:
            log.info("schedule: %d draft(s) of ended months expired", len(expired))

    def run_audit_checkpoint(self) -> None:
        """Verify the audit chain and append a signed checkpoint to the data directory's checkpoint file
        (bot.services.audit.checkpoint logs it, or logs what it found); errors are logged."""
        try:
            with Session(self.engine) as session:
                audit.checkpoint(session)
        except Exception:  # a failed checkpoint must not stop the scheduler
            log.exception("schedule: audit checkpoint failed")

    async def stop(self) -> None:
        """Stop ticking and delivering, and close the channels' HTTP clients."""
        self.scheduler.shutdown(wait=False)
        await self.courier.stop()
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down through the event loop: let it run
        for channel in self.channels.values():
            channel.close()


async def start(app, settings: Settings, engine: Engine) -> SchedulerRunner:
    """Start ticking every minute (the first tick at once); return the runner to stop later."""
    audit.configure_default(settings)  # checkpoints go to this service's data directory
    runner = SchedulerRunner(engine, build_channels(settings, engine=engine))
    runner.scheduler.add_job(runner.run_tick, "interval", minutes=1, next_run_time=utcnow(),
                             max_instances=1, coalesce=True, id="villagebot-tick")
    runner.scheduler.add_job(runner.run_expiry, "interval", hours=1, next_run_time=utcnow(),
                             max_instances=1, coalesce=True, id="villagebot-expire-drafts")
    runner.scheduler.add_job(runner.run_audit_checkpoint, "interval", hours=1, next_run_time=utcnow(),
                             max_instances=1, coalesce=True, id="villagebot-audit-checkpoint")
    runner.scheduler.start()
    await runner.courier.start()
    if app is not None:  # readiness asks it whether the scheduler keeps ticking
        app.state.scheduler_runner = runner
    return runner
