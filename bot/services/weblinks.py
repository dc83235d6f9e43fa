"""Sign-in for the web form without passwords: signed single-use links and Mini App initData.

- ``create_link`` makes a link ``{public_url}/auth/link/<token>`` for one user. The token is a random
  part plus an HMAC of it under ``settings.secret_key`` (forged tokens are refused before the
  database is asked); only the SHA-256 of the whole token is stored (``LinkToken``). A link
  expires (default 24 h) and works once.
- ``redeem_link`` checks and consumes a token and returns the user.
- A redeemed link or a valid Mini App sign-in opens a server-side session (``bot.services.sessions``):
  the cookie carries a random id, not a signature over a user id.
- ``validate_init_data``: Telegram Mini App ``initData`` checked with the Bot API algorithm
  (secret = HMAC-SHA256(key="WebAppData", bot token); hash = HMAC-SHA256(secret, data-check-string)),
  refusing tampered, stale (``auth_date`` older than ``max_age``, default one day) and foreign data.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from urllib.parse import parse_qsl

from sqlalchemy import update
from sqlmodel import Session, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_
from bot.storage.models import LinkToken, User

LINK_TTL = dt.timedelta(hours=24)
INIT_DATA_MAX_AGE = dt.timedelta(days=1)


class LinkError(ValueError):
    """A sign-in link or Mini App sign-in is refused; ``msgid`` is translatable."""

    def __init__(self, msgid: str, code: str) -> None:
        super().__init__(code)
        self.msgid = msgid
        self.code = code
        self.params: dict = {}


MSG_LINK_INVALID = N_("This sign-in link is not valid. Ask the bot for a new one with /form.")
MSG_LINK_EXPIRED = N_("This sign-in link has expired. Ask the bot for a new one with /form.")
MSG_LINK_USED = N_("This sign-in link has already been used. Ask the bot for a new one with /form.")
MSG_INIT_INVALID = N_("Telegram could not confirm who you are. "
                      "Close the form and open it again from the bot.")
MSG_INIT_STALE = N_("This Telegram sign-in is too old. Close the form and open it again from the bot.")


# --- signing -----------------------------------------------------------------------------------

def _mac(secret: str, purpose: str, value: str) -> str:
    if not secret:  # never sign with an empty key (bot.config.resolve_secret_key gives every process one)
        raise ValueError("no secret key: set VILLAGEBOT_SECRET_KEY or resolve the key file first")
    digest = hmac.new(secret.encode("utf-8"), f"{purpose}|{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def same(a: str, b: str) -> bool:
    """Compare two secrets in constant time (any text, even not ASCII)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def sign(secret: str, purpose: str, value: str) -> str:
    """Return ``value.signature``; the purpose keeps a signature for one use from passing for another."""
    return f"{value}.{_mac(secret, purpose, value)}"


def unsign(secret: str, purpose: str, signed: str | None) -> str | None:
    """Return the value of a string made by ``sign`` with the same secret and purpose, else None."""
    if not signed or "." not in signed:
        return None
    value, _, mac = signed.rpartition(".")
    return value if same(mac, _mac(secret, purpose, value)) else None


def token_hash(token: str) -> str:
    """Return the SHA-256 stored for a link token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- links ---------------------------------------------------------------------------------------

def create_link(session: Session, user: User, *, secret: str, public_url: str, ttl: dt.timedelta = LINK_TTL,
                report_id: int | None = None, now: dt.datetime | None = None) -> str:
    """Store a new single-use sign-in token for ``user`` and return its URL (flushes, no commit)."""
    token = sign(secret, "link", secrets.token_urlsafe(24))
    now = now or utcnow()
    session.add(LinkToken(token_hash=token_hash(token), user_id=user.id, report_id=report_id,
                          expires_at=now + ttl))
    session.flush()
    return f"{public_url.rstrip('/')}/auth/link/{token}"


def redeem_link(session: Session, token: str, *, secret: str, now: dt.datetime | None = None) -> LinkToken:
    """Consume a link token and return its row; raise LinkError for forged, unknown, expired or used ones.

    The claim is a compare-and-set on ``used_at``: of two simultaneous clicks only one signs in.
    """
    if unsign(secret, "link", token) is None:
        raise LinkError(MSG_LINK_INVALID, "forged")
    row = session.exec(select(LinkToken).where(LinkToken.token_hash == token_hash(token))).first()
    if row is None:
        raise LinkError(MSG_LINK_INVALID, "unknown")
    if row.used_at is not None:
        raise LinkError(MSG_LINK_USED, "used")
    now = now or utcnow()
    if as_utc(row.expires_at) <= now:
        raise LinkError(MSG_LINK_EXPIRED, "expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise LinkError(MSG_LINK_INVALID, "inactive")
    claimed = session.execute(update(LinkToken).where(LinkToken.id == row.id, LinkToken.used_at.is_(None))
                              .values(used_at=now)).rowcount
    if claimed != 1:
        raise LinkError(MSG_LINK_USED, "used")
    session.refresh(row)
    return row


# --- Telegram Mini App ------------------------------------------------------------------------------

def init_data_hash(fields: dict[str, str], bot_token: str) -> str:
    """Return the hex hash Telegram computes over ``fields`` (every field except ``hash``)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "hash")
    secret = hmac.new(b"WebAppData", bot_token.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(secret, check.encode("utf-8"), hashlib.sha256).hexdigest()


def validate_init_data(init_data: str, bot_token: str, *, max_age: dt.timedelta = INIT_DATA_MAX_AGE,
                       now: dt.datetime | None = None) -> dict:
    """Return the Telegram user (``{"id": ...}``) of valid Mini App ``initData``; else raise LinkError."""
    if not bot_token or not init_data:
        raise LinkError(MSG_INIT_INVALID, "invalid")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise LinkError(MSG_INIT_INVALID, "invalid") from None
    fields = dict(pairs)
    if len(fields) != len(pairs) or "hash" not in fields:
        raise LinkError(MSG_INIT_INVALID, "invalid")
    if not same(fields["hash"], init_data_hash(fields, bot_token)):
        raise LinkError(MSG_INIT_INVALID, "invalid")
    auth_date = fields.get("auth_date", "")
    if not auth_date.isdigit():
        raise LinkError(MSG_INIT_INVALID, "invalid")
    age = (now or utcnow()).timestamp() - int(auth_date)
    if age > max_age.total_seconds() or age < -300:
        raise LinkError(MSG_INIT_STALE, "stale")
    try:
        user = json.loads(fields.get("user", ""))
    except ValueError:
        raise LinkError(MSG_INIT_INVALID, "invalid") from None
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise LinkError(MSG_INIT_INVALID, "invalid")
    return user
