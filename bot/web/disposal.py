"""Disposal (处置) on the web: the request, each step up the chain with a confirmation, the printable notice.

- ``GET /disposals``: the disposals in progress in the viewer's area (``?all=1`` also the closed ones,
  ``?asset=<id>`` one asset's); a village cadre starts a request here for an asset of their village;
- ``GET /disposals/new?asset=<id>`` / ``POST /disposals/new``: the village's request (or completing the draft the
  township's 四个一批 "处置" opened);
- ``GET /disposals/<id>``: the steps in words, the history, and the step the viewer may take next;
- ``POST /disposals/<id>/<step>``: meeting, valuation, township, county, notice, record, refuse, withdraw — each
  needs its confirmation box ticked; post/redirect/get with a line saying what was done or why not;
- ``GET /disposals/<id>/notice.pdf``: the notice for the village board (and after the record, the result);
- ``GET /disposals/<id>/valuation``: the valuation report file, for those who see the disposal.

The rules (order of the steps, who takes each) are ``bot.services.disposal``'s.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response

from bot.clock import as_utc
from bot.config import Settings
from bot.i18n import N_
from bot.services import disposal as service
from bot.services import disposal_proceeds
from bot.services.access import AccessDenied, require_asset
from bot.storage.models import Asset
from bot.storage.models_disposal import Disposal
from bot.web import flash, menu
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, query_id, require_user, web

router = APIRouter(tags=["disposal"])

menu.add("/disposals", N_("Disposals"), section=menu.WORK, action="asset.view", order=36,
         roles=("village_cadre", "township_leader", "department_officer", "county_officer"),
         hint=N_("Dispose of an asset by procedure: request, village meeting, approvals, public notice, record"))

STEP_DONE = {
    "request": N_("Disposal requested. The village meeting's resolution comes next."),
    "meeting": N_("The village meeting's resolution is recorded."),
    "valuation": N_("The valuation is recorded."),
    "township": N_("Approved by the township. The county is told."),
    "county": N_("Approved by the county. The public notice comes next."),
    "notice": N_("The public notice has started; it shows on the asset's public page until {until}."),
    "record": N_("The disposal is recorded: the asset is no longer checked monthly."),
    "proceeds": N_("The use of the proceeds is recorded; the township is told."),
    "refuse": N_("The disposal is refused."),
    "withdraw": N_("The request is withdrawn."),
}
MSG_CONFIRM = N_("Tick the box to confirm this step.")
KEPT = ("note", "reason", "description", "amount", "valuer", "attendees", "counterpart")


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()) if value and len(value) <= 10 else None
    except ValueError:
        return None


def _number(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) <= 7 else None


def _page(request: Request, disposal_id: int, anchor: str = "") -> str:
    return f"/disposals/{disposal_id}?lang={locale_of(request)}{anchor}"


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


def _load(session, user, disposal_id: int) -> tuple[Disposal, service.Place]:
    """The disposal and its asset's place, if the viewer sees it; else 404, unknown and foreign alike."""
    try:
        return service.load(session, user, disposal_id)
    except AccessDenied:
        raise WebError(404, MSG_NOT_FOUND) from None


def _asset(session, user, asset_id: int) -> Asset:
    """The asset, if the viewer sees it; else 404, unknown and foreign alike."""
    try:
        return require_asset(session, user, "asset.view", asset_id)
    except AccessDenied:
        raise WebError(404, MSG_NOT_FOUND) from None


@router.get("/disposals", include_in_schema=False)
def disposals_page(request: Request, all: str = "", asset: str = ""):  # noqa: A002
    """The disposals of the viewer's area; a cadre's assets that may be asked to dispose of."""
    with web(request).session() as session:
        user = require_user(request, session)
        asset_id = query_id(asset)
        try:
            rows = service.in_area(session, user, open_only=all != "1" and asset_id is None, asset_id=asset_id)
        except AccessDenied as exc:
            raise _refused(exc) from None
        chosen = _asset(session, user, asset_id) if asset_id is not None else None
        assets = service.requestable_assets(session, user)
        if chosen is not None:
            assets = [a for a in assets if a.id == chosen.id]
        return flash.render(request, "disposal/list.html", rows=rows, assets=assets, chosen=chosen,
                            show_all=all == "1", statuses=service.STATUSES, reasons=service.REASONS)


@router.get("/disposals/new", include_in_schema=False)
def request_page(request: Request, asset: str = ""):
    """The village's request form for one asset (prefilled from the classification's draft, if one is open)."""
    with web(request).session() as session:
        user = require_user(request, session)
        asset_id = query_id(asset)
        if asset_id is None:
            raise WebError(404, MSG_NOT_FOUND)
        try:
            place = service.may_request(session, user, asset_id)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except service.DisposalError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
        current = service.open_for(session, asset_id)
        if current is not None and current.status != "draft":
            return flash.redirect(request, _page(request, current.id), service.MSG_ALREADY_OPEN, error=True,
                                  asset=place.asset.name)
        return flash.render(request, "disposal/new.html", asset=place.asset, village=place.village, draft=current,
                            reasons=service.REASONS, methods=service.METHODS)


