"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
# The connection pool of a process (SQLite files and PostgreSQL alike). POOL_SIZE connections stay
# open, POOL_OVERFLOW more are opened under load; a caller that finds all of them busy waits up to
# POOL_TIMEOUT seconds. The bot never holds a connection across a network call and runs at most
# ``db_sections(engine)`` database sections at once (the rest queue on a semaphore), which leaves
# the overflow to the web app's worker threads and the scheduler: a burst queues, it does not fail.
POOL_SIZE = 10
POOL_OVERFLOW = 10
POOL_TIMEOUT = 120


def normalise_url(url: str) -> str:
    """Return the URL with the psycopg 3 driver for PostgreSQL."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout; pooled ones the pool above."""
    url = normalise_url(url)
    parsed = make_url(url)
    if "poolclass" not in kwargs and parsed.database not in (None, "", ":memory:"):
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def db_sections(engine: Engine) -> int:
    """How many database sections the bot may run at once: the pool's steady size (1 for other pools)."""
    pool = engine.pool
    return max(1, pool.size()) if isinstance(pool, QueuePool) else 1


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def alembic_config(url: str):
    """Return an Alembic Config pointing at our migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
