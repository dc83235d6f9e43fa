"""The mobile checklist form: this month's assets, one question per screen, review, submit.

Plain HTML forms (post, then redirect) so it works without JavaScript; every post carries the
CSRF token and every request checks the signed-in user's scope through bot.services.reports
(another village's report or asset is a 403). Drafts are the same rows the Telegram bot uses.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, select

from bot.clock import as_utc, utcnow
from bot.flows import AnswerError, Question, Walker, format_answer, load_form, wording
from bot.i18n import N_, Label, translate
from bot.services import cycle, reports, weblinks
from bot.services.access import PERMISSIONS, AccessDenied
from bot.services.evidence import EvidenceError, flag_label
from bot.storage.models import Asset, OrgUnit, Photo, PhotoUse, Problem, Report
from bot.storage.models_cycle import CycleStep
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, render, require_user, web

router = APIRouter(tags=["form"])

ACTIONS = ("answer", "skip", "back", "done", "photo", "clear")
MSG_NO_FILE = N_("Please choose a photo first.")
MSG_LOCATION_NUMBERS = N_("Please enter the latitude and longitude as numbers, or use the button.")
MSG_SIGNED_POSTED = N_("You signed off {form} of {subject} for {period}. It is posted publicly until {until}; "
                       "then the village reports it to the township.")
MSG_SIGNED_WAITING = N_("You signed {form} of {subject} for {period}. It still needs the signature of {posts}.")
MSG_SIGNED_TO_POST = N_("You signed off {form} of {subject} for {period}. Post it on the village notice board and "
                        "send a photo of the posted notice: the public posting starts then.")
MSG_SIGNED_FILED = N_("You signed off {form} of {subject} for {period}. It has been filed with the township.")
MSG_SENT_BACK = N_("You sent {form} of {subject} for {period} back to the village with your reason. "
                   "Its cadre has been told.")
MSG_REPORTED_UP = N_("{form} of {subject} for {period} has been reported to the township.")
MSG_NO_SIGN_OFF = N_("This report does not wait for a sign-off.")
# What became of a report the supervisor opens after the sign-off (or the send-back).
SIGN_OFF_STATES = {
    "signed_off": N_("Signed off. It is posted publicly; then the village reports it to the township."),
    "reported": N_("Signed off and reported to the township."),
    "approved": N_("Signed off, reported and approved by the township."),
    "returned": N_("Sent back to the village for correction."),
}
FLASH = "msg"  # the query parameter that carries a refusal or a confirmation to the page after a post


# --- post/redirect/get --------------------------------------------------------------------------------
# Every post answers with a redirect to a page (GET) that can be reloaded or shown in another language.
# A refusal or a confirmation travels in the address as a signed ``msg``: the msgid, its parameters, the
# status the page answers with (a refused answer stays a 400 on the page that shows it), the question it is
# about and what was typed (so a wrong number can be corrected, not typed again).

def _jsonable(value: Any) -> Any:
    if isinstance(value, Label):
        return {"label": str(value)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value) if isinstance(value, Decimal) else str(value)


def flash_url(request: Request, path: str, msgid: str, params: dict | None = None, *, status: int = 200,
              key: str | None = None, typed: Any = None) -> str:
    """Return ``path`` with the language and a signed message for the page to show."""
    payload = {"m": msgid, "p": {k: _jsonable(v) for k, v in (params or {}).items()}, "s": status}
    if key is not None:
        payload["k"] = key
    if typed is not None:
        payload["v"] = str(typed)[:2000]
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    value = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    signed = weblinks.sign(web(request).settings.secret_key, f"flash|{path}", value)
    return f"{path}?{urlencode({'lang': locale_of(request), FLASH: signed})}"


def read_flash(request: Request) -> dict | None:
    """Return the message a post left for this page (``m``, ``p``, ``s``, ``k``, ``v``), or None."""
    value = weblinks.unsign(web(request).settings.secret_key, f"flash|{request.url.path}",
                            request.query_params.get(FLASH))
    if not value:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return None
    payload["p"] = {k: Label(v["label"]) if isinstance(v, dict) else v for k, v in payload.get("p", {}).items()}
    payload["text"] = translate(locale_of(request), payload["m"], **payload["p"])
    return payload


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


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
        flash = read_flash(request)
        return render(request, "overview.html", status=flash["s"] if flash else 200, flash=flash,
                      user=user, rows=rows, period=period, due=due,
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
        flash = read_flash(request)
        return render(request, "signoff.html", status=flash["s"] if flash else 200, flash=flash,
                      report=report, rows=rows, subject=reports.subject_name(session, report),
                      form_title=load_form(report.form_id).title, waiting=cycle.needs_sign_off(report),
                      status_note=SIGN_OFF_STATES.get(report.status, MSG_NO_SIGN_OFF),
                      masking=cycle.posting_warning(report, locale), signing=cycle.signing(session, report))


@router.post("/f/signoff/{report_id}", include_in_schema=False)
def sign_off(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = "",
             post: Annotated[str, Form(max_length=32)] = ""):
    """Sign the report off (posted publicly first where the form says so, else filed with the township); where
    the profile names two signers, this is the signature for ``post`` (issue 16, bot/services/cycle.py)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            report = cycle.sign_off(session, user, report_id, post=post or None)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except cycle.CycleError as exc:
            return _redirect(flash_url(request, f"/f/signoff/{report_id}", exc.msgid, exc.params, status=409))
        params = _about(session, report)
        if report.status == cycle.SUBMITTED:  # one of several signatures: the others are still to come
            waiting = cycle.signing(session, report).waiting
            names = "、".join(translate(locale_of(request), cycle.POST_LABELS.get(p, p)) for p in waiting)
            return _redirect(flash_url(request, "/f", MSG_SIGNED_WAITING, {**params, "posts": names}))
        posting = session.exec(select(CycleStep).where(CycleStep.report_id == report.id,
                                                       CycleStep.step == "post")).first()
        if posting is not None and report.status == cycle.SIGNED_OFF:
            until = as_utc(posting.until).astimezone(web(request).settings.tz)
            return _redirect(flash_url(request, "/f", MSG_SIGNED_POSTED, {**params, "until": f"{until:%Y-%m-%d %H:%M}"}))
        rule = cycle.sign_rule(session, report)
        if rule is not None and rule.posting_photo and cycle.FORMS[report.form_id].posting_days:
            return _redirect(flash_url(request, "/f", MSG_SIGNED_TO_POST, params))
        return _redirect(flash_url(request, "/f", MSG_SIGNED_FILED, params))


