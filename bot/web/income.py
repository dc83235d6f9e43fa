"""Income and its distribution on the web (issue 17 item 2), over ``bot.services.income``.

- ``GET /income?show=assets|approve|file&year=``: the operating assets of the user's area with the year's income
  due, received and distributed; the township's plans waiting for approval; the department's (or county's)
  plans waiting for filing;
- ``GET /income/assets/<id>?year=``: an asset's periods (due and received) and its plan; ``POST …/due`` enters the
  income due of a month or a year (village or township);
- ``GET /income/assets/<id>/plan?year=``: the plan (shares, status, payments) with the steps the user may take;
  ``POST`` writes the village's draft;
- ``GET /income/plans/<id>/<step>`` asks to confirm a final step (submit, approve, file) and its ``POST`` does it;
  ``POST /income/plans/<id>/return`` sends the plan back with a reason, ``/record`` records a payment (a ticked
  confirmation required).

Every post is CSRF-checked and answers 303 with a line saying what was done or why not (``bot.web.flash``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, Request, Response, UploadFile

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import N_, UserError
from bot.services import income, ledger
from bot.services.access import AccessDenied, may, require_asset, visible_assets
from bot.storage.models import Asset, OrgUnit, User
from bot.web import flash, menu
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, require_user, web

router = APIRouter(tags=["income"])

SHOWS = {"assets": N_("Income of each asset"), "approve": N_("Plans to approve"), "file": N_("Plans to file")}
SHOW_ACTIONS = {"approve": "income.approve", "file": "income.file"}  # a list shows only to who may act on it
SHOWN_ASSETS = 200
STEPS = {"submit": (income.submit_plan, N_("Submit the plan to the township"),
                    N_("Once submitted the plan cannot be changed unless the township sends it back."),
                    N_("Submitted; the township is told.")),
         "approve": (income.approve_plan, N_("Approve the plan"),
                     N_("The plan goes to the industry department to be filed."),
                     N_("Approved; the department is told to file it.")),
         "file": (income.file_plan, N_("Record the filing (备案)"),
                  N_("The village may then distribute the income as planned."),
                  N_("Filing recorded; the village is told."))}
MSG_DUE = N_("Recorded: {amount} 万元 due for {period}.")
MSG_DRAFT = N_("Plan saved as a draft. Submit it to the township when it is right.")
MSG_RETURNED = N_("Sent back to the village with your reason.")
MSG_RECORDED = N_("Payment recorded.")
MSG_CONFIRM = N_("Tick the box to confirm the payment.")
MSG_YEAR = N_("Give the year as four digits.")
FIRST_YEAR, LAST_YEAR = 2000, 2100  # the years the pages answer (no "previous year" link before the first)


def _today(request: Request) -> dt.date:
    return utcnow().astimezone(web(request).settings.tz).date()


def _year(request: Request, year: str | None) -> int:
    if year:
        if not (year.isdigit() and len(year) == 4 and FIRST_YEAR <= int(year) <= LAST_YEAR):
            raise WebError(400, MSG_YEAR)
        return int(year)
    return _today(request).year


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


def _asset(session, user: User, asset_id: int) -> Asset:
    try:
        return require_asset(session, user, "asset.view", asset_id)
    except AccessDenied as exc:
        raise _refused(exc) from None


def _place(session, user: User, asset_id: int) -> tuple[Asset, OrgUnit, OrgUnit | None]:
    """The asset the user sees (else 403) with its village and township."""
    asset = _asset(session, user, asset_id)
    village = session.get(OrgUnit, asset.village_id)
    township = session.get(OrgUnit, village.parent_id) if village.parent_id else None
    return asset, village, township


def _link(request: Request, path: str, year: int) -> str:
    return f"{path}?lang={locale_of(request)}&year={year}"


@router.get("/income", include_in_schema=False)
def income_list(request: Request, show: str = "assets", year: str | None = None):
    """The area's operating assets with the year's income, or the plans waiting for the user's step."""
    with web(request).session() as session:
        user = require_user(request, session)
        chosen = _year(request, year)
        shows = {key: label for key, label in SHOWS.items()
                 if key not in SHOW_ACTIONS or may(session, user, SHOW_ACTIONS[key])}
        show = show if show in shows else "assets"
        rows, plans = [], []
        if show == "assets":
            assets = session.exec(visible_assets(session, user).where(
                Asset.status == "active", Asset.asset_type == "经营性").order_by(Asset.name, Asset.id)
                .limit(SHOWN_ASSETS)).all()
            totals = income.year_totals_many(session, [a.id for a in assets], chosen)
            rows = [(a, session.get(OrgUnit, a.village_id), totals[a.id]) for a in assets]
        else:
            plans = income.waiting(session, user, income.SUBMITTED if show == "approve" else income.APPROVED)
        return flash.render(request, "income/list.html", show=show, shows=shows, year=chosen, rows=rows, plans=plans,
                            statuses=income.STATUS_LABELS, first_year=FIRST_YEAR)


