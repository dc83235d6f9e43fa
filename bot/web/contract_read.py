"""An asset's contract and owners to read, for those who may not change them (issue 17 item 1).

The village's cadres and supervisors (and the departments) see their assets' contracts here: the contract in
force in words, the signed contract's files, earlier contracts, owners and shares, and what is wrong with them.
No form: only the county office and the township's leader change them (``bot.web.contracts``). The page answers
``/ledger/assets/<id>/contract`` for them (``bot.web.contracts.contract_page`` hands over); another village's or
area's asset is answered like an unknown one (404).
"""

from __future__ import annotations

import datetime as dt

from fastapi import Request

from bot.clock import utcnow
from bot.services import contracts
from bot.services.access import PERMISSIONS, AccessDenied
from bot.storage.models import User
from bot.web import flash
from bot.web.common import MSG_NOT_FOUND, WebError, locale_of, web


def page(request: Request, session, user: User, asset_id: int):
    """The read-only contract page of an asset the user sees (else 404)."""
    try:
        record = contracts.read_contract(session, user, asset_id)
    except AccessDenied:
        raise WebError(404, MSG_NOT_FOUND) from None
    tz = web(request).settings.tz
    today = utcnow().astimezone(tz).date()

    def local(at: dt.datetime) -> dt.datetime:  # the county's clock (SQLite gives the stored UTC time back naive)
        return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(tz)

    # Back to where this reader sees the asset: the office its ledger page, the village its income page.
    ledger = "export.ledger" in PERMISSIONS.get(user.role, frozenset())
    back = f"/ledger/assets/{asset_id}" if ledger else f"/income/assets/{asset_id}"
    findings = [contracts.KIND_LABELS[k] for k in contracts.asset_findings(session, record.asset, today)]
    return flash.render(request, "ledger/contract_read.html", r=record, a=record.asset, current=record.current,
                        modes=contracts.MODES, findings=findings, today=today, local=local, ledger=ledger,
                        back=f"{back}?lang={locale_of(request)}")
