"""People who have not joined, for the township and the county: who cannot be reached, and a new invite.

``/people/waiting`` lists the people of the viewer's area who were invited and never joined (they
receive no reminder); a button re-issues the invite and shows the new code, its link and its QR code
once, to hand over in person or to send by any means the person reads.
"""

from __future__ import annotations

import base64
import io
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request

from bot.config import Settings
from bot.services import reach
from bot.services.access import AccessDenied
from bot.services.qr import qr_image
from bot.web.common import RowId, WebError, check_csrf, render, require_user, web

router = APIRouter(tags=["people"])


@router.get("/people/waiting", include_in_schema=False)
def waiting_page(request: Request):
    """The people of the viewer's area who have not joined, with a button to re-issue each invite."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            rows = reach.not_joined(session, user)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        return render(request, "people/waiting.html", user=user, rows=rows, roles=reach.ROLE_LABELS)


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
            raise WebError(403, exc.msgid, **exc.params) from None
        except reach.ReachError as exc:
            raise WebError(409, exc.msgid, **exc.params) from None
        link = created.deep_link(state.settings.telegram_bot_username)
        buffer = io.BytesIO()
        qr_image(link, box_size=6).save(buffer, format="PNG")
        qr = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        return render(request, "people/reinvited.html", person=created.user, code=created.code, link=link, qr=qr,
                      until=created.expires_at.strftime("%Y-%m-%d"), roles=reach.ROLE_LABELS)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the pages about people who have not joined."""
    app.include_router(router)
