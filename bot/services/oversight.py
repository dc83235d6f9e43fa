"""The figures of the township and county dashboards, and of the exports made from them.

Everything here is counted in SQL over the unit's subtree (``OrgUnit.path`` prefix), so a county
of 10,000 assets and years of reports is read in a few aggregate queries.

- Expected reports of a month: active assets of the types the county's monthly duty covers
  (``asset_types`` of the profile's ``village_monthly_report``, else 经营性 and 公益性) that were in
  the registry before the month ended (``bot.services.duties``, the one definition of done).
- Done: the asset has a current report of the month that is submitted or approved
  (``duties.report_done``).
- On time: done, and its first submission (any version) is on or before the due date of the
  county's policy profile (``village_monthly_report``), else the 25th, 23:59 Asia/Shanghai
  (``bot.services.assessment.common.deadline_for``, the same rule as the compliance score).
- Open problems: status other than resolved/closed, by severity and by age in days (as of now).
- Four-way class: an operating asset's latest class row up to the month, confirmed else suggested.
- Industry categories: active operating assets (the categories of seed 000 附件1 填报说明1).
- Funds by source: active assets, 万元, by source (中央/省/市/县/其他) and asset type.

With ``user=None`` (command line, scheduler) no access check is made; otherwise the user needs
'report.view' and 'problem.view' over the unit and a township or county role.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Date, and_, case, exists, func, literal
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot import periods
from bot.clock import period_of, utcnow
from bot.i18n import N_
from bot.policy.timing import local_to_utc
from bot.services import duties
from bot.services.access import AccessDenied, require
from bot.services.assessment.classes import STORED
from bot.services.assessment.common import Deadline, deadline_for
from bot.services.reports import CLOSED_PROBLEM_STATUSES
from bot.storage.models import (
    ASSET_TYPES,
    FUND_SOURCES,
    INDUSTRY_CATEGORIES,
    Asset,
    AssetClass,
    OrgUnit,
    Problem,
    Report,
    User,
)

OVERSIGHT_ROLES = ("township_leader", "department_officer", "county_officer", "admin")
DONE_STATUSES = duties.REPORT_DONE_STATUSES  # kept for callers; the definition is in duties
OPERATING = "经营性"
SEVERITIES = ("serious", "major", "minor")
SEVERITY_LABELS = {"serious": N_("Serious"), "major": N_("Major"), "minor": N_("Minor")}
# Age of an open problem in whole days: (label, lowest day, highest day or None).
AGE_BUCKETS = (
    (N_("0–7 days"), 0, 7),
    (N_("8–30 days"), 8, 30),
    (N_("31–90 days"), 31, 90),
    (N_("Over 90 days"), 91, None),
)
CLASSES = ("巩固", "提升", "盘活", "处置")
UNCLASSIFIED = N_("Not classified")
NO_CATEGORY = N_("Not given")
FUND_LABELS = {"central": "中央", "province": "省", "city": "市", "county": "县", "other": "其他资金"}


class OversightError(ValueError):
    """A request the oversight services refuse; ``msgid`` and ``params`` are translatable."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params


# --- periods ------------------------------------------------------------------------------------


def parse_month(value: str) -> tuple[int, int]:
    """Return (year, month) of 'YYYY-MM'."""
    found = periods.parse(value, "month")
    if found is None:
        raise OversightError(N_("{value} is not a month: use YYYY-MM, e.g. 2026-11."), value=_shown(value))
    return found.year, found.index


def month_label(year: int, month: int) -> str:
    """Return 'YYYY-MM'."""
    return f"{year:04d}-{month:02d}"


def quarter_months(value: str) -> tuple[str, list[str]]:
    """Return ('2026-Q3', ['2026-07', '2026-08', '2026-09']) for '2026Q3' or '2026-Q3'."""
    found = periods.parse(value, "quarter")
    if found is None:
        raise OversightError(N_("{value} is not a quarter: use YYYYQn, e.g. 2026Q3."), value=_shown(value))
    return found.label, [month_label(found.year, m) for m in found.months]


