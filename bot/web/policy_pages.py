"""The county's policy profile on the web (``/policy``), for whoever may choose it (``policy.choose``):
the profile the county follows, a choice among the shipped profiles or an upload of the county's own
profile file (validated, stored as ``villagebot policy use`` stores a file; audited), the calendar of
duties the profile gives for a year, and the reminders planned this week (what ``villagebot schedule
preview`` lists). Periods and dates are in words, never as stored codes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import N_, translate
from bot.policy.calendar import occurrences
from bot.policy.facts import NO_CHANNEL
from bot.policy.loading import available, load
from bot.policy.messages import Line, render_line
from bot.policy.validate import ProfileError
from bot.services import policies
from bot.services.access import AccessDenied
from bot.services.duties import period_name
from bot.services.reach import ROLE_LABELS
from bot.services.signboard import DATE
from bot.web import menu
from bot.web.common import WebError, check_csrf, locale_of, query_id, render, require_user, web

router = APIRouter(tags=["office"])

menu.add("/policy", N_("Policy profile"), section=menu.OFFICE,
         hint=N_("The county's calendar of duties, reminders and escalations; this week's reminders"),
         action="policy.choose", order=40)

KIND_LABELS = {"reminder": N_("Reminder"), "escalation": N_("Escalation"), "alert": N_("Serious problem alert"),
               "digest": N_("Overdue summary")}
CHANNEL_LABELS = {"telegram": N_("Telegram"), "web": N_("Web"), "wecom": N_("WeCom group"),
                  "dingtalk": N_("DingTalk group")}
MSG_WHEN = N_("{date} {time}")
MSG_PROFILE_ERROR = N_("The profile in {file} has an error at {field}: {message}")
MSG_PROFILE_ERROR_FILE = N_("The profile in {file} has an error: {message}")
MSG_CHOSEN = N_("{county} now follows the profile “{profile}”.")


def _t(locale: str, msgid: str, **params: object) -> str:
    return translate(locale, msgid, **params)


def when_words(moment: dt.datetime, tz: dt.tzinfo, locale: str) -> str:
    """An instant as the county's wall clock reads it, the date in words: 2026年3月31日 23:59."""
    local = moment.astimezone(tz)
    day = _t(locale, DATE, year=local.year, month=local.month, day=local.day)
    return _t(locale, MSG_WHEN, date=day, time=local.strftime("%H:%M"))


@dataclass
class CalendarRow:
    label: str
    role: str
    period: str
    due: str
    posting: str


@dataclass
class PlannedRow:
    when: str
    kind: str
    to: str
    role: str
    joined: bool
    channel: str
    text: str


def calendar_rows(profile, year: int, locale: str) -> list[CalendarRow]:
    """Every duty the profile gives whose deadline falls in ``year`` (county time), by deadline."""
    tz = ZoneInfo(profile.timezone)
    start = dt.datetime(year, 1, 1, tzinfo=tz)
    end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
    rows = []
    for occ in occurrences(profile, tz, start, end):
        posting = when_words(occ.posting_by, tz, locale) if occ.posting_by else ""
        rows.append(CalendarRow(_t(locale, occ.label), _t(locale, ROLE_LABELS.get(occ.role, occ.role)),
                                period_name(occ.period, locale), when_words(occ.due_at, tz, locale), posting))
    return rows


_LOCAL_TEXT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}:\d{2}))?$")


def _worded(line: Line, locale: str) -> str:
    """A planned message's line with its period and dates in words (the planner carries the stored period
    label and the wall-clock text 2026-01-15 23:59)."""
    params = dict(line.params)
    for key, value in params.items():
        if key == "period" and isinstance(value, str):
            params[key] = period_name(value, locale)
        elif isinstance(value, str) and (match := _LOCAL_TEXT.match(value)):
            year, month, day, time = match.groups()
            words = _t(locale, DATE, year=int(year), month=int(month), day=int(day))
            params[key] = _t(locale, MSG_WHEN, date=words, time=time) if time else words
    return render_line(Line(line.msgid, params), locale)


def week_rows(session, county, now: dt.datetime, locale: str) -> tuple[list[PlannedRow], str, str]:
    """The messages planned for the county this week (Monday to Sunday, county time), nothing sent."""
    from bot.services.schedule_facts import preview

    profile = policies.county_profile(session, county)
    tz = ZoneInfo(profile.timezone) if profile else ZoneInfo("Asia/Shanghai")
    today = now.astimezone(tz).date()
    monday = today - dt.timedelta(days=today.weekday())
    start = dt.datetime.combine(monday, dt.time(), tzinfo=tz)
    end = start + dt.timedelta(days=7) - dt.timedelta(microseconds=1)
    first, last = (_t(locale, DATE, year=d.year, month=d.month, day=d.day)
                   for d in (monday, monday + dt.timedelta(days=6)))
    if profile is None:
        return [], first, last
    rows = []
    for view, message, facts in preview(session, start.astimezone(dt.UTC), end.astimezone(dt.UTC), county):
        name = next((r.name for r in facts.routes(message.scope, message.role)
                     if r.person == message.recipient and r.channel == message.channel), "")
        unit = view.units.get(message.scope)
        joined = message.channel != NO_CHANNEL
        text = "\n".join(_worded(line, locale) for line in (message.text, *message.lines))
        rows.append(PlannedRow(
            when_words(message.at, view.tz, locale), _t(locale, KIND_LABELS.get(message.kind, N_("Message"))),
            " · ".join(x for x in ((unit.name if unit else ""), name) if x),
            _t(locale, ROLE_LABELS.get(message.role, message.role)), joined,
            _t(locale, CHANNEL_LABELS.get(message.channel, N_("Other channel"))) if joined else "", text))
    return rows, first, last


