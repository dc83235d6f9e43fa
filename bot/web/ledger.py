"""The ledger (台账) on the web, for the county office and the townships.

- ``/ledger``: the assets of the viewer's area, searched (name, project code) and filtered (township,
  village, type, industry, status), 50 a page; the export of the ledger in the layout of seed 000 附件1
  (.xlsx or CSV, all years or one ledger year), exactly what ``villagebot export ledger`` writes.
- ``/ledger/import``: upload an .xlsx/.csv ledger (county officers: ``asset.import``). The file is kept
  under the data directory by a random key and checked at once (a dry run, ``bot.services.ledger``): every
  problem by row and column, or what will be added and changed. ``/ledger/import/<key>`` shows that check
  (it can be reloaded); confirming applies the kept file only if it still does exactly what was shown
  (the dry run's fingerprint), else nothing is written and the new check is shown.
- ``/ledger/assets/<id>``: one asset's facts, funds by year, reports, problems and history (the audit log in
  words); ``/ledger/assets/<id>/edit``: the fields an officer may change (``asset.edit``), audited.

Township leaders see their township's assets read-only and may export them; nobody sees an asset outside
their area (404, the same as an unknown id). Refused posts redirect to a GET address (post/redirect/get).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import N_
from bot.services import contracts, ledger
from bot.services.access import PERMISSIONS, AccessDenied, may, require
from bot.services.sheets import CSV_MEDIA, SheetError
from bot.storage.models import ASSET_TYPES, INDUSTRY_CATEGORIES, User
from bot.web import flash, labels, menu
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, query_id, render, require_user, web

router = APIRouter(tags=["ledger"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEEP_SECONDS = 7 * 24 * 3600  # checked uploads and refused edits are kept a week
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")

menu.add("/ledger", N_("Asset ledger"), section=menu.OFFICE, action="export.ledger", order=10,
         hint=N_("Every asset of my area: search, open, change, export in the official layout"))
menu.add("/ledger/import", N_("Import the ledger"), section=menu.OFFICE, action="asset.import", order=11,
         hint=N_("Upload the ledger (.xlsx or .csv), check it, then confirm"))

# The ledger's fields as people name them (the Chinese are the headers of 附件1).
FIELD_LABELS = {
    "project_code": N_("Project code"), "name": N_("Project name"), "asset_type": N_("Asset type"),
    "industry_category": N_("Industry category"), "funds_total": N_("Total funds (10k yuan)"),
    "funds_central": N_("Central"), "funds_province": N_("Provincial"), "funds_city": N_("City"),
    "funds_county": N_("County"), "funds_other": N_("Other funds"), "construction_type": N_("Kind of construction"),
    "year_completed": N_("Year completed"), "year_in_production": N_("Year in production"),
    "responsible_unit": N_("Responsible unit"), "construction_content": N_("What was built"),
    "beneficiaries": N_("Beneficiaries"), "performance_targets": N_("Performance targets"),
    "owner": N_("Owner"), "custodian": N_("Custodian"), "operator": N_("Operator"),
    "contract_end": N_("Contract ends"), "longitude": N_("Longitude"), "latitude": N_("Latitude"),
    "status": N_("Status"), "village_id": N_("Village"),
    # an asset's contract and owners (bot.services.contracts)
    "contract_start": N_("Contract starts"), "mode": N_("Way of operating"), "income_amount": N_("Yearly income (10k yuan)"),
    "income_terms": N_("Income terms"), "poverty_mechanism": N_("How it helps lift households out of poverty"),
    "risk_terms": N_("Risk control"), "ownership_shares": N_("Owners and shares"), "contract_id": N_("Contract number"),
}
LONG_FIELDS = ("construction_content", "beneficiaries", "performance_targets")
STATUS_FILTERS = {**ledger.ASSET_STATUSES, "deleted": N_("Deleted")}


# --- kept files: uploads and refused edits, under the data directory by a random key -------------------

def _folder(request: Request, kind: str) -> Path:
    folder = Path(web(request).settings.data_dir) / "ledger" / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    limit = time.time() - KEEP_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue


def _load(request: Request, kind: str, key: str, user: User) -> dict[str, Any]:
    """Return the kept record ``key`` of this user, or raise 404 (another person's key is unknown)."""
    if not KEY.match(key):
        raise WebError(404, MSG_NOT_FOUND)
    path = _folder(request, kind) / f"{key}.json"
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise WebError(404, MSG_NOT_FOUND) from None
    if record.get("user_id") != user.id:
        raise WebError(404, MSG_NOT_FOUND)
    return record


def _save(request: Request, kind: str, key: str, record: dict[str, Any]) -> None:
    path = _folder(request, kind) / f"{key}.json"
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(record, ensure_ascii=False, default=str), "utf-8")
    temp.replace(path)


