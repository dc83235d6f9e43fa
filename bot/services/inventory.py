"""The village's yearly inventory and income settlement (seed 003 二(八) 清查处置资产: "每年初对上一年度的扶贫资产
运行情况进行清查，并对上年度资产收益进行清算").

At the start of a year the village cadre counts every asset of the village that was in the ledger during the
previous year (the year counted, ``year``): that it exists, its state (``STATES``), its book value (万元) and
that its income of the year is settled, with the amount received. Each answer is an ``InventoryCheck`` row
(``confirm``, audited ``inventory.confirm``); when every asset is confirmed with its income settled the cadre
submits the year (``submit``), which records the village's duty of the county's profile (``done_by:
inventory``, ``bot.services.duties.inventory_done``, audited ``duty.done``). After that the year's answers are
final. Township leaders and county officers see the villages and the assets not confirmed yet
(``unconfirmed``) and export the year to xlsx (``export_xlsx``).

Whether the duty is done is asked of ``bot.services.duties`` only (the one definition), never here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_, Label, UserError
from bot.policy.profile import DEFAULT_ASSET_TYPES
from bot.services import audit, duties
from bot.services.access import AccessDenied, require, require_asset
from bot.storage.models import Asset, OrgUnit, User
from bot.storage.models_inventory import InventoryCheck
from bot.storage.models_ledger import AssetFundsYear
from bot.storage.models_schedule import DutyRecord

# The states a cadre confirms (stored keys, shown in words).
STATES = {"operating": N_("Operating normally"), "idle": N_("Idle"), "damaged": N_("Damaged"),
          "disposed": N_("Disposed of")}
STATES_ZH = {"operating": "正常运营", "idle": "闲置", "damaged": "损毁", "disposed": "已处置"}
DEFAULT_TZ = "Asia/Shanghai"
NOTE_MAX = 500
MONEY_MAX = Decimal("1000000")  # 万元

MSG_NOT_VILLAGE = N_("The inventory is kept by a village.")
MSG_YEAR = N_("Choose a year that has ended.")
MSG_NOT_IN_YEAR = N_("This asset was not in the village's ledger in {year}.")
MSG_STATE = N_("Choose the asset's state.")
MSG_NUMBER = N_("Write {what} as a number of 万元 from 0 to 1,000,000, for example 12.5.")
MSG_NOTE = N_("Say in the note what became of an asset that no longer exists (up to {max} characters).")
MSG_NOTE_LONG = N_("Write a note of up to {max} characters.")
MSG_FINAL = N_("The inventory of {year} was submitted; its answers are final.")
MSG_NO_DUTY = N_("Your county's policy has no yearly inventory to submit.")
MSG_MISSING = N_("{count} assets are not confirmed with their income settled yet.")
MSG_NOTHING = N_("The village has no asset to count for {year}.")
MSG_NOT_OPEN = N_("The inventory of {year} opens when the year has ended.")
WHAT_VALUE, WHAT_INCOME = N_("the book value"), N_("the income received")


class InventoryError(UserError, ValueError):
    """A confirmation or submission refused for a reason the cadre can fix (translatable ``msgid``)."""


@dataclass
class Line:
    """One asset of the sheet: its confirmation (or None) and the values to propose."""

    asset: Asset
    check: InventoryCheck | None
    value: Decimal
    income: Decimal

    @property
    def settled(self) -> bool:
        """True when the asset is confirmed with its income settled (what the duty counts)."""
        return self.check is not None and self.check.income_settled


@dataclass
class Sheet:
    """A village's inventory of one year: its assets, whether submitted (the duty's record), and the duty."""

    village: OrgUnit
    year: int
    lines: list[Line]
    submitted: DutyRecord | None
    has_duty: bool
    can_confirm: bool

    @property
    def missing(self) -> list[Line]:
        return [line for line in self.lines if not line.settled]

    @property
    def total_value(self) -> Decimal:
        return sum((line.check.value for line in self.lines if line.check), Decimal("0"))

    @property
    def total_income(self) -> Decimal:
        return sum((line.check.income_received for line in self.lines if line.check), Decimal("0"))


@dataclass
class VillageProgress:
    """One village of a township or county: how far its inventory of the year is, and what is missing."""

    village: OrgUnit
    township: str
    total: int
    missing: list[Asset] = field(default_factory=list)
    submitted: DutyRecord | None = None


# ---------------------------------------------------------------------------------------------------------
# What the sheet proposes


def tz_of(session: Session, unit: OrgUnit) -> dt.tzinfo:
    """Return the time zone of the unit's county profile (Asia/Shanghai without one)."""
    profile = duties.profile_of(session, unit)
    return ZoneInfo(profile.timezone if profile else DEFAULT_TZ)


