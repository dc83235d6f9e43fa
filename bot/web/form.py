"""The mobile checklist form: this month's assets, one question per screen, review, submit.

Plain HTML forms (post, then redirect) so it works without JavaScript; every post carries the
CSRF token and every request checks the signed-in user's scope through bot.services.reports
(another village's report or asset is a 403). Drafts are the same rows the Telegram bot uses.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.flows import AnswerError, Question, Walker, format_answer, load_form
from bot.i18n import N_, translate
from bot.services import cycle, reports
from bot.services.access import PERMISSIONS, AccessDenied
from bot.services.evidence import EvidenceError, flag_label
from bot.storage.models import Asset, OrgUnit, Photo, PhotoUse, Problem, Report
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, render, require_user, web

router = APIRouter(tags=["form"])

ACTIONS = ("answer", "skip", "back", "done", "photo", "clear")
MSG_NO_FILE = N_("Please choose a photo first.")
MSG_LOCATION_NUMBERS = N_("Please enter the latitude and longitude as numbers, or use the button.")


def report_in_scope(session: Session, user, report_id: int) -> tuple[Report, Asset | OrgUnit]:
    """Return a report the user may fill and what it is about (an asset, or a village or township for the
    calendar's forms); 403 for unknown and foreign ids alike."""
    report = session.get(Report, report_id)
    try:
        if report is None:
            raise AccessDenied()
        reports.require_subject(session, user, reports.fill_action(report.form_id), report)
    except AccessDenied as exc:
        raise _refused(exc) from None
    subject = session.get(Asset, report.asset_id) if report.asset_id else session.get(OrgUnit, report.org_unit_id)
    return report, subject


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


@router.get("/f", include_in_schema=False)
def overview(request: Request):
    """List the signed-in cadre's assets this month with done / draft / todo."""
    with web(request).session() as session:
        user = require_user(request, session)
        period = reports.current_period(tz=web(request).settings.tz)
        try:
            rows = reports.month_overview(session, user, period)
        except AccessDenied as exc:
            raise _refused(exc) from None
        due = cycle.due_forms(session, user)
        can_sign = "report.sign_off" in PERMISSIONS.get(user.role, ())
        sign_offs = [(r, reports.subject_name(session, r)) for r in cycle.awaiting_sign_off(session, user)] \
            if can_sign else []
        return render(request, "overview.html", user=user, rows=rows, period=period, due=due,
                      can_fill="report.fill" in PERMISSIONS.get(user.role, ()), sign_offs=sign_offs,
                      to_report=cycle.to_report_up(session, user), now=utcnow(), tz=web(request).settings.tz,
                      form_title=lambda form_id: load_form(form_id).title)


def _signable(session: Session, user, report_id: int) -> Report:
    """A report the supervisor may sign off (403 for unknown and foreign ids alike)."""
    report = session.get(Report, report_id)
    try:
        reports.require_subject(session, user, "report.sign_off", report)
    except AccessDenied as exc:
        raise _refused(exc) from None
    return report


@router.get("/f/signoff/{report_id}", include_in_schema=False)
def sign_off_page(request: Request, report_id: RowId):
    """The answers of a report waiting for the village supervisor, with the button that signs it off."""
    with web(request).session() as session:
        user = require_user(request, session)
        report = _signable(session, user, report_id)
        locale = locale_of(request)
        rows = [(q, format_answer(q, value, locale) if value is not None else None)
                for q, value in reports.walker_for(report).review()]
        return render(request, "signoff.html", report=report, rows=rows, subject=reports.subject_name(session, report),
                      form_title=load_form(report.form_id).title, waiting=cycle.needs_sign_off(report),
                      masking=cycle.posting_warning(report, locale), signing=cycle.signing(session, report))


@router.post("/f/signoff/{report_id}", include_in_schema=False)
def sign_off(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = "",
             post: Annotated[str, Form(max_length=32)] = ""):
    """Sign the report off (posted publicly first where the form says so, else filed with the township); where
    the profile names two signers, this is the signature for ``post`` (issue 16, bot/services/cycle.py)."""
    return _cycle_step(request, csrf, functools.partial(cycle.sign_off, post=post or None), report_id)


@router.post("/f/signoff/{report_id}/back", include_in_schema=False)
def send_back(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = "",
              reason: Annotated[str, Form()] = ""):
    """Send the report back to the village with a reason; the service tells its cadre (through the outbox)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            cycle.send_back(session, user, report_id, reason)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except cycle.CycleError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/f?{_lang(request)}", status_code=303)


@router.post("/f/report/{report_id}/up", include_in_schema=False)
def report_up(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = ""):
    """Report a signed-off report to the township once its public posting is over."""
    return _cycle_step(request, csrf, cycle.report_up, report_id)


def _cycle_step(request: Request, csrf: str, step, report_id: int) -> RedirectResponse:
    """Run a step of the yearly cycle (it checks access and state) and go back to the list."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            step(session, user, report_id)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except cycle.CycleError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/f?{_lang(request)}", status_code=303)


