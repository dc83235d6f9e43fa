"""The JSON API under /api (described at /openapi.json): what the pages do, for scripts and apps.

Signed-in calls use the same session cookie as the pages; calls that change something also need
the ``X-CSRF-Token`` header (the ``csrf`` that ``GET /api/me`` returns for this browser).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.flows import AnswerError
from bot.i18n import N_, translate
from bot.services import public, reports, weblinks
from bot.services.access import AccessDenied
from bot.web.common import (
    DEVICE_COOKIE,
    YEAR,
    RowId,
    WebError,
    check_csrf,
    csrf_token,
    device_id,
    locale_of,
    require_user,
    web,
)
from bot.web.form import report_in_scope
from bot.web.public import disclosed

router = APIRouter(prefix="/api", tags=["api"])
MSG_PHOTO_UPLOAD = N_("Photos are sent by uploading them on the form page.")
ERRORS = {401: {"description": "Not signed in"}, 403: {"description": "Outside your area, or no CSRF token"},
          404: {"description": "Unknown"}}


class Error(BaseModel):
    """An error, explained in the request's language."""

    detail: str


class LastCheck(BaseModel):
    date: dt.date
    period: str
    problems_open: int


class PublicPhoto(BaseModel):
    question: str
    sha256: str


class PostedNotice(BaseModel):
    """The village's year-end self-evaluation while it is posted for public comment (personal numbers masked)."""

    village: str
    period: str
    posted_from: str
    posted_until: str
    targets_met: str
    self_score: str
    summary: str


class IncomeShare(BaseModel):
    """One category of the year's distribution: planned and paid (万元), and a number of households at most."""

    category: str
    planned: str
    paid: str
    households: int | None


class IncomeShared(BaseModel):
    """The year's income received and how it was shared, in totals (issue 17): no household's name or ID."""

    year: int
    received: str | None
    distributed: str
    plan_status: str | None
    shares: list[IncomeShare]
class PublicDisposal(BaseModel):
    """A disposal (处置) on the public page: its notice while it runs, then what became of the asset."""

    stage: str
    reason: str
    method: str
    valuation: str | None
    notice_from: dt.date | None
    notice_until: dt.date | None
    outcome_on: dt.date | None
    outcome_method: str | None
    outcome_amount: str | None
    counterpart: str | None


class PublicAsset(BaseModel):
    """The disclosed facts of one asset (see bot/services/public.py for the whitelist).

    Exactly the keys of ``bot.services.public.published``, which the page /p/<token> shows too.
    """

    token: str
    name: str
    asset_type: str
    industry_category: str | None
    village: str
    township: str | None
    county: str | None
    funds_total: str
    funds: dict[str, str]
    year_completed: int | None
    owner: str | None
    custodian: str | None
    operator: str | None
    contract_start: dt.date | None
    contract_end: dt.date | None
    year: int
    income_distributed: str | None
    households_benefited: int | None
    poor_households_benefited: int | None
    last_check: LastCheck | None
    four_way_class: str | None
    photos: list[PublicPhoto]
    supervision_phone: str | None
    posted_evaluation: PostedNotice | None
    income_shared: IncomeShared | None
    disposal: PublicDisposal | None


class Me(BaseModel):
    """The signed-in user, and the CSRF token to send with changes from this browser."""

    id: int
    name: str
    role: str
    csrf: str


class MyAsset(BaseModel):
    """One asset of the user's area with this month's report state (done / draft / todo)."""

    asset_id: int
    name: str
    project_code: str
    asset_type: str
    state: Literal["done", "draft", "todo"]
    report_id: int | None


class AnswerIn(BaseModel):
    """One step on a draft: answer a question (``value``), or skip / done / back / goto / clear / toggle."""

    key: str = Field(max_length=64)
    action: Literal["answer", "skip", "done", "back", "goto", "clear", "toggle"] = "answer"
    value: Any = None
    option: str | None = Field(default=None, max_length=64)


class ReportState(BaseModel):
    """A report's answers and where its walk stands."""

    report_id: int
    status: str
    position: str | None
    answers: dict[str, Any]
    complete: bool
    missing: list[str]