def last_year(session: Session, unit: OrgUnit, now: dt.datetime | None = None) -> int:
    """Return the year an inventory made now counts: the previous calendar year (local)."""
    return as_utc(now or utcnow()).astimezone(tz_of(session, unit)).year - 1


def asset_types(session: Session, unit: OrgUnit) -> tuple[str, ...]:
    """Return the asset types the county's inventory duty covers (the checklists' types without one)."""
    items = duties.inventory_items(duties.profile_of(session, unit))
    return items[0].covers if items else DEFAULT_ASSET_TYPES


def _income_last_year(session: Session, assets: list[Asset], year: int) -> dict[int, Decimal]:
    """Return {asset id: income received in ``year`` (万元)}, as the income records hold it
    (``income.year_totals_many``: the monthly checks' amounts, or what was entered); 0 when none is known.

    The one place this module reads a year's income.
    """
    from bot.services import income

    totals = income.year_totals_many(session, [a.id for a in assets], year)
    return {asset_id: t.received or Decimal("0") for asset_id, t in totals.items()}


def _book_values(session: Session, assets: list[Asset], year: int) -> dict[int, Decimal]:
    """Return {asset id: the value to propose (万元)}: last year's confirmed value, else the funds of the ledger
    years up to ``year`` (cross-year projects), else the asset's funds total. A few queries for all assets."""
    ids = [a.id for a in assets]
    earlier: dict[int, Decimal] = {}
    funds: dict[int, Decimal] = {}
    for chunk in (ids[i:i + 900] for i in range(0, len(ids), 900)):
        for asset_id, value in session.exec(select(InventoryCheck.asset_id, InventoryCheck.value).where(
                col(InventoryCheck.asset_id).in_(chunk), InventoryCheck.year < year)
                .order_by(col(InventoryCheck.year))):
            if value is not None:
                earlier[asset_id] = Decimal(value)  # the latest year comes last
        for asset_id, total in session.exec(select(AssetFundsYear.asset_id, func.sum(AssetFundsYear.funds_total))
                                            .where(col(AssetFundsYear.asset_id).in_(chunk),
                                                   AssetFundsYear.year <= year)
                                            .group_by(AssetFundsYear.asset_id)):
            if total is not None:
                funds[asset_id] = Decimal(total)
    return {a.id: earlier.get(a.id, funds.get(a.id, Decimal(a.funds_total or 0))) for a in assets}


def _assets(session: Session, villages, year: int, types: tuple[str, ...], tz: dt.tzinfo) -> list[Asset]:
    return list(session.exec(select(Asset).where(col(Asset.village_id).in_(villages), duties.in_year(year, tz),
                                                 col(Asset.asset_type).in_(list(types)))
                             .order_by(Asset.village_id, Asset.id)).all())


def _submitted(session: Session, unit: OrgUnit, village_ids, year: int) -> dict[int, DutyRecord]:
    """Return {village id: the duty record} of the villages (of ``unit``'s county) whose inventory of ``year``
    is submitted."""
    kinds = [i.kind for i in duties.inventory_items(duties.profile_of(session, unit))]
    if not kinds:
        return {}
    rows = session.exec(select(DutyRecord).where(col(DutyRecord.org_unit_id).in_(village_ids),
                                                 col(DutyRecord.item).in_(kinds),
                                                 DutyRecord.period == f"{year:04d}")).all()
    return {r.org_unit_id: r for r in rows}


