"""Public pages any villager opens from a signboard's QR code: /p/<token>, its photos, the report form.

The report form's limits count the client's address (hashed in ``bot.services.villager_reports``): the
socket's peer, or — only when that peer is one of ``VILLAGEBOT_TRUSTED_PROXIES`` — the nearest address in
``X-Forwarded-For`` that is not a trusted proxy. By default the header is ignored, so it cannot be forged.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.i18n import translate
from bot.services import disposal, income, public, villager_reports
from bot.services.evidence import EvidenceError
from bot.web import labels
from bot.web.common import MSG_NOT_FOUND, WebError, check_csrf, locale_of, render, web

router = APIRouter(tags=["public"])

MSG_SENT = villager_reports.MSG_FILED
SENT_MESSAGES = {"1": MSG_SENT, villager_reports.FILED: MSG_SENT, villager_reports.FOLDED: villager_reports.MSG_FOLDED,
                 villager_reports.HELD: villager_reports.MSG_HELD}
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
    facts = public.published(await disclosed(request, token))  # the same body as /api/public/<token>
    sent = SENT_MESSAGES.get(request.query_params.get("sent") or "")
    return render(request, "public.html", status=status, d=facts, labels=labels, categories=public.CATEGORIES,
                  sent=sent is not None, error=error, text=text, category=category, msg_sent=sent or MSG_SENT,
                  income_categories=income.CATEGORIES, income_statuses=income.STATUS_LABELS,
                  disposal_words={"reasons": disposal.REASONS, "methods": disposal.METHODS})


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
        data = public.public_photo(session, state.store, asset, sha256) if asset else None
    if data is None:
        raise WebError(404, MSG_NOT_FOUND)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


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


def _within(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """Return the client's address: the socket's peer unless that peer is a trusted proxy (see above)."""
    address = request.client.host if request.client else ""
    trusted = web(request).settings.trusted_networks
    if not trusted or not _within(address, trusted):
        return address
    hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, trusted):
            return hop
        address = hop
    return address


def _record(request: Request, token: str, text: str, category: str, source: villager_reports.Source,
            photo: bytes | None) -> str:
    state = web(request)
    with state.session() as session:
        asset = public.find_asset(session, token)
        if asset is None:
            raise WebError(404, MSG_NOT_FOUND)
        outcome = villager_reports.submit(session, asset, text=text, category=category, source=source,
                                          photo=photo, store=state.store)
        session.commit()
        return outcome.status


@router.post("/p/{token}/report", include_in_schema=False)
async def public_report(request: Request, token: str, csrf: Annotated[str, Form()] = "",
                        text: Annotated[str, Form()] = "", category: Annotated[str, Form()] = "other",
                        photo: Annotated[UploadFile | None, File()] = None):
    """Accept a villager's problem report (text and an optional photo): filed, folded into an earlier one,
    or held for the township's moderation; refused (429) only over a per-address or per-device limit."""
    device = check_csrf(request, csrf)
    source = villager_reports.source_of(web(request).settings.secret_key, client_address(request), device)
    try:
        data = await _read_upload(request, photo)
        outcome = await run_in_threadpool(_record, request, token, text, category, source, data)
    except (villager_reports.PublicReportError, EvidenceError) as exc:
        message = translate(locale_of(request), exc.msgid, **exc.params)
        status = 429 if getattr(exc, "rate_limited", False) else 400
        return await _page(request, token, status=status, error=message, text=text,
                           category=category if category in public.CATEGORIES else "other")
    return RedirectResponse(f"/p/{token}?lang={locale_of(request)}&sent={outcome}#report", status_code=303)