def _about(session: Session, report: Report) -> dict[str, Any]:
    """The parameters that name a report in a confirmation: its form, subject and period."""
    return {"form": Label(load_form(report.form_id).title), "subject": reports.subject_name(session, report),
            "period": report.period}


@router.post("/f/signoff/{report_id}/back", include_in_schema=False)
def send_back(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = "",
              reason: Annotated[str, Form()] = ""):
    """Send the report back to the village with a reason; the service tells its cadre (through the outbox)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            report = cycle.send_back(session, user, report_id, reason)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except cycle.CycleError as exc:
            return _redirect(flash_url(request, f"/f/signoff/{report_id}", exc.msgid, exc.params, status=409,
                                       key="reason", typed=reason))
        return _redirect(flash_url(request, "/f", MSG_SENT_BACK, _about(session, report)))


@router.post("/f/report/{report_id}/up", include_in_schema=False)
def report_up(request: Request, report_id: RowId, csrf: Annotated[str, Form()] = ""):
    """Report a signed-off report to the township once its public posting is over."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            report = cycle.report_up(session, user, report_id)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except cycle.CycleError as exc:
            return _redirect(flash_url(request, "/f", exc.msgid, exc.params, status=409))
        return _redirect(flash_url(request, "/f", MSG_REPORTED_UP, _about(session, report)))


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
            return _redirect(flash_url(request, "/f", exc.msgid, exc.params, status=409))
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
        except reports.ReportError as exc:  # submitted already (another phone, a stale page): said on the list
            return _redirect(flash_url(request, "/f", exc.msgid, exc.params, status=409))
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
          status: int = 200, typed: Any = None, error_key: str | None = None):
    locale = locale_of(request)
    form = load_form(report.form_id, report.form_version)
    about = {"form": Label(form.title), "subject": asset.name, "period": report.period}
    if report.status != "draft":
        problems = session.exec(select(Problem).where(Problem.report_id == report.id)).all()
        return render(request, "submitted.html", status=status, report=report, asset=asset, problems=problems,
                      error=error, about=about, sign_off=cycle.needs_sign_off(report) and report.status == "submitted")
    walker = reports.walker_for(report)
    question = walker.current()
    if question is None:
        rows = [(q, format_answer(q, value, locale) if q.key in walker.answers else None)
                for q, value in walker.review()]
        return render(request, "review.html", status=status, report=report, asset=asset, rows=rows,
                      missing=walker.missing(), error=error, masking=cycle.posting_warning(report, locale),
                      about=about)
    if error_key is not None and error_key != question.key:  # the refusal was about another question
        error, status, typed = None, 200, None
    shown = walker.visible()
    counter, count_params = wording.progress(walker.form, shown, question)
    return render(request, "question.html", status=status, report=report, asset=asset, q=question,
                  counter=counter, count_params=count_params, first=shown[0] == question,
                  help=question.help_for(wording.WEB), how=wording.instruction(question, wording.WEB),
                  value=walker.answers.get(question.key) if typed is None else typed, error=error,
                  photos=_photos(session, report, question.key, locale) if question.type == "photo" else [],
                  can_finish=_can_finish(walker, question), about=about)


