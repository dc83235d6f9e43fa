"""Shared parts of the web pages: rendering, language, device cookie, CSRF, sign-in state, errors.

- Every browser gets a signed random device cookie (``vb_device``) the first time a page is
  rendered; the CSRF token of a form is an HMAC of that device id, so a post without the
  cookie, or with a token made for another device, is refused (403).
- The language is ``?lang=`` (zh_CN default, en), remembered in a ``vb_lang`` cookie.
- Sign-in state is a server-side session (``bot.services.sessions``): the ``vb_session`` cookie
  carries its random id; revoking the record ends it at the next request.
- Templates are rendered by Jinja2 with autoescape on; ``t(msgid, **params)`` translates.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session

from bot.config import Settings
from bot.i18n import N_, catalogue, normalise_locale, shown, translate
from bot.periods import words as period_words
from bot.services import sessions, weblinks
from bot.services.evidence import EvidenceStore
from bot.services.public import format_money
from bot.storage.models import User
from bot.web.assets import static_url

TEMPLATES = FilePath(__file__).with_name("templates")
STATIC = FilePath(__file__).with_name("static")
DEVICE_COOKIE = "vb_device"
SESSION_COOKIE = "vb_session"
LANG_COOKIE = "vb_lang"
YEAR = 365 * 24 * 3600
# A database row id in a URL: positive and within PostgreSQL's INTEGER.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]

MSG_FORBIDDEN = N_("You do not have access to this.")
MSG_NOT_FOUND = N_("This page does not exist. Check the address or scan the code again.")
MSG_CSRF = N_("This form has expired. Go back, reload the page and try again.")
MSG_INVALID = N_("Some of what was sent is not valid ({fields}). Check it and try again.")
MSG_METHOD = N_("This address cannot be used that way. Go back and use the buttons on the page.")
MSG_TOO_MANY = N_("Too many requests. Wait a moment and try again.")
HTTP_MESSAGES = {404: MSG_NOT_FOUND, 405: MSG_METHOD, 429: MSG_TOO_MANY}
MSG_SIGN_IN = N_("Please sign in first: open the invite link (or scan its QR code) that your township or county "
                 "office gave you; if it no longer works, ask them for a new one. If you use the Telegram bot, "
                 "you can also send /form to it for a sign-in link.")


class WebError(Exception):
    """An error page (or JSON error under /api) with a status and a translatable message."""

    def __init__(self, status: int, msgid: str, /, **params: object) -> None:
        super().__init__(msgid)
        self.status = status
        self.msgid = msgid
        self.params = params


@dataclass
class Web:
    """What the routes share: settings, engine, templates and the evidence store."""

    settings: Settings
    engine: Any
    env: Environment
    store: EvidenceStore

    def session(self) -> Session:
        """Return a new database session (use it in a ``with`` block)."""
        return Session(self.engine, expire_on_commit=False)


def make_web(settings: Settings, engine) -> Web:
    """Build the shared web state for ``settings`` and ``engine``."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["money"] = format_money
    env.globals["static_url"] = static_url
    return Web(settings, engine, env, EvidenceStore.from_settings(settings))


def web(request: Request) -> Web:
    """Return the shared web state of the running app."""
    return request.app.state.web


def locale_of(request: Request) -> str:
    """Return the page language: ?lang=, else the cookie, else the signed-in user's, else Chinese."""
    chosen = (request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
              or getattr(request.state, "user_locale", None))
    return normalise_locale(chosen)


def device_id(request: Request) -> str | None:
    """Return this browser's device id from its signed cookie, or None."""
    return weblinks.unsign(web(request).settings.secret_key, "device", request.cookies.get(DEVICE_COOKIE))


def csrf_token(secret: str, device: str) -> str:
    """Return the CSRF token for forms shown to ``device``."""
    return weblinks.sign(secret, "csrf", device).rpartition(".")[2]


def check_csrf(request: Request, token: str | None) -> str:
    """Return the device id if ``token`` is the CSRF token of this browser; else raise 403."""
    device = device_id(request)
    secret = web(request).settings.secret_key
    if not device or not token or not weblinks.same(token, csrf_token(secret, device)):
        raise WebError(403, MSG_CSRF)
    return device


_UNKNOWN = object()


def current_session(request: Request, session: Session):
    """Return this request's live ``WebSession`` (of an active user), or None; remembered per request."""
    row = getattr(request.state, "web_session", _UNKNOWN)
    if row is _UNKNOWN:
        row = request.state.web_session = sessions.find(session, request.cookies.get(SESSION_COOKIE))
    return row


