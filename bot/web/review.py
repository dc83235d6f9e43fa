"""The township's review on the web: this month's reports, one report with answers, photos and flags,
approve or send back with a reason (the cadre then corrects a new version, prefilled, on the web or
in Telegram). Same service as the Telegram bot (``bot.services.review``); CSRF on every post; every
request checked against the leader's scope (another township's report is a 403).

The list shows the reports waiting for review apart from those already approved this month. After
approve or send-back the list says what was done; a refused step (no reason, already reviewed) answers
on the report's page with what was typed kept (``bot.web.flash``): both are GET addresses.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import Response

from bot.clock import period_of, utcnow
from bot.config import Settings
from bot.flows import format_answer
from bot.i18n import N_
from bot.services import duties, reports, review
from bot.services.access import AccessDenied, require_asset
from bot.storage.models import Asset, OrgUnit, Report, User
from bot.web import flash
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, require_user, web

router = APIRouter(tags=["review"])
MSG_APPROVED = N_("Approved: {asset}, {period}.")
MSG_SENT_BACK = N_("Sent back to the village: {asset}.")


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


def _reviewable(session, user: User, report_id: int) -> tuple[Report, Asset]:
    report = session.get(Report, report_id)
    try:
        asset = require_asset(session, user, "report.review", report.asset_id if report else -1)
    except AccessDenied as exc:
        raise _refused(exc) from None
    return report, asset


@router.get("/review", include_in_schema=False)
def review_list(request: Request, period: str | None = None):
    """This month's reports of the leader's area: waiting for review first, then reviewed."""
    with web(request).session() as session:
        user = require_user(request, session)
        period = period or period_of(utcnow(), web(request).settings.tz)
        try:
            items = review.to_review(session, user, period, include_reviewed=True)
        except AccessDenied as exc:
            raise _refused(exc) from None
        items.sort(key=lambda i: (i.village.name, i.asset.name))
        waiting = [i for i in items if i.report.status == review.SUBMITTED]
        approved = [i for i in items if i.report.status != review.SUBMITTED]
        return flash.render(request, "review/list.html", user=user, waiting=waiting, approved=approved,
                            period=period, period_text=_period(request, period))


def _period(request: Request, period: str) -> str:
    """A stored period in words (2026年12月), or as it is when it is not one."""
    from bot.periods import parse

    return duties.period_name(period, locale_of(request)) if parse(period) else period


@router.get("/review/{report_id}", include_in_schema=False)
def review_detail(request: Request, report_id: RowId):
    """One report: every answer, the photos, the flags, its earlier versions; approve or send back."""
    with web(request).session() as session:
        user = require_user(request, session)
        report, asset = _reviewable(session, user, report_id)
        locale = locale_of(request)
        walker = reports.walker_for(report)
        rows = [(q, format_answer(q, value, locale)) for q, value in walker.review()]
        photos = [(key, ref["sha256"]) for key, value in report.answers.items() if isinstance(value, list)
                  for ref in value if isinstance(ref, dict) and ref.get("sha256")]
        flags = [review.flag_text(locale, f) for f in report.flags]
        versions = review.history(session, user, asset.id, report.period)
        village = session.get(OrgUnit, asset.village_id)
        return flash.render(request, "review/detail.html", report=report, asset=asset, village=village, rows=rows,
                            photos=photos, flags=flags, versions=versions, period_text=_period(request, report.period),
                            status_labels=reports.STATUS_LABELS)


@router.get("/review/{report_id}/photo/{sha256}.jpg", include_in_schema=False)
def review_photo(request: Request, report_id: RowId, sha256: str):
    """A photo of this report, as its display copy without EXIF."""
    with web(request).session() as session:
        user = require_user(request, session)
        report, _ = _reviewable(session, user, report_id)
        refs = {ref.get("sha256") for value in report.answers.values() if isinstance(value, list)
                for ref in value if isinstance(ref, dict)}
        data = web(request).store.display(sha256) if sha256 in refs else None
        if data is None:
            raise WebError(404, MSG_NOT_FOUND)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/review/{report_id}/approve", include_in_schema=False)
def approve(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = ""):
    """Approve the report."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        _, asset = _reviewable(session, user, report_id)
        try:
            report = review.approve(session, user, report_id)
        except review.ReviewError as exc:
            return flash.refused(request, _detail(request, report_id), exc)
    return flash.redirect(request, f"/review?lang={locale_of(request)}", MSG_APPROVED, asset=asset.name,
                          period=_period(request, report.period))



def _detail(request: Request, report_id: int) -> str:
    return f"/review/{report_id}?lang={locale_of(request)}"


@router.post("/review/{report_id}/send-back", include_in_schema=False)
def send_back(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = "",
              reason: Annotated[str, Form()] = ""):
    """Send the report back with a reason; the service tells the cadre (through the outbox)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        _, asset = _reviewable(session, user, report_id)
        try:
            review.send_back(session, user, report_id, reason)
        except review.ReviewError as exc:
            return flash.refused(request, _detail(request, report_id), exc, kept={"reason": reason[:review.MAX_REASON]})
    return flash.redirect(request, f"/review?lang={locale_of(request)}", MSG_SENT_BACK, asset=asset.name)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the review pages (after bot.web.routes has set up the shared web state)."""
    app.include_router(router)