@router.get("/income/assets/{asset_id}", include_in_schema=False)
def income_asset(request: Request, asset_id: RowId, year: str | None = None):
    """An asset's income by period (due and received) and its plan of the year."""
    with web(request).session() as session:
        user = require_user(request, session)
        chosen = _year(request, year)
        asset, village, township = _place(session, user, asset_id)
        totals = income.year_totals(session, asset.id, chosen)
        return flash.render(request, "income/asset.html", a=asset, village=village, township=township, year=chosen,
                            totals=totals, statuses=income.STATUS_LABELS, categories=income.CATEGORIES,
                            can_enter=may(session, user, "income.enter", village), first_year=FIRST_YEAR,
                            ledger_link=ledger.may_open_asset_page(session, user, village))


@router.post("/income/assets/{asset_id}/due", include_in_schema=False)
def income_due(request: Request, asset_id: RowId, csrf: Annotated[str, Form()] = "",
               period: Annotated[str, Form()] = "", amount: Annotated[str, Form()] = "",
               year: Annotated[str, Form()] = ""):
    """Enter the income due of a month or a year."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
        chosen = _year(request, year or None)
        back = _link(request, f"/income/assets/{asset_id}", chosen)
        try:
            row = income.set_due(session, user, asset_id, period, amount)
            session.commit()
        except AccessDenied as exc:
            raise _refused(exc) from None
        except UserError as exc:
            session.rollback()
            return flash.refused(request, back, exc, kept={"period": period[:8], "amount": amount[:20]})
        from bot.services.duties import period_name

        return flash.redirect(request, back, MSG_DUE, amount=income._money_words(row.due),
                              period=period_name(row.period, locale_of(request)))


def _plan_context(session, user: User, asset: Asset, village: OrgUnit, year: int) -> dict:
    plan = income.plan_of(session, asset.id, year)
    shares = income.shares_of(session, plan.id) if plan else []
    status = plan.status if plan else None
    allowed = {action: may(session, user, action, village) for action in ("income.plan", "income.approve",
                                                                          "income.file")}
    people = {}
    if plan:
        for key in ("created_by", "submitted_by", "approved_by", "filed_by"):
            who = getattr(plan, key)
            people[key] = session.get(User, who).name if who else None
    return {
        "plan": plan, "shares": {s.category: s for s in shares}, "records": income.records_of(session, plan.id)
        if plan else [], "people": people, "totals": income.year_totals(session, asset.id, year),
        "can_draft": allowed["income.plan"] and status in (None, income.DRAFT),
        "can_submit": allowed["income.plan"] and status == income.DRAFT and bool(shares),
        "can_approve": allowed["income.approve"] and status == income.SUBMITTED,
        "can_file": allowed["income.file"] and status == income.APPROVED and income.may_file(session, user, asset),
        "can_record": allowed["income.plan"] and status in (income.FILED, income.DISTRIBUTED),
    }


@router.get("/income/assets/{asset_id}/plan", include_in_schema=False)
def plan_page(request: Request, asset_id: RowId, year: str | None = None):
    """The distribution plan of an asset for a year, with the steps the user may take."""
    with web(request).session() as session:
        user = require_user(request, session)
        chosen = _year(request, year)
        asset, village, township = _place(session, user, asset_id)
        return flash.render(request, "income/plan.html", a=asset, village=village, township=township, year=chosen,
                            statuses=income.STATUS_LABELS, categories=income.CATEGORIES,
                            today=_today(request), limit_mb=web(request).settings.max_upload_mb,
                            **_plan_context(session, user, asset, village, chosen))


@router.post("/income/assets/{asset_id}/plan", include_in_schema=False)
async def plan_draft(request: Request, asset_id: RowId):
    """Write the village's draft: the total and a percent (and households) per category."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    chosen = _year(request, str(form.get("year") or "") or None)
    back = _link(request, f"/income/assets/{asset_id}/plan", chosen)
    shares = [income.ShareIn(key, str(form.get(f"percent_{key}") or ""), str(form.get(f"households_{key}") or ""))
              for key in income.CATEGORIES]
    kept = {k: str(v)[:20] for k, v in form.items() if k.startswith(("percent_", "households_")) or k == "total"}
    kept["note"] = str(form.get("note") or "")[:500]
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            income.draft_plan(session, user, asset_id, chosen, str(form.get("total") or ""), shares,
                              note=str(form.get("note") or ""))
            session.commit()
        except AccessDenied as exc:
            raise _refused(exc) from None
        except UserError as exc:
            session.rollback()
            return flash.refused(request, back, exc, kept=kept)
    return flash.redirect(request, back, MSG_DRAFT)