def current_user(request: Request, session: Session) -> User | None:
    """Return the signed-in, active user of this request, or None."""
    row = current_session(request, session)
    user = session.get(User, row.user_id) if row is not None else None
    return user if user is not None and user.active else None


def require_user(request: Request, session: Session) -> User:
    """Return the signed-in user or raise 401."""
    user = current_user(request, session)
    if user is None:
        raise WebError(401, MSG_SIGN_IN)
    request.state.user_locale = user.locale
    return user


def _secure(request: Request) -> bool:
    return web(request).settings.public_url.startswith("https://")


def set_session_cookie(request: Request, response, session: Session, user: User, *, via: str = "link") -> None:
    """Open a server-side session for ``user`` (flushed; the caller commits) and set its cookie."""
    token = sessions.open_session(session, user, via=via, user_agent=request.headers.get("user-agent"))
    response.set_cookie(SESSION_COOKIE, token, max_age=int(sessions.MAX_AGE.total_seconds()),
                        httponly=True, samesite="lax", secure=_secure(request))


def clear_session_cookie(request: Request, response) -> None:
    """Remove the session cookie from the browser (the record is revoked by the caller)."""
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=_secure(request))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the request's language, with a CSRF token bound to the device cookie."""
    state = web(request)
    locale = locale_of(request)
    device = device_id(request)
    new_device = device is None
    if new_device:
        device = secrets.token_urlsafe(18)

    messages = catalogue(locale)

    def t(msgid: str, **params: object) -> str:
        text = messages.get(msgid, msgid)
        return text.format(**shown(locale, params)) if params else text

    def switch(lang: str) -> str:
        """The same page in another language; a page answering a post (an error) switches on its GET twin
        (``request.state.get_twin``) or the home page, never on an address that only takes posts."""
        if request.method not in ("GET", "HEAD"):
            twin = getattr(request.state, "get_twin", None)
            if twin is None:
                twin = "/home" if getattr(request.state, "web_session", None) is not None else "/"
            return f"{twin}?{urlencode({'lang': lang})}"
        query = dict(request.query_params)
        query["lang"] = lang
        return f"{request.url.path}?{urlencode(query)}"

    html = state.env.get_template(template).render(
        t=t, locale=locale, lang_query=f"lang={locale}", switch=switch,
        period_words=lambda value: period_words(value, locale),
        signed_in=getattr(request.state, "web_session", None) is not None,
        csrf=csrf_token(state.settings.secret_key, device), **context)
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'self' https://web.telegram.org")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if new_device:
        response.set_cookie(DEVICE_COOKIE, weblinks.sign(state.settings.secret_key, "device", device),
                            max_age=YEAR, httponly=True, samesite="lax", secure=_secure(request))
    if request.query_params.get("lang") and request.cookies.get(LANG_COOKIE) != locale:
        response.set_cookie(LANG_COOKIE, locale, max_age=YEAR, samesite="lax", secure=_secure(request))
    return response


def query_id(value: str | None) -> int | None:
    """A positive whole number from a query parameter (an id, a page, a count of days), or None for anything
    else: a filter given nonsense is a filter not given."""
    if not value or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= 2_147_483_647 else None


def refuse_nul(request: Request) -> None:
    """Refuse (404) an address whose path or query holds a NUL character: no id, token or period has
    one, and PostgreSQL cannot even compare such a string (it would be a server error)."""
    if "\x00" in request.url.path or any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        raise WebError(404, MSG_NOT_FOUND)


def invalid_input(errors) -> WebError:
    """Return the error for input that failed validation: an id in the address that cannot exist is a
    page that does not exist (404); anything else is named field by field (422)."""
    places = [tuple(e.get("loc") or ()) for e in errors]
    if any(p and p[0] == "path" for p in places):
        return WebError(404, MSG_NOT_FOUND)
    fields = sorted({str(p[-1]) for p in places if p and len(p) > 1} or {"body"})
    return WebError(422, MSG_INVALID, fields=", ".join(fields)[:200])


def error_response(request: Request, exc: WebError):
    """Return the error as JSON under /api, on the JSON endpoints /openapi.json documents and to scripts
    asking for JSON; else as a page."""
    message = translate(locale_of(request), exc.msgid, **exc.params)
    route = request.scope.get("route")
    documented = bool(getattr(route, "include_in_schema", False)) and hasattr(route, "response_model")
    if request.url.path.startswith("/api/") or documented or "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"detail": message}, status_code=exc.status)
    return render(request, "error.html", status=exc.status, message=message)