def half_months(value: str) -> tuple[str, list[str]]:
    """Return ('2026-H2', ['2026-07', …, '2026-12']) for '2026H2' or '2026-H2'."""
    found = periods.parse(value, "half")
    if found is None:
        raise OversightError(
            N_("{value} is not a half-year: use YYYYH1 or YYYYH2, e.g. 2026H2."), value=_shown(value)
        )
    return found.label, [month_label(found.year, m) for m in found.months]


def _shown(value: object) -> str:
    """Return a refused value as it may be shown back: a short string."""
    text = str(value or "")
    return text[:20] + ("…" if len(text) > 20 else "")


def current_month(session: Session, unit: OrgUnit, now: dt.datetime | None = None) -> str:
    """Return this month 'YYYY-MM' on the unit's wall clock."""
    return period_of(now or utcnow(), deadline_for(session, unit).tz)


# --- access -------------------------------------------------------------------------------------


def check_access(session: Session, user: User | None, unit: OrgUnit, *actions: str) -> None:
    """Refuse users who may not see the oversight figures of ``unit`` (None: the system, allowed)."""
    if unit.level not in ("county", "township"):
        raise OversightError(N_("{name} is not a county or a township."), name=unit.name)
    if user is None:
        return
    if user.role not in OVERSIGHT_ROLES:
        raise AccessDenied(N_("Your role cannot do this."))
    for action in actions or ("report.view", "problem.view"):
        require(session, user, action, unit)


# --- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageRow:
    """One village's monthly reports: expected, done (on time or late) and not in."""

    township: str
    village: str
    expected: int
    done: int
    on_time: int

    @property
    def late(self) -> int:
        return self.done - self.on_time

    @property
    def missing(self) -> int:
        return self.expected - self.done

    @property
    def on_time_percent(self) -> int:
        """Return the share of expected reports in on time, as a whole percent (0 when none expected)."""
        return round(100 * self.on_time / self.expected) if self.expected else 0


@dataclass(frozen=True)
class MonthPoint:
    """One month of the trend: expected, done and on-time reports."""

    period: str
    expected: int
    done: int
    on_time: int


@dataclass
class Figures:
    """Every figure of one unit's dashboard for one month."""

    unit: OrgUnit
    period: str
    due: dt.date
    as_of: dt.datetime
    villages: list[VillageRow]
    problems: dict[str, list[int]]  # severity → counts per AGE_BUCKETS
    classes: dict[str, int]  # 巩固/提升/盘活/处置/UNCLASSIFIED → operating assets
    industries: dict[str, int]  # category (or NO_CATEGORY) → operating assets
    funds: dict[str, dict[str, Decimal]]  # source → asset type → 万元
    trend: list[MonthPoint] = field(default_factory=list)

    @property
    def totals(self) -> VillageRow:
        """Return the sum over all villages."""
        return total_row(self.villages)

    def open_by_severity(self) -> dict[str, int]:
        """Return {severity: open problems}."""
        return {sev: sum(counts) for sev, counts in self.problems.items()}

    def fund_totals(self) -> dict[str, Decimal]:
        """Return {source: 万元 over all asset types}."""
        return {src: sum(by_type.values(), Decimal(0)) for src, by_type in self.funds.items()}


def total_row(rows: list[VillageRow], township: str = "", village: str = "") -> VillageRow:
    """Return one row summing ``rows``."""
    return VillageRow(
        township,
        village,
        sum(r.expected for r in rows),
        sum(r.done for r in rows),
        sum(r.on_time for r in rows),
    )


