"""Operational figures in the Prometheus text format (``GET /metrics``) and the readiness check (``/readyz``).

Two kinds of figure:

- **this process's** counters and histograms: answers and submissions handled, HTTP request latency by
  route, scheduler tick duration, deliveries by channel and outcome. Scrape every process; sum in queries.
- **the deployment's** state, read from the database at scrape time (cached a few seconds so that several
  scrapers cost one query): the outbox backlog and the age of its oldest due message, messages by channel
  and status, reports submitted. Every process reports the same values (label ``scope="database"``).

Readiness (``ready``) fails when the database or the file store cannot be reached, or the scheduler has
not finished a tick for ``TICK_LATE`` (the outbox would stop moving).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from bot.clock import as_utc, utcnow
from bot.storage.models import Report
from bot.storage.models_schedule import OutboxMessage

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TICK_LATE = 300.0  # seconds without a finished tick before readiness fails (ticks run every minute)
DB_CACHE_SECONDS = 5.0

REGISTRY = CollectorRegistry(auto_describe=True)
ANSWERS = Counter("villagebot_answers", "Answers recorded by this process", ["channel"], registry=REGISTRY)
SUBMISSIONS = Counter("villagebot_submissions", "Reports submitted through this process", ["channel"],
                      registry=REGISTRY)
DELIVERIES = Counter("villagebot_deliveries", "Messages handed to a channel by this process",
                     ["channel", "outcome"], registry=REGISTRY)
REQUESTS = Histogram("villagebot_request_duration_seconds", "HTTP request latency by route",
                     ["method", "route", "status"], registry=REGISTRY,
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
TICKS = Histogram("villagebot_tick_duration_seconds", "Duration of a scheduler tick", registry=REGISTRY,
                  buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
LAST_TICK = Gauge("villagebot_last_tick_timestamp_seconds", "When this process last finished a tick",
                  registry=REGISTRY)


@dataclass
class _Snapshot:
    at: float
    families: list


class DatabaseCollector:
    """The deployment's state, read from the database when scraped (cached ``DB_CACHE_SECONDS``)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def collect(self):
        if self.engine is None:
            return []
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._snapshot.at > DB_CACHE_SECONDS:
                self._snapshot = _Snapshot(time.monotonic(), self._read(self.engine))
            return list(self._snapshot.families)

    @staticmethod
    def _read(engine: Engine) -> list:
        now = utcnow()
        by_status = GaugeMetricFamily("villagebot_outbox_messages", "Outbox messages by channel and status",
                                      labels=["channel", "status"])
        backlog = GaugeMetricFamily("villagebot_outbox_backlog", "Messages not yet delivered (pending, claimed, "
                                    "sending)")
        age = GaugeMetricFamily("villagebot_outbox_oldest_due_age_seconds",
                                "How long the oldest due undelivered message has waited")
        submitted = GaugeMetricFamily("villagebot_reports_submitted", "Reports ever submitted (all versions)")
        waiting = ("pending", "claimed", "sending")
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxMessage.channel, OutboxMessage.status, func.count())
                                .group_by(OutboxMessage.channel, OutboxMessage.status)).all()
            oldest = conn.execute(select(func.min(OutboxMessage.next_attempt_at))
                                  .where(OutboxMessage.status.in_(waiting), OutboxMessage.next_attempt_at <= now)
                                  ).scalar()
            reports = conn.execute(select(func.count()).select_from(Report)
                                   .where(Report.submitted_at.is_not(None))).scalar() or 0
        total = 0
        for channel, status, count in rows:
            by_status.add_metric([channel, status], count)
            if status in waiting:
                total += count
        backlog.add_metric([], total)
        age.add_metric([], max(0.0, (now - as_utc(oldest)).total_seconds()) if oldest else 0.0)
        submitted.add_metric([], reports)
        return [by_status, backlog, age, submitted]


DATABASE = DatabaseCollector()
REGISTRY.register(DATABASE)


def attach(engine: Engine) -> None:
    """Read the deployment's state from ``engine`` (called when the app starts)."""
    DATABASE.engine = engine
    DATABASE._snapshot = None


def exposition() -> bytes:
    """Return every figure in the Prometheus text format."""
    return generate_latest(REGISTRY)


def tick_finished(seconds: float) -> None:
    TICKS.observe(seconds)
    LAST_TICK.set_to_current_time()


@dataclass
class Readiness:
    ok: bool
    checks: dict[str, str]


def ready(engine: Engine, store, *, scheduler_started_at: float | None, last_tick_at: float | None) -> Readiness:
    """Check what this process needs to do its work: the database, the file store, a moving scheduler."""
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        store.check()
        checks["store"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["store"] = f"unreachable: {type(exc).__name__}"
    if scheduler_started_at is not None:
        since = last_tick_at or scheduler_started_at
        behind = time.time() - since
        checks["scheduler"] = "ok" if behind <= TICK_LATE else f"behind: no tick for {int(behind)} s"
    return Readiness(all(v == "ok" for v in checks.values()), checks)
