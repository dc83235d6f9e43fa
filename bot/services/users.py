"""Users, invites and Telegram identities.

An invite is a one-time code for a (pre-created) user. It is redeemed either in Telegram (the first
``/start <code>`` binds the account) or on the web (``/join/<code>`` opened in any browser, WeChat's
included, signs that browser in: ``redeem_on_web``); only the code's SHA-256 is stored, codes expire and
are single-use, whichever way they are used. A user created by an invite is not active until the invite
is redeemed: before that they cannot sign in, act, or receive reminders. ``deactivate`` ends a user's
sessions at once and makes their unused invites useless; ``change_role`` moves a person to another role
or unit. Who may give which role is ``access.GRANTABLE``, checked beside the scope (``check_grant``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_
from bot.services import audit
from bot.services.access import GRANTABLE, ROLE_LEVELS, AccessDenied, require
from bot.storage.models import ROLES, Invite, OrgUnit, TelegramIdentity, User

INVITE_TTL = dt.timedelta(days=14)
MAX_CODE_LENGTH = 64
JOIN_PATH = "/join/"

MSG_ROLE_NOT_YOURS = N_("Your role cannot give this role to anyone.")
MSG_LEVEL = N_("This role belongs to another level: village roles to a village, a township leader to a township, "
               "county roles to the county.")
MSG_NOT_SELF = N_("You cannot change or deactivate your own account here; ask the county office.")
MSG_WEB_UNKNOWN = N_("This invite link is not valid. Open the link exactly as you received it, or ask your "
                     "township or county office for a new invite.")
MSG_WEB_USED = N_("This invite link has already been used and cannot sign in another device. If it was you, open "
                  "the pages where you used it and add this device with “Sign in on another device”; otherwise "
                  "ask your township or county office for a new invite.")
MSG_WEB_EXPIRED = N_("This invite link has expired. Ask your township or county office for a new invite.")


class InviteError(ValueError):
    """An invite cannot be used; ``msgid`` is translatable, ``kind`` is unknown, used or expired."""

    def __init__(self, msgid: str, kind: str = "") -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.kind = kind
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

    def web_link(self, public_url: str) -> str:
        """The address that opens the invite in any browser (``/join/<code>``)."""
        return join_link(public_url, self.code)


def join_link(public_url: str, code: str) -> str:
    """Return the web address of an invite code."""
    return f"{public_url.rstrip('/')}{JOIN_PATH}{code}"


def grantable_roles(actor_user: User) -> tuple[str, ...]:
    """Return the roles ``actor_user`` may give (invite to, change to), in the order of ``ROLES``."""
    if "user.invite" not in _permissions(actor_user):
        return ()
    return GRANTABLE.get(actor_user.role, ())


def _permissions(user: User) -> frozenset[str]:
    from bot.services.access import PERMISSIONS

    return PERMISSIONS.get(user.role, frozenset())


def check_grant(session: Session, actor_user: User, role: str, scope: OrgUnit, action: str = "user.invite") -> None:
    """Raise AccessDenied (readable messages) unless ``actor_user`` may give ``role`` over ``scope``."""
    require(session, actor_user, action, scope)
    if role not in grantable_roles(actor_user):
        raise AccessDenied(MSG_ROLE_NOT_YOURS)
    if scope.level not in ROLE_LEVELS.get(role, ()):
        raise AccessDenied(MSG_LEVEL)


def create_invite(session: Session, actor_user: User | None, *, scope: OrgUnit, role: str,
                  name: str | None = None, ttl: dt.timedelta = INVITE_TTL,
                  actor: audit.Actor | None = None) -> CreatedInvite:
    """Create a user with ``role`` over ``scope`` and a one-time invite code for them."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    if actor_user is not None:
        check_grant(session, actor_user, role, scope)
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


def _open_invite(session: Session, code: str, messages: dict[str, str]) -> Invite:
    """Return the usable invite of ``code`` or raise InviteError with ``messages[kind]``."""
    code = (code or "").strip()
    invite = None
    if 0 < len(code) <= MAX_CODE_LENGTH:
        invite = session.exec(select(Invite).where(Invite.code_hash == hash_code(code))).first()
    if invite is None:
        raise InviteError(messages["unknown"], "unknown")
    if invite.used_at is not None:
        raise InviteError(messages["used"], "used")
    if as_utc(invite.expires_at) <= utcnow():
        raise InviteError(messages["expired"], "expired")
    return invite


