"""People of an area, invites, and signing in on the web without Telegram.

- ``/people`` (county officers, township leaders): the people of the viewer's area with who has joined
  and who has not, filtered by state, role, unit and name; ``/people/{id}`` one person with their channels
  (Telegram bound?, browsers signed in, the WeCom/DingTalk group of their township) and the actions:
  a new invite, deactivate, another role or unit (all audited, by ``bot.services.users``).
- ``/people/invite``: invite a person (name, role, unit within the viewer's scope); the answer is a
  printable page with the invite's QR code and link, a copy button and the Telegram link.
- ``/join/{code}``: an invite opened in any browser (a phone's, WeChat's). The page names the person
  and asks to confirm (a link preview or scanner that only fetches the page uses nothing); confirming uses
  the invite (single use), marks the person joined as ``/start`` in Telegram does and signs this browser in
  with a long-lived, revocable session (``/me/sessions``).
- ``/me/devices``: a signed-in person makes a short-lived, single-use link (and QR code) to sign in on
  another device.
- ``/people/waiting`` lists the people who have not joined, with a button to re-issue each invite.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse

from bot.clock import as_utc
from bot.config import Settings
from bot.i18n import N_, translate
from bot.services import reach, users, weblinks
from bot.services.access import ROLE_LEVELS, AccessDenied
from bot.services.qr import qr_image
from bot.storage.models import ROLES, OrgUnit, User
from bot.web import menu
from bot.web.common import (
    RowId,
    WebError,
    check_csrf,
    current_user,
    locale_of,
    render,
    require_user,
    set_session_cookie,
    web,
)

router = APIRouter(tags=["people"])

DEVICE_LINK_TTL = dt.timedelta(minutes=15)
MSG_NAME = N_("Write the person's name.")
MSG_CHOOSE = N_("Choose a role and a unit.")
DONE = {
    "deactivated": N_("{name} is deactivated: their sign-ins have ended and their invite no longer works."),
    "changed": N_("{name} now has the new role or unit."),
    "unchanged": N_("Nothing was changed."),
    "wecom": N_("{name}'s WeCom account is recorded: their first message in the WeCom app links it."),
}
LEVEL_LABELS = {"county": N_("County"), "township": N_("Township"), "village": N_("Village")}

menu.add("/people", N_("People"), section=menu.OFFICE,
         hint=N_("Who has joined and who has not; invite, re-issue, deactivate"), action="user.reinvite", order=20)
menu.add("/people/invite", N_("Invite a person"), section=menu.OFFICE,
         hint=N_("A printable QR code and link that sign them in"), action="user.invite", order=21)
menu.add("/me/devices", N_("Sign in on another device"), section=menu.ME,
         hint=N_("A link and QR code for your other phone or computer"), order=91)


def _qr(link: str) -> str:
    buffer = io.BytesIO()
    qr_image(link, box_size=6).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _day(request: Request, moment: dt.datetime) -> str:
    return as_utc(moment).astimezone(web(request).settings.tz).strftime("%Y-%m-%d")


def _denied(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


# --- the list and one person ------------------------------------------------------------------------

@router.get("/people", include_in_schema=False)
def people_page(request: Request, status: str = "", role: str = "", unit: int = 0, q: str = ""):
    """The people of the viewer's area: joined or not, with filters."""
    status = status if status in reach.STATUS_LABELS else ""
    role = role if role in ROLES else ""
    with web(request).session() as session:
        viewer = require_user(request, session)
        try:
            rows = reach.people(session, viewer, status=status or None, role=role or None, unit_id=unit or None,
                                query=q[:100] or None)
            units = reach.units_for(session, viewer)
        except AccessDenied as exc:
            raise _denied(exc) from None
        counts = {key: 0 for key in reach.STATUS_LABELS}
        for person in rows:
            counts[person.status] += 1
        return render(request, "people/list.html", user=viewer, rows=rows, units=units, roles=reach.ROLE_LABELS,
                      statuses=reach.STATUS_LABELS, levels=LEVEL_LABELS, counts=counts,
                      chosen={"status": status, "role": role, "unit": unit, "q": q[:100]},
                      may_invite=bool(users.grantable_roles(viewer)))


