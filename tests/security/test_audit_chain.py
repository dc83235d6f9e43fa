"""Issue 14, point 6: the audit chain against someone who can edit the database but not read the key.

Each tampering case runs on SQLite and PostgreSQL (the ``engine`` fixture). The conftest's ``audit_key``
fixture signs with a test key and keeps checkpoints in the test's own directory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import stat
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import Session, select

from bot.cli import cli
from bot.config import Settings
from bot.services import audit
from bot.storage.models import AuditEntry


def _write(engine, n: int, *, start: int = 0) -> None:
    with Session(engine) as s:
        for i in range(start, start + n):
            actor = audit.Actor(i % 3 + 1, f"user:{i % 3 + 1}") if i % 4 else audit.SYSTEM
            audit.record(s, actor, "asset.update", "asset", i, {"name": f"旧{i}"}, {"name": f"新{i}", "n": i})
        s.commit()


def _exec(engine, *statements: str) -> None:
    with engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))


def _ids(engine) -> list[int]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEntry.id).order_by(AuditEntry.id)).all())


def _verify(engine, **kwargs) -> audit.VerifyResult:
    with Session(engine) as s:
        return audit.verify(s, **kwargs)


def _checkpoint(engine) -> audit.CheckpointResult:
    with Session(engine) as s:
        return audit.checkpoint(s)


def _kinds(result) -> list[str]:
    return [f.kind for f in result.findings]


def _said(result, lang: str = "en") -> str:
    from bot.i18n import translate

    return "\n".join(translate(lang, f.msgid, **f.params) for f in result.findings)


# --- an intact chain -----------------------------------------------------------------------------


def test_an_intact_chain_with_a_checkpoint_verifies(engine):
    _write(engine, 30)
    taken = _checkpoint(engine)
    assert taken.written and taken.checkpoint.count == 30
    _write(engine, 5, start=30)  # entries after the checkpoint are fine too
    result = _verify(engine)
    assert result.ok, _said(result)
    assert (result.checked, result.legacy, result.checkpoints) == (35, 0, 1)
    with Session(engine) as s:
        rows = s.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert {r.scheme for r in rows} == {audit.KEYED}
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]


def test_every_column_is_signed(engine):
    """The signature changes with each column, so an edit of any one of them is found."""
    _write(engine, 1)
    with Session(engine) as s:
        row = s.exec(select(AuditEntry)).one()
    key = audit.current().key.secret
    fields = {"id": row.id, "at": row.at, "actor_user_id": row.actor_user_id, "actor": row.actor,
              "action": row.action, "entity": row.entity, "entity_id": row.entity_id, "before": row.before,
              "after": row.after, "prev_hash": row.prev_hash, "key_id": row.key_id}
    assert audit.entry_mac(key, **fields) == row.hash
    changed = {"id": row.id + 1, "at": row.at + dt.timedelta(microseconds=1), "actor_user_id": 99,
               "actor": "x", "action": "x", "entity": "x", "entity_id": "x", "before": {"name": "x"},
               "after": None, "prev_hash": "1" * 64, "key_id": "0" * 16}
    for name, value in changed.items():
        assert audit.entry_mac(key, **{**fields, name: value}) != row.hash, name
    assert audit.entry_mac(b"another key of thirty-two bytes!!", **fields) != row.hash


# --- removing entries ----------------------------------------------------------------------------


def test_deleting_the_last_entry_is_found(engine):
    _write(engine, 10)
    _checkpoint(engine)
    _exec(engine, f"DELETE FROM audit_log WHERE id = {_ids(engine)[-1]}")
    result = _verify(engine)
    assert not result.ok and _kinds(result) == ["truncated"]
    assert "the last 1 entries were removed" in _said(result)
    assert "末尾的 1 条记录被删除了" in _said(result, "zh_CN")


def test_deleting_the_last_entry_and_writing_a_new_one_is_found(engine):
    _write(engine, 10)
    _checkpoint(engine)
    _exec(engine, f"DELETE FROM audit_log WHERE id = {_ids(engine)[-1]}")
    _write(engine, 1, start=100)  # the chain is whole again and has 10 entries, but not the checkpoint's 10th
    result = _verify(engine)
    assert not result.ok and _kinds(result) == ["replaced"]
    assert result.broken_at == _ids(engine)[-1]


def test_deleting_the_last_50_entries_is_found(engine):
    _write(engine, 80)
    _checkpoint(engine)
    _exec(engine, f"DELETE FROM audit_log WHERE id > {_ids(engine)[29]}")
    result = _verify(engine)
    assert not result.ok and _kinds(result) == ["truncated"] and result.checked == 30
    assert "has 30 entries, but the checkpoint" in _said(result) and "the last 50 entries" in _said(result)


def test_deleting_in_the_middle_and_at_the_end_is_found(engine):
    _write(engine, 10)
    _checkpoint(engine)
    ids = _ids(engine)
    _exec(engine, f"DELETE FROM audit_log WHERE id = {ids[3]} OR id > {ids[7]}")
    result = _verify(engine)
    assert _kinds(result) == ["removed", "truncated"] and result.broken_at == ids[4]
    assert "has 7 entries, but the checkpoint" in _said(result) and ": 3 entries were removed" in _said(result)


def test_deleting_everything_is_found(engine):
    _write(engine, 12)
    _checkpoint(engine)
    _exec(engine, "DELETE FROM audit_log")
    result = _verify(engine)
    assert not result.ok and _kinds(result) == ["emptied"] and result.checked == 0
    assert "recorded 12 entries: all entries were deleted" in _said(result)
    assert "全部记录被删除了" in _said(result, "zh_CN")


def test_deleting_an_entry_in_the_middle_is_found(engine):
    _write(engine, 10)
    victim = _ids(engine)[4]
    _exec(engine, f"DELETE FROM audit_log WHERE id = {victim}")
    result = _verify(engine)
    assert not result.ok and _kinds(result) == ["removed"] and result.broken_at == _ids(engine)[4]
    assert result.good_before == 4


# --- editing entries -----------------------------------------------------------------------------


def test_changing_the_actor_user_id_is_found(engine):
    _write(engine, 10)
    victim = _ids(engine)[5]
    _exec(engine, f"UPDATE audit_log SET actor_user_id = 999 WHERE id = {victim}")
    result = _verify(engine)
    assert not result.ok and result.broken_at == victim and _kinds(result) == ["edited"]
    assert "does not match its signature" in result.reason


def test_editing_an_entry_without_recomputing_is_found(engine):
    _write(engine, 10)
    victim = _ids(engine)[2]
    _exec(engine, f"""UPDATE audit_log SET after = '{{"name": "改过"}}' WHERE id = {victim}""")
    result = _verify(engine)
    assert not result.ok and result.broken_at == victim and _kinds(result) == ["edited"]
    assert result.good_before == 2


def _recompute_plain(engine, first_id: int, *, downgrade: bool = False, last_id: int | None = None) -> None:
    """What an attacker without the key can do: recompute the old plain SHA-256 chain from ``first_id`` on
    (up to ``last_id``)."""
    with Session(engine) as s:
        rows = s.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
        prev = audit.GENESIS
        for row in rows:
            if row.id >= first_id and (last_id is None or row.id <= last_id):
                digest = audit.entry_hash(prev, row.at, row.actor, row.action, row.entity, row.entity_id,
                                          audit.jsonable(row.before), audit.jsonable(row.after))
                s.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h, scheme = :v WHERE id = :id"),
                          {"p": prev, "h": digest, "v": 0 if downgrade else row.scheme, "id": row.id})
                prev = digest
            else:
                prev = row.hash
        s.commit()


def test_an_edit_followed_by_recomputed_plain_hashes_is_found(engine):
    _write(engine, 10)
    victim = _ids(engine)[6]
    _exec(engine, f"UPDATE audit_log SET actor = 'someone else' WHERE id = {victim}")
    _recompute_plain(engine, victim)
    result = _verify(engine)
    assert not result.ok and result.broken_at == victim
    assert set(_kinds(result)) == {"recomputed"} and len(result.findings) == 4  # the victim and the 3 after it
    assert "recomputed without the key" in result.reason


def test_an_edit_followed_by_a_chain_recomputed_with_a_guessed_key_is_found(engine):
    _write(engine, 6)
    ids = _ids(engine)
    _exec(engine, f"UPDATE audit_log SET actor = 'someone else' WHERE id = {ids[3]}")
    guessed = audit.AuditKey.of(b"a guess of thirty-two bytes or so", "guess")
    with Session(engine) as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.id >= ids[3]).order_by(AuditEntry.id)).all()
        prev = s.get(AuditEntry, ids[2]).hash
        for row in rows:
            row.prev_hash = prev
            row.hash = prev = audit._row_mac(guessed.secret, row)
            s.add(row)
        s.commit()
    result = _verify(engine)
    assert not result.ok and result.broken_at == ids[3] and set(_kinds(result)) == {"edited"}


def test_rewriting_the_whole_chain_in_the_old_unkeyed_form_is_found(engine):
    _write(engine, 8)
    _checkpoint(engine)
    _exec(engine, f"UPDATE audit_log SET actor = 'someone else' WHERE id = {_ids(engine)[3]}")
    _recompute_plain(engine, _ids(engine)[0], downgrade=True)
    result = _verify(engine)
    assert not result.ok
    assert {"replaced", "downgraded"} <= set(_kinds(result))
    assert "recorded 0 unkeyed legacy entries, the log now has 8" in _said(result)


def test_renumbering_the_ids_is_found(engine):
    _write(engine, 12)
    ids = _ids(engine)
    _exec(engine, "UPDATE audit_log SET id = id + 100")
    result = _verify(engine)
    assert not result.ok and set(_kinds(result)) == {"renumbered"} and len(result.findings) == 12
    assert result.broken_at == ids[0] + 100
    assert result.findings[0].params == {"original": ids[0]}
    assert f"it was written as entry {ids[0]}" in _said(result)


def test_deleting_an_entry_and_closing_the_gap_is_found(engine):
    _write(engine, 12)
    ids = _ids(engine)
    _exec(engine, f"DELETE FROM audit_log WHERE id = {ids[5]}",
          f"UPDATE audit_log SET id = id + 1000 WHERE id > {ids[5]}",
          "UPDATE audit_log SET id = id - 1001 WHERE id > 1000")
    result = _verify(engine)
    assert not result.ok and result.broken_at == ids[5]
    first = [f for f in result.findings if f.entry_id == ids[5]]
    assert [f.kind for f in first] == ["removed", "renumbered"] and first[1].params == {"original": ids[6]}
    assert set(_kinds(result)[2:]) == {"renumbered"}


# --- checkpoints ---------------------------------------------------------------------------------


def test_a_checkpoint_is_a_signed_line_and_an_altered_one_is_found(engine):
    _write(engine, 4)
    path = audit.current().checkpoint_file
    assert _checkpoint(engine).written
    assert not _checkpoint(engine).written  # nothing changed: no new line
    lines = path.read_text().splitlines()
    data = json.loads(lines[0])
    assert data["count"] == 4 and data["legacy"] == 0 and data["head_id"] == _ids(engine)[-1]
    assert data["key_id"] == audit.current().key.key_id and len(data["mac"]) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data["count"] = 2  # someone lowers the count to hide the removal of two entries
    path.write_text(json.dumps(data) + "\n")
    result = _verify(engine)
    assert not result.ok and _kinds(result) == ["checkpoint"] and "was altered" in _said(result)


def test_a_checkpoint_is_refused_on_a_broken_chain(engine, caplog):
    _write(engine, 5)
    _exec(engine, f"UPDATE audit_log SET actor_user_id = 42 WHERE id = {_ids(engine)[1]}")
    with caplog.at_level(logging.ERROR, logger="bot.services.audit"):
        taken = _checkpoint(engine)
    assert taken.checkpoint is None and not taken.written
    assert not audit.current().checkpoint_file.exists()
    assert "audit checkpoint refused" in caplog.text


def test_the_scheduler_writes_a_checkpoint_to_the_data_directory_at_once_and_every_hour(engine, settings,
                                                                                         caplog):
    from apscheduler.events import EVENT_JOB_EXECUTED

    from bot.services import scheduler_runner

    audit.configure(settings)  # as the service does: the key and the checkpoints of its data directory
    _write(engine, 7)

    async def run() -> None:
        runner = await scheduler_runner.start(None, settings, engine)
        try:
            job = runner.scheduler.get_job("villagebot-audit-checkpoint")
            assert job.trigger.interval == dt.timedelta(hours=1) and job.max_instances == 1
            done = asyncio.Event()
            runner.scheduler.add_listener(lambda event: event.job_id == job.id and done.set(), EVENT_JOB_EXECUTED)
            await asyncio.wait_for(done.wait(), 30)
        finally:
            await runner.stop()

    with caplog.at_level(logging.INFO, logger="bot.services.audit"):
        asyncio.run(run())
    lines = (settings.data_dir / "audit-checkpoints.log").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["count"] == 7
    assert "audit checkpoint {" in caplog.text  # the log holds a copy
    key_file = settings.data_dir / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    _exec(engine, f"DELETE FROM audit_log WHERE id >= {_ids(engine)[4]}")
    result = _verify(engine)
    assert not result.ok and "the last 3 entries were removed" in _said(result)


def test_a_copy_of_the_log_serves_as_checkpoints(engine, tmp_path, caplog):
    _write(engine, 6)
    with caplog.at_level(logging.INFO, logger="bot.services.audit"):
        _checkpoint(engine)
    log_copy = tmp_path / "villagebot.log"
    log_copy.write_text("\n".join(f"2026-12-02 INFO bot.services.audit: {r.getMessage()}" for r in caplog.records)
                        + "\nsome other line {not json}\n")
    audit.current().checkpoint_file.unlink()  # the file is gone; the log still knows
    _exec(engine, "DELETE FROM audit_log")
    assert _verify(engine).ok  # without any checkpoint an empty log cannot be told from a new one
    result = _verify(engine, checkpoints=[log_copy])
    assert not result.ok and _kinds(result) == ["emptied"]


def test_the_check_code_printed_in_a_report_is_checked(engine):
    from bot.i18n import translate

    _write(engine, 9)
    with Session(engine) as s:
        line = audit.document_line(s, lambda msgid, **p: translate("zh_CN", msgid, **p))
    cp = _checkpoint(engine).checkpoint
    assert line == f"审计日志：共 9 条记录，校验码 {cp.code}。"
    assert "sha256" not in line and len(cp.code.replace(" ", "")) == 16
    assert _verify(engine, checkpoints=[], expect=(9, cp.code)).ok
    _exec(engine, f"DELETE FROM audit_log WHERE id = {_ids(engine)[-1]}")
    result = _verify(engine, checkpoints=[], expect=(9, cp.code))
    assert not result.ok and "fewer than the 9 of the check code" in _said(result)


def test_the_half_year_pdf_prints_the_audit_check_code(engine, tmp_path):
    from pypdf import PdfReader

    from bot.services import exports
    from tests.oversight.conftest import populate

    with Session(engine, expire_on_commit=False) as session:
        world = populate(session)
    _write(engine, 3)
    out = tmp_path / "half.pdf"
    with Session(engine) as session:
        exports.write_half_year(session, world.users["county"], world.tree.county, "2026H2", out)
        count = len(session.exec(select(AuditEntry.id)).all())
    text_ = "".join("".join(page.extract_text().split()) for page in PdfReader(str(out)).pages)
    cp = json.loads(audit.current().checkpoint_file.read_text().splitlines()[-1])
    assert count and cp["count"] == count
    assert f"审计日志：共{count}条记录，校验码{audit.code_of(cp['head']).replace(' ', '')}" in text_


# --- legacy entries ------------------------------------------------------------------------------


def _legacy(engine, n: int) -> None:
    """Entries as the previous version wrote them: scheme 0, plain SHA-256, no key id."""
    with Session(engine) as s:
        prev = audit.GENESIS
        at = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
        for i in range(n):
            digest = audit.entry_hash(prev, at, "cli", "org.create", "org_unit", str(i), None, {"name": f"村{i}"})
            s.add(AuditEntry(at=at, actor_user_id=None, actor="cli", action="org.create", entity="org_unit",
                             entity_id=str(i), before=None, after={"name": f"村{i}"}, prev_hash=prev, hash=digest))
            prev = digest
        s.commit()
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE scheme = 0")).scalar() == n


def test_legacy_entries_keep_verifying_and_new_ones_are_keyed(engine):
    _legacy(engine, 5)
    _write(engine, 4)
    result = _verify(engine)
    assert result.ok and (result.checked, result.legacy) == (9, 5)


def test_an_edited_legacy_entry_is_found(engine):
    _legacy(engine, 5)
    _write(engine, 2)
    ids = _ids(engine)
    _exec(engine, f"UPDATE audit_log SET actor = 'x' WHERE id = {ids[1]}")
    assert _verify(engine).broken_at == ids[1]
    _recompute_plain(engine, ids[1], last_id=ids[4])  # the legacy entries recomputed: the first keyed one
    result = _verify(engine)                           # still points at the old hash and cannot be re-signed
    assert not result.ok and result.broken_at == ids[5] and _kinds(result) == ["removed"]
    _recompute_plain(engine, ids[1])  # and re-linking the keyed ones needs the key
    result = _verify(engine)
    assert not result.ok and result.broken_at == ids[5] and _kinds(result) == ["recomputed", "recomputed"]


def test_a_keyed_entry_turned_into_a_legacy_one_is_found(engine):
    _legacy(engine, 3)
    _write(engine, 4)
    ids = _ids(engine)
    _recompute_plain(engine, ids[5], downgrade=True)
    result = _verify(engine)
    assert not result.ok and result.broken_at == ids[5] and set(_kinds(result)) == {"downgraded"}


def test_the_migration_keeps_old_entries_as_legacy(tmp_path):
    from bot.storage.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0003")
    engine = make_engine(url)
    try:
        at = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        digest = audit.entry_hash(audit.GENESIS, at, "cli", "org.create", "org_unit", "1", None, {"name": "村"})
        _exec(engine, "INSERT INTO audit_log (at, actor, action, entity, entity_id, after, prev_hash, hash) "
                      f"VALUES ('{at.isoformat()}', 'cli', 'org.create', 'org_unit', '1', '{{\"name\": \"村\"}}', "
                      f"'{audit.GENESIS}', '{digest}')")
        upgrade(url)
        _write(engine, 2)
        result = _verify(engine)
        assert result.ok and (result.checked, result.legacy) == (3, 1)
    finally:
        engine.dispose()


# --- the key -------------------------------------------------------------------------------------


def test_the_key_file_is_created_once_with_mode_0600_and_reused(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    first = audit.load_key(settings)
    path = tmp_path / "data" / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) == 64 and len(first.secret) == 32
    again = audit.load_key(Settings(data_dir=tmp_path / "data"))
    assert again.secret == first.secret and again.key_id == first.key_id
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temporary file left behind


def test_processes_starting_together_agree_on_one_key(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        keys.append(audit.load_key(settings).secret)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_the_key_can_be_set_by_the_deployment(tmp_path):
    from_env = audit.load_key(Settings(data_dir=tmp_path, audit_key="k" * 40))
    assert from_env.secret == b"k" * 40 and not (tmp_path / "audit.key").exists()
    key_file = tmp_path / "elsewhere.key"
    key_file.write_text("ab" * 32 + "\n")
    key_file.chmod(0o600)
    from_file = audit.load_key(Settings(data_dir=tmp_path, audit_key_file=key_file))
    assert from_file.secret == bytes.fromhex("ab" * 32)
    with pytest.raises(audit.AuditKeyError, match="cannot read"):
        audit.load_key(Settings(data_dir=tmp_path, audit_key_file=tmp_path / "missing.key"))
    with pytest.raises(audit.AuditKeyError, match="too short"):
        audit.load_key(Settings(data_dir=tmp_path, audit_key="short"))


def test_verify_never_creates_a_key_and_a_lost_key_is_an_error(engine, tmp_path, caplog):
    settings = Settings(data_dir=tmp_path / "fresh")
    audit.configure(settings)
    assert _verify(engine).ok  # a new install: nothing signed yet, nothing to check with
    assert not (tmp_path / "fresh" / "audit.key").exists()
    _write(engine, 3)  # the first signed entry creates the key
    assert (tmp_path / "fresh" / "audit.key").exists() and _verify(engine).ok
    (tmp_path / "fresh" / "audit.key").unlink()  # lost
    audit.configure(settings)
    with pytest.raises(audit.AuditKeyError, match="restore the key file"):
        _verify(engine)
    with caplog.at_level(logging.ERROR, logger="bot.services.audit"):
        _write(engine, 1, start=3)  # the service goes on with a new key, and says why that is bad
    assert "3 entries are signed with another key" in caplog.text
    result = _verify(engine)
    assert not result.ok and _kinds(result) == ["other_key"] * 3


def test_a_chain_checked_with_another_key_says_so(engine):
    _write(engine, 3)
    audit.configure(key="another key, not the one that signed these entries")
    result = _verify(engine)
    assert not result.ok and set(_kinds(result)) == {"other_key"}


# --- concurrency ---------------------------------------------------------------------------------


def test_concurrent_appends_keep_one_chain(engine):
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for i in range(10):
                with Session(engine) as s:
                    audit.record(s, audit.Actor(worker, f"user:{worker}"), "asset.update", "asset", i)
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = _verify(engine)
    assert result.ok and result.checked == 40


# --- the command line ----------------------------------------------------------------------------


def test_the_command_line_takes_checkpoints_and_says_what_it_found(tmp_path, db_url):
    data = tmp_path / "cli-data"
    env = {"VILLAGEBOT_DATA_DIR": str(data), "VILLAGEBOT_DATABASE_URL": db_url}

    def run(*args: str, lang: str | None = None):
        return CliRunner().invoke(cli, (["--lang", lang] if lang else []) + list(args), env=env)

    from bot.storage.db import make_engine

    engine = make_engine(db_url)
    try:
        audit.configure(Settings(data_dir=data, database_url=db_url))  # the CLI's key, as the service would
        _write(engine, 20)
        audit.reset()
        empty = run("audit", "verify", lang="en")
        assert empty.exit_code == 0, empty.output
        assert "Audit log intact: 20 entries verified." in empty.output and "No checkpoint yet" in empty.output
        taken = run("audit", "checkpoint")
        assert taken.exit_code == 0, taken.output
        assert "已将检查点写入" in taken.output and "共 20 条记录，校验码" in taken.output
        assert stat.S_IMODE((data / "audit.key").stat().st_mode) == 0o600
        assert json.loads((data / "audit-checkpoints.log").read_text())["count"] == 20
        again = run("audit", "checkpoint", lang="en")
        assert again.exit_code == 0 and "has not changed since the last checkpoint" in again.output
        code = audit.code_of(json.loads((data / "audit-checkpoints.log").read_text())["head"])
        assert code in taken.output
        printed = run("audit", "verify", "--count", "20", "--code", code, lang="en")
        assert printed.exit_code == 0 and "Last checkpoint: " in printed.output
        wrong = run("audit", "verify", "--count", "19", "--code", code, lang="en")
        assert wrong.exit_code == 1 and f"does not carry the check code {code}" in wrong.output
        assert run("audit", "verify", "--count", "19").exit_code == 2
        ids = _ids(engine)
        _exec(engine, f"UPDATE audit_log SET actor_user_id = 5 WHERE id = {ids[3]}",
              f"DELETE FROM audit_log WHERE id > {ids[14]}")
        broken = run("audit", "verify")
        assert broken.exit_code == 1
        assert f"审计日志在第 {ids[3]} 号记录处断裂（此前 3 条记录校验通过）" in broken.output
        assert f"第 {ids[3]} 号记录：内容与其签名不符" in broken.output
        assert "末尾的 5 条记录被删除了" in broken.output
        english = run("audit", "verify", lang="en")
        assert "the last 5 entries were removed" in english.output and english.exit_code == 1
        refused = run("audit", "checkpoint", lang="en")
        assert refused.exit_code == 1 and "No checkpoint taken" in refused.output
        _exec(engine, "DELETE FROM audit_log")
        emptied = run("audit", "verify", lang="en")
        assert emptied.exit_code == 1 and "all entries were deleted" in emptied.output
    finally:
        engine.dispose()