# ---------------------------------------------------------------------------------------------------------
# Reading


def can_confirm(session: Session, user: User, village: OrgUnit) -> bool:
    """Return whether the user may confirm the village's assets (a cadre of that village)."""
    try:
        require(session, user, "inventory.confirm", village)
    except AccessDenied:
        return False
    return village.level == "village"


def sheet(session: Session, user: User, village: OrgUnit, year: int, now: dt.datetime | None = None) -> Sheet:
    """Return the village's inventory of ``year``: each asset of the year with its confirmation or None, and the
    value and income to propose. Anyone who may see the village's assets may read it."""
    require(session, user, "asset.view", village)
    if village.level != "village":
        raise InventoryError(MSG_NOT_VILLAGE)
    tz = tz_of(session, village)
    if not 2000 <= year < as_utc(now or utcnow()).astimezone(tz).year:
        raise InventoryError(MSG_YEAR)
    assets = _assets(session, [village.id], year, asset_types(session, village), tz)
    checks = {c.asset_id: c for c in session.exec(select(InventoryCheck).where(
        InventoryCheck.village_id == village.id, InventoryCheck.year == year)).all()}
    values, received = _book_values(session, assets, year), _income_last_year(session, assets, year)
    lines = [Line(a, checks.get(a.id), values[a.id], received[a.id]) for a in assets]
    has_duty = bool(duties.inventory_items(duties.profile_of(session, village)))
    return Sheet(village, year, lines, _submitted(session, village, [village.id], year).get(village.id), has_duty,
                 can_confirm(session, user, village))


def unconfirmed(session: Session, scope: OrgUnit, year: int) -> list[VillageProgress]:
    """Return every village in ``scope`` with an asset to count in ``year``: its assets not yet confirmed with
    their income settled, and whether the year is submitted (township and county lists; the caller checks
    access). Villages by township and name."""
    villages = list(session.exec(select(OrgUnit).where(col(OrgUnit.path).startswith(scope.path),
                                                       OrgUnit.level == "village")).all())
    if not villages:
        return []
    tz = tz_of(session, scope)
    ids = [v.id for v in villages]
    assets = _assets(session, ids, year, asset_types(session, scope), tz)
    settled = set(session.exec(select(InventoryCheck.asset_id).where(
        col(InventoryCheck.village_id).in_(ids), InventoryCheck.year == year,
        col(InventoryCheck.income_settled).is_(True))).all())
    submitted = _submitted(session, scope, ids, year)
    names = dict(session.exec(select(OrgUnit.id, OrgUnit.name).where(
        col(OrgUnit.id).in_({v.parent_id for v in villages if v.parent_id}))).all())
    found = {v.id: VillageProgress(v, names.get(v.parent_id, ""), 0, [], submitted.get(v.id)) for v in villages}
    for asset in assets:
        progress = found[asset.village_id]
        progress.total += 1
        if asset.id not in settled:
            progress.missing.append(asset)
    return sorted((p for p in found.values() if p.total), key=lambda p: (p.township, p.village.name))


def duty_state(session: Session, village: OrgUnit, year: int, now: dt.datetime | None = None):
    """Return the village's inventory duty of ``year`` as the duty service says (``duties.states``), or None
    when the county's profile has no such duty."""
    kinds = [i.kind for i in duties.inventory_items(duties.profile_of(session, village))]
    if not kinds:
        return None
    start, end = duties.year_bounds(year + 1, tz_of(session, village))
    found = [s for s in duties.states(session, village, start, end, now=now, items=kinds)
             if s.unit_id == village.id and s.period == f"{year:04d}"]
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------------------
# Writing