WEB_MESSAGES = {"unknown": MSG_WEB_UNKNOWN, "used": MSG_WEB_USED, "expired": MSG_WEB_EXPIRED}


def invite_on_web(session: Session, code: str) -> tuple[Invite, User]:
    """Return the invite of ``code`` and its person without using it (the page that asks to confirm)."""
    invite = _open_invite(session, code, WEB_MESSAGES)
    return invite, session.get(User, invite.user_id)


def used_by(session: Session, code: str) -> int | None:
    """Return the user id of an invite code already used (to recognise its owner's own browser), else None."""
    code = (code or "").strip()
    if not 0 < len(code) <= MAX_CODE_LENGTH:
        return None
    invite = session.exec(select(Invite).where(Invite.code_hash == hash_code(code))).first()
    return invite.user_id if invite is not None and invite.used_at is not None else None


def redeem_on_web(session: Session, code: str) -> User:
    """Use an invite in a browser: the person becomes active (joined) as by ``/start`` in Telegram.

    Refuses unknown, used and expired codes (``WEB_MESSAGES``); the claim is a compare-and-set, so two
    browsers opening the same link at once cannot both sign in. The caller opens the web session.
    """
    invite = _open_invite(session, code, WEB_MESSAGES)
    now = utcnow()
    claimed = session.execute(update(Invite).where(Invite.id == invite.id, Invite.used_at.is_(None))
                              .values(used_at=now)).rowcount
    if claimed != 1:
        raise InviteError(MSG_WEB_USED, "used")
    user = session.get(User, invite.user_id)
    actor = audit.Actor(user.id, f"web:{user.id}")
    if not user.active:
        user.active = True
        session.add(user)
        audit.record(session, actor, "user.activate", "app_user", user.id, {"active": False},
                     {"active": True, "invite_id": invite.id, "channel": "web"})
    audit.record(session, actor, "invite.redeem", "invite", invite.id, None, {"user_id": user.id, "channel": "web"})
    session.flush()
    return user


def change_role(session: Session, actor_user: User | None, user: User, *, role: str, scope: OrgUnit,
                actor: audit.Actor | None = None) -> bool:
    """Give ``user`` another role or unit (audited); return whether anything changed.

    ``actor_user`` must be allowed to manage the person where they are now and to give ``role`` over
    ``scope`` (None: the command line). Nobody changes their own account here.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if actor_user is not None:
        check_manage(session, actor_user, user)
        check_grant(session, actor_user, role, scope, "user.manage")
    elif scope.level not in ROLE_LEVELS[role]:
        raise AccessDenied(MSG_LEVEL)
    if user.role == role and user.org_unit_id == scope.id:
        return False
    before = {"role": user.role, "org_unit_id": user.org_unit_id}
    user.role, user.org_unit_id = role, scope.id
    session.add(user)
    session.flush()
    actor = actor or audit.Actor(actor_user.id if actor_user else None,
                                 f"user:{actor_user.id}" if actor_user else "cli")
    audit.record(session, actor, "user.change", "app_user", user.id, before, {"role": role, "org_unit_id": scope.id})
    return True


def check_manage(session: Session, actor_user: User, user: User) -> None:
    """Raise AccessDenied unless ``actor_user`` may manage ``user`` where they are now (not themself)."""
    scope = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id is not None else None
    if scope is None and actor_user.role != "admin":
        raise AccessDenied(N_("This is outside your area."))
    require(session, actor_user, "user.manage", scope)
    if user.role not in grantable_roles(actor_user):
        raise AccessDenied(MSG_ROLE_NOT_YOURS)
    if actor_user.id == user.id:
        raise AccessDenied(MSG_NOT_SELF)


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

    ``actor_user`` needs ``user.manage`` over the user's unit and may only deactivate the roles they may give
    (None: the command line). Returns the number of sessions ended.
    """
    from bot.services import sessions

    if actor_user is not None:
        check_manage(session, actor_user, user)
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