@router.post("/disposals/new", include_in_schema=False)
def request_post(request: Request, csrf: Annotated[str, Form()] = "", asset: Annotated[str, Form()] = "",
                 reason: Annotated[str, Form()] = "", way: Annotated[str, Form()] = "",
                 description: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = ""):
    """Send the village's request."""
    check_csrf(request, csrf)
    asset_id = query_id(asset)
    if asset_id is None:
        raise WebError(404, MSG_NOT_FOUND)
    back = f"/disposals/new?asset={asset_id}&lang={locale_of(request)}"
    kept = {"reason": reason[:20], "way": way[:20], "description": description[:1000]}
    if confirm != "1":
        return flash.redirect(request, back, MSG_CONFIRM, error=True, kept=kept)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            row = service.request(session, user, asset_id, reason=reason, method=way, description=description)
            session.commit()
        except AccessDenied as exc:
            raise _refused(exc) from None
        except service.DisposalError as exc:
            session.rollback()
            return flash.refused(request, back, exc, kept=kept)
    return flash.redirect(request, _page(request, row.id), STEP_DONE["request"])


def _actions(session, user, row, place, day: dt.date, left=None) -> dict[str, bool]:
    """Which step forms the viewer sees on the page (``left``: the proceeds not yet accounted for)."""
    may = {step: service.may(session, user, place, step) for step in service.STEP_ACTORS}
    status = row.status
    open_ = status in service.OPEN
    return {
        "request": status == "draft" and service.can_request(session, user, row.asset_id),
        "meeting": status == "requested" and may["meeting"],
        "valuation": status in ("requested", "village_meeting") and may["valuation"],
        "township": status == "village_meeting" and may["township"],
        "county": status == "township_approved" and may["county"],
        "notice": status == "county_approved" and may["notice"],
        "record": status == "notice" and may["record"],
        "record_ready": status == "notice" and row.notice_until is not None and day > row.notice_until,
        "proceeds": status == "recorded" and may["proceeds"] and bool(left),
        # The village ends its own request by withdrawing it; the township and the county refuse.
        "refuse": open_ and service.WAITING[status] not in ("request", "meeting") and may[service.WAITING[status]]
        if open_ else False,
        "withdraw": open_ and (service.is_village(session, user, place) or service.is_township(session, user, place)),
    }


@router.get("/disposals/{disposal_id}", include_in_schema=False)
def disposal_page(request: Request, disposal_id: RowId):
    """One disposal: the asset, the steps in words, the history and the viewer's next step."""
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        row, place = _load(session, user, disposal_id)
        day = service.today(session, place.village)
        history = [(as_utc(s.at).astimezone(state.settings.tz).strftime("%Y-%m-%d %H:%M"), s, name)
                   for s, name in service.steps(session, row.id)]
        reached = service.ORDER.index(row.status) if row.status in service.ORDER else -1
        proceeds = disposal_proceeds.proceeds_of(session, row)
        return flash.render(
            request, "disposal/detail.html", d=row, place=place, history=history, day=day, proceeds=proceeds,
            actions=_actions(session, user, row, place, day, proceeds.left if proceeds else None), statuses=service.STATUSES, reasons=service.REASONS,
            methods=service.METHODS, meetings=service.MEETINGS, results=service.RESULTS, next_step=service.NEXT,
            order=[(s, service.STATUSES[s], i <= reached) for i, s in enumerate(service.ORDER) if s != "draft"],
            step_names=STEP_NAMES, notice_days=service.notice_days(session, place.village),
            next_day=(row.notice_until + dt.timedelta(days=1)) if row.notice_until else None,
            printable=row.status in ("notice", "recorded"))


STEP_NAMES = {"draft": N_("Opened by the four-way classification"), "request": N_("Request sent"),
              "meeting": N_("Village meeting recorded"), "valuation": N_("Valuation recorded"),
              "township": N_("Approved by the township"), "county": N_("Approved by the county"),
              "notice": N_("Public notice started"), "record": N_("Disposal recorded"),
              "proceeds": N_("Use of the proceeds recorded"), "refuse": N_("Refused"),
              "withdraw": N_("Withdrawn")}


async def _upload(request: Request, upload: UploadFile | None) -> tuple[str, bytes] | None:
    if upload is None or not upload.filename:
        return None
    data = await upload.read(service.MAX_ATTACHMENT + 1)
    return (upload.filename, data) if data else None


