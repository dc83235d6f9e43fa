"""Sign-in without passwords: a single-use link from the bot, or the Telegram Mini App's initData."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse

from bot.i18n import N_, translate
from bot.services import users, weblinks
from bot.storage.models import User
from bot.web.common import WebError, check_csrf, locale_of, render, set_session_cookie, web

router = APIRouter(tags=["sign-in"])

# Where a link lands: the cadre's checklist, the township's review, the county's dashboard.
HOME = {"township_leader": "/review", "county_officer": "/oversight", "department_officer": "/oversight",
        "admin": "/oversight"}
MSG_NOT_BOUND = N_("This Telegram account is not linked to VillageBot yet. Use your invite in the bot first.")


@router.get("/auth/link/{token}", include_in_schema=False)
def sign_in_by_link(request: Request, token: str, next: str | None = None):
    """Consume a single-use sign-in link and open a session; refuse forged, expired and used links.

    ``next`` may send the user on to a duty page (a path under /duties/, nothing else)."""
    state = web(request)
    with state.session() as session:
        try:
            row = weblinks.redeem_link(session, token, secret=state.settings.secret_key)
        except weblinks.LinkError as exc:
            session.rollback()
            raise WebError(403, exc.msgid) from None
        session.commit()
        role = session.get(User, row.user_id).role
    target = f"/f/report/{row.report_id}" if row.report_id else HOME.get(role, "/f")
    if next and re.fullmatch(r"/duties(/[0-9a-z/]*)?(\?year=[0-9]{4})?", next):
        target = next
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, row.user_id)
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
    set_session_cookie(request, response, user.id)
    return response