def _money(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise InventoryError(MSG_NUMBER, what=Label(what)) from None
    if not number.is_finite() or not Decimal("0") <= number <= MONEY_MAX:
        raise InventoryError(MSG_NUMBER, what=Label(what))
    return number.quantize(Decimal("0.0001"))


def _row(check: InventoryCheck) -> dict[str, Any]:
    return {"year": check.year, "exists": check.exists, "state": check.state, "value": str(check.value),
            "income_settled": check.income_settled, "income_received": str(check.income_received),
            "note": check.note}


def confirm(session: Session, user: User, asset_id: int, year: int, *, exists: bool, state: str,
            value: Any, income_settled: bool, income_received: Any, note: str | None = None,
            now: dt.datetime | None = None) -> InventoryCheck:
    """Confirm one asset in the inventory of ``year`` (or change an earlier answer while the year is not
    submitted): exists, state, book value and the year's income settled and received. Only a cadre of the
    asset's village; audited ``inventory.confirm``. The caller commits."""
    asset = require_asset(session, user, "inventory.confirm", asset_id)
    village = session.get(OrgUnit, asset.village_id)
    now = as_utc(now or utcnow())
    tz = tz_of(session, village)
    if not isinstance(year, int) or not 2000 <= year < now.astimezone(tz).year:
        raise InventoryError(MSG_YEAR)
    if session.exec(select(Asset.id).where(Asset.id == asset.id, duties.in_year(year, tz),
                                           col(Asset.asset_type).in_(asset_types(session, village)))).first() is None:
        raise InventoryError(MSG_NOT_IN_YEAR, year=year)
    if _submitted(session, village, [village.id], year):
        raise InventoryError(MSG_FINAL, year=year)
    if state not in STATES:
        raise InventoryError(MSG_STATE)
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise InventoryError(MSG_NOTE_LONG, max=NOTE_MAX)
    if not exists and note is None:
        raise InventoryError(MSG_NOTE, max=NOTE_MAX)
    amount, received = _money(value, WHAT_VALUE), _money(income_received or "0", WHAT_INCOME)
    row = session.exec(select(InventoryCheck).where(InventoryCheck.asset_id == asset.id,
                                                    InventoryCheck.year == year)).first()
    before = _row(row) if row is not None else None
    if row is None:
        row = InventoryCheck(village_id=village.id, year=year, asset_id=asset.id, state=state)
    row.exists, row.state, row.value, row.note = bool(exists), state, amount, note
    row.income_settled, row.income_received = bool(income_settled), received
    row.confirmed_by, row.confirmed_at = user.id, now
    session.add(row)
    session.flush()
    audit.record(session, audit.Actor(user.id, f"user:{user.id}"), "inventory.confirm", "inventory_check", row.id,
                 before, {"asset_id": asset.id, **_row(row)})
    return row


def submit(session: Session, user: User, village: OrgUnit, year: int, now: dt.datetime | None = None) -> DutyRecord:
    """Submit the village's inventory of ``year`` once every asset is confirmed with its income settled: the
    village's duty is recorded done (``duties.inventory_done``, audited ``duty.done``) and the answers become
    final. The caller commits."""
    require(session, user, "inventory.confirm", village)
    now = as_utc(now or utcnow())
    found = sheet(session, user, village, year, now)
    if not found.has_duty:
        raise InventoryError(MSG_NO_DUTY)
    if found.submitted is not None:
        raise InventoryError(MSG_FINAL, year=year)
    if not found.lines:
        raise InventoryError(MSG_NOTHING, year=year)
    if found.missing:
        raise InventoryError(MSG_MISSING, count=len(found.missing))
    row = duties.inventory_done(session, user, village, year, now)
    if row is None:
        raise InventoryError(MSG_NOT_OPEN, year=year)
    return row


MSG_REMIND = N_("{township} reminds you: the inventory of {year} of {village} is not submitted yet; {count} assets "
                "are still to confirm with their income settled. Send /inventory to open it.")
REMINDERS = ("township_leader", "county_officer", "admin")


def remind(session: Session, user: User, village: OrgUnit, year: int, now: dt.datetime | None = None) -> int:
    """A township leader (or the county office) reminds the village's cadres now of the year's inventory: an
    outbox notice to each (once a day per village and year), audited ``notice.queue``. The caller commits;
    returns how many messages were written (0: already reminded today, or nobody to tell)."""
    from bot.services import notices

    require(session, user, "asset.view", village)
    if user.role not in REMINDERS:
        raise AccessDenied(N_("Your role cannot do this."))
    now = as_utc(now or utcnow())
    found = sheet(session, user, village, year, now)
    if found.submitted is not None:
        raise InventoryError(MSG_FINAL, year=year)
    if not found.lines:
        raise InventoryError(MSG_NOTHING, year=year)
    kinds = [i.kind for i in duties.inventory_items(duties.profile_of(session, village))]
    cadres = list(session.exec(select(User).where(User.org_unit_id == village.id, User.role == "village_cadre",
                                                  col(User.active).is_(True)).order_by(User.id)).all())
    parent = session.get(OrgUnit, village.parent_id) if village.parent_id else None
    day = now.astimezone(tz_of(session, village)).date().isoformat()
    body = [[MSG_REMIND, {"township": parent.name if parent else village.name, "year": str(year),
                          "village": village.name, "count": len(found.missing)}]]
    return notices._write(session, unit=village, kind="notice", step=f"remind-{day}",
                          subject=f"inventory/{village.id}/{year}", item=kinds[0] if kinds else "inventory",
                          period=f"{year:04d}", role="village_cadre", routes=notices._routes(session, cadres, None),
                          body=body, actions=[], now=now, actor=audit.Actor(user.id, f"user:{user.id}"))


# ---------------------------------------------------------------------------------------------------------
# Export

EXPORT_HEADER = [["序号", "乡镇", "村", "项目编号", "项目名称", "资产类型", "是否存在", "资产状态", "账面价值（万元）",
                  "上年度收益是否清算", "上年度收益（万元）", "确认人", "确认时间", "备注", "村清查是否提交"]]


def export_rows(session: Session, scope: OrgUnit, year: int) -> list[list[Any]]:
    """Return the export's rows: every asset of the year in ``scope``, confirmed or not (blank cells)."""
    tz = tz_of(session, scope)
    progress = unconfirmed(session, scope, year)
    villages = {p.village.id: p for p in progress}
    assets = _assets(session, list(villages), year, asset_types(session, scope), tz) if villages else []
    checks = {c.asset_id: c for c in session.exec(select(InventoryCheck).where(
        col(InventoryCheck.village_id).in_(list(villages)), InventoryCheck.year == year)).all()} if villages else {}
    people = dict(session.exec(select(User.id, User.name).where(
        col(User.id).in_({c.confirmed_by for c in checks.values() if c.confirmed_by}))).all()) if checks else {}
    order = {vid: index for index, vid in enumerate(villages)}
    rows: list[list[Any]] = []
    for asset in sorted(assets, key=lambda a: (order[a.village_id], a.id)):
        place, check = villages[asset.village_id], checks.get(asset.id)
        confirmed = [
            "是" if check.exists else "否", STATES_ZH.get(check.state, check.state), float(check.value),
            "是" if check.income_settled else "否", float(check.income_received),
            people.get(check.confirmed_by, ""),
            as_utc(check.confirmed_at).astimezone(tz).strftime("%Y-%m-%d %H:%M"), check.note or "",
        ] if check else ["未确认", None, None, None, None, None, None, None]
        rows.append([len(rows) + 1, place.township, place.village.name, asset.project_code, asset.name,
                     asset.asset_type, *confirmed, "已提交" if place.submitted else "未提交"])
    return rows


def export_xlsx(session: Session, user: User, scope: OrgUnit, year: int, out: Any) -> int:
    """Write the inventory of ``year`` in the user's ``scope`` (a village, township or county) as .xlsx in the
    county's style (a title, the unit and period line, a bold header); return the number of assets."""
    from bot.services.exports import _Sheet

    require(session, user, "asset.view", scope)
    rows = export_rows(session, scope, year)
    sheet_ = _Sheet(f"{year}年度扶贫资产清查和收益清算表", "清查清算", scope, f"{year:04d}")
    sheet_.header(EXPORT_HEADER)
    for row in rows:
        sheet_.append(row)
    sheet_.save(out)
    return len(rows)
