"""One line on the next page after a post (post/redirect/get): what was done, or why it was refused.

A post that changes something (or is refused for a reason the user can fix) answers 303 to a GET
address and leaves a short-lived signed cookie (``vb_flash``) naming that address, the message
(msgid and parameters, translated when shown) and, after a refusal, what the user had typed. The GET
page shows it once and removes the cookie: reloading the page, or switching its language, is an
ordinary GET that works. A cookie made for another page, forged, or older than ``MAX_AGE`` is ignored.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.i18n import Label, catalogue, translate
from bot.services import weblinks
from bot.web.common import locale_of, web
from bot.web.common import render as _render

COOKIE = "vb_flash"
MAX_AGE = 300
MAX_COOKIE = 3800  # bytes: browsers keep cookies up to 4 kB


def _secure(request: Request) -> bool:
    return web(request).settings.public_url.startswith("https://")


def _encode(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, ensure_ascii=False).encode("utf-8")).decode("ascii")


def redirect(request: Request, url: str, msgid: str, /, *, error: bool = False, kept: dict[str, str] | None = None,
             **params: Any) -> RedirectResponse:
    """Answer 303 to ``url`` (a path with its query) and leave ``msgid`` for the page there to show once."""
    path = url.partition("?")[0]
    shown = {k: {"l": str(v)} if isinstance(v, Label) else v for k, v in params.items()}
    payload: dict[str, Any] = {"u": path, "m": msgid, "p": shown, "e": error}
    secret = web(request).settings.secret_key
    value = weblinks.sign(secret, "flash", _encode({**payload, "v": kept or {}}))
    if len(value) > MAX_COOKIE:  # a very long note is not kept (the message still shows)
        value = weblinks.sign(secret, "flash", _encode(payload))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="lax", secure=_secure(request))
    return response


def refused(request: Request, url: str, exc: Any, *, kept: dict[str, str] | None = None) -> RedirectResponse:
    """Redirect to ``url`` showing a refusal (any error with ``msgid`` and ``params``)."""
    return redirect(request, url, exc.msgid, error=True, kept=kept, **(getattr(exc, "params", None) or {}))


def take(request: Request) -> dict | None:
    """Return ``{"text", "error", "kept"}`` left for this page, translated, or None."""
    value = weblinks.unsign(web(request).settings.secret_key, "flash", request.cookies.get(COOKIE))
    if not value:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(value.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or payload.get("u") != request.url.path:
        return None
    locale = locale_of(request)
    messages = catalogue(locale)
    msgid = str(payload.get("m") or "")
    if msgid not in messages:  # only messages of the catalogue are shown
        return None
    params = {k: translate(locale, v["l"]) if isinstance(v, dict) and "l" in v else v
              for k, v in (payload.get("p") or {}).items()}
    try:
        text = translate(locale, msgid, **params)
    except (KeyError, IndexError, ValueError):
        return None
    kept = payload.get("v") if isinstance(payload.get("v"), dict) else {}
    return {"text": text, "error": bool(payload.get("e")), "kept": {k: str(v) for k, v in kept.items()}}


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with ``flash`` (the line left for it, or None) and remove the cookie once shown."""
    found = take(request)
    response = _render(request, template, status=status, flash=found, **context)
    if request.cookies.get(COOKIE) and found is not None:
        response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=_secure(request))
    return response