def _issues(items) -> list[dict[str, Any]]:
    return [{"row": i.row, "column": i.column, "msgid": i.msgid, "params": {k: str(v) for k, v in i.params.items()}}
            for i in items]


def _checked(result: ledger.ImportResult) -> dict[str, Any]:
    """The dry run as kept beside the file (and shown by the preview page)."""
    return {"rows": result.rows, "created": result.created, "updated": result.updated,
            "unchanged": result.unchanged, "year": result.year, "fingerprint": result.fingerprint,
            "errors": _issues(result.errors), "warnings": _issues(result.warnings),
            "changes": [{"line": c.line, "code": c.code, "name": c.name, "kind": c.kind, "village": c.village,
                         "fields": c.fields} for c in result.changes]}


def _translator(request: Request):
    from bot.i18n import translate
    from bot.web.common import locale_of

    locale = locale_of(request)
    return lambda msgid, **params: translate(locale, msgid, **params)


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


def _importer(request: Request, session) -> User:
    """The signed-in user, who must be allowed to import the ledger (else 403)."""
    user = require_user(request, session)
    try:
        require(session, user, "asset.import")
    except AccessDenied as exc:
        raise _refused(exc) from None
    return user


def _may(user: User, action: str) -> bool:
    return action in PERMISSIONS.get(user.role, frozenset())




# --- the list and the export ---------------------------------------------------------------------------

