"""The problem list (问题清单) on the web for township and county: filters, a problem's page, and every step.

Filters: township or village (``unit``), asset, severity, status, minimum age in days, open only.
A problem's page shows what, where, its status, the villagers' photos, and its history in words (who,
when, what; periods as 2026年12月), with the steps the user may take, the same services as the
Telegram buttons (``bot.services.problems`` and ``bot.services.problem_list``, which write the outbox
notices of a step, e.g. the county's when a problem is handed up):

- ``POST /problems/<id>/ack`` acknowledge; ``/hand`` mark as in hand;
- ``POST /problems/<id>/resolve`` resolve with a note and up to ``problems.MAX_PHOTOS`` photos (checked by
  the evidence store, the upload limits of every photo form, ``bot.web.limits``);
- ``POST /problems/<id>/escalate`` hand up to the county with a proposed disposal; ``/decide`` the county's
  decision.

Every post is CSRF-checked and answers 303 to the problem's page with a line saying what was done or why
it was refused (``bot.web.flash``): reloading is a GET. Another township's problem is a 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bot.clock import as_utc, utcnow
from bot.config import Settings
from bot.i18n import N_, UserError, translate
from bot.services import contracts, duties, problem_list, problems, villager_reports
from bot.services.access import PERMISSIONS, AccessDenied
from bot.services.evidence import EvidenceError
from bot.web import flash
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, query_id, require_user, web

router = APIRouter(tags=["problems"])

HANDLING = ("open", "acknowledged", "in_hand")
SOURCES = {"report": N_("Found in a monthly check"), "villager": N_("Reported by a villager on the public page"),
           "inspection": N_("Found in an inspection"),
           "income": N_("Found in the income records: income due was not received"),
           "contract": N_("Found in the check of contracts (the ledger)")}
DONE = {
    "ack": N_("Acknowledged. You will be reminded to act; resolve it when it is dealt with."),
    "hand": N_("Marked as in hand."),
    "resolve": N_("Resolved and recorded. Thank you."),
    "escalate": N_("Handed up to the county; the county office is told."),
    "decide": N_("Decision recorded; the township is told."),
}
KEPT = {"escalate": "proposal", "decide": "decision"}




def _kind_label(problem) -> str:
    """A problem's description, or what its kind says in words (never the stored code)."""
    if problem.description:
        return problem.description
    if problem.kind in contracts.KIND_LABELS:
        return contracts.KIND_LABELS[problem.kind]
    category = problem.kind.removeprefix("villager.")
    return villager_reports.CATEGORIES.get(category, N_("Problem"))


@router.get("/problems", include_in_schema=False)
def problems_page(request: Request, unit: str | None = None, asset: str | None = None, severity: str | None = None,
                  status: str | None = None, age: str | None = None, open: str | None = "1"):  # noqa: A002
    """The problems in the signed-in user's area, filtered."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            rows = problem_list.list_problems(
                session, user, unit_id=query_id(unit), asset_id=query_id(asset), severity=severity or None,
                status=status or None, min_age_days=query_id(age), open_only=open == "1")
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except problem_list.ProblemListError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
        if "problem.decide" in PERMISSIONS.get(user.role, frozenset()):
            rows.sort(key=lambda r: r.problem.status != "escalated")  # the county's own first (stable sort)
        return flash.render(request, "problems/list.html", rows=rows[:200], total=len(rows), now=utcnow(),
                            held=villager_reports.held_count(session, user), kind_label=_kind_label,
                            filters={"unit": unit or "", "asset": asset or "", "severity": severity or "",
                                     "status": status or "", "age": age or "", "open": open},
                            severities=problem_list.SEVERITY_LABELS, statuses=problem_list.STATUS_LABELS)


def _day(locale: str, day: dt.date) -> str:
    """A date as people write it: 2026年12月3日, or 2026-12-03 in English."""
    return f"{day.year}年{day.month}月{day.day}日" if locale != "en" else day.isoformat()


def _when(request: Request, moment: dt.datetime) -> str:
    """A moment in the county's time zone, as people write it: 2026年12月3日 14:05."""
    local = as_utc(moment).astimezone(web(request).settings.tz)
    return f"{_day(locale_of(request), local.date())} {local:%H:%M}"


def _sentences(request: Request, entries: list[problem_list.HistoryEntry]) -> list[dict]:
    locale = locale_of(request)
    shown = []
    for entry in entries:
        params = dict(entry.params)
        if "who" in params and params["who"] == problem_list.NOBODY:
            params["who"] = translate(locale, problem_list.NOBODY)
        if entry.period:
            params["period"] = duties.period_name(entry.period, locale) if len(entry.period) >= 4 else entry.period
        text = translate(locale, entry.msgid, **params)
        shown.append({"at": _when(request, entry.at), "text": text, "photos": entry.photos, "note": entry.note})
    return shown