# --- inviting -------------------------------------------------------------------------------------

def _invite_form(request: Request, session, viewer: User, *, status: int = 200, error: str | None = None,
                 values: dict | None = None):
    grantable = users.grantable_roles(viewer)
    if not grantable:
        raise WebError(403, N_("Your role cannot do this."))
    units = [u for u in reach.units_for(session, viewer) if any(u.level in ROLE_LEVELS[r] for r in grantable)]
    return render(request, "people/invite.html", status=status, user=viewer, roles=reach.ROLE_LABELS,
                  grantable=grantable, units=units, levels=LEVEL_LABELS, error=error,
                  values=values or {"name": "", "role": grantable[0], "unit": 0})


@router.get("/people/invite", include_in_schema=False)
def invite_page(request: Request):
    """The form to invite a person: name, role, unit."""
    with web(request).session() as session:
        viewer = require_user(request, session)
        return _invite_form(request, session, viewer)


@router.post("/people/invite", include_in_schema=False)
def invite(request: Request, csrf: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
           role: Annotated[str, Form()] = "", unit: Annotated[int, Form()] = 0):
    """Create the person and their invite; show the printable invite (a refusal re-renders the form)."""
    check_csrf(request, csrf)
    name = " ".join(name.split())[:100]
    with web(request).session() as session:
        viewer = require_user(request, session)
        values = {"name": name, "role": role, "unit": unit}
        if not name:
            return _invite_form(request, session, viewer, status=422, error=MSG_NAME, values=values)
        scope = session.get(OrgUnit, unit) if 0 < unit < 2 ** 31 else None
        if role not in ROLES or scope is None:
            return _invite_form(request, session, viewer, status=422, error=MSG_CHOOSE, values=values)
        try:
            created = users.create_invite(session, viewer, scope=scope, role=role, name=name)
            session.commit()
        except AccessDenied as exc:
            session.rollback()
            return _invite_form(request, session, viewer, status=403, error=exc.msgid, values=values)
        return _invite_card(request, viewer, created, scope, new=True)


def _invite_card(request: Request, viewer: User, created: users.CreatedInvite, unit: OrgUnit, *, new: bool):
    settings = web(request).settings
    link = created.web_link(settings.public_url)
    return render(request, "people/invite_card.html", user=viewer, person=created.user, unit=unit, new=new,
                  link=link, qr=_qr(link), telegram=created.deep_link(settings.telegram_bot_username),
                  code=created.code, until=_day(request, created.expires_at), roles=reach.ROLE_LABELS)


# --- the people who have not joined ---------------------------------------------------------------

@router.get("/people/waiting", include_in_schema=False)
def waiting_page(request: Request):
    """The people of the viewer's area who have not joined, with a button to re-issue each invite."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            rows = reach.not_joined(session, user)
        except AccessDenied as exc:
            raise _denied(exc) from None
        return render(request, "people/waiting.html", user=user, rows=rows, roles=reach.ROLE_LABELS)


@router.get("/people/waiting/{user_id}/reinvite", include_in_schema=False)
def waiting_reinvite_get(request: Request, user_id: RowId):
    """The re-issue button's address reloaded: back to the list."""
    return RedirectResponse("/people/waiting", status_code=303)


@router.post("/people/waiting/{user_id}/reinvite", include_in_schema=False)
def reinvite(request: Request, user_id: RowId, csrf: Annotated[str, Form()] = ""):
    """Re-issue the invite of one person and show the new code, link and QR code (once)."""
    check_csrf(request, csrf)
    state = web(request)
    with state.session() as session:
        viewer = require_user(request, session)
        try:
            created = reach.reissue(session, viewer, user_id)
            session.commit()
        except AccessDenied as exc:
            raise _denied(exc) from None
        except reach.ReachError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
        unit = session.get(OrgUnit, created.user.org_unit_id)
        return _invite_card(request, viewer, created, unit, new=False)


