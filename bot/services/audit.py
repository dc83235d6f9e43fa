"""The append-only audit log: who changed what, when, before and after.

Each entry is chained to the previous one and signed with HMAC-SHA256 over every column (id, time, actor
and actor's user id, action, entity, before, after, the previous entry's signature, the key id), with a key
that lives outside the database (a file in the data directory, created once with mode 0600, or
VILLAGEBOT_AUDIT_KEY / VILLAGEBOT_AUDIT_KEY_FILE). Someone who can edit the database but cannot read the
key can neither edit an entry nor recompute the chain after it.

What a signature cannot show - entries cut off the end, or the whole table emptied - the checkpoints show:
signed lines (count, number of legacy entries, id and signature of the last entry) appended to
``audit-checkpoints.log`` in the data directory, written to the log and printed in the half-year PDF.
``verify`` compares the chain with every checkpoint it is given.

Entries written before the key existed (``scheme`` 0, plain SHA-256 over fewer columns) stay as they are and
are checked the old way; they are reported as unkeyed legacy entries, may only precede the keyed ones, and
their number is fixed by the checkpoints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, text
from sqlmodel import Session, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_
from bot.storage.models import AuditEntry

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_PG_LOCK_KEY = 7_100_001  # advisory lock serialising the chain across processes
LEGACY = 0  # plain SHA-256 over the old columns (entries written before the key existed)
KEYED = 1  # HMAC-SHA256 over every column
KEY_FILE = "audit.key"
CHECKPOINT_FILE = "audit-checkpoints.log"
_TAG = "villagebot-audit"
_MIN_KEY_BYTES = 32
_RENUMBER_WINDOW = 1000  # how far from its id verify looks for the number an entry was signed with
_DETAILED = 20  # findings described one by one; the rest are counted


class AuditKeyError(RuntimeError):
    """The audit key cannot be read or is too weak; the message says what to do."""


def jsonable(value: Any) -> Any:
    """Return ``value`` with dates, decimals and sets turned into JSON-friendly values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _stamp(at: dt.datetime) -> str:
    return as_utc(at).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, at: dt.datetime, actor: str, action: str, entity: str,
               entity_id: str | None, before: Any, after: Any) -> str:
    """Return the legacy (scheme 0) plain SHA-256 of an entry: no key, no id, no actor user id."""
    body = [prev_hash, _stamp(at), actor, action, entity, entity_id, before, after]
    return hashlib.sha256(_canonical(body)).hexdigest()


def entry_mac(key: bytes, *, id: int, at: dt.datetime, actor_user_id: int | None, actor: str, action: str,
              entity: str, entity_id: str | None, before: Any, after: Any, prev_hash: str,
              key_id: str | None) -> str:
    """Return the HMAC-SHA256 (scheme 1) over every column of an entry (before/after already jsonable)."""
    body = [_TAG, KEYED, id, _stamp(at), actor_user_id, actor, action, entity, entity_id, before, after,
            prev_hash, key_id]
    return hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def _row_mac(key: bytes, row: AuditEntry) -> str:
    return entry_mac(key, id=row.id, at=row.at, actor_user_id=row.actor_user_id, actor=row.actor,
                     action=row.action, entity=row.entity, entity_id=row.entity_id, before=jsonable(row.before),
                     after=jsonable(row.after), prev_hash=row.prev_hash, key_id=row.key_id)


def _row_macs_with_ids(key: bytes, row: AuditEntry, ids: Iterable[int]) -> Iterable[tuple[int, str]]:
    """Yield (id, the entry's signature had it been written with that id): the canonical body is the same
    after the id, so it is encoded once."""
    tail = _canonical([_stamp(row.at), row.actor_user_id, row.actor, row.action, row.entity, row.entity_id,
                       jsonable(row.before), jsonable(row.after), row.prev_hash, row.key_id])[1:]
    head = _canonical([_TAG, KEYED])[:-1]
    for candidate in ids:
        body = head + f",{candidate},".encode("ascii") + tail
        yield candidate, hmac.new(key, body, hashlib.sha256).hexdigest()


