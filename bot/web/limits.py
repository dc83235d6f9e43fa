"""Request bodies bounded before they cost: a pure ASGI middleware in front of every route.

Each request gets a body limit from its route family (``limit_for``):

- photo uploads (the villager's report form, a step of the cadre's web form, a problem's resolution): the configured photo
  limit (``VILLAGEBOT_MAX_UPLOAD_MB``) plus ``MULTIPART_OVERHEAD`` for the form's other fields;
- the Telegram webhook: ``WEBHOOK_LIMIT`` (an update is a few kB);
- every other form and JSON body: ``FORM_LIMIT``.

A declared ``Content-Length`` over the limit is answered 413 at once, before the route, the form
parser or the CSRF check reads a byte. A body without a length (chunked) is counted while it
streams and refused with 413 the moment it passes the limit. The 413 is a page in the user's
language, or JSON ``{"detail": ...}`` under /api (as every other error, see ``common.error_response``).
When the declared excess is small (a phone photo a little over the limit) the connection is kept so
that the server drains the rest and the browser shows the page; beyond ``2 × limit`` it is closed.

Photo uploads are also spooled to a temporary file before the route runs, and at most
``UPLOAD_GATE`` of them (bodies over ``SMALL_BODY``: a step of the form without a photo passes
straight on) are handed to the app at a time: a slow client holds a file on disk, not a
worker, and twenty uploads at once hold twenty files on disk but only ``UPLOAD_GATE`` photos in
memory. Decoding itself is bounded in ``bot.services.evidence``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import tempfile
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from bot.i18n import N_, normalise_locale, translate
from bot.services.evidence import give_back_memory

log = logging.getLogger(__name__)

MB = 1024 * 1024
FORM_LIMIT = 1 * MB
WEBHOOK_LIMIT = 1 * MB
MULTIPART_OVERHEAD = 1 * MB
UPLOAD_GATE = 3                 # photo-upload requests handed to the app at once (per process)
CHUNK = 64 * 1024
SMALL_BODY = 256 * 1024         # photo-route bodies up to this size are kept in memory and not gated

PHOTO_ROUTES = (re.compile(r"^/p/[^/]+/report$"), re.compile(r"^/f/report/[^/]+/step$"))
# Office uploads (a ledger spreadsheet, a duty's attachment, a county's profile): the upload limit, no gate.
FILE_ROUTES = (re.compile(r"^/ledger/import$"), re.compile(r"^/duties/record$"), re.compile(r"^/policy/upload$"))
WEBHOOK_PREFIX = "/telegram/"

PHOTO_ROUTES += (re.compile(r"^/problems/[^/]+/resolve$"),)  # the township's photos of a resolved problem

MSG_PHOTO_TOO_LARGE = N_("The photo is too large (about {size} MB). The limit is {limit} MB. "
                         "Please send a smaller photo.")
MSG_PHOTO_STREAM_TOO_LARGE = N_("The photo is too large: the limit is {limit} MB. Please send a smaller photo.")
MSG_BODY_TOO_LARGE = N_("What was sent is too large to accept (the limit is {limit} MB).")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class _TooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes its limit."""


def _mb(size: int) -> str:
    """Return a size in MB for people: '25', '20.5'."""
    return f"{size / MB:.1f}".removesuffix(".0")


