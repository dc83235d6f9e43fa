"""The signed audit chain, on SQLite and PostgreSQL (the tampering cases: tests/security/test_audit_chain.py)."""

from sqlalchemy import text
from sqlmodel import Session, select

from bot.services import audit
from bot.storage.models import AuditEntry

ACTOR = audit.Actor(7, "user:7")


def _write_three(engine):
    with Session(engine) as s:
        audit.record(s, ACTOR, "asset.update", "asset", 1, {"name": "旧"}, {"name": "新"})
        audit.record(s, ACTOR, "asset.update", "asset", 2, {"funds_total": "1.5"}, {"funds_total": "2"})
        audit.record(s, audit.SYSTEM, "org.create", "org_unit", 3, None, {"name": "新桥村"})
        s.commit()


def test_it_chains_entries_and_verifies(engine):
    _write_three(engine)
    with Session(engine) as s:
        rows = s.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert rows[0].prev_hash == audit.GENESIS
        assert rows[0].actor == "user:7" and rows[0].before == {"name": "旧"}
        assert {(r.scheme, r.key_id) for r in rows} == {(audit.KEYED, audit.current().key.key_id)}
        result = audit.verify(s)
    assert result.ok and result.checked == 3


def test_it_detects_an_edited_entry(engine):
    _write_three(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone else' WHERE id = 2"))
    with Session(engine) as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_at == 2 and "edited" in result.reason


def test_it_detects_a_deleted_entry(engine):
    _write_three(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    with Session(engine) as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_at == 3 and "removed" in result.reason
