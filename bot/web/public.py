"""Public pages any villager opens from a signboard's QR code: /p/<token>, its photos, the report form."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from bot.i18n import N_, translate
from bot.services import public
from bot.services.evidence import EvidenceError
from bot.web import labels
from bot.web.common import MSG_NOT_FOUND, WebError, check_csrf, locale_of, render, web

router = APIRouter(tags=["public"])

MSG_SENT = N_("Thank you. Your report was sent to the township, which will look into it.")
# The public facts change a few times a month: each process keeps them this long (seconds).
CACHE_SECONDS = 30.0


def _load(request: Request, token: str) -> public.Disclosure:
    state = web(request)
    with state.session() as session:
        asset = public.find_asset(session, token)
        if asset is None:
            raise WebError(404, MSG_NOT_FOUND)
        return public.disclosure(session, asset, tz=state.settings.tz,
                                 supervision_phone=state.settings.supervision_phone)


async def disclosed(request: Request, token: str) -> public.Disclosure:
    """Return the disclosure of the asset with ``token`` (cached briefly per process); 404 if unknown.

    A cache hit answers on the event loop; a miss reads the database in the thread pool.
    """
    cache = request.app.state.public_cache
    hit = cache.get(token)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    facts = await run_in_threadpool(_load, request, token)
    if len(cache) > 10_000:  # a county has a few thousand assets; never grow without bound
        cache.clear()
    cache[token] = (now + CACHE_SECONDS, facts)
    return facts


async def _page(request: Request, token: str, *, status: int = 200, error: str | None = None,
                text: str = "", category: str = "other"):
    facts = await disclosed(request, token)
    return render(request, "public.html", status=status, d=facts, labels=labels, categories=public.CATEGORIES,
                  sent=request.query_params.get("sent") == "1", error=error, text=text, category=category,
                  msg_sent=MSG_SENT)


@router.get("/p/{token}", include_in_schema=False)
async def public_page(request: Request, token: str):
    """Show the disclosure of one asset."""
    return await _page(request, token)


@router.get("/p/{token}/photo/{sha256}.jpg", include_in_schema=False)
def public_photo(request: Request, token: str, sha256: str):
    """Serve a disclosed board/signboard photo (display copy, EXIF removed) of this asset only."""
    state = web(request)
    with state.session() as session:
        asset = public.find_asset(session, token)
        path = public.public_photo_path(session, state.store, asset, sha256) if asset else None
    if path is None:
        raise WebError(404, MSG_NOT_FOUND)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


async def _read_upload(request: Request, upload: UploadFile | None) -> bytes | None:
    """Return the uploaded bytes (None for an empty file input), refusing a file over the size limit."""
    if upload is None:
        return None
    store = web(request).store
    data = await upload.read(store.max_bytes + 1)
    if not data:
        return None
    store.check_size(upload.size or len(data))  # the real size, not the bytes read
    return data


def _record(request: Request, token: str, text: str, category: str, device: str, photo: bytes | None) -> None:
    state = web(request)
    with state.session() as session:
        asset = public.find_asset(session, token)
        if asset is None:
            raise WebError(404, MSG_NOT_FOUND)
        public.report_problem(session, asset, text=text, category=category, device_id=device, photo=photo,
                              store=state.store)
        session.commit()


@router.post("/p/{token}/report", include_in_schema=False)
async def public_report(request: Request, token: str, csrf: Annotated[str, Form()] = "",
                        text: Annotated[str, Form()] = "", category: Annotated[str, Form()] = "other",
                        photo: Annotated[UploadFile | None, File()] = None):
    """Accept a villager's problem report (text and an optional photo)."""
    device = check_csrf(request, csrf)
    try:
        data = await _read_upload(request, photo)
        await run_in_threadpool(_record, request, token, text, category, device, data)
    except (public.PublicReportError, EvidenceError) as exc:
        message = translate(locale_of(request), exc.msgid, **exc.params)
        status = 429 if getattr(exc, "rate_limited", False) else 400
        return await _page(request, token, status=status, error=message, text=text,
                           category=category if category in public.CATEGORIES else "other")
    return RedirectResponse(f"/p/{token}?lang={locale_of(request)}&sent=1#report", status_code=303)