class BodyLimit:
    """The middleware: ``app.add_middleware(BodyLimit, max_upload_mb=settings.max_upload_mb)``."""

    def __init__(self, app, max_upload_mb: int = 20, *, form_limit: int = FORM_LIMIT,
                 webhook_limit: int = WEBHOOK_LIMIT, upload_gate: int = UPLOAD_GATE) -> None:
        self.app = app
        self.photo_limit = max_upload_mb * MB
        self.form_limit = form_limit
        self.webhook_limit = webhook_limit
        self.upload_gate = upload_gate
        self._gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # --- families -------------------------------------------------------------------------

    def limit_for(self, path: str) -> tuple[str, int]:
        """Return (family, body limit in bytes) of a request path."""
        if any(route.match(path) for route in PHOTO_ROUTES):
            return "photo", self.photo_limit + MULTIPART_OVERHEAD
        if path.startswith(WEBHOOK_PREFIX):
            return "webhook", self.webhook_limit
        if any(route.match(path) for route in FILE_ROUTES):
            return "file", self.photo_limit + MULTIPART_OVERHEAD
        return "form", self.form_limit

    def _gate(self) -> asyncio.Semaphore:
        """Return the upload gate of the running event loop (a test may run several loops)."""
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.upload_gate)
        return gate

    # --- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        family, limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            log.info("refused a %s body of %s bytes (limit %s) on %s", family, declared, limit, scope["path"])
            await self._refuse(scope, send, family, declared, close=declared > 2 * limit)
            return
        if family == "photo":
            await self._spooled(scope, receive, send, limit)
        else:
            await self._counted(scope, receive, send, family, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, family: str, limit: int) -> None:
        """Pass the body through as it streams, counting it; refuse with 413 past ``limit``."""
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> dict:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if exceeded:  # the app turned our exception into its own answer (FastAPI: 400): ours instead
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
        if exceeded and not started:
            log.info("refused a streamed %s body over %s bytes on %s", family, limit, scope["path"])
            await self._refuse(scope, send, family, None, close=True)

    async def _spooled(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Receive the whole body to a temporary file (refusing past ``limit``), then run the app in the gate."""
        with tempfile.SpooledTemporaryFile(max_size=SMALL_BODY) as spool:
            received = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                received += len(body)
                if received > limit:
                    log.info("refused a streamed photo body over %s bytes on %s", limit, scope["path"])
                    await self._refuse(scope, send, "photo", None, close=True)
                    return
                spool.write(body)
                more = message.get("more_body", False)
            # A step of the form without a photo (a few hundred bytes) need not queue behind photos.
            large = received > SMALL_BODY
            async with self._gate() if large else contextlib.nullcontext():
                spool.seek(0)
                done = False

                async def replay() -> dict:
                    nonlocal done
                    if done:
                        return await receive()  # the disconnect, when the client goes
                    chunk = spool.read(CHUNK)
                    done = spool.tell() >= received
                    return {"type": "http.request", "body": chunk, "more_body": not done}

                try:
                    await self.app(scope, replay, send)
                finally:
                    if large:
                        # A refused photo's bytes can stay held by an exception's traceback cycle until
                        # the collector runs; collect now and hand the freed pages back to the system.
                        gc.collect()
                        give_back_memory()

    async def _refuse(self, scope: Scope, send: Send, family: str, declared: int | None, *, close: bool) -> None:
        """Send the 413 in the user's language (page, or JSON under /api)."""
        from starlette.requests import Request

        request = Request(scope)
        limit_mb = _mb(self.photo_limit if family in ("photo", "file") else
                       self.webhook_limit if family == "webhook" else self.form_limit)
        if family == "photo" and declared is not None:
            msgid, params = MSG_PHOTO_TOO_LARGE, {"size": _mb(declared), "limit": limit_mb}
        elif family == "photo":
            msgid, params = MSG_PHOTO_STREAM_TOO_LARGE, {"limit": limit_mb}
        else:
            msgid, params = MSG_BODY_TOO_LARGE, {"limit": limit_mb}
        response = _error_response(request, msgid, params)
        if close:
            response.headers["Connection"] = "close"
        await response(scope, _no_receive, send)


async def _no_receive() -> dict:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    """Return the declared Content-Length, or None when absent or unreadable (then the body is counted)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _error_response(request, msgid: str, params: dict):
    """Return the app's own error page or JSON; a plain page if the app's web state is not there."""
    from fastapi.responses import HTMLResponse, JSONResponse

    try:
        from bot.web.common import WebError, error_response

        if getattr(request.app.state, "web", None) is not None:
            return error_response(request, WebError(413, msgid, **params))
    except Exception:
        log.exception("could not render the 413 page")
    locale = normalise_locale(request.query_params.get("lang") or request.cookies.get("vb_lang"))
    message = translate(locale, msgid, **params)
    if request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"detail": message}, status_code=413)
    from html import escape

    return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>{escape(message)}</p>", status_code=413)


class RequestTimer:
    """Time every HTTP request for ``/metrics``, labelled by its route's template (``/f/report/{report_id}``,
    never the raw path, so ids do not multiply the series) and status."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import time

        from bot.services import metrics

        began = time.perf_counter()
        status = [500]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("unmatched" if status[0] == 404 else "other")
            metrics.REQUESTS.labels(scope.get("method", ""), template, str(status[0])).observe(
                time.perf_counter() - began)
