"""Users, invites and Telegram identities.

An invite is a one-time code that binds a Telegram account to a (pre-created) user on
the first ``/start <code>``; only the code's SHA-256 is stored, codes expire and are single-use.
A user created by an invite is not active until the invite is redeemed: before that they cannot sign
in (web links, Mini App), act, or receive reminders. ``deactivate`` ends a user's sessions at once and
makes their unused invites useless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.i18n import N_
from bot.services import audit
from bot.services.access import ROLE_LEVELS, AccessDenied, require
from bot.storage.models import ROLES, Invite, OrgUnit, TelegramIdentity, User

INVITE_TTL = dt.timedelta(days=14)


class InviteError(ValueError):
    """An invite cannot be used; ``msgid`` is translatable."""

    def __init__(self, msgid: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params: dict = {}


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode("utf-8")).hexdigest()


@dataclass
class CreatedInvite:
    user: User
    code: str
    expires_at: dt.datetime

    def deep_link(self, bot_username: str) -> str:
        return f"https://t.me/{bot_username}?start={self.code}"


def create_invite(session: Session, actor_user: User | None, *, scope: OrgUnit, role: str,
                  name: str | None = None, ttl: dt.timedelta = INVITE_TTL,
                  actor: audit.Actor | None = None) -> CreatedInvite:
    """Create a user with ``role`` over ``scope`` and a one-time invite code for them."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    if scope.level not in ROLE_LEVELS[role]:
        raise AccessDenied(N_("The role {role} is scoped to a {levels}, not a {level}."),
                           role=role, levels="/".join(sorted(ROLE_LEVELS[role])), level=scope.level)
    if actor_user is not None:
        require(session, actor_user, "user.invite", scope)
    actor = actor or audit.Actor(actor_user.id if actor_user else None,
                                 f"user:{actor_user.id}" if actor_user else "cli")
    user = User(name=name or f"{scope.name} {role}", role=role, org_unit_id=scope.id, active=False)
    session.add(user)
    session.flush()
    code = secrets.token_urlsafe(12)
    expires = utcnow() + ttl
    invite = Invite(code_hash=hash_code(code), user_id=user.id, expires_at=expires)
    session.add(invite)
    session.flush()
    audit.record(session, actor, "user.invite", "app_user", user.id, None,
                 {"role": role, "org_unit_id": scope.id, "name": user.name, "invite_id": invite.id,
                  "expires_at": expires})
    return CreatedInvite(user, code, expires)


def redeem_invite(session: Session, code: str, *, telegram_user_id: int, chat_id: int,
                  username: str | None = None) -> User:
    """Bind the Telegram account to the invite's user; refuse unknown, used and expired codes."""
    invite = session.exec(select(Invite).where(Invite.code_hash == hash_code(code))).first()
    if invite is None:
        raise InviteError(N_("This invite code is not valid. Ask your township for a new one."))
    if invite.used_at is not None:
        raise InviteError(N_("This invite code has already been used. Ask your township for a new one."))
    now = utcnow()
    if invite.expires_at <= now:
        raise InviteError(N_("This invite code has expired. Ask your township for a new one."))
    # Compare-and-set: only one concurrent /start can claim the code.
    claimed = session.execute(
        update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=now, used_by_telegram_id=telegram_user_id)
    ).rowcount
    if claimed != 1:
        raise InviteError(N_("This invite code has already been used. Ask your township for a new one."))
    user = session.get(User, invite.user_id)
    activated = not user.active
    if activated:
        user.active = True
        session.add(user)
        audit.record(session, audit.Actor(invite.user_id, f"telegram:{telegram_user_id}"), "user.activate",
                     "app_user", user.id, {"active": False}, {"active": True, "invite_id": invite.id})
    identity = session.exec(select(TelegramIdentity).where(
        TelegramIdentity.telegram_user_id == telegram_user_id)).first()
    before = None
    if identity is None:
        identity = TelegramIdentity(telegram_user_id=telegram_user_id, chat_id=chat_id, user_id=invite.user_id,
                                    username=username)
    else:
        before = {"user_id": identity.user_id}
        identity.user_id, identity.chat_id, identity.username = invite.user_id, chat_id, username
        identity.active_report_id = None
    session.add(identity)
    session.flush()
    audit.record(session, audit.Actor(invite.user_id, f"telegram:{telegram_user_id}"), "telegram.bind",
                 "telegram_identity", identity.id, before, {"user_id": invite.user_id, "invite_id": invite.id})
    return user


def activate_for_demo(session: Session, user: User) -> bool:
    """Make a demo user active without an invite (the demo's web sign-in links); return whether it changed.

    Only the demo county uses this: everywhere else a person becomes active by redeeming the invite.
    """
    if user.active:
        return False
    user.active = True
    session.add(user)
    audit.record(session, audit.Actor(None, "demo"), "user.activate", "app_user", user.id, {"active": False},
                 {"active": True, "reason": "demo"})
    return True


def deactivate(session: Session, actor_user: User | None, user: User, *, actor: audit.Actor | None = None) -> int:
    """Make ``user`` inactive: their web sessions end at once and their unused invites expire.

    ``actor_user`` needs ``user.invite`` over the user's unit (None: the command line). Returns the number
    of sessions ended.
    """
    from bot.services import sessions

    scope = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id is not None else None
    if actor_user is not None:
        require(session, actor_user, "user.invite", scope)
    actor = actor or audit.Actor(actor_user.id if actor_user else None,
                                 f"user:{actor_user.id}" if actor_user else "cli")
    now = utcnow()
    before = {"active": user.active}
    user.active = False
    session.add(user)
    session.execute(update(Invite).where(Invite.user_id == user.id, Invite.used_at.is_(None),
                                         Invite.expires_at > now).values(expires_at=now))
    session.flush()
    audit.record(session, actor, "user.deactivate", "app_user", user.id, before, {"active": False})
    return sessions.revoke_all(session, user.id, actor=actor, now=now)


def user_for_telegram(session: Session, telegram_user_id: int) -> User | None:
    """Return the active user bound to this Telegram account, if any."""
    identity = session.exec(select(TelegramIdentity).where(
        TelegramIdentity.telegram_user_id == telegram_user_id)).first()
    if identity is None:
        return None
    user = session.get(User, identity.user_id)
    return user if user and user.active else None


def telegram_chats(session: Session, user_ids: list[int]) -> dict[int, int]:
    """Return {user id: chat id} for the users bound to Telegram and reachable."""
    if not user_ids:
        return {}
    rows = session.exec(select(TelegramIdentity).where(TelegramIdentity.user_id.in_(user_ids),
                                                       TelegramIdentity.reachable.is_(True))).all()
    return {r.user_id: r.chat_id for r in rows}


def set_locale(session: Session, user: User, locale: str) -> None:
    """Store the user's interface language (audited)."""
    before = {"locale": user.locale}
    user.locale = locale
    session.add(user)
    audit.record(session, audit.Actor(user.id, f"user:{user.id}"), "user.locale", "app_user", user.id,
                 before, {"locale": locale})


def leaders_of(session: Session, unit: OrgUnit, role: str = "township_leader") -> list[User]:
    """Return the active users with ``role`` scoped to an ancestor (or to ``unit`` itself)."""
    ancestor_ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    return list(session.exec(select(User).where(User.role == role, User.active.is_(True),
                                                User.org_unit_id.in_(ancestor_ids))).all())
