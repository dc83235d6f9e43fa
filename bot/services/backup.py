"""Backup and restore of a deployment: the database and the file store (photos, attachments) in one archive.

``villagebot backup FILE`` writes a gzipped tar while the service keeps serving:

- ``db/<table>.jsonl``: every row of every table, read in ONE transaction (PostgreSQL: REPEATABLE READ, a
  snapshot; SQLite: one read transaction, which WAL keeps consistent while others write). Values are
  written dialect-neutrally (dates as ISO text, decimals as text, bytes as base64), so a SQLite backup
  restores into PostgreSQL: the way a county moves when it outgrows one machine.
- ``files/<key>``: every file of the store, read after the snapshot. Files are written once under their
  content address and never changed, so every file a backed-up row names is there.
- ``audit-checkpoints.log``: the audit chain's checkpoints, so ``audit verify`` after a restore checks the
  restored chain against them. The audit key is NOT in the archive (keep it apart from the database, as
  docs/operations.md says) unless ``--with-keys`` asks for it.
- ``manifest.json``: the schema revision, row counts per table, and the SHA-256 of every member.

``villagebot restore FILE`` checks the manifest and every member's hash, migrates an empty database to
the archive's revision, inserts the rows table by table in dependency order, resets PostgreSQL's id
sequences, and copies the files into the configured store (checking each hash). It refuses a database
that already has rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, LargeBinary, Numeric, Table, TypeDecorator, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot.i18n import N_, UserError
from bot.services.blobs import BlobStore

FORMAT = "villagebot-backup/1"
BATCH = 1000
CHECKPOINTS = "audit-checkpoints.log"
MSG_NOT_BACKUP = N_("{file} is not a VillageBot backup (or is damaged): {reason}")
MSG_NOT_EMPTY = N_("The database already holds data ({table}: {count} rows). Restore into an empty database.")
MSG_REVISION = N_("The backup is of schema {theirs}; this database is at {ours}. Restore with the same version "
                  "of VillageBot that made the backup, then upgrade.")


class BackupError(UserError):
    """The archive cannot be used, or the target is not empty."""


@dataclass
class Summary:
    """What a backup or restore did."""

    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    revision: str | None = None


def _tables() -> list[Table]:
    import bot.storage.models  # noqa: F401  (registers every table)
    import bot.storage.models_schedule  # noqa: F401

    _load_model_modules()
    return [t for t in SQLModel.metadata.sorted_tables if t.name != "alembic_version"]


def _load_model_modules() -> None:
    import importlib
    import pkgutil

    import bot.storage as storage

    for info in pkgutil.iter_modules(storage.__path__):
        if info.name.startswith("models"):
            importlib.import_module(f"bot.storage.{info.name}")


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decoder(table: Table) -> Callable[[dict], dict]:
    kinds = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, TypeDecorator):  # e.g. sqlmodel's time-zone-aware datetime
            kind = kind.impl_instance
        if isinstance(kind, DateTime):
            kinds[column.name] = dt.datetime.fromisoformat
        elif isinstance(kind, Date):
            kinds[column.name] = dt.date.fromisoformat
        elif isinstance(kind, Numeric) and kind.asdecimal:
            kinds[column.name] = Decimal
        elif isinstance(kind, LargeBinary):
            kinds[column.name] = base64.b64decode

    def decode(row: dict) -> dict:
        return {k: (kinds[k](v) if v is not None and k in kinds else v) for k, v in row.items()
                if k in table.columns}

    return decode


def _revision(conn) -> str | None:
    try:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - no alembic table: a database made by create_all (tests)
        conn.rollback()
        return None


def _add(archive: tarfile.TarFile, name: str, data: bytes, hashes: dict[str, str]) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))
    hashes[name] = hashlib.sha256(data).hexdigest()


def backup(engine: Engine, store: BlobStore, target: Path, *, checkpoints: Path | None = None,
           keys: dict[str, Path] | None = None, progress: Callable[[str], None] | None = None) -> Summary:
    """Write the database and the files to ``target`` (a .tar.gz, mode 0600), consistent while serving."""
    summary = Summary()
    hashes: dict[str, str] = {}
    tmp = target.with_name(target.name + ".part")
    with tarfile.open(tmp, "w:gz") as archive:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            else:
                conn.exec_driver_sql("BEGIN")  # one read transaction: a snapshot under WAL
            summary.revision = _revision(conn)
            for table in _tables():
                lines = []
                order = list(table.primary_key.columns) or list(table.columns)
                for row in conn.execute(select(table).order_by(*order)).mappings():
                    lines.append(json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False))
                _add(archive, f"db/{table.name}.jsonl", ("\n".join(lines) + ("\n" if lines else "")).encode(),
                     hashes)
                summary.rows[table.name] = len(lines)
                if progress:
                    progress(f"db/{table.name}")
            conn.rollback()
        for key in store.keys():
            data = store.get(key)
            if data is None:
                continue
            _add(archive, f"files/{key}", data, hashes)
            summary.files += 1
            summary.bytes += len(data)
            if progress:
                progress(f"files/{key}")
        if checkpoints is not None and checkpoints.exists():
            _add(archive, CHECKPOINTS, checkpoints.read_bytes(), hashes)
        for name, path in (keys or {}).items():
            if path.exists():
                _add(archive, f"keys/{name}", path.read_bytes(), hashes)
        manifest = {"format": FORMAT, "revision": summary.revision, "rows": summary.rows, "files": summary.files,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(), "sha256": hashes}
        _add(archive, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode(), {})
    tmp.chmod(0o600)
    tmp.replace(target)
    return summary


def _members(archive: tarfile.TarFile, source: Path) -> Iterator[tuple[str, bytes]]:
    for member in archive:
        if not member.isfile():
            continue
        handle = archive.extractfile(member)
        if handle is None:
            raise BackupError(MSG_NOT_BACKUP, file=str(source), reason=member.name)
        yield member.name, handle.read()


def read_manifest(source: Path) -> dict:
    """Return the manifest of an archive after checking every member's hash."""
    try:
        with tarfile.open(source, "r:gz") as archive:
            found = {name: hashlib.sha256(data).hexdigest() for name, data in _members(archive, source)
                     if name != "manifest.json"}
            handle = archive.extractfile("manifest.json")
            manifest = json.loads(handle.read()) if handle else None
    except (tarfile.TarError, OSError, KeyError, json.JSONDecodeError, EOFError) as exc:
        raise BackupError(MSG_NOT_BACKUP, file=str(source), reason=type(exc).__name__) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(MSG_NOT_BACKUP, file=str(source), reason="manifest")
    bad = sorted(name for name, digest in manifest["sha256"].items() if found.get(name) != digest)
    if bad:
        raise BackupError(MSG_NOT_BACKUP, file=str(source), reason="hash " + ", ".join(bad[:3]))
    return manifest


