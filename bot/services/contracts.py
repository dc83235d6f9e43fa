"""Contracts and ownership of an asset (issue 17, items 1 and 3; seed 003).

- ``save_contract``: the operating contract of an asset (经营主体、经营方式、起止日期、收益约定、带贫减贫机制、
  风险防控). Editing changes the current contract; a *new* contract (another operator, a renewal) ends the
  current one, which stays as history. The asset's ``operator``, ``contract_start``, ``contract_end`` and
  ``income_terms`` mirror the current contract. Every change is audited on the asset (its history shows it).
- ``add_attachment``: the signed contract as a photo (checked and kept by the evidence store) or a PDF (checked
  here: its header, its end marker, its size; kept by the blob store). Anything else is refused in words.
- ``set_owner_shares``: the owners (产权主体) and their shares, which must sum to 100 %; ``parse_shares`` reads
  the ledger's "某村股份经济合作社 60%；某合作社 40%" (full- or half-width separators and percent signs).
- ``contract_findings`` (from ``bot.services.contract_watch``, which the scheduler runs once a day): an operating
  asset with an operator but no contract (``no_contract``), a contract past its end (``contract_expired``) —
  both on the township's problem list — and owners not settled (``owner_unsettled``, shown on the asset page).
  Saving a contract here resolves the contract problems it settles at once.
- ``yearly_income_due``: a contract's yearly income pro-rated to the months of a year it covers.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import DEFAULT_LOCALE, N_, UserError, translate
from bot.services import audit
from bot.services.access import may, require_asset
from bot.services.contract_watch import (  # noqa: F401 - the findings are part of this module's interface
    HUNDRED,
    KIND_LABELS,
    OPEN_STATUSES,
    PROBLEM_KINDS,
    SOURCE,
    Finding,
    contract_findings,
    resolve_problem,
)
from bot.storage.models import Asset, OrgUnit, Problem, User
from bot.storage.models_contract import AssetContract, AssetOwnerShare, ContractAttachment

# 经营方式: stored keys, shown in words (the ledger writes and reads the Chinese words).
MODES = {"lease": N_("Lease"), "contracting": N_("Contracting"), "entrusted": N_("Entrusted operation"),
         "equity": N_("Equity investment"), "self": N_("Self-operated")}
MODE_WORDS = {"lease": "租赁", "contracting": "承包", "entrusted": "委托经营", "equity": "入股", "self": "自营"}
MODE_ALIASES = {"租赁": "lease", "出租": "lease", "承包": "contracting", "承包经营": "contracting",
                "委托经营": "entrusted", "委托": "entrusted", "托管": "entrusted", "入股": "equity",
                "股份合作": "equity", "入股分红": "equity", "自营": "self", "自主经营": "self"}
TEXT_MAX = 2000
NAME_MAX = 200


class ContractError(UserError, ValueError):
    """A contract, an attachment or shares refused for a reason the user can fix."""


# --- reading ---------------------------------------------------------------------------------------------

def current_contract(session: Session, asset_id: int) -> AssetContract | None:
    """The asset's contract in force (the newest current one), or None."""
    return session.exec(select(AssetContract).where(AssetContract.asset_id == asset_id,
                                                    col(AssetContract.current).is_(True))
                        .order_by(col(AssetContract.id).desc())).first()


def contract_history(session: Session, asset_id: int) -> list[AssetContract]:
    """Every contract of the asset, newest first (the current one first)."""
    return list(session.exec(select(AssetContract).where(AssetContract.asset_id == asset_id)
                             .order_by(col(AssetContract.current).desc(), col(AssetContract.id).desc())).all())


def attachments(session: Session, contract_ids: list[int]) -> dict[int, list[ContractAttachment]]:
    """{contract id: its attachments, oldest first}."""
    found: dict[int, list[ContractAttachment]] = {}
    if contract_ids:
        for row in session.exec(select(ContractAttachment).where(col(ContractAttachment.contract_id)
                                                                 .in_(contract_ids)).order_by(ContractAttachment.id)):
            found.setdefault(row.contract_id, []).append(row)
    return found


