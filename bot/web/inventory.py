"""The yearly inventory and income settlement on the web (seed 003 二(八) 年初清查、清算;
``bot.services.inventory``).

- ``GET /inventory?unit=<id>&year=YYYY``: a village's sheet of the year counted (one card per asset: exists?
  state? book value? the year's income settled, and how much?), each confirmed with its own form; for a
  township or the county, the villages with the assets not yet confirmed, each linking to its sheet;
- ``POST /inventory/asset/<asset id>``: confirm one asset (a cadre of its village);
- ``GET /inventory/submit?unit=<id>&year=YYYY``: what will be submitted (the totals, nothing missing), and
  ``POST /inventory/submit``: submit the year (final; the village's duty is recorded done);
- ``GET /inventory/export.xlsx?unit=<id>&year=YYYY``: the year's inventory of the unit as .xlsx.

The services check the scope (a cadre their village; a township leader or county officer reads their area)
and audit every answer. Post/redirect/get with a line saying what was recorded or why not.
"""

from __future__ import annotations

import io
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import Response

from bot.config import Settings
from bot.i18n import N_
from bot.services import duties, inventory
from bot.services.access import AccessDenied, require
from bot.storage.models import Asset, OrgUnit, User
from bot.web import flash, menu
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, query_id, require_user, web
from bot.web.labels import ASSET_TYPES

