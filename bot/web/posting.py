"""The posting of a village's year-end self-evaluation on its notice board (seed 004 五(三)1, issue 16).

Where the county's profile wants it (``sign_off: … posting_photo``), a signed-off self-evaluation is posted
on the village's physical board and the cadre sends the photo of the posted notice: its 10 days count from
then (``cycle.record_posting``). The page also lists the reports held by villagers' objections raised during
the posting, until the township answers them. CSRF on every post; another village's report is a 403.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from bot.config import Settings
from bot.i18n import N_
from bot.services import cycle, reports
from bot.services.access import AccessDenied
from bot.services.evidence import EvidenceError
from bot.web import menu
from bot.web.common import WebError, check_csrf, make_web, render, require_user, web

router = APIRouter(tags=["posting"])
menu.add("/posting", N_("Posting on the notice board"), section=menu.WORK,
         hint=N_("Send the photo of the posted self-evaluation; see objections raised during the posting"),
         action="report.fill")

MSG_NO_FILE = N_("Choose the photo of the posted notice.")


@router.get("/posting", include_in_schema=False)
def posting_page(request: Request):
    """The cadre's reports waiting for the photo of their posted notice, and those held by objections."""
    with web(request).session() as session:
        user = require_user(request, session)
        waiting = [(r, reports.subject_name(session, r)) for r in cycle.awaiting_posting(session, user)]
        held = [(r, reports.subject_name(session, r), objections)
                for r, objections in cycle.held_by_objections(session, user)]
        return render(request, "cycle/posting.html", user=user, waiting=waiting, held=held,
                      days=cycle.FORMS[cycle.YEAREND].posting_days)


@router.post("/posting/{report_id}", include_in_schema=False)
async def posting_submit(request: Request, report_id: int):
    """Record the posting with its photo (post/redirect/get back to the list)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    photo = form.get("photo")
    data = await photo.read() if isinstance(photo, UploadFile) else b""
    if not data:
        raise WebError(400, MSG_NO_FILE)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            cycle.record_posting(session, user, report_id, data, web(request).store)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except cycle.CycleError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
        except EvidenceError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/posting?{request.url.query}", status_code=303)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the posting page (after bot.web.routes has set up the shared web state)."""
    if not hasattr(app.state, "web"):
        app.state.web = make_web(settings, engine)
    app.include_router(router)