def owner_shares(session: Session, asset_id: int) -> list[AssetOwnerShare]:
    """The asset's owners and shares, in their order."""
    return list(session.exec(select(AssetOwnerShare).where(AssetOwnerShare.asset_id == asset_id)
                             .order_by(AssetOwnerShare.position, AssetOwnerShare.id)).all())


@dataclass(frozen=True)
class ContractRecord:
    """What anyone who sees an asset may read of its contracts and owners (``read_contract``)."""

    asset: Asset
    village: OrgUnit
    history: list[AssetContract]  # newest first, the current one first
    files: dict[int, list[ContractAttachment]]
    shares: list[AssetOwnerShare]

    @property
    def current(self) -> AssetContract | None:
        return self.history[0] if self.history and self.history[0].current else None


def read_contract(session: Session, user: User, asset_id: int) -> ContractRecord:
    """The asset's contracts, their signed files and its owners, to read: whoever sees the asset (``asset.view``
    in their area: a village cadre or supervisor for their own village's assets, too). Only ``contract.edit``
    changes them (``save_contract``, ``set_owner_shares``). Refused outside the user's area like an unknown id."""
    asset = require_asset(session, user, "asset.view", asset_id)
    village = session.get(OrgUnit, asset.village_id)
    history = contract_history(session, asset_id)
    return ContractRecord(asset, village, history, attachments(session, [c.id for c in history]),
                          owner_shares(session, asset_id))


def shares_settled(shares: list[AssetOwnerShare] | list[tuple[str, Decimal]]) -> bool:
    """Whether there are owners and their shares sum to 100 %."""
    values = [s.share if isinstance(s, AssetOwnerShare) else s[1] for s in shares]
    return bool(values) and abs(sum(values, Decimal("0")) - HUNDRED) <= Decimal("0.01")


def mode_words(mode: str | None, locale: str | None = DEFAULT_LOCALE) -> str:
    """A stored mode in words (empty when none)."""
    return translate(locale, MODES[mode]) if mode in MODES else ""


def yearly_income_due(session: Session, asset: Asset, year: int) -> Decimal | None:
    """The income the asset's contracts promise for ``year`` (万元): each contract's yearly amount times the
    months of the year it covers, over 12. A contract replaced earlier counts until it was ended; a contract
    without a start date counts from the year's beginning, without an end to its end. None when no contract
    with a yearly amount covers any month of the year."""
    return yearly_income_due_many(session, [asset.id], year).get(asset.id)


def yearly_income_due_many(session: Session, asset_ids: list[int], year: int) -> dict[int, Decimal]:
    """``yearly_income_due`` of many assets in one query per 900 of them: {asset id: amount}; an asset no
    contract promises anything for ``year`` is left out."""
    found: dict[int, Decimal] = {}
    first_day, last_day = dt.date(year, 1, 1), dt.date(year, 12, 31)
    for chunk in (asset_ids[i:i + 900] for i in range(0, len(asset_ids), 900)):
        for contract in session.exec(select(  # the columns only: thousands of ORM rows would cost most of the time
                AssetContract.asset_id, AssetContract.start, AssetContract.end, AssetContract.current,
                AssetContract.ended_at, AssetContract.income_amount).where(
                col(AssetContract.asset_id).in_(chunk), col(AssetContract.income_amount).is_not(None))):
            amount = _promised(contract, first_day, last_day)
            if amount is not None:
                found[contract.asset_id] = found.get(contract.asset_id, Decimal(0)) + amount
    return found


