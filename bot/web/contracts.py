"""An asset's contract and owners on the web (issue 17; ``bot.services.contracts``).

- ``/ledger/assets/<id>/contract``: the current contract in a form (change it), a second form to start a new
  contract (another operator, a renewal: the current one ends and stays as history; confirmed with a tick),
  the signed contract's files (photo or PDF, checked) and the contract history.
- ``/ledger/assets/<id>/owners``: the owners (产权主体) and their shares, which must sum to 100 %.

The county office and the township leader of the asset's township change them (``contract.edit``); everyone
who sees the asset's ledger page sees them there. Another area's asset is answered like an unknown one (404).
Every change is audited on the asset; each post answers with a redirect and a flash line (post/redirect/get).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bot.i18n import N_, UserError
from bot.services import contracts, documents, ledger
from bot.services.access import AccessDenied, may
from bot.services.evidence import EvidenceError
from bot.storage.models import User
from bot.web import contract_read, flash
from bot.web.common import MSG_NOT_FOUND, RowId, WebError, check_csrf, locale_of, require_user, web

router = APIRouter(tags=["ledger"])
TEXT_FIELDS = ("operator", "mode", "start", "end", "income_amount", "income_terms", "poverty_mechanism", "risk_terms")
MAX_OWNERS = 12
SAVED = {"contract.create": N_("The contract is registered. It is in the asset's history."),
         "contract.change": N_("The new contract is registered; the previous one is kept in the history."),
         "contract.update": N_("The contract is changed. The change is in the asset's history."),
         "": N_("Nothing was changed.")}


def _page(request: Request, asset_id: int, path: str = "") -> str:
    return f"/ledger/assets/{asset_id}{path}?lang={locale_of(request)}"


def _editor(request: Request, session, asset_id: int) -> tuple[User, ledger.AssetPage]:
    """The signed-in user, who must see the asset (else 404) and may change its contract (else 403); the asset."""
    user = require_user(request, session)
    try:
        page = ledger.asset_page(session, user, asset_id)
    except AccessDenied:
        raise WebError(404, MSG_NOT_FOUND) from None
    if not may(session, user, "contract.edit", page.village):
        raise WebError(403, N_("Your role cannot do this."))
    return user, page


def _refused(exc: AccessDenied) -> WebError:
    return WebError(403, exc.msgid, **exc.params)


def _values(contract) -> dict[str, str]:
    if contract is None:
        return dict.fromkeys(TEXT_FIELDS, "")
    out = {}
    for name in TEXT_FIELDS:
        value = getattr(contract, name)
        out[name] = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else \
            ledger.words(value) if name == "income_amount" else str(value)
    return out


@router.get("/ledger/assets/{asset_id}/contract", include_in_schema=False)
def contract_page(request: Request, asset_id: RowId):
    """The asset's contract: change it, start a new one, add the signed contract's files; its history. Those who
    see the asset and may not change it (the village's cadres and supervisors) read it (``contract_read``)."""
    with web(request).session() as session:
        reader = require_user(request, session)
        if not may(session, reader, "contract.edit"):
            return contract_read.page(request, session, reader, asset_id)
        user, page = _editor(request, session, asset_id)
        history = contracts.contract_history(session, asset_id)
        current = history[0] if history and history[0].current else None
        files = contracts.attachments(session, [c.id for c in history])
        values = _values(current)
        if current is None:  # an asset of the older ledger layout: its operator and end date to start from
            values.update(operator=page.asset.operator or "", end=page.asset.contract_end.isoformat()
                          if page.asset.contract_end else "")
        found = flash.take(request)
        kept_new = bool(found and found["kept"].get("new") == "1")
        if found and found["kept"]:  # refused: what was typed, to correct
            values = {name: found["kept"].get(name, "") for name in TEXT_FIELDS}
        return flash.render(request, "ledger/contract.html", page=page, a=page.asset, current=current,
                            history=history, files=files, values=values, modes=contracts.MODES, kept_new=kept_new,
                            limit_mb=web(request).settings.max_upload_mb)


@router.post("/ledger/assets/{asset_id}/contract", include_in_schema=False)
def contract_save(request: Request, asset_id: RowId, csrf: Annotated[str, Form()] = "",
                  new: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = "",
                  operator: Annotated[str, Form()] = "", mode: Annotated[str, Form()] = "",
                  start: Annotated[str, Form()] = "", end: Annotated[str, Form()] = "",
                  income_amount: Annotated[str, Form()] = "", income_terms: Annotated[str, Form()] = "",
                  poverty_mechanism: Annotated[str, Form()] = "", risk_terms: Annotated[str, Form()] = ""):
    """Change the current contract, or (``new``, confirmed) register a new one that replaces it."""
    check_csrf(request, csrf)
    sent = {"operator": operator[:300], "mode": mode[:32], "start": start[:20], "end": end[:20],
            "income_amount": income_amount[:30], "income_terms": income_terms[:contracts.TEXT_MAX + 1],
            "poverty_mechanism": poverty_mechanism[:contracts.TEXT_MAX + 1],
            "risk_terms": risk_terms[:contracts.TEXT_MAX + 1]}
    if new == "1":
        sent["new"] = "1"
    url = _page(request, asset_id, "/contract")
    with web(request).session() as session:
        user, _ = _editor(request, session, asset_id)
        is_new = new == "1" or contracts.current_contract(session, asset_id) is None
        if new == "1" and confirm != "1" and contracts.current_contract(session, asset_id) is not None:
            return flash.redirect(request, url, N_("Tick the box to confirm that the new contract replaces the "
                                                   "current one."), error=True, kept=sent)
        try:
            _, action = contracts.save_contract(session, user, asset_id, sent, new=is_new)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except UserError as exc:
            session.rollback()
            return flash.refused(request, url, exc, kept=sent)
        session.commit()
    return flash.redirect(request, url, SAVED[action])


@router.post("/ledger/assets/{asset_id}/contract/files", include_in_schema=False)
async def contract_file(request: Request, asset_id: RowId, csrf: Annotated[str, Form()] = "",
                        contract: Annotated[str, Form()] = "", file: Annotated[UploadFile | None, File()] = None):
    """Keep a scan or photo of the signed contract (refused when it is neither, or too large)."""
    check_csrf(request, csrf)
    state = web(request)
    url = _page(request, asset_id, "/contract")
    try:
        data = await file.read(state.store.max_bytes + 1) if file is not None and file.filename else b""
        if data:
            state.store.check_size(file.size or len(data))
    except EvidenceError as exc:
        return flash.refused(request, url, exc)
    name = (file.filename or "")[:200] if file is not None else ""
    contract_id = int(contract) if contract.isdigit() else 0

    def work() -> None:
        with state.session() as session:
            user, _ = _editor(request, session, asset_id)
            contracts.add_attachment(session, user, asset_id, contract_id, data, name, state.store)
            session.commit()

    try:
        await run_in_threadpool(work)  # decoding a photo is slow: the event loop keeps serving
    except AccessDenied as exc:
        raise _refused(exc) from None
    except (UserError, EvidenceError) as exc:
        return flash.refused(request, url, exc)
    return flash.redirect(request, url, N_("The file of the signed contract is kept."))


@router.get("/ledger/assets/{asset_id}/contract/files/{file_id}", include_in_schema=False)
def contract_file_view(request: Request, asset_id: RowId, file_id: RowId):
    """A kept file of one of the asset's contracts (to whoever sees the asset's ledger page)."""
    with web(request).session() as session:
        user = require_user(request, session)
        try:
            row, data = contracts.attachment_bytes(session, user, asset_id, file_id, web(request).store)
        except (AccessDenied, UserError):
            raise WebError(404, MSG_NOT_FOUND) from None
    media = row.mime if row.mime == documents.PDF_MIME else "image/jpeg"
    return Response(data, media_type=media, headers={"Cache-Control": "private, no-store",
                                                      "Content-Disposition": "inline",
                                                      "X-Content-Type-Options": "nosniff"})


@router.get("/ledger/assets/{asset_id}/owners", include_in_schema=False)
def owners_page(request: Request, asset_id: RowId):
    """The owners and their shares, to change (they must sum to 100 %)."""
    with web(request).session() as session:
        user, page = _editor(request, session, asset_id)
        rows = [(s.owner, ledger.words(s.share)) for s in contracts.owner_shares(session, asset_id)]
        found = flash.take(request)
        if found and found["kept"]:  # refused: what was typed, to correct
            kept = found["kept"]
            rows = [(kept.get(f"owner{i}", ""), kept.get(f"share{i}", "")) for i in range(MAX_OWNERS)]
        rows = [r for r in rows if r[0] or r[1]]
        rows += [("", "")] * max(2, 4 - len(rows))
        return flash.render(request, "ledger/owners.html", page=page, a=page.asset, rows=rows[:MAX_OWNERS])


@router.post("/ledger/assets/{asset_id}/owners", include_in_schema=False)
async def owners_save(request: Request, asset_id: RowId):
    """Replace the owners and shares (validated: they sum to 100 %; audited)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    owners = [str(form.get(f"owner{i}") or "")[:300] for i in range(MAX_OWNERS)]
    shares = [str(form.get(f"share{i}") or "")[:20] for i in range(MAX_OWNERS)]
    kept = {**{f"owner{i}": o for i, o in enumerate(owners) if o}, **{f"share{i}": s for i, s in enumerate(shares) if s}}
    url = _page(request, asset_id, "/owners")
    with web(request).session() as session:
        user, _ = _editor(request, session, asset_id)
        try:
            changed = contracts.set_owner_shares(session, user, asset_id, owners, shares)
        except AccessDenied as exc:
            raise _refused(exc) from None
        except UserError as exc:
            session.rollback()
            return flash.refused(request, url, exc, kept=kept)
        session.commit()
    return flash.redirect(request, _page(request, asset_id), N_("The owners and their shares are saved.")
                          if changed else N_("Nothing was changed."))