def _county_query(county_id: int | None) -> dict:
    return {"county": county_id} if county_id else {}


def _page(request: Request, *, county_id: int | None = None, year: int | None = None, error: str | None = None,
          status: int = 200):
    state = web(request)
    locale = locale_of(request)
    with state.session() as session:
        user = require_user(request, session)
        try:
            if county_id is None and user.org_unit_id is None:
                counties = policies.choosable_counties(session, user)
                return render(request, "office/policy_counties.html", counties=counties)
            county = policies.county_for(session, user, county_id)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except policies.PolicyError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
        now = utcnow()
        current, broken = None, None
        try:
            current = policies.county_profile(session, county)
        except ProfileError as exc:
            broken = _profile_error(exc, locale)
        tz = ZoneInfo(current.timezone) if current else state.settings.tz
        this_year = now.astimezone(tz).year
        year = year if year and 2000 <= year <= 2099 else this_year
        shipped = [(pid, load(pid)) for pid in available()]
        own = policies.own_documents(session, county)
        calendar = calendar_rows(current, year, locale) if current else []
        planned, week_first, week_last = week_rows(session, county, now, locale) if current else ([], "", "")
        query = _county_query(county_id)
        sep = ", " if locale == "en" else "、"
        days_text = sep.join(str(d) for d in current.reminders.offsets_days) if current else ""
        chain_text = " → ".join(_t(locale, ROLE_LABELS.get(c.role, c.role)) for c in current.escalation.chain) \
            if current else ""
        return render(
            request, "office/policy.html", status=status, county=county, current=current, broken=broken,
            shipped=shipped, own=own, calendar=calendar, year=year, planned=planned, week_first=week_first,
            week_last=week_last, error=error, chosen=request.query_params.get("chosen") == "1",
            county_id=county_id, county_field=county_id or "",
            prev_year=f"/policy?{urlencode({**query, 'year': year - 1})}",
            next_year=f"/policy?{urlencode({**query, 'year': year + 1})}",
            reminders=current.reminders if current else None,
            days_text=days_text, chain_text=chain_text)


def _profile_error(exc: ProfileError, locale: str) -> str:
    message = _t(locale, exc.msgid, **exc.params)
    if exc.field:
        return _t(locale, MSG_PROFILE_ERROR, file=exc.file, field=exc.field, message=message)
    return _t(locale, MSG_PROFILE_ERROR_FILE, file=exc.file, message=message)




@router.get("/policy", include_in_schema=False)
def policy_page(request: Request):
    """The county's profile, the choice of profile, the year's calendar and this week's reminders."""
    params = request.query_params
    return _page(request, county_id=query_id(params.get("county")), year=query_id(params.get("year")))


def _done(request: Request, county_id: int | None) -> RedirectResponse:
    query = {**_county_query(county_id), "chosen": 1, "lang": locale_of(request)}
    return RedirectResponse(f"/policy?{urlencode(query)}", status_code=303)


def _county_of_post(request: Request, field: str) -> int | None:
    return query_id(field) or query_id(request.query_params.get("county"))


@router.post("/policy/choose", include_in_schema=False)
def choose(request: Request, csrf: Annotated[str, Form()] = "", profile: Annotated[str, Form()] = "",
           county: Annotated[str, Form()] = ""):
    """Make the county follow the chosen profile; back to the policy page (a refusal re-renders it here,
    and this address also answers GET with the policy page)."""
    check_csrf(request, csrf)
    county_id = _county_of_post(request, county)
    error = None
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            unit = policies.county_for(session, user, county_id)
            policies.choose(session, user, unit, profile.strip())
            session.commit()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except policies.PolicyError as exc:
            error = _t(locale_of(request), exc.msgid, **exc.params)
        except ProfileError as exc:
            error = _profile_error(exc, locale_of(request))
    if error is not None:
        return _page(request, county_id=county_id, error=error, status=400)
    return _done(request, county_id)


@router.post("/policy/upload", include_in_schema=False)
async def upload(request: Request, csrf: Annotated[str, Form()] = "",
                 file: Annotated[UploadFile | None, File()] = None, county: Annotated[str, Form()] = ""):
    """Validate an uploaded profile file and make the county follow it; a refused file re-renders the page
    with the reason (this address also answers GET, with the policy page)."""
    check_csrf(request, csrf)
    county_id = _county_of_post(request, county)
    data = await file.read(policies.UPLOAD_MAX_BYTES + 1) if file is not None else b""
    filename = (file.filename if file is not None else "") or "profile.yaml"
    locale = locale_of(request)
    error = None
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            unit = policies.county_for(session, user, county_id)
            if not data:
                raise policies.PolicyError(policies.MSG_EMPTY)
            policies.upload(session, user, unit, data, filename)
            session.commit()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except policies.PolicyError as exc:
            error = _t(locale, exc.msgid, **exc.params)
        except ProfileError as exc:
            error = _profile_error(exc, locale)
    if error is not None:
        return _page(request, county_id=county_id, error=error, status=400)
    return _done(request, county_id)


@router.get("/policy/choose", include_in_schema=False)
@router.get("/policy/upload", include_in_schema=False)
def back_to_policy(request: Request):
    """A reload or a language switch after a refused choice: the policy page."""
    query = {k: v for k, v in request.query_params.items() if k in ("county", "lang")}
    return RedirectResponse("/policy" + (f"?{urlencode(query)}" if query else ""), status_code=303)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the policy page."""
    app.include_router(router)
