"""The problem list (问题清单) on the web for township and county: filters, history, and the next step.

Filters: township or village (``unit``), asset, severity, status, minimum age in days, open only.
Steps (CSRF-checked posts, scope-checked by ``bot.services.problem_list``): take in hand, escalate to
the county with a proposed disposal, record the county's decision.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import N_
from bot.services import problem_list, villager_reports
from bot.services.access import PERMISSIONS, AccessDenied
from bot.web.common import RowId, WebError, check_csrf, render, require_user, web

router = APIRouter(tags=["problems"])
STEPS = {"hand": problem_list.take_in_hand, "escalate": problem_list.escalate, "decide": problem_list.decide}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


@router.get("/problems", include_in_schema=False)
def problems_page(request: Request, unit: str | None = None, asset: str | None = None, severity: str | None = None,
                  status: str | None = None, age: str | None = None, open: str | None = "1"):  # noqa: A002
    """The problems in the signed-in user's area, filtered."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            rows = problem_list.list_problems(
                session, user, unit_id=_int(unit), asset_id=_int(asset), severity=severity or None,
                status=status or None, min_age_days=_int(age), open_only=open == "1")
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except problem_list.ProblemListError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
        return render(request, "problems/list.html", rows=rows[:200], total=len(rows), now=utcnow(),
                      held=villager_reports.held_count(session, user),
                      filters={"unit": unit or "", "asset": asset or "", "severity": severity or "",
                               "status": status or "", "age": age or "", "open": open},
                      severities=problem_list.SEVERITY_LABELS, statuses=problem_list.STATUS_LABELS)


@router.get("/problems/{problem_id}", include_in_schema=False)
def problem_page(request: Request, problem_id: RowId):
    """One problem with its history and the steps the user may take."""
    with web(request).session() as session:
        user = require_user(request, session)
        rows = problem_list.list_problems(session, user, problem_id=problem_id) if problem_id < 2 ** 31 else []
        if not rows:
            raise WebError(403, N_("This is outside your area."))
        events = problem_list.history(session, user, problem_id)
        allowed = PERMISSIONS.get(user.role, frozenset())
        return render(request, "problems/detail.html", row=rows[0], events=events, now=utcnow(),
                      statuses=problem_list.STATUS_LABELS,
                      can_handle="problem.handle" in allowed, can_decide="problem.decide" in allowed,
                      villager_count=villager_reports.villager_count(session, problem_id),
                      mute_days=villager_reports.MUTE_DAYS, default_days=villager_reports.DEFAULT_MUTE_DAYS)


@router.post("/problems/{problem_id}/{step}", include_in_schema=False)
def problem_step(request: Request, problem_id: RowId, step: str, csrf: Annotated[str, Form()] = "",
                 text: Annotated[str, Form()] = ""):
    """Take in hand, escalate with a proposal, or record the county's decision."""
    check_csrf(request, csrf)
    action = STEPS.get(step)
    if action is None:
        raise WebError(404, N_("This is outside your area."))
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            action(session, user, problem_id, text)
            session.commit()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except problem_list.ProblemListError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/problems/{problem_id}?{request.url.query}", status_code=303)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the problem list pages (and, first, the moderation of villager reports)."""
    from bot.web import moderation

    app.include_router(moderation.router)
    app.include_router(router)