def _promised(contract: Any, first_day: dt.date, last_day: dt.date) -> Decimal | None:
    """One contract's (a row with its dates, ``current``, ``ended_at`` and ``income_amount``) share of its yearly amount over the months of [first_day, last_day] it covers."""
    first = max(contract.start or first_day, first_day)
    last = min(contract.end or last_day, last_day)
    if not contract.current and contract.ended_at is not None:
        last = min(last, as_utc(contract.ended_at).date())
    if last < first:
        return None
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    return (Decimal(contract.income_amount) * months / 12).quantize(Decimal("0.0001"))


# --- parsing ---------------------------------------------------------------------------------------------

_SHARE = re.compile(r"^(?P<owner>.*?)[\s:]*(?P<share>\d+(?:\.\d+)?)\s*%$")
_SEPARATORS = re.compile(r"[;,、\n/|]+")


def parse_shares(text: str | None) -> list[tuple[str, Decimal]]:
    """Read "某村股份经济合作社 60%；某合作社 40%" into [(owner, 60), (owner, 40)]; validate the sum.

    Full-width digits, separators (；，、) and percent signs (％) are read like half-width ones. A part
    without an owner or a percentage, an owner twice, a share of 0 or over 100, or shares that do not sum
    to 100 raise ``ContractError``. An empty text is no owners (an empty list).
    """
    plain = unicodedata.normalize("NFKC", text or "").strip()
    if not plain:
        return []
    found: list[tuple[str, Decimal]] = []
    for part in (p.strip() for p in _SEPARATORS.split(plain)):
        if not part:
            continue
        match = _SHARE.match(part)
        if match is None or not match.group("owner").strip():
            raise ContractError(N_("'{part}' is not an owner with a share: write it like 某村股份经济合作社 60%."),
                                part=part)
        owner, share = match.group("owner").strip(), Decimal(match.group("share"))
        if len(owner) > NAME_MAX:
            raise ContractError(N_("The owner's name '{owner}' is too long: at most {n} characters."),
                                owner=owner[:20] + "…", n=NAME_MAX)
        if not Decimal("0") < share <= HUNDRED:
            raise ContractError(N_("The share of {owner} must be more than 0 % and at most 100 %."), owner=owner)
        if owner in {o for o, _ in found}:
            raise ContractError(N_("{owner} is named twice: give each owner once, with its whole share."),
                                owner=owner)
        found.append((owner, share))
    total = sum((s for _, s in found), Decimal("0"))
    if abs(total - HUNDRED) > Decimal("0.01"):
        raise ContractError(N_("The shares add up to {total} %, not 100 %: correct them so that they sum to 100 %."),
                            total=_percent(total))
    return found


def _percent(value: Decimal) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text


def format_shares(shares: list[AssetOwnerShare] | list[tuple[str, Decimal]]) -> str:
    """Owners and shares as the ledger writes them: "某村股份经济合作社 60%；某合作社 40%"."""
    pairs = [(s.owner, s.share) if isinstance(s, AssetOwnerShare) else s for s in shares]
    return "；".join(f"{owner} {_percent(share)}%" for owner, share in pairs)


def parse_mode(text: str | None) -> str | None:
    """A 经营方式 as written in the ledger or chosen on the page (word or key) → its key; None when blank."""
    plain = unicodedata.normalize("NFKC", text or "").strip()
    if not plain:
        return None
    if plain in MODES:
        return plain
    if plain in MODE_ALIASES:
        return MODE_ALIASES[plain]
    raise ContractError(N_("'{value}' is not a way of operating: use one of {choices}."), value=plain,
                        choices="、".join(MODE_WORDS.values()))


def parse_amount(text: Any) -> Decimal | None:
    """A yearly income in 万元 (≥ 0); blank is None."""
    if isinstance(text, (int, float, Decimal)) and not isinstance(text, bool):
        value = Decimal(str(text))
    else:
        plain = unicodedata.normalize("NFKC", str(text or "")).strip().replace(",", "")
        if not plain:
            return None
        try:
            value = Decimal(plain)
        except InvalidOperation:
            raise ContractError(N_("'{value}' is not an amount: write the yearly income in 万元 with digits, "
                                   "e.g. 8.5."), value=plain) from None
    if value < 0 or not value.is_finite():
        raise ContractError(N_("'{value}' is not an amount: write the yearly income in 万元 with digits, e.g. 8.5."),
                            value=str(text))
    return value.quantize(Decimal("0.0001"))


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ContractError(N_("'{value}' is not a date: write it as 2027-12-31."), value=text) from None


