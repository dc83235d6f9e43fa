"""The township's moderation of villager reports: the queue of held reports, and marking spam.

- ``GET /villager-reports``: the reports held for moderation in the user's area (linked from the
  problem list), each with Accept, Discard and Spam (discard and mute the sender);
- ``POST /villager-reports/<id>/<accept|discard|spam>``;
- ``POST /problems/<id>/spam``: mark a villager problem as spam (closed; its senders muted).

All are CSRF-checked posts; ``bot.services.villager_reports`` checks ``problem.handle`` over the asset.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from bot.i18n import N_, UserError
from bot.services import villager_reports
from bot.services.access import AccessDenied
from bot.web import flash
from bot.web.common import RowId, WebError, check_csrf, locale_of, require_user, web

router = APIRouter(tags=["moderation"])
MSG_OUTSIDE = N_("This is outside your area.")
DONE = {"accept": N_("Accepted onto the problem list; the township is told."), "discard": N_("Discarded."),
        "spam": N_("Marked as spam; the sender is muted for {days} days.")}


def _days(value: str) -> int:
    return int(value) if value.isdigit() and len(value) < 4 else -1


@router.get("/villager-reports", include_in_schema=False)
def held_page(request: Request):
    """The villager reports held for moderation in the signed-in user's area."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            rows, total = villager_reports.held_reports(session, user)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        return flash.render(request, "problems/held.html", rows=rows, total=total,
                      categories=villager_reports.CATEGORIES, mute_days=villager_reports.MUTE_DAYS,
                      default_days=villager_reports.DEFAULT_MUTE_DAYS)


@router.post("/villager-reports/{report_id}/{action}", include_in_schema=False)
def held_step(request: Request, report_id: RowId, action: str, csrf: Annotated[str, Form()] = "",
              days: Annotated[str, Form()] = ""):
    """Accept, discard, or discard as spam (muting the sender) one held report."""
    check_csrf(request, csrf)
    if action not in ("accept", "discard", "spam"):
        raise WebError(404, MSG_OUTSIDE)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            if action == "accept":
                villager_reports.accept(session, user, report_id)
            else:
                villager_reports.discard(session, user, report_id, spam=action == "spam",
                                         days=_days(days) if action == "spam" else 0)
            session.commit()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except UserError as exc:
            return flash.refused(request, f"/villager-reports?lang={locale_of(request)}", exc)
    return flash.redirect(request, f"/villager-reports?lang={locale_of(request)}", DONE[action], days=_days(days))


@router.post("/problems/{problem_id}/spam", include_in_schema=False)
def problem_spam(request: Request, problem_id: RowId, csrf: Annotated[str, Form()] = "",
                 days: Annotated[str, Form()] = ""):
    """Mark a villager problem as spam: it is closed and its senders are muted for the chosen days."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            villager_reports.mark_problem_spam(session, user, problem_id, days=_days(days))
            session.commit()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except UserError as exc:
            return flash.refused(request, f"/problems/{problem_id}?lang={locale_of(request)}", exc)
    return flash.redirect(request, f"/problems/{problem_id}?lang={locale_of(request)}", DONE["spam"], days=_days(days))
