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
from bot.services.users import INVITE_TTL, CreatedInvite, check_manage, hash_code
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
            ttl: dt.timedelta = INVITE_TTL, even_if_joined: bool = False) -> CreatedInvite:
    """Give a person who has not joined a new invite code; earlier open codes stop working (audited).

    ``viewer`` None is the command line (the county's office on the server). ``even_if_joined``: also
    someone who joined (a lost phone, a new device, a deactivated person coming back; the invite opens on
    the web or in Telegram) — then the viewer must be allowed to manage the person (``users.check_manage``).
    """
    user = session.get(User, user_id) if 0 < user_id < 2 ** 31 else None
    unit = session.get(OrgUnit, user.org_unit_id) if user is not None and user.org_unit_id else None
    if user is None or unit is None:
        raise AccessDenied(MSG_OUTSIDE)
    if viewer is not None:
        require(session, viewer, "user.reinvite", unit)
        if even_if_joined:
            check_manage(session, viewer, user)
    if not even_if_joined and session.exec(select(TelegramIdentity.id).where(TelegramIdentity.user_id == user.id)).first() is not None:
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


# --- the people of an area: who has joined, and how each can be reached ------------------------------

STATUS_LABELS = {"joined": N_("Joined"), "invited": N_("Not joined yet"), "deactivated": N_("Deactivated")}
GROUP_LABELS = {"wecom": N_("WeCom group"), "dingtalk": N_("DingTalk group")}
_STATUS_ACTIONS = ("user.invite", "user.reinvite", "user.deactivate", "user.activate")


@dataclass(frozen=True)
class Group:
    """A township's group robot a person's messages may also reach (WeCom or DingTalk)."""

    kind: str
    name: str
    reachable: bool


@dataclass(frozen=True)
class Person:
    """A person of the viewer's area: whether they joined, and their channels.

    ``status`` is ``joined`` (active), ``invited`` (not yet redeemed) or ``deactivated``; ``telegram`` whether a
    Telegram account is bound (``telegram_reachable``: and messages still reach it); ``web_sessions`` the
    browsers signed in; ``groups`` the group robots of their township; ``invite_valid_until`` the end of
    their open invite, if any; ``wecom`` their WeCom app account (recorded or bound), if any.
    """

    user: User
    unit: OrgUnit
    status: str
    telegram: bool
    telegram_reachable: bool
    web_sessions: int
    groups: tuple[Group, ...]
    invite_valid_until: dt.datetime | None
    wecom: WeComIdentity | None = None


def people(session: Session, viewer: User, *, status: str | None = None, role: str | None = None,
           unit_id: int | None = None, query: str | None = None, user_id: int | None = None) -> list[Person]:
    """Return the people of the viewer's area (filtered), by unit and name, with their channels."""
    from bot.services.sessions import MAX_AGE
    from bot.storage.models import AuditEntry, WebSession
    from bot.storage.models_schedule import ChannelRoute

    require(session, viewer, "user.reinvite")
    statement = select(User, OrgUnit).join(OrgUnit, OrgUnit.id == User.org_unit_id).where(
        scope_filter(session, viewer))
    if role:
        statement = statement.where(User.role == role)
    if unit_id:
        unit = session.get(OrgUnit, unit_id) if 0 < unit_id < 2 ** 31 else None
        statement = statement.where(col(OrgUnit.path).startswith(unit.path if unit else "/nothing/"))
    if query:
        statement = statement.where(col(User.name).contains(query.strip()[:100], autoescape=True))
    if user_id is not None:
        statement = statement.where(User.id == user_id)
    rows = session.exec(statement.order_by(OrgUnit.path, User.name, User.id)).all()
    if not rows:
        return []
    ids = [u.id for u, _ in rows]
    now = utcnow()
    invites: dict[int, list[Invite]] = {}
    for invite in session.exec(select(Invite).where(col(Invite.user_id).in_(ids))).all():
        invites.setdefault(invite.user_id, []).append(invite)
    telegram = {i.user_id: i.reachable for i in session.exec(
        select(TelegramIdentity).where(col(TelegramIdentity.user_id).in_(ids))).all()}
    wecom = {i.user_id: i for i in session.exec(select(WeComIdentity).where(col(WeComIdentity.user_id).in_(ids))).all()}
    live: dict[int, int] = {}
    for web in session.exec(select(WebSession).where(col(WebSession.user_id).in_(ids),
                                                    col(WebSession.revoked_at).is_(None),
                                                    WebSession.expires_at > now)).all():
        if as_utc(web.created_at) + MAX_AGE > now:
            live[web.user_id] = live.get(web.user_id, 0) + 1
    last_action: dict[int, str] = {}
    for entry in session.exec(select(AuditEntry).where(
            AuditEntry.entity == "app_user", col(AuditEntry.action).in_(_STATUS_ACTIONS),
            col(AuditEntry.entity_id).in_([str(i) for i in ids])).order_by(AuditEntry.id)).all():
        last_action[int(entry.entity_id)] = entry.action
    townships = {unit.id: _township_id(unit) for _, unit in rows}
    groups: dict[int, list[Group]] = {}
    wanted = {t for t in townships.values() if t is not None}
    if wanted:
        for route in session.exec(select(ChannelRoute).where(col(ChannelRoute.org_unit_id).in_(wanted))
                                  .order_by(ChannelRoute.id)).all():
            groups.setdefault(route.org_unit_id, []).append(Group(route.kind, route.name, route.reachable))
    found = []
    for user, unit in rows:
        if user.active:
            state = "joined"
        elif last_action.get(user.id) == "user.deactivate":
            state = "deactivated"
        else:
            state = "invited"
        if status and state != status:
            continue
        open_until = max((as_utc(i.expires_at) for i in invites.get(user.id, ())
                          if i.used_at is None and as_utc(i.expires_at) > now), default=None)
        township = townships[unit.id]
        found.append(Person(user, unit, state, user.id in telegram, bool(telegram.get(user.id)),
                            live.get(user.id, 0), tuple(groups.get(township, ())) if township else (),
                            open_until, wecom.get(user.id)))
    return found


def person(session: Session, viewer: User, user_id: int) -> Person:
    """Return one person of the viewer's area; someone elsewhere and an unknown id are refused alike."""
    found = people(session, viewer, user_id=user_id) if 0 < user_id < 2 ** 31 else []
    if not found:
        raise AccessDenied(MSG_OUTSIDE)
    return found[0]


def _township_id(unit: OrgUnit) -> int | None:
    """The township of a unit: itself, or a village's parent; None for a county."""
    if unit.level == "township":
        return unit.id
    if unit.level == "village":
        return unit.parent_id
    return None


def units_for(session: Session, viewer: User) -> list[OrgUnit]:
    """Return the units of the viewer's area (their own and below), by path: where people may be placed."""
    return list(session.exec(select(OrgUnit).where(scope_filter(session, viewer)).order_by(OrgUnit.path)).all())