# --- writing a contract ----------------------------------------------------------------------------------

CONTRACT_FIELDS = ("operator", "mode", "start", "end", "income_amount", "income_terms", "poverty_mechanism",
                   "risk_terms")
# The contract's fields under the names the asset's history and the ledger use.
AUDIT_NAMES = {"operator": "operator", "mode": "mode", "start": "contract_start", "end": "contract_end",
               "income_amount": "income_amount", "income_terms": "income_terms",
               "poverty_mechanism": "poverty_mechanism", "risk_terms": "risk_terms"}


def clean_contract(values: dict[str, Any]) -> dict[str, Any]:
    """Check and convert a contract's fields (text from a form, or parsed ledger cells); raise ContractError."""
    operator = str(values.get("operator") or "").strip()
    if not operator:
        raise ContractError(N_("Name the operator (经营主体) of the contract."))
    if len(operator) > NAME_MAX:
        raise ContractError(N_("The operator's name is too long: at most {n} characters."), n=NAME_MAX)
    clean: dict[str, Any] = {"operator": operator, "mode": parse_mode(values.get("mode")),
                             "start": _date(values.get("start")), "end": _date(values.get("end")),
                             "income_amount": parse_amount(values.get("income_amount"))}
    for name in ("income_terms", "poverty_mechanism", "risk_terms"):
        text = str(values.get(name) or "").strip()
        if len(text) > TEXT_MAX:
            raise ContractError(N_("A text is too long: at most {n} characters."), n=TEXT_MAX)
        clean[name] = text or None
    if clean["start"] and clean["end"] and clean["end"] < clean["start"]:
        raise ContractError(N_("The contract ends ({end}) before it starts ({start})."),
                            end=clean["end"].isoformat(), start=clean["start"].isoformat())
    return clean


def _mirror(asset: Asset, contract: AssetContract | None) -> dict[str, tuple[Any, Any]]:
    """Set the asset's contract fields from its current contract; return what changed (before, after)."""
    wanted = {"operator": contract.operator if contract else asset.operator,
              "contract_start": contract.start if contract else None,
              "contract_end": contract.end if contract else None,
              "income_terms": contract.income_terms if contract else None}
    changed = {k: (getattr(asset, k), v) for k, v in wanted.items() if getattr(asset, k) != v}
    for key, (_, after) in changed.items():
        setattr(asset, key, after)
    return changed


def write_contract(session: Session, asset: Asset, clean: dict[str, Any], *, new: bool, actor: audit.Actor,
                   user_id: int | None = None, now: dt.datetime | None = None,
                   record: bool = True, settle: bool = True) -> tuple[AssetContract, str, dict, dict]:
    """Write checked fields as the asset's contract: a new one (ending the current, which stays as history) or
    a change of the current one. Return (contract, action, before, after); ``action`` is ``contract.create``,
    ``contract.change`` (a new contract replacing one) or ``contract.update``, or "" when nothing changed.
    ``record``: audit it here (the ledger import audits in one batch); ``settle``: resolve the contract problems
    it settles now (the import leaves that to the scheduler's daily sweep)."""
    now = now or utcnow()
    current = current_contract(session, asset.id)
    if current is not None and not new:
        before = {AUDIT_NAMES[k]: getattr(current, k) for k in CONTRACT_FIELDS if getattr(current, k) != clean[k]}
        after = {AUDIT_NAMES[k]: clean[k] for k in CONTRACT_FIELDS if getattr(current, k) != clean[k]}
        for key in CONTRACT_FIELDS:
            setattr(current, key, clean[key])
        contract, action = current, "contract.update" if after else ""
    else:
        if current is not None:
            current.current, current.ended_at = False, now
            session.add(current)
        contract = AssetContract(asset_id=asset.id, created_by=user_id, created_at=now, current=True, **clean)
        shown = [k for k in CONTRACT_FIELDS if clean[k] is not None or (current and getattr(current, k) is not None)]
        before = {AUDIT_NAMES[k]: getattr(current, k) for k in shown} if current else {}
        after = {AUDIT_NAMES[k]: clean[k] for k in shown}
        action = "contract.change" if current is not None else "contract.create"
    session.add(contract)
    session.flush()
    _mirror(asset, contract)
    asset.updated_at = now
    session.add(asset)
    if action and record:
        audit.record(session, actor, action, "asset", asset.id, before or None, {"contract_id": contract.id, **after})
    if action and settle:
        _settle_problems(session, asset, now.date(), now)
    return contract, action, before, after