def dashboard(
    session: Session,
    user: User | None,
    unit: OrgUnit,
    period: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> Figures:
    """Return the figures of the dashboard of a county or township for ``period`` (default: this month)."""
    check_access(session, user, unit)
    now = now or utcnow()
    period = period or current_month(session, unit, now)
    year, month = parse_month(period)
    deadline = deadline_for(session, unit)
    return Figures(
        unit=unit,
        period=period,
        due=deadline.due(year, month),
        as_of=now,
        villages=reporting_by_village(session, unit, period),
        problems=open_problems(session, unit, now),
        classes=classes(session, unit, period),
        industries=industries(session, unit),
        funds=funds(session, unit),
        trend=trend(session, unit, [month_label(year, m) for m in range(1, 13)]),
    )


def _in_scope(unit: OrgUnit):
    return col(OrgUnit.path).startswith(unit.path)


def _villages(session: Session, unit: OrgUnit) -> list[tuple[OrgUnit, OrgUnit | None]]:
    """Return (village, township) pairs below ``unit``, by township then village name."""
    units = session.exec(
        select(OrgUnit).where(_in_scope(unit), col(OrgUnit.level).in_(("township", "village")))
    ).all()
    townships = {u.id: u for u in units if u.level == "township"}
    pairs = [(u, townships.get(u.parent_id)) for u in units if u.level == "village"]
    return sorted(pairs, key=lambda p: (p[1].name if p[1] else "", p[0].name, p[0].id))


def _month_end(deadline: Deadline, period: str) -> dt.datetime:
    year, month = parse_month(period)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return local_to_utc(following, dt.time(0, 0), deadline.tz)


def _cutoff(deadline: Deadline, period: str) -> dt.datetime:
    """Return the first instant after the due date of ``period`` (on time: submitted before it)."""
    year, month = parse_month(period)
    return local_to_utc(deadline.due(year, month) + dt.timedelta(days=1), dt.time(0, 0), deadline.tz)


def _deadline_groups(session: Session, villages: list[OrgUnit]) -> dict[Deadline, list[int]]:
    """Group the villages' parent (township) ids by their deadline rule (usually one per county).

    The rules are remembered for the session (``session.info``): one page asks for them twice.
    """
    known: dict[int, Deadline] = session.info.setdefault("oversight.deadlines", {})
    groups: dict[Deadline, list[int]] = {}
    for parent_id in sorted({v.parent_id for v in villages if v.parent_id is not None}):
        if parent_id not in known:
            known[parent_id] = deadline_for(session, session.get(OrgUnit, parent_id))
        groups.setdefault(known[parent_id], []).append(parent_id)
    return groups


def _villages_of(parent_ids: list[int]):
    """Return a subquery of the ids of the villages under these townships (hashed by the database)."""
    return select(OrgUnit.id).where(col(OrgUnit.parent_id).in_(parent_ids), OrgUnit.level == "village")


def _last_day(period: str) -> dt.date:
    year, month = parse_month(period)
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def _expected(asset_end, last_day, deadline: Deadline):
    """Return the conditions on Asset for an asset expected to report in a month ending at ``asset_end`` (its last
    day ``last_day``): in use through the month, as the duties count it (``duties.in_use_through``)."""
    return and_(
        duties.in_use_through(asset_end, last_day),
        col(Asset.asset_type).in_(duties.monthly_asset_types(deadline)),
    )


def _done_counts(
    session: Session,
    parent_ids: list[int],
    deadline: Deadline,
    periods: list[str],
    *,
    by_village: bool = True,
) -> dict[tuple[int, str], tuple[int, int]]:
    """Return {(village id, period): (done, on time)} of the expected assets under ``parent_ids``
    (village id 0 for all of them when not ``by_village``).

    One pass over the current submitted or approved reports (one per asset and month: the form
    follows the asset type). A first version is on time by its own submission; a later version
    (sent back and corrected) by the earliest submission of any of its versions.
    """
    cutoff = case(
        *[(Report.period == p, literal(_cutoff(deadline, p), Report.submitted_at.type)) for p in periods]
    )
    month_end = case(
        *[(Report.period == p, literal(_month_end(deadline, p), Asset.created_at.type)) for p in periods]
    )
    last_day = case(*[(Report.period == p, literal(_last_day(p), Date())) for p in periods])
    older = aliased(Report)
    earlier = exists().where(
        older.asset_id == Report.asset_id,
        older.form_id == Report.form_id,
        older.period == Report.period,
        older.submitted_at < cutoff,
    )
    on_time = case(
        (Report.version == 1, case((Report.submitted_at < cutoff, 1), else_=0)), (earlier, 1), else_=0
    )
    village = Asset.village_id if by_village else literal(0)
    keys = [Asset.village_id, Report.period] if by_village else [Report.period]
    rows = session.exec(
        select(village, Report.period, func.count(), func.sum(on_time))
        .join(Asset, Asset.id == Report.asset_id)
        .where(
            col(Report.period).in_(periods),
            duties.report_done(),
            col(Asset.village_id).in_(_villages_of(parent_ids)),
            _expected(month_end, last_day, deadline),
        )
        .group_by(*keys)
    ).all()
    return {(vid, period): (int(n), int(on or 0)) for vid, period, n, on in rows}


def _expected_counts(
    session: Session,
    parent_ids: list[int],
    deadline: Deadline,
    periods: list[str],
    *,
    by_village: bool = True,
) -> dict[tuple[int, str], int]:
    """Return {(village id, period): expected reports} of the villages under ``parent_ids``
    (village id 0 for all of them when not ``by_village``)."""
    sums = [func.sum(case((duties.in_use_through(_month_end(deadline, p), _last_day(p)), 1), else_=0))
            for p in periods]
    query = select(Asset.village_id if by_village else literal(0), *sums).where(
        col(Asset.village_id).in_(_villages_of(parent_ids)),
        col(Asset.asset_type).in_(duties.monthly_asset_types(deadline)),
    )
    rows = session.exec(query.group_by(Asset.village_id) if by_village else query).all()
    return {(vid, period): int(value or 0) for vid, *values in rows for period, value in zip(periods, values)}


@dataclass(frozen=True)
class Grid:
    """Expected, done and on-time reports per village and month of a unit."""

    villages: list[tuple[OrgUnit, OrgUnit | None]]
    periods: list[str]
    cells: dict[tuple[int, str], tuple[int, int, int]]

    def by_village(self, period: str) -> list[VillageRow]:
        """Return one row per village for ``period``."""
        return [
            VillageRow(
                township.name if township else "",
                village.name,
                *self.cells.get((village.id, period), (0, 0, 0)),
            )
            for village, township in self.villages
        ]

    def trend(self) -> list[MonthPoint]:
        """Return the months summed over the villages."""
        return [
            MonthPoint(
                p, *(sum(self.cells.get((v.id, p), (0, 0, 0))[i] for v, _ in self.villages) for i in range(3))
            )
            for p in self.periods
        ]


def reporting_grid(session: Session, unit: OrgUnit, periods: list[str]) -> Grid:
    """Return the expected, done and on-time reports of every village below ``unit`` in ``periods``."""
    pairs = _villages(session, unit)
    cells: dict[tuple[int, str], tuple[int, int, int]] = {}
    for deadline, parents in _deadline_groups(session, [v for v, _ in pairs]).items():
        done = _done_counts(session, parents, deadline, periods)
        for key, expected in _expected_counts(session, parents, deadline, periods).items():
            cells[key] = (expected, *done.get(key, (0, 0)))
    return Grid(pairs, periods, cells)


def reporting_by_village(session: Session, unit: OrgUnit, period: str) -> list[VillageRow]:
    """Return, for every village below ``unit``, its expected, done and on-time reports of ``period``."""
    return reporting_grid(session, unit, [period]).by_village(period)


def trend(session: Session, unit: OrgUnit, periods: list[str]) -> list[MonthPoint]:
    """Return, for each month of ``periods``, the expected, done and on-time reports below ``unit``."""
    sums = {p: [0, 0, 0] for p in periods}
    for deadline, parents in _deadline_groups(session, [v for v, _ in _villages(session, unit)]).items():
        done = _done_counts(session, parents, deadline, periods, by_village=False)
        for (_, period), expected in _expected_counts(
            session, parents, deadline, periods, by_village=False
        ).items():
            for i, value in enumerate((expected, *done.get((0, period), (0, 0)))):
                sums[period][i] += value
    return [MonthPoint(p, *sums[p]) for p in periods]


def by_township(rows: list[VillageRow]) -> list[VillageRow]:
    """Return the village rows summed per township (village left empty), in order of first appearance."""
    grouped: dict[str, list[VillageRow]] = {}
    for row in rows:
        grouped.setdefault(row.township, []).append(row)
    return [total_row(group, township) for township, group in grouped.items()]


def open_problems(session: Session, unit: OrgUnit, now: dt.datetime) -> dict[str, list[int]]:
    """Return {severity: [open problems per AGE_BUCKETS]} of the assets below ``unit``."""
    columns = []
    for _label, low, high in AGE_BUCKETS:
        conds = []
        if low > 0:
            conds.append(Problem.created_at <= now - dt.timedelta(days=low))
        if high is not None:
            conds.append(Problem.created_at > now - dt.timedelta(days=high + 1))
        columns.append(func.sum(case((and_(*conds), 1), else_=0)))
    rows = session.exec(
        select(Problem.severity, *columns)
        .join(Asset, Asset.id == Problem.asset_id)
        .join(OrgUnit, OrgUnit.id == Asset.village_id)
        .where(_in_scope(unit), col(Problem.status).not_in(CLOSED_PROBLEM_STATUSES))
        .group_by(Problem.severity)
    ).all()
    found = {sev: [0] * len(AGE_BUCKETS) for sev in SEVERITIES}
    for severity, *counts in rows:
        found[severity] = [int(c or 0) for c in counts]
    return found


def _operating_assets(unit: OrgUnit):
    return (
        select(Asset.id)
        .join(OrgUnit, OrgUnit.id == Asset.village_id)
        .where(_in_scope(unit), Asset.status == "active", Asset.asset_type == OPERATING)
    )


def classes(session: Session, unit: OrgUnit, period: str) -> dict[str, int]:
    """Return {class: operating assets} by each asset's latest class up to ``period``.

    The confirmed class counts, else the suggestion; assets without one are UNCLASSIFIED.
    """
    assets = _operating_assets(unit).subquery()
    latest = (
        select(AssetClass.asset_id, func.max(AssetClass.period).label("period"))
        .where(col(AssetClass.asset_id).in_(select(assets.c.id)), AssetClass.period <= period)
        .group_by(AssetClass.asset_id)
        .subquery()
    )
    rows = session.exec(
        select(AssetClass.asset_id, AssetClass.confirmed, AssetClass.suggested).join(
            latest, and_(latest.c.asset_id == AssetClass.asset_id, latest.c.period == AssetClass.period)
        )
    ).all()
    chosen: dict[int, str] = {}
    for asset_id, confirmed, suggested in rows:
        value = STORED.get(confirmed or "", confirmed) or STORED.get(suggested or "", suggested)
        if value in CLASSES:
            chosen[asset_id] = value
    total = session.exec(select(func.count()).select_from(assets)).one()
    found = {name: 0 for name in CLASSES}
    for value in chosen.values():
        found[value] += 1
    found[UNCLASSIFIED] = int(total) - len(chosen)
    return found


def industries(session: Session, unit: OrgUnit) -> dict[str, int]:
    """Return {industry category: active operating assets}, unknown categories under NO_CATEGORY."""
    rows = session.exec(
        select(Asset.industry_category, func.count())
        .join(OrgUnit, OrgUnit.id == Asset.village_id)
        .where(_in_scope(unit), Asset.status == "active", Asset.asset_type == OPERATING)
        .group_by(Asset.industry_category)
    ).all()
    found = {name: 0 for name in INDUSTRY_CATEGORIES}
    found[NO_CATEGORY] = 0
    for category, count in rows:
        found[category if category in found else NO_CATEGORY] += int(count)
    return found


def funds(session: Session, unit: OrgUnit) -> dict[str, dict[str, Decimal]]:
    """Return {fund source: {asset type: 万元}} over the active assets below ``unit``."""
    sums = [func.coalesce(func.sum(getattr(Asset, f"funds_{src}")), 0) for src in FUND_SOURCES]
    rows = session.exec(
        select(Asset.asset_type, *sums)
        .join(OrgUnit, OrgUnit.id == Asset.village_id)
        .where(_in_scope(unit), Asset.status == "active")
        .group_by(Asset.asset_type)
    ).all()
    found = {src: {kind: Decimal("0") for kind in ASSET_TYPES} for src in FUND_SOURCES}
    for asset_type, *values in rows:
        for src, value in zip(FUND_SOURCES, values):
            amount = Decimal(str(value)).quantize(Decimal("0.0001"))
            found[src][asset_type] = found[src].get(asset_type, Decimal("0")) + amount
    return found
