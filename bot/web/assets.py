"""Static files with fingerprints, the favicon, and HEAD answered wherever GET is.

- ``static_url("site.css")`` (a template global) gives ``/static/site.<hash>.css``: the first 10 hex
  digits of the file's SHA-256. Such an address never changes content, so it is served with
  ``Cache-Control: public, max-age=31536000, immutable``; a new version of the file has a new address.
  The plain ``/static/site.css`` (and an outdated hash) still answers, with ``no-cache`` (revalidated by
  its ETag), so a page cached before a deploy keeps working.
- ``/favicon.ico`` is served (a day's cache) and every page links ``<link rel=icon>`` to it.
- ``HeadAsGet``: FastAPI's GET routes do not answer HEAD (405); this middleware runs a HEAD request as a
  GET and sends the head of the answer without its body, so monitors and link checkers get 200.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
FAVICON = "favicon.ico"
_FINGERPRINTED = re.compile(r"^(?P<stem>[A-Za-z0-9_-]+)\.(?P<hash>[0-9a-f]{10})\.(?P<ext>[A-Za-z0-9]+)$")
_hashes: dict[tuple[str, float], str] = {}


def fingerprint(name: str, folder: Path = STATIC) -> str:
    """Return the first 10 hex digits of the SHA-256 of a static file (cached per modification time)."""
    path = folder / name
    key = (str(path), path.stat().st_mtime)
    found = _hashes.get(key)
    if found is None:
        found = _hashes[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return found


def static_url(name: str) -> str:
    """Return the fingerprinted address of a file in bot/web/static (``/static/site.1a2b3c4d5e.css``)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or "/" in name:
        return f"/static/{name}"
    return f"/static/{stem}.{fingerprint(name)}.{ext}"


class FingerprintedStatic(StaticFiles):
    """StaticFiles that also answers ``name.<hash>.ext``: immutable when the hash is the file's own."""

    async def get_response(self, path: str, scope):
        match = _FINGERPRINTED.match(path)
        real = f"{match['stem']}.{match['ext']}" if match else path
        if match and not (STATIC / real).is_file():
            real = path
        response = await super().get_response(real, scope)
        if response.status_code in (200, 304):
            fresh = match is not None and real != path and match["hash"] == fingerprint(real)
            response.headers["Cache-Control"] = IMMUTABLE if fresh else REVALIDATE
        return response


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class HeadAsGet:
    """Run HEAD requests as GET and drop the body of the answer (its headers, Content-Length included, stay)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headless(message: dict) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headless)


def include(app: FastAPI) -> None:
    """Mount /static (fingerprints understood), serve /favicon.ico, answer HEAD on every GET address."""
    app.mount("/static", FingerprintedStatic(directory=str(STATIC)), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / FAVICON, media_type="image/x-icon",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.add_middleware(HeadAsGet)
