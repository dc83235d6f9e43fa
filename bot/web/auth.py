"""Sign-in without passwords (a single-use link from the bot, or the Telegram Mini App's initData), and the
page where a signed-in person sees the browsers signed in as them and ends any of them."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse

from bot.clock import as_utc
from bot.i18n import N_, translate
from bot.services import audit, sessions, users, weblinks
from bot.storage.models import User
from bot.web.common import (
    RowId,
    WebError,
    check_csrf,
    clear_session_cookie,
    current_session,
    locale_of,
    render,
    require_user,
    set_session_cookie,
    web,
)

router = APIRouter(tags=["sign-in"])

# Where a link lands: every role's home page, the menu of its work (bot.web.menu).
HOME = {role: "/home" for role in ("village_cadre", "village_supervisor", "township_leader", "department_officer",
                                   "county_officer", "admin")}
MSG_NOT_BOUND = N_("This Telegram account is not linked to VillageBot yet. Use your invite in the bot first.")
MSG_SIGNED_OUT = N_("You are signed out on this device.")


# Where a single-use link may lead after signing in (besides /duties/…): the pages the bot's commands open.
NEXT_PAGES = ("/f", "/inventory", "/income", "/income?show=approve", "/income?show=file", "/disposals")


@router.get("/auth/link/{token}", include_in_schema=False)
def sign_in_by_link(request: Request, token: str, next: str | None = None):
    """Consume a single-use sign-in link and open a session; refuse forged, expired and used links.

    ``next`` may send the user on to the checklist (``/f``), the yearly inventory (``/inventory``), the income
    pages (``/income``, or its lists to approve or file), the disposals (``/disposals``) or a duty page (a path
    under /duties/), nothing else."""
    state = web(request)
    with state.session() as session:
        try:
            row = weblinks.redeem_link(session, token, secret=state.settings.secret_key)
        except weblinks.LinkError as exc:
            session.rollback()
            raise WebError(403, exc.msgid) from None
        user = session.get(User, row.user_id)
        target = f"/f/report/{row.report_id}" if row.report_id else HOME.get(user.role, "/f")
        if next and (next in NEXT_PAGES or re.fullmatch(r"/duties(/[0-9a-z/]*)?(\?year=[0-9]{4})?", next)):
            target = next
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(request, response, session, user, via="link")
        session.commit()
    return response


@router.get("/app", include_in_schema=False)
def mini_app(request: Request):
    """The Mini App's entry page: a small script sends Telegram's initData to /auth/telegram."""
    return render(request, "miniapp.html")


@router.post("/auth/telegram", tags=["sign-in"])
def sign_in_by_telegram(request: Request, init_data: Annotated[str, Form()] = "",
                        csrf: Annotated[str, Form()] = ""):
    """Open a session for the user bound to the Telegram account of valid Mini App initData."""
    check_csrf(request, csrf)
    state = web(request)
    try:
        tg_user = weblinks.validate_init_data(init_data, state.settings.telegram_token)
    except weblinks.LinkError as exc:
        raise WebError(403, exc.msgid) from None
    with state.session() as session:
        user = users.user_for_telegram(session, tg_user["id"])
        if user is None:
            raise WebError(403, MSG_NOT_BOUND)
        response = JSONResponse({"redirect": "/f", "name": user.name,
                                 "message": translate(locale_of(request), N_("Signed in."))})
        set_session_cookie(request, response, session, user, via="telegram")
        session.commit()
    return response


# --- my sessions ----------------------------------------------------------------------------------

def _when(request: Request, moment) -> str:
    return as_utc(moment).astimezone(web(request).settings.tz).strftime("%Y-%m-%d %H:%M")


@router.get("/me/sessions", include_in_schema=False)
def my_sessions(request: Request):
    """The browsers signed in as this person: device, since when, last used; each can be ended."""
    with web(request).session() as session:
        user = require_user(request, session)
        current = current_session(request, session)
        rows = sessions.list_for(session, user)
    items = [{"id": row.id, "device": sessions.describe(row.user_agent), "via": row.via,
              "created": _when(request, row.created_at), "last_seen": _when(request, row.last_seen_at),
              "current": row.id == current.id} for row in rows]
    return render(request, "sessions.html", user=user, items=items, home=HOME.get(user.role, "/f"))


@router.post("/me/sessions/{session_id}/revoke", include_in_schema=False)
def revoke_session(request: Request, session_id: RowId, csrf: Annotated[str, Form()] = ""):
    """End one of my sessions; ending the current one signs this browser out."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        current = current_session(request, session)
        try:
            sessions.revoke(session, user, session_id)
        except sessions.SessionError as exc:
            raise WebError(404, exc.msgid) from None
        session.commit()
    if session_id == current.id:
        return _signed_out(request)
    return RedirectResponse("/me/sessions", status_code=303)


@router.post("/me/sessions/revoke-others", include_in_schema=False)
def revoke_other_sessions(request: Request, csrf: Annotated[str, Form()] = ""):
    """End every session of mine except this browser's."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        current = current_session(request, session)
        sessions.revoke_all(session, user.id, actor=audit.Actor(user.id, f"user:{user.id}"), except_id=current.id)
        session.commit()
    return RedirectResponse("/me/sessions", status_code=303)


@router.post("/auth/logout", include_in_schema=False)
def sign_out(request: Request, csrf: Annotated[str, Form()] = ""):
    """Sign this browser out: its session record is ended and its cookie removed."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        current = current_session(request, session)
        if current is not None:
            user = session.get(User, current.user_id)
            sessions.revoke(session, user, current.id)
            session.commit()
    return _signed_out(request)


def _signed_out(request: Request):
    request.state.web_session = None
    response = render(request, "signed_out.html", message=translate(locale_of(request), MSG_SIGNED_OUT))
    clear_session_cookie(request, response)
    return response
