"""四个一批 on the web: the township's operating assets with the suggested class and its reasons, and the
leader's confirmation or change (with a note), as Telegram's ``/classes`` offers.

- ``GET /classify?show=all|todo|unclassified&unit=<id>&month=YYYY-MM``: the assets of the leader's township
  (a county officer sees a township's or the county's, without the choice); ``todo`` are those whose class
  this month is not confirmed yet, ``unclassified`` those without any class (the dashboards' "未分类",
  which link here);
- ``GET /classify/<asset id>``: the suggestion, its reasons in words, the weaker signals, what was confirmed;
- ``POST /classify/<asset id>``: the chosen class and a note (required to change the suggestion).

The services (``bot.services.class_list``, over ``bot.services.assessment.classes``) check ``asset.classify``
over the asset and audit every choice. Post/redirect/get with a line saying what was recorded or why not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request

from bot.clock import period_of, utcnow
from bot.config import Settings
from bot.flows import load_form
from bot.i18n import N_, translate
from bot.periods import parse
from bot.services import class_list, disposal, duties
from bot.services.access import AccessDenied
from bot.services.assessment import classes as four_way
from bot.services.assessment.common import AssessmentError
from bot.storage.models import OrgUnit, User
from bot.web import flash, menu
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, require_user, web

router = APIRouter(tags=["classify"])

KEYS = ("consolidate", "upgrade", "revitalise", "dispose")
SHOWS = {"all": N_("All"), "todo": N_("To confirm"), "unclassified": N_("Not classified")}
MSG_RECORDED = N_("Recorded: {asset} — {label}.")
MSG_CLASS_DISPOSAL = N_("Recorded: {asset} — {label}. A disposal request is opened for the village to complete; "
                        "its steps follow on this page.")
MSG_CLASS_REVITALISE = N_("Recorded: {asset} — {label}. A task to change the contract or the operator is on the "
                          "township's problem list.")
# Reason parameters that list answers of the monthly check by their stored keys: shown by their labels.
LISTED = {"acts": "unauthorised_acts", "difficulties": "difficulties"}


def _period(request: Request, month: str | None) -> str:
    if month:
        if not parse(month, "month") or parse(month, "month").label != month:
            raise WebError(400, N_("Give the month as YYYY-MM."))
        return month
    return period_of(utcnow(), web(request).settings.tz)


def _unit(request: Request, session, user: User, unit: str | None) -> OrgUnit:
    chosen = int(unit) if unit and unit.isdigit() and len(unit) < 10 else user.org_unit_id
    found = session.get(OrgUnit, chosen) if chosen else None
    if found is None:
        raise WebError(404, MSG_NOT_FOUND)
    return found


def _labels(locale: str, question_key: str, value: object) -> str:
    """'transfer, sublease' → 'Transferred、Sublet' in the user's language (unknown keys as they are)."""
    question = load_form("monthly-operating").question(question_key)
    options = {o.key: o.label for o in (question.options if question else ())}
    parts = [translate(locale, options[k]) if k in options else k for k in str(value).split(", ") if k]
    return ("、" if locale != "en" else ", ").join(parts)


def _reason(locale: str, step) -> str:
    params = {k: _labels(locale, LISTED[k], v) if k in LISTED else v for k, v in step.params.items()}
    return translate(locale, step.msgid, **params)


def _label(stored: str | None) -> str | None:
    return four_way.class_label(stored) if stored in four_way.CLASS_OF else None


def _shown(request: Request, entry: class_list.ClassItem) -> dict:
    locale = locale_of(request)
    shown = entry.shown
    return {
        "item": entry, "asset": entry.asset, "village": entry.village,
        "suggested": _label(shown.suggested) if shown else None,
        "confirmed": _label(entry.row.confirmed) if entry.row and entry.row.confirmed else None,
        "klass": _label(entry.klass),
        "earlier": duties.period_name(entry.earlier.period, locale) if entry.earlier else None,
        "reasons": [_reason(locale, s) for s in entry.reasons],
        "signals": [_reason(locale, s) for s in entry.signals],
    }