def restore(engine: Engine, store: BlobStore, source: Path, *, data_dir: Path | None = None,
            progress: Callable[[str], None] | None = None) -> Summary:
    """Restore an archive into an empty database (migrated to the archive's revision) and the store."""
    from bot.storage.db import upgrade

    manifest = read_manifest(source)
    revision = manifest.get("revision")
    url = engine.url.render_as_string(hide_password=False)
    if revision:
        upgrade(url, revision)
    tables = _tables()
    with engine.connect() as conn:
        ours = _revision(conn)
        if revision and ours != revision:
            raise BackupError(MSG_REVISION, theirs=revision, ours=ours or "-")
        for table in tables:
            count = conn.execute(select(func.count()).select_from(table)).scalar() or 0
            if count:
                raise BackupError(MSG_NOT_EMPTY, table=table.name, count=count)
    summary = Summary(revision=revision)
    by_name = {t.name: t for t in tables}
    with tarfile.open(source, "r:gz") as archive:
        contents = dict(_members(archive, source))
    with engine.begin() as conn:
        for table in tables:
            data = contents.get(f"db/{table.name}.jsonl")
            if data is None:
                continue
            decode = _decoder(by_name[table.name])
            rows = [decode(json.loads(line)) for line in data.decode().splitlines() if line]
            for start in range(0, len(rows), BATCH):
                conn.execute(insert(table), rows[start:start + BATCH])
            summary.rows[table.name] = len(rows)
            if progress:
                progress(f"db/{table.name}")
        if engine.dialect.name == "postgresql":
            for table in tables:
                if "id" in table.columns and table.columns["id"].autoincrement in (True, "auto") \
                        and summary.rows.get(table.name):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                      f"(SELECT max(id) FROM {table.name}))"))
    for name, data in contents.items():
        if name.startswith("files/"):
            key = name[len("files/"):]
            store.put(key, data, private=key.startswith("originals/"))
            back = store.get(key)
            if back is None or hashlib.sha256(back).hexdigest() != manifest["sha256"][name]:
                raise BackupError(MSG_NOT_BACKUP, file=str(source), reason=f"store {key}")
            summary.files += 1
            summary.bytes += len(data)
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        if CHECKPOINTS in contents:
            (data_dir / CHECKPOINTS).write_bytes(contents[CHECKPOINTS])
        for name, data in contents.items():
            if name.startswith("keys/"):
                path = data_dir / Path(name).name
                if not path.exists():
                    path.write_bytes(data)
                    path.chmod(0o600)
    return summary
