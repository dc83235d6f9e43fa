"""Who cannot be reached: people invited who never joined, and a fresh invite for them.

Reminders and digests go to people through the channels they bound (Telegram today). A person
who was invited but never redeemed the invite receives nothing: the scheduler plans their messages
with the channel ``none`` (``schedule preview`` shows them, digests name them), and the township
and the county see them here, each with a button to re-issue the invite (the old code stops working).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_, UserError
from bot.policy.profile import ROLE_LEVEL
from bot.services import audit
from bot.services.access import AccessDenied, require, scope_filter
from bot.services.users import INVITE_TTL, CreatedInvite, hash_code
from bot.storage.models import Invite, OrgUnit, TelegramIdentity, User
from bot.storage.models_wecom import WeComIdentity

ROLE_LABELS = {
    "village_cadre": N_("Village cadre"), "village_supervisor": N_("Village supervisor"),
    "township_leader": N_("Township leader"), "department_officer": N_("Department officer"),
    "county_officer": N_("County officer"), "admin": N_("Administrator"),
}
MSG_JOINED = N_("{name} has already joined; there is nothing to re-issue.")
MSG_OUTSIDE = N_("This is outside your area.")


class ReachError(UserError):
    """A re-issue refused for a reason the person can fix."""


@dataclass(frozen=True)
class Waiting:
    """A person who has not joined: their unit, and until when their current invite is valid (None: expired)."""

    user: User
    unit: OrgUnit
    invited_at: dt.datetime
    invite_valid_until: dt.datetime | None


def waiting():
    """Return the SQL condition of a person who has not joined: a role that receives messages, no
    Telegram account bound and no WeCom account (bound or recorded), and either active or invited and
    never redeemed (someone deactivated is not someone to chase). The scheduler's preview and digests
    and the /people/waiting page ask this."""
    invited = select(Invite.user_id)
    redeemed = select(Invite.user_id).where(col(Invite.used_at).is_not(None))
    return (col(User.role).in_(list(ROLE_LEVEL)) & col(User.id).not_in(select(TelegramIdentity.user_id))
            & col(User.id).not_in(select(WeComIdentity.user_id))  # bound, or recorded by an officer, in WeCom
            & (col(User.active).is_(True) | (col(User.id).in_(invited) & col(User.id).not_in(redeemed))))


def not_joined(session: Session, viewer: User) -> list[Waiting]:
    """Return the people in the viewer's area who were invited and never joined, by unit and name."""
    require(session, viewer, "user.reinvite")
    now = utcnow()
    rows = session.exec(select(User, OrgUnit).join(OrgUnit, OrgUnit.id == User.org_unit_id).where(
        scope_filter(session, viewer), waiting(), User.id != viewer.id)
        .order_by(OrgUnit.path, User.name, User.id)).all()
    invites: dict[int, list[Invite]] = {}
    if rows:
        for invite in session.exec(select(Invite).where(col(Invite.user_id).in_([u.id for u, _ in rows]))).all():
            invites.setdefault(invite.user_id, []).append(invite)
    found = []
    for user, unit in rows:
        mine = invites.get(user.id, [])
        open_until = max((as_utc(i.expires_at) for i in mine if i.used_at is None and as_utc(i.expires_at) > now),
                         default=None)
        invited = min((as_utc(i.created_at) for i in mine), default=as_utc(user.created_at))
        found.append(Waiting(user, unit, invited, open_until))
    return found


def reissue(session: Session, viewer: User | None, user_id: int, *, actor: audit.Actor | None = None,
            ttl: dt.timedelta = INVITE_TTL) -> CreatedInvite:
    """Give a person who has not joined a new invite code; earlier open codes stop working (audited).

    ``viewer`` None is the command line (the county's office on the server).
    """
    user = session.get(User, user_id) if 0 < user_id < 2 ** 31 else None
    unit = session.get(OrgUnit, user.org_unit_id) if user is not None and user.org_unit_id else None
    if user is None or unit is None:
        raise AccessDenied(MSG_OUTSIDE)
    if viewer is not None:
        require(session, viewer, "user.reinvite", unit)
    if session.exec(select(TelegramIdentity.id).where(TelegramIdentity.user_id == user.id)).first() is not None:
        raise ReachError(MSG_JOINED, name=user.name)
    now = utcnow()
    session.execute(update(Invite).where(Invite.user_id == user.id, Invite.used_at.is_(None),
                                         Invite.expires_at > now).values(expires_at=now))
    code = secrets.token_urlsafe(12)
    invite = Invite(code_hash=hash_code(code), user_id=user.id, expires_at=now + ttl, created_at=now)
    session.add(invite)
    session.flush()
    actor = actor or audit.Actor(viewer.id if viewer else None, f"user:{viewer.id}" if viewer else "cli")
    audit.record(session, actor, "user.reinvite", "app_user", user.id, None,
                 {"invite_id": invite.id, "expires_at": invite.expires_at})
    return CreatedInvite(user, code, invite.expires_at)