def may_open_contract_page(session: Session, user: User | None, village: OrgUnit) -> bool:
    """Return whether the contract page of an asset of ``village`` opens for ``user``: whoever sees the asset
    (``asset.view`` there) — to change it with ``contract.edit``, else to read it (``bot/web/contract_read.py``);
    asked before another page links to it."""
    return may(session, user, "asset.view", village)


def save_contract(session: Session, user: User, asset_id: int, values: dict[str, Any], *, new: bool = False,
                  now: dt.datetime | None = None) -> tuple[AssetContract, str]:
    """Save the asset's contract from a form (``contract.edit``): change the current one, or with ``new`` start a
    new one (another operator, a renewal). Return (contract, action; "" when nothing changed)."""
    asset = require_asset(session, user, "contract.edit", asset_id)
    clean = clean_contract(values)
    contract, action, _, _ = write_contract(session, asset, clean, new=new, actor=audit.Actor(user.id, f"user:{user.id}"),
                                            user_id=user.id, now=now)
    return contract, action


# --- attachments -----------------------------------------------------------------------------------------

MSG_NOT_A_CONTRACT = N_("This is not a PDF or a photo the contract can be kept as: upload the signed contract as a "
                        "PDF or a photo (JPEG, PNG).")


def add_attachment(session: Session, user: User, asset_id: int, contract_id: int, data: bytes, filename: str,
                   store: Any) -> ContractAttachment:
    """Keep a scan or photo of the signed contract (``contract.edit``); refuse a fake or too large file.

    ``store`` is the evidence store (``bot.services.evidence.EvidenceStore``): photos go through its checks
    (type from the content, size, decoding cost) and copies; a PDF is checked here and kept by its blob store.
    """
    from bot.services import documents

    require_asset(session, user, "contract.edit", asset_id)
    contract = session.get(AssetContract, contract_id)
    if contract is None or contract.asset_id != asset_id:
        raise ContractError(N_("This contract is not one of this asset's."))
    if not data:
        raise ContractError(N_("Choose the file of the signed contract."))
    try:
        kept = documents.keep(store, data, not_a_document=MSG_NOT_A_CONTRACT)
    except documents.DocumentError as exc:
        raise ContractError(exc.msgid, **exc.params) from None
    sha, mime = kept.sha256, kept.mime
    row = ContractAttachment(contract_id=contract_id, sha256=sha, mime=mime, size_bytes=len(data),
                             filename=(filename or "")[:200], created_by=user.id)
    session.add(row)
    session.flush()
    audit.record(session, audit.Actor(user.id, f"user:{user.id}"), "contract.attach", "asset", asset_id, None,
                 {"contract_id": contract_id, "attachment": row.id, "sha256": sha, "mime": mime,
                  "filename": row.filename})
    return row