@router.post("/f/form/start", include_in_schema=False)
def start_form(request: Request, csrf: Annotated[str, Form()] = "", form_id: Annotated[str, Form()] = "",
               subject_id: Annotated[int, Form(ge=0, le=2_147_483_647)] = 0,
               period: Annotated[str, Form(max_length=16)] = ""):
    """Start (or resume) a form of the calendars (inspection, quarterly forms, the yearly cycle) and open it."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            report = cycle.start(session, user, form_id, subject_id, period, channel="web")
        except AccessDenied as exc:
            raise _refused(exc) from None
        except (cycle.CycleError, reports.ReportError) as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/f/report/{report.id}?{_lang(request)}", status_code=303)


@router.post("/f/start/{asset_id}", include_in_schema=False)
def start(request: Request, asset_id: RowId, csrf: Annotated[str, Form()] = ""):
    """Start (or resume) this month's draft of an asset and open it."""
    check_csrf(request, csrf)
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        try:
            report = reports.start_or_resume(session, user, asset_id, channel="web",
                                             period=reports.current_period(tz=state.settings.tz))
        except AccessDenied as exc:
            raise _refused(exc) from None
        except reports.ReportError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
    return RedirectResponse(f"/f/report/{report.id}?{_lang(request)}", status_code=303)


def _lang(request: Request) -> str:
    return f"lang={locale_of(request)}"


def _photos(session: Session, report: Report, key: str, locale: str) -> list[dict]:
    """Return the photos answered for ``key`` with their doubt flags, in the answer's order."""
    refs = report.answers.get(key) or []
    shas = [ref["sha256"] for ref in refs if isinstance(ref, dict)]
    flags: dict[str, list[str]] = {}
    for use, photo in session.exec(select(PhotoUse, Photo).join(Photo, Photo.id == PhotoUse.photo_id).where(
            PhotoUse.report_id == report.id, PhotoUse.question_key == key)):
        flags[photo.sha256] = [flag_label(locale, flag) for flag in use.flags]
    return [{"sha256": sha, "flags": flags.get(sha, [])} for sha in shas]


def _show(request: Request, session: Session, report: Report, asset: Asset, *, error: str | None = None,
          status: int = 200, typed: Any = None):
    locale = locale_of(request)
    if report.status != "draft":
        problems = session.exec(select(Problem).where(Problem.report_id == report.id)).all()
        return render(request, "submitted.html", status=status, report=report, asset=asset, problems=problems,
                      error=error)
    walker = reports.walker_for(report)
    question = walker.current()
    if question is None:
        rows = [(q, format_answer(q, value, locale) if q.key in walker.answers else None)
                for q, value in walker.review()]
        return render(request, "review.html", status=status, report=report, asset=asset, rows=rows,
                      missing=walker.missing(), error=error, masking=cycle.posting_warning(report, locale))
    shown = walker.visible()
    return render(request, "question.html", status=status, report=report, asset=asset, q=question,
                  number=shown.index(question) + 1, total=len(shown), first=shown[0] == question,
                  value=walker.answers.get(question.key) if typed is None else typed, error=error,
                  photos=_photos(session, report, question.key, locale) if question.type == "photo" else [],
                  can_finish=_can_finish(walker, question))


def _can_finish(walker: Walker, question: Question) -> bool:
    items = walker.answers.get(question.key) or []
    return question.is_list and (len(items) >= max(1, question.min_count) or not question.required)


@router.get("/f/report/{report_id}", include_in_schema=False)
def report_page(request: Request, report_id: RowId):
    """Show the current question of a draft, its review, or the submitted report."""
    with web(request).session() as session:
        user = require_user(request, session)
        report, asset = report_in_scope(session, user, report_id)
        return _show(request, session, report, asset)