def _plan_or_404(session, plan_id: int) -> income.DistributionPlan:
    plan = session.get(income.DistributionPlan, plan_id)
    if plan is None:
        raise WebError(404, MSG_NOT_FOUND)
    return plan


@router.get("/income/plans/{plan_id}/{step}", include_in_schema=False)
def confirm_page(request: Request, plan_id: RowId, step: str):
    """Ask to confirm a final step of a plan, showing what it is."""
    if step not in STEPS:
        raise WebError(404, MSG_NOT_FOUND)
    with web(request).session() as session:
        user = require_user(request, session)
        plan = _plan_or_404(session, plan_id)
        asset, village, township = _place(session, user, plan.asset_id)
        _do, title, consequence, _done = STEPS[step]
        return flash.render(request, "income/confirm.html", a=asset, village=village, township=township,
                            plan=plan, step=step, title=title, consequence=consequence,
                            shares=income.shares_of(session, plan.id), categories=income.CATEGORIES,
                            statuses=income.STATUS_LABELS, year=plan.year)


@router.post("/income/plans/{plan_id}/{step}", include_in_schema=False)
def plan_step(request: Request, plan_id: RowId, step: str, csrf: Annotated[str, Form()] = "",
              reason: Annotated[str, Form()] = "", date: Annotated[str, Form()] = "",
              amount: Annotated[str, Form()] = "", category: Annotated[str, Form()] = "",
              note: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = "",
              receipt: Annotated[UploadFile | None, File()] = None):
    """Do a step of a plan: submit, approve, file (after the confirmation page), return, record."""
    check_csrf(request, csrf)
    if step not in (*STEPS, "return", "record"):
        raise WebError(404, MSG_NOT_FOUND)
    with web(request).session() as session:
        user = require_user(request, session)
        plan = _plan_or_404(session, plan_id)
        asset_id, year = plan.asset_id, plan.year
        back = _link(request, f"/income/assets/{asset_id}/plan", year)
        try:
            if step == "return":
                income.return_plan(session, user, plan_id, reason)
                done = MSG_RETURNED
            elif step == "record":
                _asset(session, user, asset_id)
                if confirm != "1":
                    return flash.refused(request, back, income.IncomeError(MSG_CONFIRM),
                                         kept={"date": date[:10], "amount": amount[:20], "category": category[:16],
                                               "note": note[:500]})
                store = web(request).store
                paper = receipt.file.read(store.max_bytes + 1) if receipt is not None and receipt.filename else None
                income.record_distribution(session, user, plan_id, date=date, amount=amount, category=category,
                                           note=note, receipt=paper, store=store, tz=web(request).settings.tz)
                done = MSG_RECORDED
            else:
                STEPS[step][0](session, user, plan_id)
                done = STEPS[step][3]
            session.commit()
        except AccessDenied as exc:
            raise _refused(exc) from None
        except UserError as exc:
            session.rollback()
            return flash.refused(request, back, exc, kept={"reason": reason[:500], "date": date[:10],
                                                           "amount": amount[:20], "category": category[:16],
                                                           "note": note[:500]})
    return flash.redirect(request, back, done)


@router.get("/income/records/{record_id}/receipt", include_in_schema=False)
def receipt_view(request: Request, record_id: RowId):
    """The receipt of a payment (a photo's display copy or the PDF), to whoever sees the asset; never public."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            _record, data, media = income.receipt_of(session, user, record_id, web(request).store)
        except (AccessDenied, UserError):
            raise WebError(404, MSG_NOT_FOUND) from None
    return Response(data, media_type=media, headers={"Cache-Control": "private, no-store",
                                                      "Content-Disposition": "inline",
                                                      "X-Content-Type-Options": "nosniff"})


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the income pages."""
    app.include_router(router)


menu.add("/income", N_("Income and its distribution"), section=menu.WORK, action="income.plan", order=25,
         hint=N_("Income due and received of each asset, and the distribution plan"))
menu.add("/income", N_("Income of the assets"), section=menu.AREA, roles=menu.OFFICERS, order=25,
         hint=N_("Income due and received of each asset in my area"))
menu.add("/income?show=approve", N_("Distribution plans to approve"), section=menu.WORK, action="income.approve",
         order=26, hint=N_("Approve the villages' income distribution plans or send them back"))
menu.add("/income?show=file", N_("Distribution plans to file"), section=menu.WORK, action="income.file", order=27,
         hint=N_("Record the filing (备案) of the plans the townships approved"))
