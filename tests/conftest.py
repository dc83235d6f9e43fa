"""Shared fixtures: a fresh migrated database per test, on SQLite and on the real PostgreSQL.

PostgreSQL tests never skip: when the server is not reachable they fail, because CI must
run them. The server is the one on 127.0.0.1:5432 (trust auth), overridable with
VILLAGEBOT_TEST_PG_URL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.storage.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get("VILLAGEBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# A copy of ../shared/samples (the ledger files in the official layout), kept with the tests.
SAMPLES = Path(__file__).resolve().parent / "data" / "samples"


@pytest.fixture(autouse=True)
def audit_key(tmp_path):
    """Every test signs audit entries with a test key and keeps audit checkpoints in its own directory (never
    the process settings' data directory, not even through the command line); ``audit.reset()`` in a test
    lets the command line take the key and checkpoints of its VILLAGEBOT_DATA_DIR."""
    from bot.services import audit

    audit.configure(key="test-audit-key-0123456789abcdef0123456789",
                    checkpoint_file=tmp_path / "audit-checkpoints.log")
    yield
    audit.reset()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    path = tmp_path / "villagebot.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _pg_base_url() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0]


@pytest.fixture(scope="session")
def pg_database():
    """Create one migrated PostgreSQL database for this test run; drop it at the end."""
    import psycopg

    name = f"vbt_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{_pg_base_url()}/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database) -> str:
    """Return the run's PostgreSQL database emptied of rows (every table truncated)."""
    engine = make_engine(pg_database)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    return pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """A fresh migrated database: the test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", telegram_token="", public_url="http://testserver",
                    secret_key="test-secret-key-0123456789")


@pytest.fixture
def samples() -> Path:
    assert SAMPLES.exists(), f"sample ledgers not found at {SAMPLES}"
    return SAMPLES
