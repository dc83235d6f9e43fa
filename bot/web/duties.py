"""The officers' duties on the web: what is due for a township leader, a department or county officer,
with a "record as done" form for the duties an officer's record completes (a visit, a report to the
county, a sample check, targets issued: date, note, optional attachment), the township's year-end
review of its villages (seed 004 五（三）2) and the county's grading of its townships (五（三）3).

Every state comes from ``bot.services.duties``; the review and the grading are ``bot.services.cycle``
``review`` and ``grade``. CSRF on every post; a foreign village or township is a 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import N_
from bot.services import cycle, duties
from bot.services.access import AccessDenied
from bot.storage.models import OrgUnit, User
from bot.web.common import WebError, check_csrf, locale_of, make_web, require_user, web
from bot.web.common import render as _render

router = APIRouter(tags=["duties"])

MSG_FORBIDDEN = N_("This page is for township and county officers.")
MSG_BAD_DATE = N_("Give the date as YYYY-MM-DD.")
MSG_BAD_YEAR = N_("Give the year as four digits.")


def render(request: Request, template: str, **context):
    """Render with ``period_name`` (2026年第3季度, not 2026-Q3) available to the template."""
    locale = locale_of(request)
    return _render(request, template, period_name=lambda p: duties.period_name(p, locale), **context)


def _officer(request: Request, session) -> User:
    user = require_user(request, session)
    if user.role not in (*duties.RECORDER_ROLES, "admin"):
        raise WebError(403, MSG_FORBIDDEN)
    return user


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


def _year(request: Request, year: str | None) -> int:
    """Return the year asked for, else the cycle's year: this year from November, else the previous one."""
    if year:
        if not (year.isdigit() and len(year) == 4):
            raise WebError(400, MSG_BAD_YEAR)
        return int(year)
    today = utcnow().astimezone(web(request).settings.tz).date()
    return today.year if today.month >= 11 else today.year - 1


@router.get("/duties", include_in_schema=False)
def duty_list(request: Request):
    """The user's duties: due and late first, then done in the last month, each with how it is done."""
    with web(request).session() as session:
        user = _officer(request, session)
        now = utcnow()
        states = duties.for_user(session, user, now)
        tz = web(request).settings.tz
        profile = duties.profile_of(session, session.get(OrgUnit, user.org_unit_id)) if user.org_unit_id else None
        if profile is not None:
            tz = ZoneInfo(profile.timezone)
        open_states = [s for s in states if s.state != duties.DONE]
        done_states = [s for s in states if s.state == duties.DONE]
        today = now.astimezone(tz).date().isoformat()
        return render(request, "duties/list.html", user=user, open_states=open_states, done_states=done_states,
                      labels=duties.STATE_LABELS, by_labels=duties.BY_LABELS, tz=tz, today=today,
                      has_profile=profile is not None)


@router.post("/duties/record", include_in_schema=False)
async def duty_record(request: Request, item: Annotated[str, Form()] = "", period: Annotated[str, Form()] = "",
                      occurred_on: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                      csrf: Annotated[str, Form()] = "", attachment: UploadFile | None = None):
    """Record a duty done by the officer's record (date, note, optional attachment)."""
    check_csrf(request, csrf)
    settings = web(request).settings
    content = b""
    name = ""
    if attachment is not None and attachment.filename:
        content = await attachment.read(settings.max_upload_mb * 1024 * 1024 + 1)
        name = attachment.filename
    try:
        day = dt.date.fromisoformat(occurred_on.strip())
    except ValueError:
        raise WebError(400, MSG_BAD_DATE) from None
    with web(request).session() as session:
        user = _officer(request, session)
        try:
            duties.record(session, user, item, period, occurred_on=day, note=note,
                          attachment=(name, content) if content else None, data_dir=settings.data_dir,
                          max_bytes=settings.max_upload_mb * 1024 * 1024, store=web(request).store.blobs)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except duties.DutyError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/duties?{request.url.query}", status_code=303)


# --- the township's year-end review ---------------------------------------------------------------------


@router.get("/duties/review", include_in_schema=False)
def review_list(request: Request, year: str | None = None):
    """The township's villages for the year-end review: reported or not, review form, score."""
    with web(request).session() as session:
        user = _officer(request, session)
        chosen = _year(request, year)
        try:
            rows = cycle.reviews(session, user, user.org_unit_id, chosen)
        except AccessDenied as exc:
            raise _refused(exc) from None
        return render(request, "duties/review_list.html", user=user, rows=rows, year=chosen,
                      township=session.get(OrgUnit, user.org_unit_id))


@router.get("/duties/review/{village_id}", include_in_schema=False)
def review_sheet(request: Request, village_id: int, year: str | None = None):
    """The score sheet of each checked asset of the village: judgments (met or not) and counted facts."""
    with web(request).session() as session:
        user = _officer(request, session)
        chosen = _year(request, year)
        try:
            sheets = cycle.review_sheets(session, user, village_id, chosen)
        except AccessDenied as exc:
            raise _refused(exc) from None
        row = next((r for r in cycle.reviews(session, user, session.get(OrgUnit, village_id).parent_id, chosen)
                    if r.village.id == village_id), None)
        return render(request, "duties/review_sheet.html", user=user, sheets=sheets, year=chosen,
                      village=session.get(OrgUnit, village_id), row=row)


@router.post("/duties/review/{village_id}", include_in_schema=False)
async def review_submit(request: Request, village_id: int, year: str | None = None):
    """Score the village (``cycle.review``): records the township's review duty once every village is scored."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    with web(request).session() as session:
        user = _officer(request, session)
        chosen = _year(request, year or str(form.get("year") or ""))
        try:
            sheets = cycle.review_sheets(session, user, village_id, chosen)
            cycle.review(session, user, village_id, chosen, cycle.evaluations_from_form(sheets, form))
        except AccessDenied as exc:
            raise _refused(exc) from None
        except cycle.CycleError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/duties/review?year={chosen}", status_code=303)


# --- the county's grading -------------------------------------------------------------------------------


@router.get("/duties/grade", include_in_schema=False)
def grade_list(request: Request, year: str | None = None):
    """The county's townships: villages reviewed, mean score, grade or a button to grade."""
    with web(request).session() as session:
        user = _officer(request, session)
        chosen = _year(request, year)
        try:
            rows = cycle.gradings(session, user, user.org_unit_id, chosen)
        except AccessDenied as exc:
            raise _refused(exc) from None
        return render(request, "duties/grade_list.html", user=user, rows=rows, year=chosen)


@router.post("/duties/grade/{township_id}", include_in_schema=False)
def grade_submit(request: Request, township_id: int, year: Annotated[str, Form()] = "",
                 csrf: Annotated[str, Form()] = ""):
    """Grade the township (``cycle.grade``): records the county's grading duty once every township is graded."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = _officer(request, session)
        chosen = _year(request, year)
        try:
            cycle.grade(session, user, township_id, chosen)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except cycle.CycleError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/duties/grade?year={chosen}", status_code=303)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the duty pages (after bot.web.routes has set up the shared web state)."""
    if not hasattr(app.state, "web"):
        app.state.web = make_web(settings, engine)
    app.include_router(router)