# --- one person (after /people/invite and /people/waiting: their addresses are not ids) ----------

def _person_page(request: Request, session, viewer: User, user_id: int, *, status: int = 200,
                 error: str | None = None, done: str | None = None):
    try:
        person = reach.person(session, viewer, user_id)
    except AccessDenied as exc:
        raise _denied(exc) from None
    grantable = users.grantable_roles(viewer)
    manageable = person.user.role in grantable and person.user.id != viewer.id
    units = [u for u in reach.units_for(session, viewer) if any(u.level in ROLE_LEVELS[r] for r in grantable)]
    message = None
    if done in DONE:
        message = (DONE[done], {"name": person.user.name})
    return render(request, "people/person.html", status=status, user=viewer, person=person, roles=reach.ROLE_LABELS,
                  wecom_enabled=web(request).settings.wecom_enabled,
                  statuses=reach.STATUS_LABELS, groups=reach.GROUP_LABELS, levels=LEVEL_LABELS,
                  grantable=grantable, units=units, manageable=manageable, error=error, message=message,
                  valid_until=_day(request, person.invite_valid_until) if person.invite_valid_until else None)


@router.get("/people/{user_id}", include_in_schema=False)
def person_page(request: Request, user_id: RowId, done: str = ""):
    """One person: state, channels and what may be done."""
    with web(request).session() as session:
        viewer = require_user(request, session)
        return _person_page(request, session, viewer, user_id, done=done)


@router.get("/people/{user_id}/{action}", include_in_schema=False)
def person_action_get(request: Request, user_id: RowId, action: str):
    """The address of a button reloaded or opened in another language: back to the person's page."""
    if action not in ("reinvite", "deactivate", "change", "wecom"):
        raise WebError(404, N_("This page does not exist. Check the address or scan the code again."))
    return RedirectResponse(f"/people/{user_id}?{request.url.query}", status_code=303)


@router.post("/people/{user_id}/deactivate", include_in_schema=False)
def deactivate(request: Request, user_id: RowId, csrf: Annotated[str, Form()] = ""):
    """Deactivate a person: their sign-ins end at once and their open invite stops working (audited)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        viewer = require_user(request, session)
        try:
            person = reach.person(session, viewer, user_id)
            users.deactivate(session, viewer, person.user)
            session.commit()
        except AccessDenied as exc:
            session.rollback()
            return _person_page(request, session, viewer, user_id, status=403, error=exc.msgid)
    return RedirectResponse(f"/people/{user_id}?done=deactivated", status_code=303)


@router.post("/people/{user_id}/wecom", include_in_schema=False)
def record_wecom(request: Request, user_id: RowId, csrf: Annotated[str, Form()] = "",
                 userid: Annotated[str, Form(max_length=200)] = ""):
    """Record the person's WeCom UserId (as in the WeCom admin console's member list), audited; their first
    message to the WeCom app then links it (bot/services/wecom_people.py)."""
    from bot.services import wecom_people

    check_csrf(request, csrf)
    with web(request).session() as session:
        viewer = require_user(request, session)
        try:
            person = reach.person(session, viewer, user_id)
            wecom_people.record(session, viewer, person.user, userid)
            session.commit()
        except AccessDenied as exc:
            session.rollback()
            return _person_page(request, session, viewer, user_id, status=403, error=exc.msgid)
        except wecom_people.WeComBindError as exc:
            session.rollback()
            return _person_page(request, session, viewer, user_id, status=422,
                                error=translate(locale_of(request), exc.msgid, **exc.params))
    return RedirectResponse(f"/people/{user_id}?done=wecom", status_code=303)


@router.post("/people/{user_id}/change", include_in_schema=False)
def change(request: Request, user_id: RowId, csrf: Annotated[str, Form()] = "",
           role: Annotated[str, Form()] = "", unit: Annotated[int, Form()] = 0):
    """Give a person another role or unit (audited); a refusal re-renders the person's page with why."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        viewer = require_user(request, session)
        scope = session.get(OrgUnit, unit) if 0 < unit < 2 ** 31 else None
        if role not in ROLES or scope is None:
            return _person_page(request, session, viewer, user_id, status=422, error=MSG_CHOOSE)
        try:
            person = reach.person(session, viewer, user_id)
            changed = users.change_role(session, viewer, person.user, role=role, scope=scope)
            session.commit()
        except AccessDenied as exc:
            session.rollback()
            return _person_page(request, session, viewer, user_id, status=403, error=exc.msgid)
    return RedirectResponse(f"/people/{user_id}?done={'changed' if changed else 'unchanged'}", status_code=303)