def _row_legacy_hash(row: AuditEntry) -> str:
    return entry_hash(row.prev_hash, row.at, row.actor, row.action, row.entity, row.entity_id,
                      jsonable(row.before), jsonable(row.after))


# --- the key -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditKey:
    """The secret, its public id (stored with each entry and checkpoint) and where it came from."""

    secret: bytes = field(repr=False)
    key_id: str
    source: str
    created: bool = field(default=False, compare=False)  # this process created the key file just now

    @classmethod
    def of(cls, secret: bytes, source: str, *, created: bool = False) -> AuditKey:
        if len(secret) < _MIN_KEY_BYTES:
            raise AuditKeyError(f"the audit key from {source} is too short: use at least {_MIN_KEY_BYTES} "
                                "random bytes (e.g. `openssl rand -hex 32`)")
        key_id = hmac.new(secret, b"villagebot audit key id", hashlib.sha256).hexdigest()[:16]
        return cls(secret, key_id, source, created)


def key_file_path(settings: Settings) -> Path:
    """Return where the audit key file is: VILLAGEBOT_AUDIT_KEY_FILE, else audit.key in the data directory."""
    configured = getattr(settings, "audit_key_file", None)
    return Path(configured) if configured else settings.data_dir / KEY_FILE


def _read_key_file(path: Path, *, created: bool = False) -> AuditKey:
    try:
        raw = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise AuditKeyError(f"cannot read the audit key file {path}: it does not exist (restore it from your "
                            "backup; the default one is created when the first entry is signed)") from None
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit key file {path}: {exc.strerror}") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("audit key file %s is readable by others (mode %o): chmod 600 it", path, mode)
    try:
        secret = bytes.fromhex(raw)
    except ValueError:
        secret = raw.encode("utf-8")
    return AuditKey.of(secret, str(path), created=created)


