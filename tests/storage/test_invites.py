"""Invite codes: single use, expiry, wrong codes, rebinding a Telegram account; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlmodel import Session, select

from bot.clock import UTC
from bot.services.users import INVITE_TTL, InviteError, create_invite, redeem_invite, user_for_telegram
from bot.storage.models import AuditEntry, Invite, TelegramIdentity
from tests.factories import make_tree

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _invite(session: Session, role: str = "village_cadre", name: str = "李书记"):
    tree = make_tree(session)
    scope = tree.village_a1 if role.startswith("village") else tree.township_a
    return create_invite(session, None, scope=scope, role=role, name=name)


def test_a_code_binds_the_telegram_account_once(engine):
    with Session(engine) as s:
        created = _invite(s)
        assert created.user.active is False  # invited: can do nothing until the invite is redeemed
        user = redeem_invite(s, created.code, telegram_user_id=5_000_000_001, chat_id=5_000_000_001, username="li")
        s.commit()
        assert user.id == created.user.id and user.active
        assert user_for_telegram(s, 5_000_000_001).name == "李书记"
        invite = s.exec(select(Invite)).one()
        assert invite.used_at is not None and invite.used_by_telegram_id == 5_000_000_001
        assert invite.code_hash != created.code  # only the hash is stored
        assert s.exec(select(AuditEntry.action).order_by(AuditEntry.id.desc())).all()[:2] == [
            "telegram.bind", "user.activate"]


def test_a_second_use_is_refused_and_changes_nothing(engine):
    with Session(engine) as s:
        created = _invite(s)
        redeem_invite(s, created.code, telegram_user_id=101, chat_id=101)
        s.commit()
        with pytest.raises(InviteError) as caught:
            redeem_invite(s, created.code, telegram_user_id=202, chat_id=202)
        assert "already been used" in caught.value.msgid
        s.rollback()
        assert user_for_telegram(s, 202) is None
        assert s.exec(select(Invite.used_by_telegram_id)).one() == 101


def test_an_expired_code_is_refused(engine):
    with time_machine.travel(START, tick=False):
        with Session(engine) as s:
            code = _invite(s).code
            s.commit()
    with time_machine.travel(START + INVITE_TTL - dt.timedelta(seconds=1), tick=False):
        with Session(engine) as s:
            # still valid one second before expiry: checked without committing the use
            assert redeem_invite(s, code, telegram_user_id=303, chat_id=303).name == "李书记"
            s.rollback()
    with time_machine.travel(START + INVITE_TTL, tick=False):
        with Session(engine) as s:
            with pytest.raises(InviteError) as caught:
                redeem_invite(s, code, telegram_user_id=303, chat_id=303)
            assert "expired" in caught.value.msgid
            s.rollback()
            assert s.exec(select(TelegramIdentity)).all() == []


WRONG_CODES = {
    "truncated": lambda code: code[:-1],
    "other case": lambda code: code.swapcase(),
    "empty": lambda code: "",
    "made up": lambda code: "not-a-code",
}


@pytest.mark.parametrize("mangle", WRONG_CODES.values(), ids=WRONG_CODES.keys())
def test_a_wrong_code_is_refused(engine, mangle):
    with Session(engine) as s:
        created = _invite(s)
        s.commit()
        with pytest.raises(InviteError) as caught:
            redeem_invite(s, mangle(created.code), telegram_user_id=404, chat_id=404)
        assert "not valid" in caught.value.msgid
        assert s.exec(select(TelegramIdentity)).all() == []


def test_surrounding_spaces_do_not_spoil_a_code(engine):
    with Session(engine) as s:
        created = _invite(s)
        assert redeem_invite(s, f"  {created.code}\n", telegram_user_id=505, chat_id=505).id == created.user.id


def test_the_same_telegram_account_can_be_rebound_to_a_new_user(engine):
    with Session(engine) as s:
        tree = make_tree(s)
        first = create_invite(s, None, scope=tree.village_a1, role="village_cadre", name="王书记")
        second = create_invite(s, None, scope=tree.township_a, role="township_leader", name="王镇长")
        redeem_invite(s, first.code, telegram_user_id=606, chat_id=606)
        s.commit()
        redeem_invite(s, second.code, telegram_user_id=606, chat_id=6060, username="wang")
        s.commit()
        identities = s.exec(select(TelegramIdentity)).all()
        assert [(i.user_id, i.chat_id, i.username) for i in identities] == [(second.user.id, 6060, "wang")]
        assert user_for_telegram(s, 606).role == "township_leader"
        last = s.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last.before == {"user_id": first.user.id}
        assert last.after["user_id"] == second.user.id


def test_an_inactive_user_is_not_found_by_telegram(engine):
    with Session(engine) as s:
        created = _invite(s)
        user = redeem_invite(s, created.code, telegram_user_id=707, chat_id=707)
        user.active = False
        s.add(user)
        s.commit()
        assert user_for_telegram(s, 707) is None