def _can_finish(walker: Walker, question: Question) -> bool:
    items = walker.answers.get(question.key) or []
    return question.is_list and (len(items) >= max(1, question.min_count) or not question.required)


@router.get("/f/report/{report_id}", include_in_schema=False)
def report_page(request: Request, report_id: RowId):
    """Show the current question of a draft, its review, or the submitted report."""
    with web(request).session() as session:
        user = require_user(request, session)
        report, asset = report_in_scope(session, user, report_id)
        flash = read_flash(request)
        if flash is None:
            return _show(request, session, report, asset)
        return _show(request, session, report, asset, error=flash["text"], status=flash["s"],
                     typed=flash.get("v"), error_key=flash.get("k"))


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
    size = (photo.size or len(data)) if photo is not None and data else 0  # the real size, not the bytes read
    # All the database work in a worker thread, as the other endpoints do: on the event loop, a request
    # waiting for a pooled connection would stop the loop, and with it the requests holding the connections
    # while they wait for a thread (the photo's decoding): a deadlock until the pool's timeout, found by
    # bench/bench_province.py with a few hundred cadres uploading at once.
    return await run_in_threadpool(_step, request, report_id, form, key, action, data, size)


def _step(request: Request, report_id: int, form, key: str, action: str, data: bytes | None, size: int):
    """The database part of ``step`` (in a worker thread; decoding a photo is slow too)."""
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        report, asset = report_in_scope(session, user, report_id)
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
                state.store.check_size(size)
                reports.add_photo(session, user, report.id, key, data, state.store)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except (AnswerError, EvidenceError, reports.ReportError) as exc:
            session.rollback()
            typed = form.get("value") if action == "answer" and question is not None and \
                question.type in ("number", "text", "date") else None
            return _redirect(flash_url(request, f"/f/report/{report_id}", exc.msgid, exc.params, status=400,
                                       key=key if question is not None else None, typed=typed))
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
            return _redirect(flash_url(request, f"/f/report/{report_id}", exc.msgid, exc.params, status=400))
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
            return _redirect(flash_url(request, f"/f/report/{report_id}", exc.msgid, exc.params, status=400))
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