@router.post("/disposals/{disposal_id}/{step}", include_in_schema=False)
async def disposal_step(request: Request, disposal_id: RowId, step: str, csrf: Annotated[str, Form()] = "",
                        confirm: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                        reason: Annotated[str, Form()] = "", day: Annotated[str, Form()] = "",
                        kind: Annotated[str, Form()] = "", attendees: Annotated[str, Form()] = "",
                        result: Annotated[str, Form()] = "", amount: Annotated[str, Form()] = "",
                        valuer: Annotated[str, Form()] = "", way: Annotated[str, Form()] = "",
                        counterpart: Annotated[str, Form()] = "", purpose: Annotated[str, Form()] = "",
                        attachment: Annotated[UploadFile | None, File()] = None):
    """Take one step of a disposal (after its confirmation box)."""
    check_csrf(request, csrf)
    if step not in STEP_DONE or step == "request":
        raise WebError(404, MSG_NOT_FOUND)
    back = _page(request, disposal_id, f"#{step}")
    kept = {"note": note[:1000], "reason": reason[:1000], "amount": amount[:20], "valuer": valuer[:200],
            "attendees": attendees[:8], "counterpart": counterpart[:200], "day": day[:10], "purpose": purpose[:200]}
    if confirm != "1":
        return flash.redirect(request, back, MSG_CONFIRM, error=True, kept=kept)
    file = await _upload(request, attachment) if step == "valuation" else None
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        try:
            if step == "meeting":
                row = service.record_meeting(session, user, disposal_id, kind=kind, held_on=_date(day),
                                             attendees=_number(attendees), result=result, note=note)
            elif step == "valuation":
                row = service.record_valuation(session, user, disposal_id, amount=amount, valuer=valuer,
                                               valued_on=_date(day), attachment=file, store=state.store.blobs)
            elif step == "township":
                row = service.approve_township(session, user, disposal_id, note=note)
            elif step == "county":
                row = service.approve_county(session, user, disposal_id, note=note)
            elif step == "notice":
                row = service.start_notice(session, user, disposal_id, starts_on=_date(day) if day else None)
            elif step == "record":
                row = service.record_outcome(session, user, disposal_id, done_on=_date(day), method=way,
                                             amount=amount, counterpart=counterpart, note=note)
            elif step == "proceeds":
                disposal_proceeds.record_use(session, user, disposal_id, used_on=_date(day), amount=amount,
                                             purpose=purpose, note=note)
                row = session.get(service.Disposal, disposal_id)
            elif step == "refuse":
                row = service.refuse(session, user, disposal_id, reason)
            else:
                row = service.withdraw(session, user, disposal_id, reason)
            session.commit()
            token = session.get(Asset, row.asset_id).public_token
        except AccessDenied as exc:
            session.rollback()
            if exc.msgid != service.MSG_NOT_YOURS:  # outside the viewer's area: no page to go back to
                raise _refused(exc) from None
            return flash.refused(request, back, exc, kept=kept)
        except service.DisposalError as exc:
            session.rollback()
            return flash.refused(request, back, exc, kept=kept)
    cache = getattr(request.app.state, "public_cache", None)
    if cache is not None:  # the public page shows the notice and the record at once, not after its cache
        cache.pop(token, None)
    params = {"until": row.notice_until.isoformat()} if step == "notice" and row.notice_until else {}
    return flash.redirect(request, _page(request, disposal_id), STEP_DONE[step], **params)


@router.get("/disposals/{disposal_id}/valuation", include_in_schema=False)
def valuation_file(request: Request, disposal_id: RowId):
    """The valuation report as uploaded (for those who see the disposal)."""
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        row, _place = _load(session, user, disposal_id)
        data = state.store.blobs.get(row.valuation_file) if row.valuation_file else None
    if data is None:
        raise WebError(404, MSG_NOT_FOUND)
    suffix = (row.valuation_file or "").rpartition(".")[2]
    media = {"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}[suffix]
    name = row.valuation_file_name or f"valuation.{suffix}"
    return Response(data, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"valuation-{disposal_id}.{suffix}\"; "
                               f"filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.get("/disposals/{disposal_id}/notice.pdf", include_in_schema=False)
def notice_pdf(request: Request, disposal_id: RowId):
    """The A4 notice of the disposal (or of its result) for the village board."""
    from bot.services import disposal_notice, signboard

    state = web(request)
    settings = state.settings
    with state.session() as session:
        user = require_user(request, session)
        row, place = _load(session, user, disposal_id)
        if row.status not in ("notice", "recorded"):
            raise WebError(409, N_("The notice can be printed once the public notice has started."))
        buffer = io.BytesIO()
        try:
            disposal_notice.write_pdf(session, row, place, buffer, base_url=settings.public_url,
                                      supervision_phone=settings.supervision_phone)
        except signboard.SignboardError as exc:
            raise WebError(503, exc.msgid, **exc.params) from None
    disposition = f"attachment; filename=\"disposal-{disposal_id}.pdf\""
    return Response(buffer.getvalue(), media_type="application/pdf",
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff"})


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the disposal pages."""
    app.include_router(router)
