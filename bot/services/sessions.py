"""Web sessions as server-side records: random ids, revocable, listed per person.

- ``open_session`` makes a random id (``secrets.token_urlsafe(32)``, 256 bits) for a signed-in browser;
  the cookie carries that id and the database keeps only its SHA-256 (``WebSession``), with how it was
  opened, the browser's user agent, when it was created and last seen.
- ``user_for`` finds the session of a cookie: unknown, revoked and expired ids, and ids of users who are
  not active (deactivated, or invited but not yet redeemed) are refused. A session ends after
  ``IDLE_TIMEOUT`` (30 days) without use, and at the latest ``MAX_AGE`` (90 days) after sign-in; every use
  moves the idle end forward (written at most every ``TOUCH_EVERY``, not on every request).
- ``list_for`` lists a person's own live sessions; ``revoke`` ends one of them (only the owner's),
  ``revoke_all`` every session of a user (sign out everywhere, or deactivation). Revocation takes effect
  at the next request: the record decides, not the cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_
from bot.services import audit
from bot.storage.models import User, WebSession

IDLE_TIMEOUT = dt.timedelta(days=30)
MAX_AGE = dt.timedelta(days=90)
TOUCH_EVERY = dt.timedelta(minutes=5)
MAX_TOKEN_LENGTH = 128
USER_AGENT_LENGTH = 300

MSG_NO_SUCH_SESSION = N_("This sign-in does not exist or has already ended.")


class SessionError(LookupError):
    """A session cannot be acted on; ``msgid`` is translatable."""

    def __init__(self, msgid: str) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params: dict = {}


def token_hash(token: str) -> str:
    """Return the SHA-256 stored for a session id."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _actor(user: User, via: str = "web") -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}" if via == "web" else f"{via}:{user.id}")


def open_session(session: Session, user: User, *, via: str = "link", user_agent: str | None = None,
                 now: dt.datetime | None = None) -> str:
    """Store a new session for ``user`` and return its random id for the cookie (flushes, no commit)."""
    if not user.active:
        raise SessionError(MSG_NO_SUCH_SESSION)
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = WebSession(token_hash=token_hash(token), user_id=user.id, via=via[:16],
                     user_agent=(user_agent or "")[:USER_AGENT_LENGTH], created_at=now, last_seen_at=now,
                     expires_at=now + IDLE_TIMEOUT)
    session.add(row)
    session.flush()
    audit.record(session, _actor(user), "session.open", "web_session", row.id, None,
                 {"user_id": user.id, "via": row.via, "user_agent": row.user_agent})
    return token


def _live(row: WebSession, now: dt.datetime) -> bool:
    return (row.revoked_at is None and as_utc(row.expires_at) > now
            and as_utc(row.created_at) + MAX_AGE > now)


def find(session: Session, token: str | None, *, now: dt.datetime | None = None) -> WebSession | None:
    """Return the live session of a cookie value whose user is active, else None.

    Extends the idle end when the last extension is older than TOUCH_EVERY, and then commits: call it
    first in a request, before any change of the request's own.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.exec(select(WebSession).where(WebSession.token_hash == token_hash(token))).first()
    now = now or utcnow()
    if row is None or not _live(row, now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - as_utc(row.last_seen_at) >= TOUCH_EVERY:
        # Only if it was not revoked meanwhile; a revocation is never undone by a late touch.
        session.execute(update(WebSession).where(WebSession.id == row.id, col(WebSession.revoked_at).is_(None))
                        .values(last_seen_at=now, expires_at=now + IDLE_TIMEOUT))
        session.commit()
        session.refresh(row)
    return row


def user_for(session: Session, token: str | None, *, now: dt.datetime | None = None) -> User | None:
    """Return the active user signed in by this cookie value, or None."""
    row = find(session, token, now=now)
    return session.get(User, row.user_id) if row is not None else None


def list_for(session: Session, user: User, *, now: dt.datetime | None = None) -> list[WebSession]:
    """Return the person's own live sessions, the most recently used first."""
    now = now or utcnow()
    rows = session.exec(select(WebSession).where(WebSession.user_id == user.id,
                                                 col(WebSession.revoked_at).is_(None),
                                                 WebSession.expires_at > now)
                        .order_by(col(WebSession.last_seen_at).desc(), col(WebSession.id).desc())).all()
    return [r for r in rows if _live(r, now)]


def revoke(session: Session, user: User, session_id: int, *, now: dt.datetime | None = None) -> WebSession:
    """End one of ``user``'s own sessions; another person's or an unknown id is refused alike."""
    row = session.get(WebSession, session_id)
    now = now or utcnow()
    if row is None or row.user_id != user.id or not _live(row, now):
        raise SessionError(MSG_NO_SUCH_SESSION)
    row.revoked_at = now
    session.add(row)
    session.flush()
    audit.record(session, _actor(user), "session.revoke", "web_session", row.id, None,
                 {"user_id": user.id})
    return row


def revoke_all(session: Session, user_id: int, *, actor: audit.Actor, except_id: int | None = None,
               now: dt.datetime | None = None) -> int:
    """End every live session of ``user_id`` (but ``except_id``); return how many were ended."""
    now = now or utcnow()
    query = update(WebSession).where(WebSession.user_id == user_id, col(WebSession.revoked_at).is_(None),
                                     WebSession.expires_at > now)
    if except_id is not None:
        query = query.where(WebSession.id != except_id)
    ended = session.execute(query.values(revoked_at=now)).rowcount or 0
    if ended:
        audit.record(session, actor, "session.revoke_all", "app_user", user_id, None,
                     {"ended": ended, "kept": except_id})
    return ended


# --- how a session is shown ----------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """A readable summary of a user agent: the system and the app or browser (English msgids)."""

    system: str
    app: str


_SYSTEMS = ((r"iPhone|iPad|iOS", N_("iPhone/iPad")), (r"HarmonyOS|OpenHarmony", N_("HarmonyOS phone")),
            (r"Android", N_("Android phone")), (r"Windows", N_("Windows computer")),
            (r"Macintosh|Mac OS X", N_("Mac computer")), (r"Linux|X11|CrOS", N_("Linux computer")))
_APPS = ((r"MicroMessenger", N_("WeChat")), (r"Telegram", N_("Telegram")), (r"Edg/|EdgA/|EdgiOS/", N_("Edge")),
         (r"UCBrowser", N_("UC Browser")), (r"QQBrowser|MQQBrowser", N_("QQ Browser")),
         (r"HuaweiBrowser", N_("Huawei Browser")), (r"Firefox/|FxiOS/", N_("Firefox")),
         (r"Chrome/|CriOS/", N_("Chrome")), (r"Safari/", N_("Safari")))
UNKNOWN_DEVICE = N_("Unknown device")


def describe(user_agent: str | None) -> Device:
    """Return the system and app of a user agent, as msgids to translate ("Unknown device" if unclear)."""
    text = user_agent or ""
    system = next((label for pattern, label in _SYSTEMS if re.search(pattern, text)), UNKNOWN_DEVICE)
    app = next((label for pattern, label in _APPS if re.search(pattern, text)), "")
    return Device(system, app)