def load_key(settings: Settings, *, create: bool = True) -> AuditKey:
    """Return the audit key of a deployment.

    VILLAGEBOT_AUDIT_KEY wins; else the key file (VILLAGEBOT_AUDIT_KEY_FILE, or audit.key in the data
    directory). On the default path a missing file is created once (32 random bytes, hex, mode 0600,
    atomically so that two processes starting together agree) and reused; a configured file must exist.
    """
    configured = getattr(settings, "audit_key", "") or ""
    if configured:
        return AuditKey.of(configured.encode("utf-8"), "VILLAGEBOT_AUDIT_KEY")
    path = key_file_path(settings)
    if path.exists() or getattr(settings, "audit_key_file", None) or not create:
        return _read_key_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".audit-key-", dir=path.parent)  # mkstemp creates it with mode 0600
    created = False
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process created it first: then use theirs
            created = True
            log.info("audit: created the audit key %s (mode 0600); back it up, apart from the database", path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return _read_key_file(path, created=created)


class _Config:
    """Where this process takes the key and writes checkpoints (resolved lazily, once)."""

    def __init__(self, settings: Settings | None = None, key: AuditKey | None = None,
                 checkpoint_file: Path | None = None) -> None:
        self._settings = settings
        self._key = key
        self._checkpoint_file = checkpoint_file
        self._created = False
        self.explicit = False  # set by configure(); the lazy default from get_settings() is not

    def _get_settings(self) -> Settings:
        if self._settings is None:
            from bot.config import get_settings

            self._settings = get_settings()
        return self._settings

    @property
    def key(self) -> AuditKey:
        """The key to sign with: created on the default path if there is none yet."""
        if self._key is None:
            self._key = load_key(self._get_settings())
            self._created = self._key.created
        return self._key

    def take_created(self) -> bool:
        """Whether this process created the key file (answered True once)."""
        created, self._created = self._created, False
        return created

    @property
    def key_file(self) -> Path:
        return key_file_path(self._get_settings())

    def existing_key(self) -> AuditKey | None:
        """The key to verify with, never created (None when there is no key file yet)."""
        if self._key is None:
            try:
                self._key = load_key(self._get_settings(), create=False)
            except AuditKeyError:
                settings = self._get_settings()
                if settings.audit_key or settings.audit_key_file or key_file_path(settings).exists():
                    raise
                return None
        return self._key

    @property
    def checkpoint_file(self) -> Path:
        if self._checkpoint_file is None:
            self._checkpoint_file = self._get_settings().data_dir / CHECKPOINT_FILE
        return self._checkpoint_file


_config: _Config | None = None


def configure(settings: Settings | None = None, *, key: bytes | str | None = None,
              checkpoint_file: Path | None = None) -> None:
    """Say where this process takes the audit key and writes checkpoints.

    Without a call, both come from the process settings (``get_settings()``). The command line calls this
    with its settings; tests call it with a key of their own.
    """
    global _config
    audit_key = None
    if key is not None:
        audit_key = AuditKey.of(key.encode("utf-8") if isinstance(key, str) else key, "configure()")
    _config = _Config(settings, audit_key, Path(checkpoint_file) if checkpoint_file else None)
    _config.explicit = True


def configure_default(settings: Settings) -> None:
    """Configure from ``settings`` unless this process was configured explicitly (tests, embedding): what the
    command line calls with the settings it read."""
    if _config is None or not _config.explicit:
        configure(settings)


def reset() -> None:
    """Forget the configuration (the next use reads the process settings again)."""
    global _config
    _config = None


def current() -> _Config:
    global _config
    if _config is None:
        _config = _Config()
    return _config


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who acts: a user id (None for the system or the command line) and a readable label."""

    user_id: int | None
    label: str


SYSTEM = Actor(None, "system")


def _lock_chain(session: Session) -> None:
    """Serialise appends: a PostgreSQL advisory lock; on SQLite, take the write lock before reading the head
    (a no-op write), so that two writers cannot both chain to the same entry."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    else:
        session.execute(text("UPDATE audit_log SET id = id WHERE 0 = 1"))


def _head(session: Session) -> tuple[int, str]:
    last = session.exec(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def _new_ids(session: Session, n: int, last_id: int) -> list[int]:
    """Return ``n`` fresh increasing ids (under the chain lock): the sequence on PostgreSQL, max + 1 on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) FROM generate_series(1, :n)"),
            {"n": n},
        ).scalars().all()
        ids = sorted(int(r) for r in rows)
        if ids[0] <= last_id:  # the sequence lags behind rows inserted with explicit ids: move it on
            session.execute(text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), :v)"),
                            {"v": last_id + n})
            ids = list(range(last_id + 1, last_id + n + 1))
        return ids
    return list(range(last_id + 1, last_id + n + 1))


def _warn_if_replaced(session: Session, key: AuditKey) -> None:
    """A key created while keyed entries exist means the old key was lost: say so loudly, once."""
    signed = session.exec(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.scheme == KEYED, AuditEntry.key_id != key.key_id)).one()
    if signed:
        log.error("audit: the audit key %s was missing and a new one was created, but %d entries are signed "
                  "with another key: restore the old key file, or 'villagebot audit verify' cannot check them",
                  key.source, signed)


def record(session: Session, actor: Actor, action: str, entity: str, entity_id: Any = None,
           before: Any = None, after: Any = None) -> str:
    """Append one audit entry in the caller's transaction; return its signature."""
    return record_many(session, actor, [(action, entity, entity_id, before, after)])


def record_many(session: Session, actor: Actor, items: Iterable[tuple[str, str, Any, Any, Any]]) -> str:
    """Append several entries at once (bulk imports), chained in order; return the last signature."""
    items = list(items)
    key = current().key  # before any write: a key that cannot be read fails the change, not only the audit
    session.flush()  # rows the entries speak of get their ids first
    _lock_chain(session)
    last_id, prev = _head(session)
    if current().take_created():
        _warn_if_replaced(session, key)
    if not items:
        return prev
    ids = _new_ids(session, len(items), last_id)
    now = utcnow()
    rows = []
    for new_id, (action, entity, entity_id, before, after) in zip(ids, items):
        eid = None if entity_id is None else str(entity_id)
        b, a = jsonable(before), jsonable(after)
        digest = entry_mac(key.secret, id=new_id, at=now, actor_user_id=actor.user_id, actor=actor.label,
                           action=action, entity=entity, entity_id=eid, before=b, after=a, prev_hash=prev,
                           key_id=key.key_id)
        rows.append({"id": new_id, "at": now, "actor_user_id": actor.user_id, "actor": actor.label,
                     "action": action, "entity": entity, "entity_id": eid, "before": b, "after": a,
                     "prev_hash": prev, "hash": digest, "scheme": KEYED, "key_id": key.key_id})
        prev = digest
    for start in range(0, len(rows), 2000):
        session.execute(insert(AuditEntry), rows[start:start + 2000])
    return prev


# --- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The chain at one moment: ``count`` entries (``legacy`` of them unkeyed), the last one's id and
    signature; signed with the audit key."""

    at: str
    count: int
    legacy: int
    head_id: int
    head: str
    key_id: str
    mac: str = ""

    def _body(self) -> dict:
        return {"at": self.at, "count": self.count, "legacy": self.legacy, "head_id": self.head_id,
                "head": self.head, "key_id": self.key_id}

    def sign(self, key: AuditKey) -> Checkpoint:
        body = self._body()
        body["key_id"] = key.key_id
        mac = hmac.new(key.secret, _canonical([_TAG, "checkpoint", body]), hashlib.sha256).hexdigest()
        return Checkpoint(**body, mac=mac)

    def valid(self, key: AuditKey) -> bool:
        return self.key_id == key.key_id and hmac.compare_digest(self.sign(key).mac, self.mac)

    def line(self) -> str:
        return json.dumps({**self._body(), "mac": self.mac}, ensure_ascii=False, sort_keys=True)

    @property
    def code(self) -> str:
        """The check code printed for people (the half-year PDF): the first 16 hex digits of the head."""
        return code_of(self.head)

    @property
    def when(self) -> str:
        return self.at[:19].replace("T", " ")


def code_of(digest: str) -> str:
    prefix = digest[:16].upper()
    return " ".join(prefix[i:i + 4] for i in range(0, 16, 4))


@dataclass
class CheckpointLine:
    """One line of a checkpoint source: the checkpoint, or why it could not be read."""

    source: str
    line: int
    checkpoint: Checkpoint | None


def read_checkpoints(path: Path) -> list[CheckpointLine]:
    """Read checkpoints from a file: one JSON object a line, anywhere on the line (a log works too);
    lines without one are skipped, damaged ones are returned without a checkpoint."""
    found = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    for number, line in enumerate(lines, 1):
        start = line.find("{")
        if start < 0:
            continue
        if path.name != CHECKPOINT_FILE and "audit checkpoint" not in line:
            continue  # a log file: only our lines
        try:
            data = json.loads(line[start:])
            cp = Checkpoint(at=str(data["at"]), count=int(data["count"]), legacy=int(data["legacy"]),
                            head_id=int(data["head_id"]), head=str(data["head"]), key_id=str(data["key_id"]),
                            mac=str(data["mac"]))
        except (ValueError, KeyError, TypeError):
            cp = None
        found.append(CheckpointLine(str(path), number, cp))
    return found


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class CheckpointResult:
    """What ``checkpoint`` did: the checkpoint taken (None when the chain did not verify), whether a line was
    appended to the file, and the verification it rests on."""

    checkpoint: Checkpoint | None
    written: bool
    verified: VerifyResult


def checkpoint(session: Session) -> CheckpointResult:
    """Verify the chain since the last checkpoint in the file and, if it holds, sign a new checkpoint:
    appended to the checkpoint file (unless the chain has not moved since the last one) and logged.
    A chain that does not verify gets no checkpoint (that would bless the damage): the findings are logged."""
    cfg = current()
    key = cfg.key
    path = cfg.checkpoint_file
    previous = [c.checkpoint for c in read_checkpoints(path) if c.checkpoint and c.checkpoint.valid(key)]
    last = max(previous, key=lambda c: c.count) if previous else None
    result = verify(session, checkpoints=[path], resume=last)
    if not result.ok:
        log.error("audit checkpoint refused: the chain does not verify (%s)",
                  "; ".join(f"{f.kind} at {f.entry_id}" for f in result.findings))
        return CheckpointResult(None, False, result)
    cp = Checkpoint(at=utcnow().isoformat(timespec="seconds"), count=result.checked, legacy=result.legacy,
                    head_id=result.head_id, head=result.head, key_id=key.key_id).sign(key)
    written = False
    if last is None or (last.count, last.head_id, last.head) != (cp.count, cp.head_id, cp.head):
        try:
            _append(path, cp.line())
            written = True
        except OSError as exc:
            log.error("audit checkpoint not written to %s: %s", path, exc)
    log.info("audit checkpoint %s", cp.line())
    return CheckpointResult(cp, written, result)


def document_line(session: Session, translate_) -> str:
    """The sentence printed in a report (the half-year PDF): a fresh checkpoint in words."""
    try:
        taken = checkpoint(session)
    except AuditKeyError:
        log.exception("audit checkpoint for a document failed")
        return translate_(N_("Audit log: no check code (the audit key cannot be read)."))
    if taken.checkpoint is None:
        return translate_(N_("Audit log: the check found problems; run 'villagebot audit verify'."))
    return translate_(N_("Audit log: {count} entries, check code {code}."),
                      count=taken.checkpoint.count, code=taken.checkpoint.code)


# --- verifying -----------------------------------------------------------------------------------


@dataclass
class Finding:
    """One thing verify found: a kind (for programs), the entry concerned, a message in words."""

    kind: str
    entry_id: int | None
    msgid: str
    params: dict = field(default_factory=dict)


@dataclass
class VerifyResult:
    checked: int  # entries in the chain
    legacy: int = 0  # of which unkeyed legacy entries
    head_id: int = 0
    head: str = GENESIS
    findings: list[Finding] = field(default_factory=list)
    more: int = 0  # findings beyond those described
    good_before: int = 0  # good entries before the first broken one
    first_broken: int | None = None  # id of the first entry found broken
    first_reason: str | None = None
    kinds: set[str] = field(default_factory=set)  # the kinds of every finding, described or not
    checkpoints: int = 0  # signed checkpoints compared with the chain
    last_checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def broken_at(self) -> int | None:
        """The first entry found broken (None when only checkpoints show the damage)."""
        return self.first_broken

    @property
    def reason(self) -> str | None:
        if self.first_reason:
            return self.first_reason
        return self.findings[0].msgid if self.findings else None


class _Walk:
    def __init__(self, result: VerifyResult) -> None:
        self.result = result

    def add(self, kind: str, entry_id: int | None, msgid: str, **params: Any) -> None:
        r = self.result
        r.kinds.add(kind)
        if entry_id is not None and r.first_broken is None:
            r.first_broken, r.first_reason = entry_id, msgid
            r.good_before = r.checked - 1
        if len(r.findings) < _DETAILED:
            r.findings.append(Finding(kind, entry_id, msgid, params))
        else:
            r.more += 1


def _diagnose_signature(key: AuditKey, row: AuditEntry, detailed: bool) -> tuple[str, str, dict]:
    """Say why a keyed entry's signature does not hold: renumbered, rewritten without the key, signed with
    another key, or edited."""
    if row.hash == _row_legacy_hash(row):
        return ("recomputed", N_("its signature was recomputed without the key (a plain hash): the entry or "
                                 "the chain after it was rewritten"), {})
    if row.key_id and row.key_id != key.key_id:
        return ("other_key", N_("it was signed with another audit key (id {key_id}); is "
                                "VILLAGEBOT_AUDIT_KEY_FILE the key of this database?"), {"key_id": row.key_id})
    if detailed:
        window = (c for d in range(1, _RENUMBER_WINDOW + 1) for c in (row.id - d, row.id + d) if c > 0)
        for candidate, mac in _row_macs_with_ids(key.secret, row, window):
            if hmac.compare_digest(mac, row.hash):
                return ("renumbered", N_("its number was changed: it was written as entry {original}"),
                        {"original": candidate})
    return ("edited", N_("its content does not match its signature (the entry was edited: a column such as "
                         "the actor, the time or the before/after values was changed)"), {})


def verify(session: Session, batch: int = 5000, *, checkpoints: Iterable[Path] | None = None,
           resume: Checkpoint | None = None, expect: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the chain and report every entry whose signature or link does not hold, and every checkpoint the
    chain no longer matches (entries removed at the end, everything deleted, entries replaced).

    ``checkpoints``: files to read checkpoints from (default: this process's checkpoint file).
    ``resume``: a checkpoint already trusted: start there instead of at the first entry (after checking that
    the entry it names is still in place).
    ``expect``: (count, check code) as printed in a report: the entry at that position must carry that code.
    """
    cfg = current()
    sources = [cfg.checkpoint_file] if checkpoints is None else list(checkpoints)
    lines = [item for source in sources for item in read_checkpoints(Path(source))]
    key = cfg.existing_key()
    if key is None:  # no key yet: fine while nothing was signed with one
        keyed = session.exec(select(AuditEntry.id).where(AuditEntry.scheme != LEGACY).limit(1)).first()
        if keyed is not None or lines:
            raise AuditKeyError(f"the audit key file {cfg.key_file} does not exist, but entries or checkpoints "
                                "were signed with a key: restore the key file from your backup")
        key = AuditKey.of(secrets.token_bytes(32), "none")
    result = VerifyResult(0)
    walk = _Walk(result)
    by_count: dict[int, list[Checkpoint]] = {}
    for item in lines:
        cp = item.checkpoint
        if cp is None:
            walk.add("checkpoint", None, N_("line {line} of {file} is not a readable checkpoint"),
                     line=item.line, file=item.source)
        elif cp.key_id != key.key_id:
            walk.add("checkpoint", None, N_("the checkpoint on line {line} of {file} was signed with another "
                                            "audit key (id {key_id})"),
                     line=item.line, file=item.source, key_id=cp.key_id)
        elif not cp.valid(key):
            walk.add("checkpoint", None, N_("the checkpoint on line {line} of {file} was altered (its "
                                            "signature does not match)"), line=item.line, file=item.source)
        else:
            by_count.setdefault(cp.count, []).append(cp)
            result.checkpoints += 1
            if result.last_checkpoint is None or cp.count >= result.last_checkpoint.count:
                result.last_checkpoint = cp

    prev, last_id, keyed_seen = GENESIS, 0, False
    if resume is not None:
        row = session.get(AuditEntry, resume.head_id)
        position = session.exec(select(func.count()).select_from(AuditEntry)
                                .where(AuditEntry.id <= resume.head_id)).one()
        if row is None or row.hash != resume.head or position != resume.count:
            resume = None  # the checkpoint no longer holds: walk everything and say where
        else:
            prev, last_id = row.hash, row.id
            result.checked, result.legacy = resume.count, resume.legacy
            result.head_id, result.head = row.id, row.hash
            keyed_seen = resume.count > resume.legacy
    code = expect[1].replace(" ", "").replace("-", "").lower() if expect else None

    while True:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            result.checked += 1
            position = result.checked
            detailed = len(result.findings) < _DETAILED
            if row.prev_hash != prev:
                walk.add("removed", row.id, N_("its link to the previous entry is broken (an entry before it was "
                                               "removed, or the entries were reordered)"))
            if row.scheme == LEGACY:
                result.legacy += 1
                if keyed_seen:
                    walk.add("downgraded", row.id, N_("it is an unkeyed legacy entry after keyed ones (it was "
                                                      "rewritten in the old form without the key)"))
                elif row.hash != _row_legacy_hash(row):
                    walk.add("edited", row.id, N_("content does not match its hash (the entry was edited)"))
            elif row.scheme == KEYED:
                keyed_seen = True
                if not hmac.compare_digest(_row_mac(key.secret, row), row.hash):
                    kind, msgid, params = _diagnose_signature(key, row, detailed)
                    walk.add(kind, row.id, msgid, **params)
            else:
                walk.add("edited", row.id, N_("its signature scheme {scheme} is unknown (the entry was edited)"),
                         scheme=row.scheme)
            for cp in by_count.get(position, ()):
                if row.id != cp.head_id or row.hash != cp.head:
                    walk.add("replaced", row.id, N_("it is not the entry the checkpoint of {when} recorded as "
                                                    "number {count} (entries up to it were removed, inserted or "
                                                    "replaced)"), when=cp.when, count=cp.count)
            if code is not None and position == expect[0] and not row.hash.startswith(code):
                walk.add("replaced", row.id, N_("it does not carry the check code {code} printed for entry "
                                                "number {count}"), code=expect[1], count=expect[0])
            prev, last_id = row.hash, row.id
            result.head_id, result.head = row.id, row.hash

    latest = result.last_checkpoint
    if latest is not None and latest.count > result.checked:
        if result.checked == 0:
            walk.add("emptied", None, N_("the audit log is empty, but the checkpoint of {when} recorded {count} "
                                         "entries: all entries were deleted"), when=latest.when,
                     count=latest.count)
        elif not result.kinds & {"removed", "renumbered"}:  # no gap in the chain: they were cut off the end
            walk.add("truncated", None, N_("the audit log has {n} entries, but the checkpoint of {when} recorded "
                                           "{count}: the last {missing} entries were removed"),
                     n=result.checked, when=latest.when, count=latest.count,
                     missing=latest.count - result.checked)
        else:
            walk.add("truncated", None, N_("the audit log has {n} entries, but the checkpoint of {when} recorded "
                                           "{count}: {missing} entries were removed"),
                     n=result.checked, when=latest.when, count=latest.count,
                     missing=latest.count - result.checked)
    if latest is not None and latest.count <= result.checked and latest.legacy != result.legacy:
        walk.add("downgraded", None, N_("the checkpoint of {when} recorded {expected} unkeyed legacy entries, the "
                                        "log now has {n} (entries were rewritten in the old form without the key)"),
                 when=latest.when, expected=latest.legacy, n=result.legacy)
    if expect is not None and expect[0] > result.checked:
        walk.add("truncated", None, N_("the audit log has {n} entries, fewer than the {count} of the check code "
                                       "{code}"), n=result.checked, count=expect[0], code=expect[1])
    if result.first_broken is None:
        result.good_before = result.checked
    return result


# --- browsing (read-only; the web's audit page) --------------------------------------------------

PAGE_SIZE = 30


@dataclass
class Browse:
    """What to show of the audit log: filters (None: any) and a page (1-based), newest entries first."""

    actor_user_id: int | None = None
    system: bool = False  # only entries without a person (the system, the command line, villagers)
    kind: str | None = None  # the action's family: the part before the first dot ("report", "problem" …)
    asset_ids: tuple[int, ...] | None = None
    unit_path: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    page: int = 1


def _about(path: str | None = None, asset_ids: Iterable[int] | None = None):
    """A condition: the entry is about something within the units under ``path``, or about these assets
    (an asset, its reports, problems, four-way classes and villager reports)."""
    from sqlalchemy import String, and_, cast, or_

    from bot.storage.models import (
        Asset,
        AssetClass,
        OrgUnit,
        Problem,
        Report,
        TelegramIdentity,
        User,
        WebSession,
    )
    from bot.storage.models_schedule import ChannelRoute
    from bot.storage.models_villager import VillagerReport

    def ids(column):
        return cast(column, String)

    if asset_ids is not None:
        assets = select(ids(Asset.id)).where(Asset.id.in_(list(asset_ids)))
        asset_int = select(Asset.id).where(Asset.id.in_(list(asset_ids)))
        units = users = None
    else:
        assets = (select(ids(Asset.id)).join(OrgUnit, OrgUnit.id == Asset.village_id)
                  .where(OrgUnit.path.like(path + "%")))
        asset_int = (select(Asset.id).join(OrgUnit, OrgUnit.id == Asset.village_id)
                     .where(OrgUnit.path.like(path + "%")))
        unit_int = select(OrgUnit.id).where(OrgUnit.path.like(path + "%"))
        units = select(ids(OrgUnit.id)).where(OrgUnit.path.like(path + "%"))
        users = select(User.id).where(User.org_unit_id.in_(unit_int))
    entity, eid = AuditEntry.entity, AuditEntry.entity_id
    report_cond = Report.asset_id.in_(asset_int)
    if units is not None:
        report_cond = or_(report_cond, Report.org_unit_id.in_(unit_int))
    conditions = [
        and_(entity == "asset", eid.in_(assets)),
        and_(entity == "report", eid.in_(select(ids(Report.id)).where(report_cond))),
        and_(entity == "problem", eid.in_(select(ids(Problem.id)).where(Problem.asset_id.in_(asset_int)))),
        and_(entity == "asset_class", eid.in_(select(ids(AssetClass.id)).where(AssetClass.asset_id.in_(asset_int)))),
        and_(entity == "villager_report",
             eid.in_(select(ids(VillagerReport.id)).where(VillagerReport.asset_id.in_(asset_int)))),
    ]
    if units is not None:
        conditions += [
            and_(entity == "org_unit", eid.in_(units)),
            and_(entity == "app_user", eid.in_(select(ids(User.id)).where(User.org_unit_id.in_(unit_int)))),
            and_(entity == "channel_route",
                 eid.in_(select(ids(ChannelRoute.id)).where(ChannelRoute.org_unit_id.in_(unit_int)))),
            and_(entity == "web_session", eid.in_(select(ids(WebSession.id)).where(WebSession.user_id.in_(users)))),
            and_(entity == "telegram_identity",
                 eid.in_(select(ids(TelegramIdentity.id)).where(TelegramIdentity.user_id.in_(users)))),
        ]
    return or_(*conditions), users


def viewer_scope(session: Session, user) -> str | None:
    """Return the organisation path whose entries ``user`` may read (None: the whole log, an admin over
    everything); a county officer reads what concerns their county and what its people did."""
    from bot.services import access
    from bot.storage.models import OrgUnit

    access.require(session, user, "audit.view")
    if user.org_unit_id is None:
        return None
    unit = session.get(OrgUnit, user.org_unit_id)
    return unit.path if unit is not None else "/nothing/"


def _scoped(statement, path: str | None):
    from sqlalchemy import or_

    if path is None:
        return statement
    about, users = _about(path)
    return statement.where(or_(about, AuditEntry.actor_user_id.in_(users)))


def browse(session: Session, user, query: Browse) -> tuple[list[AuditEntry], int]:
    """Return one page of the entries ``user`` may read that match ``query`` (newest first) and their total."""
    path = viewer_scope(session, user)
    statement = _scoped(select(AuditEntry), path)
    counting = _scoped(select(func.count()).select_from(AuditEntry), path)
    conditions = []
    if query.actor_user_id is not None:
        conditions.append(AuditEntry.actor_user_id == query.actor_user_id)
    if query.system:
        conditions.append(AuditEntry.actor_user_id.is_(None))
    if query.kind:
        conditions.append(AuditEntry.action.like(query.kind.replace("%", "").replace("_", r"\_") + ".%",
                                                 escape="\\"))
    if query.asset_ids is not None:
        conditions.append(_about(asset_ids=query.asset_ids)[0])
    if query.unit_path is not None:
        conditions.append(_about(query.unit_path)[0])
    if query.since is not None:
        conditions.append(AuditEntry.at >= query.since)
    if query.until is not None:
        conditions.append(AuditEntry.at < query.until)
    for condition in conditions:
        statement, counting = statement.where(condition), counting.where(condition)
    total = session.exec(counting).one()
    page = max(1, query.page)
    rows = session.exec(statement.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE)
                        .limit(PAGE_SIZE)).all()
    return list(rows), int(total)


def actors(session: Session, user) -> list[tuple[int, str, str]]:
    """Return (user id, name, role) of the people with entries ``user`` may read, by name."""
    from bot.storage.models import User

    path = viewer_scope(session, user)
    ids = _scoped(select(AuditEntry.actor_user_id).where(AuditEntry.actor_user_id.is_not(None)).distinct(), path)
    people = session.exec(select(User.id, User.name, User.role).where(User.id.in_(ids))
                          .order_by(User.name, User.id)).all()
    return [(row[0], row[1], row[2]) for row in people]


def kinds(session: Session, user) -> list[str]:
    """Return the families of actions (``report``, ``problem`` …) among the entries ``user`` may read."""
    path = viewer_scope(session, user)
    actions = session.exec(_scoped(select(AuditEntry.action).distinct(), path)).all()
    return sorted({a.split(".", 1)[0] for a in actions})
