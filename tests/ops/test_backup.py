"""Backup while answers are being written, restore into an empty database and store, the audit chain intact and
every answer of the snapshot there; a SQLite deployment restores into PostgreSQL; damaged archives and
non-empty targets are refused."""

from __future__ import annotations

import tarfile
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlmodel import Session

from bot.cli import cli
from bot.services import audit
from bot.services import backup as backups
from bot.services.blobs import LocalStore
from bot.services.evidence import EvidenceStore
from bot.storage.db import make_engine
from bot.storage.models import AuditEntry, Photo, Problem, Report
from tests.web.conftest import populate


def _writer(engine, asset_id: int, stop: threading.Event, written: list[int]) -> None:
    """Answer on and on: each transaction adds a problem and its audit entry, as the product's services do."""
    while not stop.is_set():
        with Session(engine) as session:
            problem = Problem(asset_id=asset_id, source="report", kind="idle", severity="minor",
                              description=f"第{len(written) + 1}次检查发现闲置")
            session.add(problem)
            session.flush()
            audit.record(session, audit.Actor(None, "test"), "problem.created", "problem", problem.id,
                         after={"kind": "idle"})
            session.commit()
            written.append(problem.id)
        time.sleep(0.002)


def _restore_target(kind: str, request, tmp_path):
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    from sqlalchemy import text

    engine = make_engine(request.getfixturevalue("pg_url"))
    with engine.begin() as conn:  # an empty database: no tables at all, as on a new server
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_backup_while_writing_then_restore_elsewhere(sqlite_engine, tmp_path, request, target):
    source_store = EvidenceStore(tmp_path / "evidence", 5 * 1024 * 1024)
    with Session(sqlite_engine, expire_on_commit=False) as session:
        world = populate(session, source_store)
        audit.record(session, audit.Actor(None, "test"), "asset.created", "asset", world.asset.id)
        session.commit()
        audit.checkpoint(session)
    stop, written = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(sqlite_engine, world.asset.id, stop, written))
    writer.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        archive = tmp_path / "backup.tar.gz"
        summary = backups.backup(sqlite_engine, source_store.blobs, archive,
                                 checkpoints=audit.current().checkpoint_file)
        at_backup = len(written)
        while len(written) < at_backup + 20:  # the writer goes on after the snapshot
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
    assert archive.stat().st_mode & 0o777 == 0o600
    assert summary.files == 9 and summary.rows["problem"] >= 21

    restored = _restore_target(target, request, tmp_path)
    store = LocalStore(tmp_path / "restored-files")
    result = backups.restore(restored, store, archive, data_dir=tmp_path / "restored-data")
    assert result.rows == summary.rows and result.files == 9
    with Session(restored) as session:
        problems = session.exec(select(func.count()).select_from(Problem)).one()[0]
        created = session.exec(select(func.count()).select_from(AuditEntry)
                               .where(AuditEntry.action == "problem.created")).one()[0]
        assert problems == summary.rows["problem"] == created + 1  # a snapshot: each problem with its entry
        ids = [row[0] for row in session.exec(select(Problem.id).order_by(Problem.id)).all()]
        assert ids == sorted(ids) and len(ids) >= 21
        report = session.get(Report, world.report.id)
        assert report.answers["income_amount"] == "3.5" and report.answers["board_photo"][0]["sha256"] \
            == world.board_sha
        # every photo a row names is in the restored store
        for (sha,) in session.exec(select(Photo.sha256)).all():
            assert store.exists(EvidenceStore.original_key(sha)) and store.exists(EvidenceStore.display_key(sha))
        # the audit chain verifies against the checkpoints that came with the archive
        checked = audit.verify(session, checkpoints=[tmp_path / "restored-data" / backups.CHECKPOINTS])
        entries = session.exec(select(func.count()).select_from(AuditEntry)).one()[0]
        assert not checked.findings and checked.checked == entries == summary.rows["audit_log"]
        assert checked.checkpoints >= 1
        # new rows get new ids after a restore (PostgreSQL's sequences are reset)
        session.add(Problem(asset_id=world.asset.id, source="report", kind="idle", severity="minor",
                            description="恢复后新增"))
        session.commit()
    restored.dispose()


def test_a_damaged_archive_and_a_database_with_data_are_refused(sqlite_engine, tmp_path):
    store = EvidenceStore(tmp_path / "evidence", 5 * 1024 * 1024)
    with Session(sqlite_engine, expire_on_commit=False) as session:
        populate(session, store)
    archive = tmp_path / "backup.tar.gz"
    backups.backup(sqlite_engine, store.blobs, archive)
    with pytest.raises(backups.BackupError) as caught:  # into the database it came from: not empty
        backups.restore(sqlite_engine, LocalStore(tmp_path / "x"), archive)
    assert caught.value.msgid == backups.MSG_NOT_EMPTY

    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source:
            data = source.extractfile(member).read()
            if member.name == "db/problem.jsonl":
                data = data.replace(b"idle", b"used")
            member.size = len(data)
            import io
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(backups.BackupError) as caught:
        backups.restore(make_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}"), LocalStore(tmp_path / "y"), damaged)
    assert "db/problem.jsonl" in str(caught.value.params)
    not_tar = tmp_path / "notes.tar.gz"
    not_tar.write_bytes(b"hello")
    with pytest.raises(backups.BackupError):
        backups.read_manifest(not_tar)


def test_the_commands_back_up_and_restore(tmp_path, monkeypatch):
    from bot.config import get_settings

    def use(name: str) -> None:
        monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(tmp_path / name))
        monkeypatch.setenv("VILLAGEBOT_SECRET_KEY", "test-secret-key-0123456789")
        get_settings.cache_clear()

    use("before")
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'before' / 'villagebot.sqlite3'}")
    with Session(engine, expire_on_commit=False) as session:
        populate(session, EvidenceStore(tmp_path / "before" / "evidence", 5 * 1024 * 1024))
    engine.dispose()
    made = runner.invoke(cli, ["backup", str(tmp_path / "b.tar.gz")])
    assert made.exit_code == 0, made.output
    use("after")
    done = runner.invoke(cli, ["restore", str(tmp_path / "b.tar.gz")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "after" / "evidence" / "thumbs").is_dir()
    again = runner.invoke(cli, ["restore", str(tmp_path / "b.tar.gz")])
    assert again.exit_code == 2  # not into a database that has data