router = APIRouter(tags=["inventory"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YEARS_SHOWN = 3  # the year counted and the two before it
MSG_CONFIRMED = N_("Recorded: {asset}.")
MSG_SUBMITTED = N_("The inventory of {year} is submitted. Thank you.")
MSG_REMINDED = N_("{village}'s cadres are reminded.")
MSG_REMINDED_BEFORE = N_("{village}'s cadres were reminded today already.")


def _unit(session, user: User, unit: str | None) -> OrgUnit:
    chosen = query_id(unit) or user.org_unit_id
    found = session.get(OrgUnit, chosen) if chosen else None
    if found is None:
        raise WebError(404, MSG_NOT_FOUND)
    return found


def _year(session, unit: OrgUnit, year: str | None) -> int:
    last = inventory.last_year(session, unit)
    chosen = query_id(year)
    if year and (chosen is None or not last - 20 <= chosen <= last):
        raise WebError(400, inventory.MSG_YEAR)
    return chosen or last


def _place(session, user: User, unit: str | None, year: str | None) -> tuple[OrgUnit, int]:
    """The unit asked for (the user's own without one; 404 when there is none) and the year counted (the last
    year without one; 400 when out of range). The services check the scope."""
    place = _unit(session, user, unit)
    return place, _year(session, place, year)


def _here(request: Request, unit: OrgUnit, year: int, anchor: str = "") -> str:
    return f"/inventory?lang={locale_of(request)}&unit={unit.id}&year={year}{anchor}"


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


@router.get("/inventory", include_in_schema=False)
def inventory_page(request: Request, unit: str | None = None, year: str | None = None):
    """A village's sheet of the year, or a township's or the county's villages with what is not confirmed."""
    with web(request).session() as session:
        user = require_user(request, session)
        place, counted = _place(session, user, unit, year)
        last = inventory.last_year(session, place)
        years = [y for y in range(last, last - YEARS_SHOWN, -1)]
        try:
            if place.level == "village":
                found = inventory.sheet(session, user, place, counted)
                duty = inventory.duty_state(session, place, counted)
                due = duty.due_at.astimezone(inventory.tz_of(session, place)).strftime("%Y-%m-%d") if duty else None
                return flash.render(request, "inventory/sheet.html", sheet=found, unit=place, year=counted,
                                    duty=duty, due=due, state_labels=duties.STATE_LABELS,
                                    years=years, states=inventory.STATES, money=money,
                                    asset_types=ASSET_TYPES)
            require(session, user, "asset.view", place)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except inventory.InventoryError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
        progress = inventory.unconfirmed(session, place, counted)
        return flash.render(request, "inventory/list.html", unit=place, year=counted, years=years,
                            can_remind=user.role in inventory.REMINDERS,
                            villages=progress, open_count=sum(bool(p.missing) for p in progress),
                            submitted_count=sum(p.submitted is not None for p in progress))


def money(value) -> str:
    """A Decimal of 万元 as people write it: 100, 12.5 (no trailing zeros, never 1E+2)."""
    if value is None:
        return ""
    text = format(value.normalize() if hasattr(value, "normalize") else value, "f")
    return text


def _yes(value: str) -> bool:
    return value == "yes"


@router.post("/inventory/asset/{asset_id}", include_in_schema=False)
def inventory_confirm(request: Request, asset_id: RowId, csrf: Annotated[str, Form()] = "",
                      year: Annotated[str, Form()] = "", exists: Annotated[str, Form()] = "",
                      state: Annotated[str, Form()] = "", value: Annotated[str, Form()] = "",
                      income_settled: Annotated[str, Form()] = "", income_received: Annotated[str, Form()] = "",
                      note: Annotated[str, Form()] = ""):
    """Confirm one asset of the village's sheet."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        place, counted = _place(session, user, None, year)
        kept = {"asset": str(asset_id), "exists": exists, "state": state, "value": value[:40],
                "income_settled": income_settled, "income_received": income_received[:40], "note": note[:500]}
        try:
            row = inventory.confirm(session, user, asset_id, counted, exists=exists != "no", state=state,
                                    value=value, income_settled=_yes(income_settled),
                                    income_received=income_received, note=note)
            village = session.get(OrgUnit, row.village_id)
            name = session.get(Asset, asset_id).name
            session.commit()
        except AccessDenied as exc:
            raise _refused(exc) from None
        except inventory.InventoryError as exc:
            session.rollback()
            return flash.refused(request, _here(request, place, counted, f"#a{asset_id}"), exc, kept=kept)
    return flash.redirect(request, _here(request, village, counted, f"#a{asset_id}"), MSG_CONFIRMED, asset=name)


@router.get("/inventory/submit", include_in_schema=False)
def inventory_review(request: Request, unit: str | None = None, year: str | None = None):
    """What the village is about to submit: every asset with its answers and the totals (confirmation first)."""
    with web(request).session() as session:
        user = require_user(request, session)
        place, counted = _place(session, user, unit, year)
        try:
            found = inventory.sheet(session, user, place, counted)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except inventory.InventoryError as exc:
            raise WebError(400, exc.msgid, **exc.params) from None
        return flash.render(request, "inventory/submit.html", sheet=found, unit=place, year=counted,
                            states=inventory.STATES, money=money)


@router.post("/inventory/submit", include_in_schema=False)
def inventory_submit(request: Request, csrf: Annotated[str, Form()] = "", year: Annotated[str, Form()] = ""):
    """Submit the village's inventory of the year (final)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        place, counted = _place(session, user, None, year)
        try:
            inventory.submit(session, user, place, counted)
            session.commit()
        except AccessDenied as exc:
            raise _refused(exc) from None
        except inventory.InventoryError as exc:
            session.rollback()
            return flash.refused(request, _here(request, place, counted), exc)
    return flash.redirect(request, _here(request, place, counted), MSG_SUBMITTED, year=str(counted))


@router.post("/inventory/remind", include_in_schema=False)
def inventory_remind(request: Request, csrf: Annotated[str, Form()] = "", village: Annotated[str, Form()] = "",
                     year: Annotated[str, Form()] = ""):
    """A township leader or the county office reminds a village's cadres now (a message to each)."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        if query_id(village) is None:
            raise WebError(404, MSG_NOT_FOUND)
        place, counted = _place(session, user, village, year)
        own = _unit(session, user, None)
        back = _here(request, own, counted)
        try:
            written = inventory.remind(session, user, place, counted)
            session.commit()
        except AccessDenied as exc:
            raise _refused(exc) from None
        except inventory.InventoryError as exc:
            session.rollback()
            return flash.refused(request, back, exc)
    return flash.redirect(request, back, MSG_REMINDED if written else MSG_REMINDED_BEFORE, village=place.name)


@router.get("/inventory/export.xlsx", include_in_schema=False)
def inventory_export(request: Request, unit: str | None = None, year: str | None = None):
    """The year's inventory of the unit (village, township, county) as .xlsx."""
    with web(request).session() as session:
        user = require_user(request, session)
        place, counted = _place(session, user, unit, year)
        out = io.BytesIO()
        try:
            inventory.export_xlsx(session, user, place, counted, out)
        except AccessDenied as exc:
            raise _refused(exc) from None
        name = f"{place.name}{counted}年度资产清查清算表.xlsx"
    return Response(out.getvalue(), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"inventory-{counted}.xlsx\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the yearly inventory pages."""
    app.include_router(router)


menu.add("/inventory", N_("Yearly inventory and income settlement"), section=menu.WORK, order=38, needs_unit=True,
         roles=("village_cadre", "township_leader", "county_officer", "department_officer"),
         hint=N_("Count every asset of last year and settle its income (年初清查、清算); see what is not confirmed"))
