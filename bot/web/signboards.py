"""Signboards on the web: a county officer (any village or township of the county) or a township leader
(their township) downloads the A4 signboards of a village's or township's assets as one PDF.

The QR code on a permanent sign must open on a villager's phone: while ``VILLAGEBOT_PUBLIC_URL`` is a
loopback, private or non-https address the page says what to set and offers no download (and the download
address refuses), unless ``VILLAGEBOT_ALLOW_LOCAL_PUBLIC_URL=1`` allows test prints.
"""

from __future__ import annotations

import io
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from bot.config import Settings
from bot.i18n import N_, translate
from bot.services import signboard
from bot.services.access import AccessDenied
from bot.web import menu
from bot.web.common import RowId, WebError, locale_of, render, require_user, web

router = APIRouter(tags=["office"])

menu.add("/signboards", N_("Signboards"), section=menu.OFFICE,
         hint=N_("Print the A4 signboards with QR codes of a village's or township's assets"),
         action="signboard.print", order=30)


def _url_problem(settings: Settings) -> str | None:
    if settings.allow_local_public_url:
        return None
    return signboard.url_problem(settings.public_url)


@router.get("/signboards", include_in_schema=False)
def signboards_page(request: Request):
    """The townships and villages of the viewer's area, each with its number of assets and a download."""
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        try:
            units = signboard.printable_units(session, user)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        problem = _url_problem(state.settings)
        allowed_local = state.settings.allow_local_public_url and signboard.url_problem(state.settings.public_url)
        return render(request, "office/signboards.html", units=units, problem=problem,
                      url=state.settings.public_url.rstrip("/") + "/p/…", allowed_local=bool(allowed_local))


@router.get("/signboards/{unit_id}.pdf", include_in_schema=False)
def signboards_pdf(request: Request, unit_id: RowId):
    """The signboards of every asset of one township or village, one A4 page each, as one PDF."""
    state = web(request)
    settings = state.settings
    with state.session() as session:
        user = require_user(request, session)
        buffer = io.BytesIO()
        try:
            unit, _pages = signboard.unit_pdf(
                session, user, unit_id, buffer, base_url=settings.public_url, tz=settings.tz,
                supervision_phone=settings.supervision_phone, allow_local=settings.allow_local_public_url)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except signboard.SignboardError as exc:
            status = 503 if exc.msgid in (signboard.MSG_NO_FONT, signboard.MSG_BAD_FONT) else 409
            raise WebError(status, exc.msgid, **exc.params) from None
    name = f"{unit.name}-{translate(locale_of(request), N_('Signboards'))}.pdf"
    disposition = f"attachment; filename=\"signboards-{unit.id}.pdf\"; filename*=UTF-8''{quote(name)}"
    return Response(buffer.getvalue(), media_type="application/pdf",
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff"})


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the signboard pages."""
    app.include_router(router)