@router.get("/ledger", include_in_schema=False)
def ledger_list(request: Request, q: str = "", township: str = "", village: str = "", type: str = "",  # noqa: A002
                category: str = "", status: str = "", page: str = "1"):
    """The assets of the viewer's area, searched and filtered, a page at a time."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            townships, villages = ledger.scope_units(session, user)
            number = query_id(page) or 1
            rows, total = ledger.list_assets(
                session, user, q=q[:100], township=query_id(township), village=query_id(village),
                asset_type=type if type in ASSET_TYPES else "",
                category=category if category in INDUSTRY_CATEGORIES else "",
                status=status if status in STATUS_FILTERS else "", page=number)
            years = ledger.ledger_years(session, user)
        except AccessDenied as exc:
            raise _refused(exc) from None
        filters = {"q": q[:100], "township": township, "village": village, "type": type, "category": category,
                   "status": status}
        chosen = query_id(township)
        shown_villages = [v for v in villages if chosen is None or v.parent_id == chosen]
        pages = max(1, -(-total // ledger.PAGE_SIZE))

        def page_link(n: int) -> str:
            return "/ledger?" + urlencode({**{k: v for k, v in filters.items() if v}, "page": n})

        export_query = urlencode({k: v for k, v in (("township", township), ("village", village)) if query_id(v)})
        return render(request, "ledger/list.html", user=user, rows=rows, total=total, page=number, pages=pages,
                      page_link=page_link, filters=filters, townships=townships, villages=shown_villages,
                      asset_types=labels.ASSET_TYPES, industries=labels.INDUSTRIES, statuses=STATUS_FILTERS,
                      years=years, export_query=export_query, can_import=_may(user, "asset.import"))


@router.get("/ledger/export", include_in_schema=False)
def ledger_export(request: Request, fmt: str = "xlsx", year: str = "", township: str = "", village: str = ""):
    """The ledger of the viewer's area (or of one of its townships or villages) in the layout of 附件1."""
    from bot.storage.models import OrgUnit

    if fmt not in ("xlsx", "csv"):
        raise WebError(404, MSG_NOT_FOUND)
    chosen_year = query_id(year)
    with web(request).session() as session:
        user = require_user(request, session)
        unit_id = query_id(village) or query_id(township) or user.org_unit_id
        unit = session.get(OrgUnit, unit_id) if unit_id else None
        if unit_id and unit is None:
            raise WebError(404, MSG_NOT_FOUND)
        out = io.BytesIO()
        try:
            ledger.export_ledger(session, user, out, county=unit, fmt=fmt, year=chosen_year)
        except AccessDenied as exc:
            raise _refused(exc) from None
        name = f"{unit.name if unit else ''}{chosen_year or ''}{'年度' if chosen_year else ''}台账.{fmt}"
    return Response(out.getvalue(), media_type=CSV_MEDIA if fmt == "csv" else XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"ledger.{fmt}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


# --- import: upload, check, confirm ----------------------------------------------------------------------

@router.get("/ledger/import", include_in_schema=False)
def import_page(request: Request, refused: str = ""):
    """The upload form."""
    with web(request).session() as session:
        _importer(request, session)
    message = {"type": N_("Choose an .xlsx or .csv file."),
               "empty": N_("Choose the ledger file to upload.")}.get(refused)
    return render(request, "ledger/import.html", refused=message, limit_mb=web(request).settings.max_upload_mb)


@router.post("/ledger/import", include_in_schema=False)
def import_upload(request: Request, csrf: Annotated[str, Form()] = "",
                  file: Annotated[UploadFile | None, File()] = None):
    """Keep the uploaded file, check it (nothing is written) and show the check at its own address."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = _importer(request, session)
        name = Path(file.filename or "").name[:200] if file is not None else ""
        data = file.file.read() if file is not None else b""
        if not name or not data:
            return RedirectResponse("/ledger/import?refused=empty", status_code=303)
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            return RedirectResponse("/ledger/import?refused=type", status_code=303)
        folder = _folder(request, "uploads")
        _sweep(folder)
        key = secrets.token_urlsafe(18)
        path = folder / f"{key}{suffix}"
        path.write_bytes(data)
        record: dict[str, Any] = {"user_id": user.id, "name": name, "file": path.name, "size": len(data),
                                  "uploaded_at": utcnow().isoformat(), "state": "checked"}
        record["check"] = _check(session, user, path, name)
        session.rollback()
    _save(request, "uploads", key, record)
    return RedirectResponse(f"/ledger/import/{key}", status_code=303)


def _check(session, user: User, path: Path, name: str) -> dict[str, Any]:
    try:
        result = ledger.import_ledger(session, user, path, dry_run=True)
    except SheetError as exc:
        result = ledger.ImportResult(dry_run=True)
        params = {**exc.params, **({"path": name} if "path" in exc.params else {})}  # the name the officer knows
        result.errors.append(ledger.Issue(None, None, exc.msgid, params))
    return _checked(result)


@router.get("/ledger/import/{key}", include_in_schema=False)
def import_check(request: Request, key: str):
    """The check of an uploaded file: its problems by row and column, or what confirming will do."""
    with web(request).session() as session:
        user = _importer(request, session)
    record = _load(request, "uploads", key, user)
    check = record["check"]
    return render(request, "ledger/check.html", key=key, record=record, check=check,
                  changes=check["changes"][:500])


@router.post("/ledger/import/{key}/confirm", include_in_schema=False)
def import_confirm(request: Request, key: str, csrf: Annotated[str, Form()] = ""):
    """Apply the checked file if it still does exactly what its check showed; else show the new check."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = _importer(request, session)
        record = _load(request, "uploads", key, user)
        check = record["check"]
        path = _folder(request, "uploads") / record["file"]
        if record["state"] != "checked" or check["errors"] or not path.exists():
            return RedirectResponse(f"/ledger/import/{key}", status_code=303)
        try:
            result = ledger.import_ledger(session, user, path, expect=check["fingerprint"], source_name=record["name"])
            if not result.errors:
                session.commit()
        except (SheetError, IntegrityError):  # a second confirm racing the first: the first wins
            result = None
        if (result is None or result.errors) and _load(request, "uploads", key, user)["state"] == "applied":
            return RedirectResponse(f"/ledger/import/{key}", status_code=303)  # the other confirm applied it
        if result is None or result.errors:
            session.rollback()
            record["check"] = _check(session, user, path, record["name"])
            session.rollback()
            record["state"] = "checked"
            record["stale"] = True
        else:
            record["state"] = "applied"
            record["applied_at"] = utcnow().isoformat()
            record.pop("stale", None)
            path.unlink(missing_ok=True)
    _save(request, "uploads", key, record)
    return RedirectResponse(f"/ledger/import/{key}", status_code=303)


@router.post("/ledger/import/{key}/discard", include_in_schema=False)
def import_discard(request: Request, key: str, csrf: Annotated[str, Form()] = ""):
    """Forget an uploaded file without applying it."""
    check_csrf(request, csrf)
    with web(request).session() as session:
        user = require_user(request, session)
    record = _load(request, "uploads", key, user)
    if record["state"] == "checked":
        (_folder(request, "uploads") / record["file"]).unlink(missing_ok=True)
        record["state"] = "discarded"
        _save(request, "uploads", key, record)
    return RedirectResponse(f"/ledger/import/{key}", status_code=303)


# --- one asset ---------------------------------------------------------------------------------------------

def _asset_page(session, user: User, asset_id: int) -> ledger.AssetPage:
    try:
        return ledger.asset_page(session, user, asset_id)
    except AccessDenied:
        # An asset outside the viewer's area is answered like one that does not exist.
        raise WebError(404, MSG_NOT_FOUND) from None


def period_words(label: str) -> tuple[str, dict[str, object]]:
    """A stored period (2026-11, 2026-Q4, 2026-H2, 2026) as a msgid and its parameters."""
    from bot import periods

    found = periods.parse(label)
    if found is None:
        return N_("{period}"), {"period": label}
    if found.kind == "month":
        return N_("{year}, month {n}"), {"year": found.year, "n": found.index}
    if found.kind == "quarter":
        return N_("{year}, quarter {n}"), {"year": found.year, "n": found.index}
    if found.kind == "half":
        return (N_("{year}, first half") if found.index == 1 else N_("{year}, second half")), {"year": found.year}
    return N_("Year {year}"), {"year": found.year}


def _form_title(form_id: str) -> str:
    from bot.flows import load_form

    try:
        return load_form(form_id).title
    except Exception:  # noqa: BLE001 - a form removed since: say what it was, not why it cannot load
        return N_("A form no longer in use")


@router.get("/ledger/assets/{asset_id}", include_in_schema=False)
def asset_view(request: Request, asset_id: RowId, saved: str = ""):
    """One asset: its facts, funds by year, reports, problems and history; a link to change it."""
    from bot.services.reports import STATUS_LABELS

    with web(request).session() as session:
        user = require_user(request, session)
        page = _asset_page(session, user, asset_id)
        reports = [(r, _form_title(r.form_id), period_words(r.period), STATUS_LABELS.get(r.status, N_("Other")))
                   for r in page.reports]
        tz = web(request).settings.tz

        def local(at):  # the county's clock, not UTC (SQLite gives the stored UTC time back naive)
            return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(tz)

        translate = _translator(request)

        def field_label(key: str) -> str:
            if key.startswith("funds_year_"):
                return translate(N_("Funds in the ledger of {year}"), year=key.removeprefix("funds_year_"))
            return translate(FIELD_LABELS[key]) if key in FIELD_LABELS else ledger.FIELD_HEADER.get(key, key)

        def value_words(key: str, value: str) -> str:
            if key == "status" and value in STATUS_FILTERS:
                return translate(STATUS_FILTERS[value])
            if key == "mode" and value in contracts.MODES:
                return translate(contracts.MODES[value])
            return value

        history = contracts.contract_history(session, asset_id)
        today = utcnow().astimezone(tz).date()
        return flash.render(request, "ledger/asset.html", page=page, a=page.asset, reports=reports, saved=saved == "1",
                      contracts=history, contract_files=contracts.attachments(session, [c.id for c in history]),
                      shares=contracts.owner_shares(session, asset_id), modes=contracts.MODES,
                      findings=[contracts.KIND_LABELS[k] for k in contracts.asset_findings(session, page.asset, today)],
                      can_contract=contracts.may_open_contract_page(session, user, page.village),
                      can_edit_contract=may(session, user, "contract.edit", page.village), today=today,
                      local=local, field_label=field_label, value_words=value_words,
                      fields=FIELD_LABELS, statuses=STATUS_FILTERS, asset_types=labels.ASSET_TYPES,
                      industries=labels.INDUSTRIES, can_edit=_may(user, "asset.edit"),
                      can_review=_may(user, "report.review"), can_problems=_may(user, "problem.view"),
                      **_disposal_words(session, asset_id))


def _disposal_words(session, asset_id: int) -> dict:
    """The asset's latest disposal for its page's 处置 section (issue 17, bot.web.disposal)."""
    from bot.services import disposal

    return {"disposal": disposal.latest_for(session, asset_id), "disposal_statuses": disposal.STATUSES,
            "disposal_methods": disposal.METHODS}


EDIT_FIELDS = ("name", "asset_type", "industry_category", *ledger.MONEY_FIELDS, "construction_type",
               "year_completed", "year_in_production", "responsible_unit", "construction_content", "beneficiaries",
               "performance_targets", "owner", "custodian", "operator", "contract_end", "longitude", "latitude")


def _form_values(asset) -> dict[str, str]:
    from bot.services.public import format_money

    values = {}
    for name in EDIT_FIELDS:
        value = getattr(asset, name)
        if name in ledger.MONEY_FIELDS:
            values[name] = format_money(value)
        elif value is None:
            values[name] = ""
        elif hasattr(value, "isoformat"):
            values[name] = value.isoformat()
        else:
            values[name] = str(value)
    values["status"] = asset.status
    return values


@router.get("/ledger/assets/{asset_id}/edit", include_in_schema=False)
def asset_edit_page(request: Request, asset_id: RowId, draft: str = ""):
    """The fields an officer may change; after a refusal, what was sent with every problem."""
    with web(request).session() as session:
        user = require_user(request, session)
        page = _asset_page(session, user, asset_id)
        if not _may(user, "asset.edit"):
            raise WebError(403, N_("Your role cannot do this."))
        values, issues = _form_values(page.asset), []
        if draft:
            kept = _load(request, "edits", draft, user)
            if kept.get("asset_id") != asset_id:
                raise WebError(404, MSG_NOT_FOUND)
            values, issues = {**values, **kept["values"]}, kept["issues"]
        return render(request, "ledger/edit.html", page=page, a=page.asset, values=values, issues=issues,
                      fields=FIELD_LABELS, long_fields=LONG_FIELDS, money=ledger.MONEY_FIELDS,
                      by_year=bool(page.years), asset_types=labels.ASSET_TYPES, industries=labels.INDUSTRIES,
                      statuses=ledger.ASSET_STATUSES, edit_fields=EDIT_FIELDS)


@router.post("/ledger/assets/{asset_id}/edit", include_in_schema=False)
async def asset_edit(request: Request, asset_id: RowId):
    """Change the asset (audited), or keep what was sent and show it again with its problems."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    sent = {name: str(form.get(name) or "")[:5000] for name in (*EDIT_FIELDS, "status") if name in form}
    with web(request).session() as session:
        user = require_user(request, session)
        _asset_page(session, user, asset_id)
        try:
            changed, issues = ledger.edit_asset(session, user, asset_id, sent)
        except AccessDenied as exc:
            raise _refused(exc) from None
        if issues:
            session.rollback()
            folder = _folder(request, "edits")
            _sweep(folder)
            key = secrets.token_urlsafe(18)
            _save(request, "edits", key, {"user_id": user.id, "asset_id": asset_id, "values": sent,
                                          "issues": _issues(issues)})
            return RedirectResponse(f"/ledger/assets/{asset_id}/edit?draft={key}", status_code=303)
        session.commit()
    return RedirectResponse(f"/ledger/assets/{asset_id}?saved={'1' if changed else '0'}", status_code=303)


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the ledger pages (and an asset's contract and owners, bot.web.contracts)."""
    from bot.web import contracts

    app.include_router(router)
    app.include_router(contracts.router)