@router.post("/people/{user_id}/reinvite", include_in_schema=False)
def reissue(request: Request, user_id: RowId, csrf: Annotated[str, Form()] = ""):
    """A new invite for one person (earlier ones stop working), shown once as a printable page."""
    check_csrf(request, csrf)
    state = web(request)
    with state.session() as session:
        viewer = require_user(request, session)
        try:
            person = reach.person(session, viewer, user_id)
            created = reach.reissue(session, viewer, person.user.id, even_if_joined=True)
            session.commit()
        except AccessDenied as exc:
            session.rollback()
            return _person_page(request, session, viewer, user_id, status=403, error=exc.msgid)
        return _invite_card(request, viewer, created, person.unit, new=False)


# --- opening an invite in a browser -----------------------------------------------------------------

def _refused(exc: users.InviteError) -> WebError:
    return WebError(404 if exc.kind == "unknown" else 410, exc.msgid, **exc.params)


@router.get("/join/{code}", include_in_schema=False)
def join_page(request: Request, code: str):
    """An invite opened in a browser: who it is for, and a button to join and sign in on this device."""
    with web(request).session() as session:
        try:
            invite_row, person = users.invite_on_web(session, code)
        except users.InviteError as exc:
            me = current_user(request, session)
            if me is not None and exc.kind == "used" and users.used_by(session, code) == me.id:
                return RedirectResponse("/home", status_code=303)  # their own link, opened again where it was used
            raise _refused(exc) from None
        unit = session.get(OrgUnit, person.org_unit_id) if person.org_unit_id else None
        return render(request, "people/join.html", person=person, unit=unit, role=reach.ROLE_LABELS.get(person.role),
                      code=code, until=_day(request, invite_row.expires_at))


@router.post("/join/{code}", include_in_schema=False)
def join(request: Request, code: str, csrf: Annotated[str, Form()] = ""):
    """Use the invite: the person has joined, and this browser is signed in (a long-lived, revocable session)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        try:
            user = users.redeem_on_web(session, code)
        except users.InviteError as exc:
            session.rollback()
            raise _refused(exc) from None
        response = RedirectResponse("/home", status_code=303)
        set_session_cookie(request, response, session, user, via="invite")
        session.commit()
    return response


# --- another device -----------------------------------------------------------------------------------

@router.get("/me/devices", include_in_schema=False)
def devices_page(request: Request):
    """Sign in on another device: a button makes a short-lived, single-use link."""
    with web(request).session() as session:
        user = require_user(request, session)
        return render(request, "people/devices.html", user=user, link=None,
                      minutes=int(DEVICE_LINK_TTL.total_seconds() // 60))


@router.post("/me/devices", include_in_schema=False)
def device_link(request: Request, csrf: Annotated[str, Form()] = ""):
    """Make the link (and its QR code) that signs another device in as me, once, within minutes."""
    check_csrf(request, csrf)
    state = web(request)
    with state.session() as session:
        user = require_user(request, session)
        link = weblinks.create_link(session, user, secret=state.settings.secret_key,
                                    public_url=state.settings.public_url, ttl=DEVICE_LINK_TTL)
        session.commit()
    return render(request, "people/devices.html", user=user, link=link, qr=_qr(link),
                  minutes=int(DEVICE_LINK_TTL.total_seconds() // 60))


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the people pages, the web invite and the page to add a device."""
    app.include_router(router)
