"""WeCom members bound to users: by an invite code sent to the app, or by the UserId an officer recorded.

A person's WeCom ``UserId`` is the route of their personal ``wecom_app`` messages (reminders,
escalations, alerts: ``bot.services.notices``, the planner's facts and the outbox ask ``members``).
An officer may record it instead (``record``): the officer vouches for the person as when handing
over an invite, so the user is made active and is reachable at once; the account counts as bound
(``bound_at``) the first time they write to the app, since WeCom itself vouches for the UserId of
whoever writes. Every change is audited.
"""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.i18n import N_, UserError
from bot.services import audit
from bot.services.access import require
from bot.services.users import hash_code
from bot.storage.models import Invite, OrgUnit, User
from bot.storage.models_wecom import WeComIdentity

USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # WeCom's UserId: letters, digits, _ - . @, at most 64
MSG_BAD_USERID = N_("A WeCom account id has 1 to 64 letters, digits or the signs _ - . @")
MSG_TAKEN = N_("This WeCom account is already linked to {name}.")


class WeComBindError(UserError, ValueError):
    """Binding refused; ``msgid`` is translatable."""


def members(session: Session, user_ids: list[int]) -> dict[int, str]:
    """Return {user id: WeCom UserId} of the given users whose WeCom route is reachable."""
    if not user_ids:
        return {}
    rows = session.exec(select(WeComIdentity).where(col(WeComIdentity.user_id).in_(user_ids),
                                                    col(WeComIdentity.reachable).is_(True))).all()
    return {row.user_id: row.userid for row in rows}


def identity_of(session: Session, userid: str) -> WeComIdentity | None:
    """Return the identity of a WeCom member, if any."""
    return session.exec(select(WeComIdentity).where(WeComIdentity.userid == userid)).first()


def _actor(user_id: int, userid: str) -> audit.Actor:
    return audit.Actor(user_id, f"wecom:{userid}")


def _activate(session: Session, user: User, actor: audit.Actor, how: dict) -> None:
    if not user.active:
        user.active = True
        session.add(user)
        audit.record(session, actor, "user.activate", "app_user", user.id, {"active": False}, {"active": True, **how})


def _attach(session: Session, user: User, userid: str, actor: audit.Actor, how: dict, *,
            bound: bool) -> WeComIdentity:
    """Point ``userid`` at ``user`` (moving it from another user, or the user's old UserId away), audited."""
    now = utcnow()
    mine = session.exec(select(WeComIdentity).where(WeComIdentity.user_id == user.id)).first()
    theirs = identity_of(session, userid)
    before = None
    if theirs is not None and theirs is not mine:
        before = {"user_id": theirs.user_id}
        session.delete(theirs)
        session.flush()
    if mine is None:
        mine = WeComIdentity(userid=userid, user_id=user.id, recorded_at=now)
    elif mine.userid != userid:
        before = {**(before or {}), "userid": mine.userid}
    mine.userid, mine.reachable, mine.active_report_id, mine.follow_up = userid, True, None, None
    mine.bound_at = now if bound else None
    session.add(mine)
    session.flush()
    audit.record(session, actor, "wecom.bind" if bound else "wecom.record", "wecom_identity", mine.id, before,
                 {"user_id": user.id, "userid": userid, **how})
    return mine


def bind_by_invite(session: Session, code: str, userid: str) -> User:
    """Bind the WeCom member to the invite's user (the code is used up, as in Telegram); refuse unknown,
    used and expired codes with the same messages."""
    invite = session.exec(select(Invite).where(Invite.code_hash == hash_code(code.strip()))).first()
    if invite is None:
        raise WeComBindError(N_("This invite code is not valid. Ask your township for a new one."))
    if invite.used_at is not None:
        raise WeComBindError(N_("This invite code has already been used. Ask your township for a new one."))
    now = utcnow()
    if invite.expires_at <= now:
        raise WeComBindError(N_("This invite code has expired. Ask your township for a new one."))
    claimed = session.execute(update(Invite).where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
                              .values(used_at=now)).rowcount
    if claimed != 1:
        raise WeComBindError(N_("This invite code has already been used. Ask your township for a new one."))
    user = session.get(User, invite.user_id)
    actor = _actor(user.id, userid)
    _activate(session, user, actor, {"invite_id": invite.id})
    _attach(session, user, userid, actor, {"invite_id": invite.id}, bound=True)
    return user


def first_contact(session: Session, identity: WeComIdentity) -> User:
    """The member of a recorded UserId wrote to the app: bind it and make the user active (audited)."""
    user = session.get(User, identity.user_id)
    actor = _actor(user.id, identity.userid)
    _activate(session, user, actor, {"wecom_userid": identity.userid})
    identity.bound_at = utcnow()
    identity.reachable = True
    session.add(identity)
    audit.record(session, actor, "wecom.bind", "wecom_identity", identity.id, {"bound_at": None},
                 {"user_id": user.id, "userid": identity.userid, "matched": "recorded"})
    return user


def record(session: Session, actor_user: User | None, user: User, userid: str) -> WeComIdentity:
    """An officer records the WeCom UserId of a person in their area (``actor_user`` None: the command line)."""
    userid = userid.strip()
    if not USERID.fullmatch(userid):
        raise WeComBindError(MSG_BAD_USERID)
    if actor_user is not None:
        require(session, actor_user, "user.invite", session.get(OrgUnit, user.org_unit_id))
    taken = identity_of(session, userid)
    if taken is not None and taken.user_id != user.id:
        raise WeComBindError(MSG_TAKEN, name=session.get(User, taken.user_id).name)
    actor = audit.Actor(actor_user.id if actor_user else None, f"user:{actor_user.id}" if actor_user else "cli")
    _activate(session, user, actor, {"wecom_userid": userid})  # the officer vouches, as handing over an invite
    return _attach(session, user, userid, actor, {"recorded": True}, bound=False)