@router.get("/classify", include_in_schema=False)
def class_page(request: Request, show: str = "all", unit: str | None = None, month: str | None = None):
    """The operating assets with their class of the month; the leader's township by default."""
    with web(request).session() as session:
        user = require_user(request, session)
        period = _period(request, month)
        place = _unit(request, session, user, unit)
        try:
            entries = class_list.overview(session, user, place, period)
            session.commit()  # the refreshed suggestions (audited when they change)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except AssessmentError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
        show = show if show in SHOWS else "all"
        counts = {"all": len(entries), "todo": sum(not e.confirmed for e in entries),
                  "unclassified": sum(e.klass is None for e in entries)}
        chosen = [e for e in entries if show == "all" or (show == "todo" and not e.confirmed)
                  or (show == "unclassified" and e.klass is None)]
        return flash.render(request, "classify/list.html", unit=place, period=period,
                            period_text=duties.period_name(period, locale_of(request)), show=show, shows=SHOWS,
                            counts=counts, entries=[_shown(request, e) for e in chosen],
                            can_classify=class_list.can_classify(session, user, place))


def _back(request: Request, asset_id: int, period: str, show: str) -> str:
    return f"/classify/{asset_id}?lang={locale_of(request)}&month={period}&show={show}"


@router.get("/classify/{asset_id}", include_in_schema=False)
def class_detail(request: Request, asset_id: RowId, month: str | None = None, show: str = "all"):
    """One asset: the suggested class and its reasons, what was confirmed, and the choice."""
    with web(request).session() as session:
        user = require_user(request, session)
        period = _period(request, month)
        try:
            entry = class_list.item(session, user, asset_id, period)
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except AssessmentError as exc:
            raise WebError(404, exc.msgid, **exc.params) from None
        township = session.get(OrgUnit, entry.village.parent_id) if entry.village.parent_id else entry.village
        confirmer = session.get(User, entry.row.confirmed_by) if entry.row and entry.row.confirmed_by else None
        current = (entry.row.confirmed or entry.row.suggested) if entry.row else None
        return flash.render(request, "classify/detail.html", period=period, show=show if show in SHOWS else "all",
                            period_text=duties.period_name(period, locale_of(request)),
                            choices=[(k, four_way.CLASS_LABELS[k], four_way.STORED[k] == current) for k in KEYS],
                            confirmer=confirmer, can_classify=class_list.can_classify(session, user, township),
                            **_shown(request, entry))


@router.post("/classify/{asset_id}", include_in_schema=False)
def class_choose(request: Request, asset_id: RowId, csrf: Annotated[str, Form()] = "",
                 chosen: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                 month: Annotated[str, Form()] = "", show: Annotated[str, Form()] = "all"):
    """Confirm the suggested class or choose another with a note."""
    check_csrf(request, csrf)
    show = show if show in SHOWS else "all"
    with web(request).session() as session:
        user = require_user(request, session)
        period = _period(request, month or None)
        try:
            row = class_list.choose(session, user, asset_id, period, chosen, note)
            name = class_list.item(session, user, asset_id, period).asset.name
            opened = disposal.follow_class(session, user, row)  # what the choice opened (issue 17)
            session.commit()
        except AccessDenied as exc:
            raise WebError(403, exc.msgid, **exc.params) from None
        except AssessmentError as exc:
            session.rollback()
            return flash.refused(request, _back(request, asset_id, period, show), exc,
                                 kept={"note": note[:500], "chosen": chosen})
    from bot.i18n import Label

    # 处置 opened a disposal request and 盘活 a task on the problem list: the confirmation leads to it.
    if opened is not None and opened[0] == "disposal":
        return flash.redirect(request, f"/disposals/{opened[1]}?lang={locale_of(request)}", MSG_CLASS_DISPOSAL,
                              asset=name, label=Label(four_way.class_label(row.confirmed)))
    if opened is not None:
        return flash.redirect(request, f"/problems/{opened[1]}?lang={locale_of(request)}", MSG_CLASS_REVITALISE,
                              asset=name, label=Label(four_way.class_label(row.confirmed)))
    return flash.redirect(request, f"/classify?lang={locale_of(request)}&month={period}&show={show}", MSG_RECORDED,
                          asset=name, label=Label(four_way.class_label(row.confirmed)))


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the four-way classification pages."""
    app.include_router(router)


menu.add("/classify", N_("Four-way classification"), section=menu.WORK, action="asset.classify", order=35,
         hint=N_("Confirm or change the suggested class of each operating asset (巩固/提升/盘活/处置)"))
