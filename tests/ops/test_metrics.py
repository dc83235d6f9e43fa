"""/metrics in the Prometheus format, read by Prometheus's own parser; /readyz fails when the database or the
store is gone; JSON log lines."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from bot.clock import utcnow
from bot.config import Settings
from bot.storage.models_schedule import OutboxMessage
from bot.web.app import create_app


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_requests_backlog_and_answers(client, world, engine):
    client.get(f"/p/{world.asset.public_token}")
    client.get("/p/no-such-token")
    with Session(engine) as session:
        session.add(OutboxMessage(key="k1", kind="reminder", step="d-1", subject="s", item="i", period="2026-11",
                                  role="village_cadre", scope="v/1", channel="telegram", recipient="u1",
                                  send_at=utcnow(), next_attempt_at=utcnow(), county_id=world.tree.county.id))
        session.commit()
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    public = [v for (name, labels), v in found.items() if name == "villagebot_request_duration_seconds_count"
              and ("route", "/p/{token}") in labels]
    assert sum(public) >= 2  # by the route's template, not one series per token
    assert found[("villagebot_outbox_backlog", ())] >= 1
    assert found[("villagebot_outbox_messages", (("channel", "telegram"), ("status", "pending")))] >= 1
    assert found[("villagebot_reports_submitted", ())] >= 1
    assert not any("no-such-token" in str(labels) for _name, labels in found)


def test_readiness_fails_when_the_store_or_the_database_is_gone(engine, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", telegram_token="", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789",
                        storage_url="s3://k:s@127.0.0.1:9/bucket?secure=0")  # nothing listens on port 9
    with TestClient(create_app(settings, engine=engine)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "ok"
        assert response.json()["checks"]["store"].startswith("unreachable")
    settings = Settings(data_dir=tmp_path / "data2", telegram_token="", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    from bot.storage.db import make_engine

    gone = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    app = create_app(settings, engine=gone)
    app.router.lifespan_context = _no_lifespan
    with TestClient(app) as client:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["checks"]["database"].startswith("unreachable")


from contextlib import asynccontextmanager  # noqa: E402


@asynccontextmanager
async def _no_lifespan(app):
    yield


def test_json_log_lines(capsys):
    from bot import logs

    logs.configure(json_lines=True)
    try:
        logging.getLogger("bot.test").warning("报告 %s 已提交", 7, extra={"report_id": 7})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["message"] == "报告 7 已提交" and entry["level"] == "warning" and entry["report_id"] == 7
        assert entry["logger"] == "bot.test" and entry["time"].endswith("+00:00")
    finally:
        logs.configure(json_lines=False)