def attachment_bytes(session: Session, user: User, asset_id: int, attachment_id: int,
                     store: Any) -> tuple[ContractAttachment, bytes]:
    """An attachment of one of the asset's contracts and its bytes (the viewer must see the asset: the office, or
    a cadre or supervisor of the asset's village, who read its contract too)."""
    require_asset(session, user, "asset.view", asset_id)
    row = session.get(ContractAttachment, attachment_id)
    contract = session.get(AssetContract, row.contract_id) if row is not None else None
    if row is None or contract is None or contract.asset_id != asset_id:
        raise ContractError(N_("This file is not one of this asset's."))
    from bot.services import documents

    shown = documents.read(store, row.sha256, row.mime)
    if shown is None:
        raise ContractError(N_("This file is not one of this asset's."))
    return row, shown[0]


# --- owners ----------------------------------------------------------------------------------------------

def write_shares(session: Session, asset: Asset, shares: list[tuple[str, Decimal]], *, actor: audit.Actor,
                 record: bool = True) -> bool:
    """Replace the asset's owners with ``shares`` (already checked); mirror them on the asset; audit."""
    old = owner_shares(session, asset.id)
    if [(s.owner, Decimal(s.share)) for s in old] == [(o, Decimal(v)) for o, v in shares]:
        return False
    for row in old:
        session.delete(row)
    session.flush()
    for position, (owner, share) in enumerate(shares):
        session.add(AssetOwnerShare(asset_id=asset.id, owner=owner, share=share, position=position))
    before, after = asset.ownership_shares, format_shares(shares) or None
    asset.ownership_shares = after
    if shares and not asset.owner:
        asset.owner = shares[0][0] if len(shares) == 1 else asset.owner
    asset.updated_at = utcnow()
    session.add(asset)
    session.flush()
    if record:
        audit.record(session, actor, "owners.set", "asset", asset.id, {"ownership_shares": before},
                     {"ownership_shares": after})
    return True


def set_owner_shares(session: Session, user: User, asset_id: int, owners: list[str] | str,
                     shares: list[str] | None = None) -> bool:
    """Set the asset's owners and shares (``contract.edit``) from the ledger's one line, or from the owners'
    names and shares of a form; they must sum to 100 % (else ``ContractError`` in the user's language).
    Return whether anything changed."""
    asset = require_asset(session, user, "contract.edit", asset_id)
    if isinstance(owners, str):
        parsed = parse_shares(owners)
    else:
        parts = [(str(o).strip(), str(s).strip()) for o, s in zip(owners, shares or [], strict=False)
                 if str(o).strip() or str(s).strip()]
        for owner, share in parts:
            if not owner or not share:
                raise ContractError(N_("Give every owner a name and a share."))
        parsed = parse_shares("；".join(f"{o} {s.rstrip('%％')}%" for o, s in parts))
    if not parsed:
        raise ContractError(N_("Name at least one owner with its share."))
    return write_shares(session, asset, parsed, actor=audit.Actor(user.id, f"user:{user.id}"))


# --- findings, problems and reminders: bot.services.contract_watch (the scheduler calls it) ---------------------

def asset_findings(session: Session, asset: Asset, today: dt.date) -> list[str]:
    """The kinds of findings on one asset (for its page)."""
    village = session.get(OrgUnit, asset.village_id)
    return [f.kind for f in contract_findings(session, village, today) if f.asset_id == asset.id]


def _settle_problems(session: Session, asset: Asset, today: dt.date, now: dt.datetime) -> None:
    """Resolve the asset's open contract problems that a saved contract settles."""
    kinds = {f.kind for f in contract_findings(session, session.get(OrgUnit, asset.village_id), today)
             if f.asset_id == asset.id}
    for problem in session.exec(select(Problem).where(Problem.asset_id == asset.id, Problem.source == SOURCE,
                                                      col(Problem.status).in_(OPEN_STATUSES))).all():
        if problem.kind not in kinds:
            resolve_problem(session, problem, now)