def _state(report) -> ReportState:
    walker = reports.walker_for(report)
    return ReportState(report_id=report.id, status=report.status, position=report.position,
                       answers=report.answers, complete=walker.complete, missing=walker.missing())


@router.get("/public/{token}", response_model=PublicAsset, responses={404: {"model": Error}})
async def api_public(request: Request, token: str) -> dict:
    """Return the public disclosure of the asset with this QR token (the same facts as /p/<token>)."""
    return public.published(await disclosed(request, token))


@router.get("/me", response_model=Me, responses={401: {"model": Error}})
def api_me(request: Request, response: Response) -> Me:
    """Return the signed-in user and this browser's CSRF token (setting the device cookie if needed)."""
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
    device = device_id(request)
    if device is None:
        device = secrets.token_urlsafe(18)
        response.set_cookie(DEVICE_COOKIE, weblinks.sign(state.settings.secret_key, "device", device),
                            max_age=YEAR, httponly=True, samesite="lax")
    return Me(id=user.id, name=user.name, role=user.role, csrf=csrf_token(state.settings.secret_key, device))


@router.get("/me/assets", response_model=list[MyAsset], responses={401: {"model": Error}})
def api_my_assets(request: Request) -> list[MyAsset]:
    """Return this month's assets of the signed-in user with their report state."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            rows = reports.month_overview(session, user, reports.current_period(tz=web(request).settings.tz))
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        return [MyAsset(asset_id=r.asset.id, name=r.asset.name, project_code=r.asset.project_code,
                        asset_type=r.asset.asset_type, state=r.state,
                        report_id=r.report.id if r.report else None)
                for r in rows]


@router.get("/reports/{report_id}", response_model=ReportState, responses={**ERRORS})
def api_report(request: Request, report_id: RowId) -> ReportState:
    """Return a report of the user's area."""
    with web(request).session() as session:
        user = require_user(request, session)
        report, _asset = report_in_scope(session, user, report_id)
        return _state(report)


@router.post("/reports/{report_id}/answers", response_model=ReportState,
             responses={**ERRORS, 409: {"model": Error}, 422: {"model": Error}})
def api_answer(request: Request, report_id: RowId, body: AnswerIn,
               x_csrf_token: str | None = Header(default=None)):
    """Apply one step to a draft and save it at once; 422 explains an answer that cannot be accepted."""
    with web(request).session() as session:
        user = require_user(request, session)
        check_csrf(request, x_csrf_token)
        report, _asset = report_in_scope(session, user, report_id)
        question = reports.walker_for(report).form.question(body.key)
        if body.action == "answer" and question is not None and question.type == "photo":
            return JSONResponse({"detail": translate(locale_of(request), MSG_PHOTO_UPLOAD), "key": body.key},
                                status_code=422)
        steps = {
            "answer": lambda: reports.answer(session, user, report_id, body.key, body.value),
            "skip": lambda: reports.skip(session, user, report_id, body.key),
            "done": lambda: reports.done(session, user, report_id, body.key),
            "back": lambda: reports.back(session, user, report_id),
            "goto": lambda: reports.goto(session, user, report_id, body.key),
            "clear": lambda: reports.clear(session, user, report_id, body.key),
            "toggle": lambda: reports.toggle(session, user, report_id, body.key, body.option or ""),
        }
        try:
            report, _walker = steps[body.action]()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except reports.ReportError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
        except AnswerError as exc:
            return JSONResponse({"detail": translate(locale_of(request), exc.msgid, **exc.params),
                                 "key": exc.key}, status_code=422)
        return _state(report)


@router.post("/reports/{report_id}/submit", response_model=ReportState,
             responses={**ERRORS, 409: {"model": Error}})
def api_submit(request: Request, report_id: RowId, x_csrf_token: str | None = Header(default=None)):
    """Submit a complete draft; 409 lists what is missing."""
    with web(request).session() as session:
        user = require_user(request, session)
        check_csrf(request, x_csrf_token)
        report_in_scope(session, user, report_id)
        try:
            result = reports.submit(session, user, report_id)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except reports.ReportError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
        return _state(result.report)