def _raw_answer(question: Question, form: dict) -> Any:
    """Return the raw answer the engine parses, from the posted fields."""
    if question.type == "multi":
        return form.getlist("value")
    if question.type == "location":
        try:
            return {"lat": float(form.get("lat", "")), "lon": float(form.get("lon", ""))}
        except ValueError:
            raise AnswerError(MSG_LOCATION_NUMBERS, key=question.key) from None
    return form.get("value", "")


@router.post("/f/report/{report_id}/step", include_in_schema=False)
async def step(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = "",
               key: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "answer",
               photo: Annotated[UploadFile | None, File()] = None):
    """Apply one step (answer, skip, back, done, add a photo, clear photos) to a draft; saved at once."""
    check_csrf(request, csrf)
    state = web(request)
    form = await request.form()
    data = None
    if action == "photo" and photo is not None:
        data = await photo.read(state.store.max_bytes + 1)
    with state.session() as session:
        user = require_user(request, session)
        report, asset = report_in_scope(session, user, report_id)
        locale = locale_of(request)
        question = None  # the error page below reads it, even when the draft is refused before it is known
        try:
            if report.status == reports.EXPIRED:
                raise reports.ReportError(reports.MSG_EXPIRED, period=report.period)
            if report.status != "draft":
                raise reports.ReportError(reports.MSG_SUBMITTED)
            question = reports.walker_for(report).form.question(key)
            if action not in ACTIONS or (question is None and action != "back"):
                raise AnswerError(N_("Please answer the question shown."), key=key)
            if action == "answer":
                reports.answer(session, user, report.id, key, _raw_answer(question, form))
            elif action == "skip":
                reports.skip(session, user, report.id, key)
            elif action == "back":
                reports.back(session, user, report.id)
            elif action == "done":
                reports.done(session, user, report.id, key)
            elif action == "clear":
                reports.clear(session, user, report.id, key)
            elif not data:
                raise AnswerError(MSG_NO_FILE, key=key)
            else:
                state.store.check_size(photo.size or len(data))  # the real size, not the bytes read
                # decoding is slow: in a worker thread, so the event loop keeps serving
                await run_in_threadpool(reports.add_photo, session, user, report.id, key, data, state.store)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except (AnswerError, EvidenceError, reports.ReportError) as exc:
            session.rollback()
            report = session.get(Report, report_id)
            session.refresh(report)
            typed = form.get("value") if action == "answer" and question is not None and \
                question.type in ("number", "text", "date") else None
            return _show(request, session, report, asset, error=translate(locale, exc.msgid, **exc.params),
                         status=400, typed=typed)
    return RedirectResponse(f"/f/report/{report_id}?{_lang(request)}", status_code=303)


@router.post("/f/report/{report_id}/goto", include_in_schema=False)
def goto(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = "",
         key: Annotated[str, Form()] = ""):
    """Go back to an earlier question (from the review) to change it."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        report, asset = report_in_scope(session, user, report_id)
        try:
            reports.goto(session, user, report.id, key)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except (AnswerError, reports.ReportError) as exc:
            session.rollback()
            return _show(request, session, session.get(Report, report_id), asset, status=400,
                         error=translate(locale_of(request), exc.msgid, **exc.params))
    return RedirectResponse(f"/f/report/{report_id}?{_lang(request)}", status_code=303)


@router.post("/f/report/{report_id}/submit", include_in_schema=False)
def submit(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = ""):
    """Submit a complete draft: the same service call as on Telegram, with the same problems and
    notices (township alerts, the village supervisor's sign-off) written to the outbox."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        report, asset = report_in_scope(session, user, report_id)
        try:
            reports.submit(session, user, report.id)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except reports.ReportError as exc:
            session.rollback()
            return _show(request, session, session.get(Report, report_id), asset, status=400,
                         error=translate(locale_of(request), exc.msgid, **exc.params))
    return RedirectResponse(f"/f/report/{report_id}?{_lang(request)}", status_code=303)


@router.get("/f/report/{report_id}/photo/{sha256}.jpg", include_in_schema=False)
def report_photo(request: Request, report_id: RowId, sha256: str):
    """Serve the thumbnail of a photo attached to a report in the user's scope."""
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        report, _asset = report_in_scope(session, user, report_id)
        attached = session.exec(select(PhotoUse.id).join(Photo, Photo.id == PhotoUse.photo_id).where(
            PhotoUse.report_id == report.id, Photo.sha256 == sha256)).first()
    data = state.store.thumb(sha256) if attached else None
    if data is None:
        raise WebError(404, MSG_NOT_FOUND)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