@router.get("/problems/{problem_id}", include_in_schema=False)
def problem_page(request: Request, problem_id: RowId):
    """One problem with its photos, its history in words and the steps the user may take."""
    with web(request).session() as session:
        user = require_user(request, session)
        rows = problem_list.list_problems(session, user, problem_id=problem_id)
        if not rows:
            raise WebError(403, N_("This is outside your area."))
        row = rows[0]
        entries = problem_list.history_in_words(session, user, problem_id)
        pictures = problem_list.photos(session, user, problem_id)
        allowed = PERMISSIONS.get(user.role, frozenset())
        status = row.problem.status
        can_handle = "problem.handle" in allowed
        return flash.render(
            request, "problems/detail.html", row=row, history=_sentences(request, entries), now=utcnow(),
            description=_kind_label(row.problem),
            due=_day(locale_of(request), row.due_at.astimezone(web(request).settings.tz).date()), source=SOURCES.get(row.problem.source),
            status_label=problem_list.STATUS_LABELS.get(status, N_("Problem")),
            severity_label=problem_list.SEVERITY_LABELS.get(row.problem.severity, ""),
            villager_photos=[p for p in pictures if p.source == "villager"],
            villager_shas={p.sha256 for p in pictures if p.source == "villager"},
            can_ack=can_handle and status == "open" and row.problem.acknowledged_at is None,
            can_hand=can_handle and status in ("open", "acknowledged"),
            can_resolve=can_handle and status in HANDLING,
            can_escalate=can_handle and status in HANDLING,
            can_spam=can_handle and row.problem.source == "villager" and status in HANDLING,
            can_decide="problem.decide" in allowed and status == "escalated",
            waiting_county=status == "escalated" and "problem.decide" not in allowed,
            max_photos=problems.MAX_PHOTOS, max_mb=web(request).settings.max_upload_mb,
            villager_count=villager_reports.villager_count(session, problem_id),
            mute_days=villager_reports.MUTE_DAYS, default_days=villager_reports.DEFAULT_MUTE_DAYS)


@router.get("/problems/{problem_id}/photo/{sha256}.jpg", include_in_schema=False)
def problem_photo(request: Request, problem_id: RowId, sha256: str):
    """A photo of this problem (a villager's, or one added when it was resolved): its copy without EXIF."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            known = {p.sha256 for p in problem_list.photos(session, user, problem_id)}
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
    data = web(request).store.display(sha256) if sha256 in known else None
    if data is None:
        raise WebError(404, MSG_NOT_FOUND)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def _page(request: Request, problem_id: int) -> str:
    return f"/problems/{problem_id}?lang={locale_of(request)}"


@router.post("/problems/{problem_id}/resolve", include_in_schema=False)
async def resolve(request: Request, problem_id: RowId, csrf: Annotated[str, Form()] = "",
                  note: Annotated[str, Form()] = "", photo: Annotated[list[UploadFile] | None, File()] = None):
    """Resolve with a note saying what was done and optional photos (the evidence store checks each)."""
    check_csrf(request, csrf)
    state = web(request)
    uploads = [u for u in photo or [] if u is not None and u.filename]
    kept = {"note": note[:problems.NOTE_MAX]}
    try:
        if len(uploads) > problems.MAX_PHOTOS:
            raise problems.ProblemError(N_("Add at most {limit} photos."), limit=problems.MAX_PHOTOS)
        data = []
        for upload in uploads:
            content = await upload.read(state.store.max_bytes + 1)
            if content:
                state.store.check_size(upload.size or len(content))  # the real size, not the bytes read
                data.append(content)
    except (UserError, EvidenceError) as exc:
        return flash.refused(request, _page(request, problem_id), exc, kept=kept)

    def work() -> None:
        with state.session() as session:
            user = require_user(request, session)
            problems.resolve(session, user, problem_id, note, photos=data, store=state.store)
            session.commit()

    try:
        await run_in_threadpool(work)  # decoding photos is slow: the event loop keeps serving
    except AccessDenied as exc:
        raise WebError(403, exc.msgid, **exc.params) from None
    except (UserError, EvidenceError) as exc:
        return flash.refused(request, _page(request, problem_id), exc, kept=kept)
    return flash.redirect(request, _page(request, problem_id), DONE["resolve"])


def _acknowledge(session, user, problem_id: int, _text: str) -> None:
    problems.acknowledge(session, user, problem_id)


STEPS = {"ack": _acknowledge, "hand": problem_list.take_in_hand, "escalate": problem_list.escalate,
         "decide": problem_list.decide}


@router.post("/problems/{problem_id}/{step}", include_in_schema=False)
def problem_step(request: Request, problem_id: RowId, step: str, csrf: Annotated[str, Form()] = "",
                 text: Annotated[str, Form()] = ""):
    """Acknowledge, mark as in hand, hand up to the county with a proposal, or record the county's decision."""
    check_csrf(request, csrf)
    action = STEPS.get(step)
    if action is None:
        raise WebError(404, MSG_NOT_FOUND)
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            action(session, user, problem_id, text)
            session.commit()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except UserError as exc:
            session.rollback()
            kept = {KEPT[step]: text[:problem_list.TEXT_MAX]} if step in KEPT else None
            return flash.refused(request, _page(request, problem_id), exc, kept=kept)
    return flash.redirect(request, _page(request, problem_id), DONE[step])


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the problem list pages (and, first, the moderation of villager reports)."""
    from bot.web import moderation

    app.include_router(moderation.router)
    app.include_router(router)

