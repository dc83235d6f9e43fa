"""Income of an asset and its distribution (issue 17 item 2): the one place for these facts.

Seed 003 asks that an asset's income is collected, shared by a plan "经乡镇人民政府审核后报相关行业部门备案", and
made public. Amounts are in 万元 (Decimal), as the ledger and the monthly check's ``income_amount`` answer.

- **Received**: a submitted monthly check feeds ``AssetIncome.received`` of its period
  (``record_from_report``, called by ``bot.services.reports.submit``, the one road of web and Telegram):
  "yes, distributed" with its amount, "no" or "not due" as 0. Months answered before this table existed (or
  reports written without that road) are read from their report (``_received_by_report``), so every reader
  sees one figure.
- **Due**: entered per asset and period (a month, or a whole year for a yearly rent) on the web by the village
  or the township (``set_due``); the contract's yearly income plugs in at ``_contract_due``.
- **Not received**: a period whose due exceeds what was received, later than its end plus the grace the
  county's profile sets (``thresholds: income_grace_days``, default ``DEFAULT_GRACE_DAYS``), raises one
  problem ``income_not_received`` per asset and period on the township's list, with its notices in the same
  transaction (``raise_in``, once a local day in the scheduler's planning of each county, under its lock); a
  contract's yearly income counts for a year no amount was entered for.
- **Plan**: per asset and year, shares by category summing to 100 %; the village drafts and submits it, the
  township approves it or sends it back with a reason, the industry department (or the county) records its
  filing (备案), then the village records what was paid. A step out of order, or by someone outside its scope,
  is refused. Every step is audited and tells the next actor through the outbox, in its transaction.
- **Totals**: ``year_totals`` (``year_totals_many`` for lists) is what the public page, the asset pages, the scores and 附件3 read.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import DEFAULT_LOCALE, N_, UserError, translate
from bot.services import audit, departments, notices
from bot.services.access import AccessDenied, require, require_asset
from bot.services.duties import REPORT_DONE_STATUSES, period_name
from bot.services.orgs import county_of
from bot.services.users import leaders_of
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, Report, User
from bot.storage.models_contract import AssetContract
from bot.storage.models_income import AssetIncome, DistributionPlan, DistributionRecord, DistributionShare

INCOME_FORMS = ("monthly-operating",)  # the monthly check that asks "收益是否分配/金额"
DEFAULT_GRACE_DAYS = 30  # our reading: a month after the period, unless the county's profile says otherwise
GRACE_KEY = "income_grace_days"
PROBLEM_KIND = "income_not_received"
PROBLEM_SOURCE = "income"
PROBLEM_LABEL = N_("Income due not received")
PROBLEM_MESSAGE = N_("Income due for {period} not received: {due} 万元 due, {received} 万元 received.")
MAX_AMOUNT = Decimal("100000")  # 万元, as the monthly check's own limit
NOTE_MAX = 500

# Plan statuses, in their order, and how people read them.
DRAFT, SUBMITTED, APPROVED, FILED, DISTRIBUTED = "draft", "submitted", "approved", "filed", "distributed"
STATUSES = (DRAFT, SUBMITTED, APPROVED, FILED, DISTRIBUTED)
STATUS_LABELS = {DRAFT: N_("Draft (the village is writing it)"), SUBMITTED: N_("Waiting for the township's approval"),
                 APPROVED: N_("Approved by the township, waiting for filing with the department"),
                 FILED: N_("Filed with the department, to be distributed"), DISTRIBUTED: N_("Distributed")}
CATEGORIES = {"households": N_("Dividends to households (到户分红)"),
              "public_jobs": N_("Public-welfare jobs (公益岗位)"),
              "reinvest": N_("Reinvested by the village collective (村集体再投入)"),
              "other": N_("Other uses")}

MSG_NOT_HERE = N_("This is outside your area.")
MSG_PERIOD = N_("Give the period as a month (2026-10) or a year (2026).")
MSG_AMOUNT = N_("Give the amount in 万元 as a number from 0 to {max}.")
MSG_SHARES = N_("The shares add up to {sum}%; they must add up to exactly 100%.")
MSG_PERCENT = N_("Give each share as a percent from 0 to 100.")
MSG_HOUSEHOLDS = N_("Give the number of households as a whole number.")
MSG_CATEGORY = N_("Choose a category of the plan.")
MSG_TOTAL = N_("Give the plan's total income in 万元, more than 0.")
MSG_STEP = N_("This plan is {status}; this step is not possible now.")
MSG_REASON = N_("Please give a reason (up to {max} characters) so the village knows what to correct.")
MSG_TOO_MUCH = N_("This payment would bring {category} to {paid} 万元, more than the plan's {planned} 万元.")
MSG_DEPARTMENT = N_("This asset's industry is not one your department supervises.")
MSG_DATE = N_("Give the date of the payment, not later than today.")
MSG_RECEIPT = N_("The receipt must be a photo (JPEG, PNG) or a PDF of the signed list or the bank's slip.")

# Notices to the next actor (translated per recipient).
SUBMITTED_NOTICE = N_("The distribution plan of {asset} ({village}) for {year} waits for your approval.")
RETURNED_NOTICE = N_("The township sent back the distribution plan of {asset} for {year}: {reason}")
APPROVED_NOTICE = N_("The township approved the distribution plan of {asset} ({village}, {township}) for {year}; "
                     "please record its filing.")
FILED_NOTICE = N_("The distribution plan of {asset} for {year} is filed with the department; record the payments "
                  "when they are made.")
DISTRIBUTED_NOTICE = N_("{village} recorded a payment of {amount} 万元 under the distribution plan of {asset} for "
                        "{year}.")
SETTLED_NOTE = N_("Settled: the income due for {period} was received ({received} 万元).")
OVERDUE_NOTICE = N_("Income due not received at {asset} ({village}): {problem}")


class IncomeError(UserError, ValueError):
    """An income or plan step refused for a reason the user can fix; ``msgid`` is translatable."""


@dataclass(frozen=True)
class ShareIn:
    """One share of a plan as typed: category, percent, households (a count; optional)."""

    category: str
    percent: object
    households: object = None


@dataclass(frozen=True)
class PeriodIncome:
    """One period of an asset: income due and received (万元; None: nothing known)."""

    period: str
    due: Decimal | None
    received: Decimal | None
    from_report: int | None = None


@dataclass
class IncomeYear:
    """An asset's income of one year: due, received, distributed by category, and the plan's state."""

    asset_id: int
    year: int
    due: Decimal | None
    received: Decimal | None
    periods: list[PeriodIncome] = field(default_factory=list)
    planned: dict[str, Decimal] = field(default_factory=dict)        # category → planned amount
    households: dict[str, int] = field(default_factory=dict)         # category → households (a count only)
    distributed: dict[str, Decimal] = field(default_factory=dict)    # category → paid
    plan_id: int | None = None
    plan_status: str | None = None
    due_from_contract: bool = False  # nothing entered: the due is what the contracts promise

    @property
    def distributed_total(self) -> Decimal:
        return sum(self.distributed.values(), Decimal(0))

    @property
    def shortfall(self) -> Decimal | None:
        """Income due but not received this year (None when nothing is due)."""
        if self.due is None:
            return None
        return max(self.due - (self.received or Decimal(0)), Decimal(0))


# --- reading ------------------------------------------------------------------------------------------


def _number(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def received_in_answers(answers: dict) -> Decimal | None:
    """Return what a monthly check says was received: the amount when distributed, 0 when not (or not due),
    None when the form did not ask."""
    said = answers.get("income_distributed")
    if said in ("yes", True):
        return _number(answers.get("income_amount")) or Decimal(0)
    if said in ("no", "not_due", False):
        return Decimal(0)
    return None


def _is_month(period: str) -> bool:
    return len(period) == 7 and period[4] == "-" and period[:4].isdigit() and period[5:].isdigit()


def parse_period(period: str) -> str:
    """Return a period a due amount may be entered for ('2026-10' or '2026'); IncomeError otherwise."""
    text = (period or "").strip()
    if len(text) == 4 and text.isdigit() and 2000 <= int(text) <= 2100:
        return text
    if _is_month(text) and 1 <= int(text[5:]) <= 12 and 2000 <= int(text[:4]) <= 2100:
        return text
    raise IncomeError(MSG_PERIOD)


def last_day(period: str) -> dt.date:
    """The last day of a month or year period."""
    year = int(period[:4])
    if len(period) == 4:
        return dt.date(year, 12, 31)
    month = int(period[5:7])
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _chunks(ids: Sequence[int], size: int = 900) -> Iterable[list[int]]:
    ids = list(ids)
    return (ids[i:i + size] for i in range(0, len(ids), size))


def _received_by_reports(session: Session, asset_ids: Sequence[int],
                         periods: Sequence[str]) -> dict[tuple[int, str], tuple[Decimal, int]]:
    """Return {(asset id, period): (received, report id)} from the done monthly checks of ``periods`` (latest
    version), one query per 900 assets."""
    months = [p for p in periods if _is_month(p)]
    found: dict[tuple[int, str], tuple[Decimal, int]] = {}
    if not months:
        return found
    for chunk in _chunks(asset_ids):
        rows = session.exec(select(Report).where(
            col(Report.asset_id).in_(chunk), col(Report.period).in_(months), col(Report.current).is_(True),
            col(Report.form_id).in_(INCOME_FORMS), col(Report.status).in_(REPORT_DONE_STATUSES))
            .order_by(col(Report.id))).all()
        for report in rows:
            amount = received_in_answers(report.answers or {})
            if amount is not None and report.asset_id is not None:
                found[(report.asset_id, report.period)] = (amount, report.id)
    return found


def _contract_due(session: Session, asset_ids: Sequence[int], year: int) -> dict[int, Decimal]:
    """The contracts' yearly income due (万元) per asset: what the assets' contracts promise for the year
    (``contracts.yearly_income_due_many``). It is read only when no due was entered for the year or any of its
    months, so an entered amount always wins.
    """
    from bot.services import contracts

    return contracts.yearly_income_due_many(session, list(asset_ids), year)


def periods_many(session: Session, asset_ids: Sequence[int], periods: Sequence[str]) -> dict[int, list[PeriodIncome]]:
    """{asset id: due and received of each period (in the given order)}: the table, else the monthly check."""
    rows: dict[tuple[int, str], tuple[Decimal | None, Decimal | None, int | None]] = {}
    for chunk in _chunks(asset_ids):  # plain columns: building thousands of ORM rows would cost most of the time
        for asset_id, period, due, received, report_id in session.exec(
                select(AssetIncome.asset_id, AssetIncome.period, AssetIncome.due, AssetIncome.received,
                       AssetIncome.report_id)
                .where(col(AssetIncome.asset_id).in_(chunk), col(AssetIncome.period).in_(list(periods)))):
            rows[(asset_id, period)] = (due, received, report_id)
    nothing = (None, None, None)
    unknown = [a for a in asset_ids if any(rows.get((a, p), nothing)[1] is None for p in periods if _is_month(p))]
    reported = _received_by_reports(session, unknown, periods)
    found: dict[int, list[PeriodIncome]] = {}
    for asset_id in asset_ids:
        lines = []
        for period in periods:
            due, received, report_id = rows.get((asset_id, period), nothing)
            if received is None and (asset_id, period) in reported:
                received, report_id = reported[(asset_id, period)]
            lines.append(PeriodIncome(period, due, received, report_id))
        found[asset_id] = lines
    return found


def periods_of(session: Session, asset_id: int, periods: Sequence[str]) -> list[PeriodIncome]:
    """Return due and received of each period (in the given order): the table, else the monthly check."""
    return periods_many(session, [asset_id], periods)[asset_id]


def year_periods(year: int) -> list[str]:
    """The periods of a year: its twelve months, then the year itself (a yearly due or rent)."""
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)] + [f"{year:04d}"]


def total_of(values: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the known values, or None when none is known (nothing said is not 0)."""
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def received_in(session: Session, asset_id: int, periods: Sequence[str]) -> Decimal | None:
    """Income received over ``periods`` (万元), None when no period says anything (e.g. a quarter of 附件3)."""
    return total_of(p.received for p in periods_of(session, asset_id, periods))


def due_for(session: Session, asset: Asset, period: str) -> Decimal | None:
    """Income due of an asset in a period (万元): entered on the web; for a year, else the contract's."""
    row = session.exec(select(AssetIncome).where(AssetIncome.asset_id == asset.id,
                                                 AssetIncome.period == period)).first()
    if row is not None and row.due is not None:
        return row.due
    if len(period) == 4:
        return _contract_due(session, [asset.id], int(period)).get(asset.id)
    return None


def plan_of(session: Session, asset_id: int, year: int) -> DistributionPlan | None:
    return session.exec(select(DistributionPlan).where(DistributionPlan.asset_id == asset_id,
                                                       DistributionPlan.year == year)).first()


def shares_of(session: Session, plan_id: int) -> list[DistributionShare]:
    order = list(CATEGORIES)
    rows = session.exec(select(DistributionShare).where(DistributionShare.plan_id == plan_id)).all()
    return sorted(rows, key=lambda s: order.index(s.category) if s.category in order else len(order))


def records_of(session: Session, plan_id: int) -> list[DistributionRecord]:
    return list(session.exec(select(DistributionRecord).where(DistributionRecord.plan_id == plan_id)
                             .order_by(col(DistributionRecord.date), col(DistributionRecord.id))).all())


def year_totals(session: Session, asset_id: int, year: int) -> IncomeYear:
    """An asset's income of ``year``: due, received, planned and distributed by category, the plan's status.

    Due is the sum of the amounts entered for the year and its months, else the contract's yearly income.
    """
    return year_totals_many(session, [asset_id], year)[asset_id]


def year_totals_many(session: Session, asset_ids: Sequence[int], year: int) -> dict[int, IncomeYear]:
    """``year_totals`` of many assets (lists, the inventory, the province's scores) in a few queries per 900
    assets rather than a few per asset: {asset id: its year}."""
    asset_ids = list(dict.fromkeys(asset_ids))
    by_asset = periods_many(session, asset_ids, year_periods(year))
    totals = {a: IncomeYear(a, year, total_of(p.due for p in by_asset[a]), total_of(p.received for p in by_asset[a]),
                            by_asset[a]) for a in asset_ids}
    promised = _contract_due(session, [a for a, t in totals.items() if t.due is None], year)
    for asset_id, amount in promised.items():
        totals[asset_id].due, totals[asset_id].due_from_contract = amount, True
    plans: dict[int, int] = {}  # plan id → asset id
    for chunk in _chunks(asset_ids):
        for plan_id, asset_id, status in session.exec(
                select(DistributionPlan.id, DistributionPlan.asset_id, DistributionPlan.status)
                .where(col(DistributionPlan.asset_id).in_(chunk), DistributionPlan.year == year)):
            plans[plan_id] = asset_id
            totals[asset_id].plan_id, totals[asset_id].plan_status = plan_id, status
    order = list(CATEGORIES)
    for chunk in _chunks(list(plans)):
        shares = session.exec(select(DistributionShare.plan_id, DistributionShare.category, DistributionShare.amount,
                                     DistributionShare.households)
                              .where(col(DistributionShare.plan_id).in_(chunk))).all()
        for plan_id, category, amount, households in sorted(
                shares, key=lambda s: order.index(s[1]) if s[1] in order else len(order)):
            found = totals[plans[plan_id]]
            found.planned[category] = amount
            if households is not None:
                found.households[category] = households
        for plan_id, category, amount in session.exec(
                select(DistributionRecord.plan_id, DistributionRecord.category, DistributionRecord.amount)
                .where(col(DistributionRecord.plan_id).in_(chunk))):
            found = totals[plans[plan_id]]
            found.distributed[category] = found.distributed.get(category, Decimal(0)) + amount
    return totals


# --- received: from the monthly check ---------------------------------------------------------------------


def record_from_report(session: Session, report: Report, now: dt.datetime | None = None) -> AssetIncome | None:
    """Feed a submitted monthly check's income answer into ``AssetIncome.received`` of its period (the caller's
    transaction; a resubmission after a send-back overwrites it). Returns the row, or None when the report
    does not say anything about income."""
    if report.asset_id is None or report.form_id not in INCOME_FORMS or not _is_month(report.period):
        return None
    amount = received_in_answers(report.answers or {})
    if amount is None:
        return None
    now = now or utcnow()
    row = session.exec(select(AssetIncome).where(AssetIncome.asset_id == report.asset_id,
                                                 AssetIncome.period == report.period)).first()
    before = None if row is None else {"received": row.received, "report_id": row.report_id}
    if row is None:
        row = AssetIncome(asset_id=report.asset_id, period=report.period, created_at=now)
    row.received, row.report_id, row.updated_at = amount, report.id, now
    session.add(row)
    session.flush()
    audit.record(session, audit.Actor(report.submitted_by, f"user:{report.submitted_by}"), "income.received",
                 "asset_income", row.id, before,
                 {"asset_id": row.asset_id, "period": row.period, "received": amount, "report_id": report.id})
    return row


# --- due: entered on the web ------------------------------------------------------------------------------


def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}:{user.name}")


def parse_amount(raw: object, *, allow_zero: bool = True) -> Decimal:
    amount = _number(raw)
    if amount is None or amount < 0 or amount > MAX_AMOUNT or (not allow_zero and amount == 0):
        raise IncomeError(MSG_AMOUNT, max=MAX_AMOUNT)
    return amount.quantize(Decimal("0.0001"))


def set_due(session: Session, user: User, asset_id: int, period: str, amount: object, *,
            now: dt.datetime | None = None) -> AssetIncome:
    """Enter (or change) the income due of an asset for a month or a year; audited, the caller commits."""
    asset = require_asset(session, user, "income.enter", asset_id)
    period = parse_period(period)
    due = parse_amount(amount)
    now = now or utcnow()
    row = session.exec(select(AssetIncome).where(AssetIncome.asset_id == asset.id,
                                                 AssetIncome.period == period)).first()
    before = None if row is None else {"due": row.due}
    if row is None:
        row = AssetIncome(asset_id=asset.id, period=period, created_at=now)
    row.due, row.entered_by, row.updated_at = due, user.id, now
    session.add(row)
    session.flush()
    audit.record(session, _actor(user), "income.due", "asset_income", row.id, before,
                 {"asset_id": asset.id, "period": period, "due": due})
    return row


# --- income due but not received: a problem on the township's list -----------------------------------------


def grace_days(session: Session, unit: OrgUnit) -> int:
    """Days after a period's end before unpaid income is a problem: the county profile's, else the default."""
    from bot.services.policies import county_profile

    profile = county_profile(session, county_of(session, unit))
    if profile is not None and GRACE_KEY in profile.thresholds:
        return int(profile.thresholds[GRACE_KEY])
    return DEFAULT_GRACE_DAYS


def raise_overdue(session: Session, now: dt.datetime | None = None, *, tz: dt.tzinfo | None = None) -> list[Problem]:
    """``raise_in`` over every county now, committed (the scheduler does it per county in its daily planning)."""
    now = as_utc(now) if now else utcnow()
    if tz is None:
        from bot.config import get_settings

        tz = get_settings().tz
    today = now.astimezone(tz).date()
    raised = []
    for county in session.exec(select(OrgUnit).where(OrgUnit.level == "county").order_by(OrgUnit.id)).all():
        raised += raise_in(session, county, today, now)
    session.commit()
    return raised


def plan_county(session: Session, view, since: dt.datetime, now: dt.datetime) -> list[Problem]:
    """The day's check of one county (``outbox.plan_county`` calls it under the county's lock, so one process
    does it): once the county's local day has turned since the last tick, ``raise_in``."""
    today = as_utc(now).astimezone(view.tz).date()
    if as_utc(since).astimezone(view.tz).date() >= today:
        return []
    return raise_in(session, view.county, today, as_utc(now))


def raise_in(session: Session, scope: OrgUnit, today: dt.date, now: dt.datetime) -> list[Problem]:
    """Raise one problem per asset of ``scope`` and period whose due income was not received by the period's
    end plus the county's grace: an amount entered for a month or a year, and, for an asset with no amount
    entered for last year, what its contracts promised for it. Its event, audit entry and notices are written
    in the caller's transaction.

    Idempotent: a period that raised a problem (``AssetIncome.problem_id``) never raises another. The rows are
    chosen in SQL (active assets of the scope, unpaid, of an ended month), so a county's paid years cost nothing.
    """
    grace = dt.timedelta(days=grace_days(session, scope))
    raised = []
    rows = session.exec(select(AssetIncome, Asset).join(Asset, col(Asset.id) == AssetIncome.asset_id)
                        .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                        .where(col(OrgUnit.path).startswith(scope.path), Asset.status == "active",
                               col(AssetIncome.due) > 0, col(AssetIncome.problem_id).is_(None),
                               col(AssetIncome.period) < f"{today:%Y-%m}",
                               or_(col(AssetIncome.received).is_(None),
                                   col(AssetIncome.received) < col(AssetIncome.due)))
                        .order_by(col(AssetIncome.id))).all()
    late = [(row, asset) for row, asset in rows if today > last_day(row.period) + grace]
    months = [row for row, _ in late if _is_month(row.period) and row.received is None]
    reported = _received_by_reports(session, [row.asset_id for row in months], [row.period for row in months])
    years: dict[str, list[int]] = {}
    for row, _ in late:
        if not _is_month(row.period):
            years.setdefault(row.period, []).append(row.asset_id)
    # a yearly amount (a rent) is paid by what the whole year received, month by month or at once
    of_year = {(a, period): t.received for period, ids in years.items()
               for a, t in year_totals_many(session, ids, int(period)).items()}
    for row, asset in late:
        if not _is_month(row.period):
            received = of_year.get((row.asset_id, row.period)) or Decimal(0)
        elif row.received is not None:
            received = row.received
        else:
            received = reported.get((row.asset_id, row.period), (Decimal(0), None))[0]
        if received < row.due:
            raised.append(_raise(session, row, asset, row.due, received, now))
    year = today.year - 1
    if today > dt.date(year, 12, 31) + grace:
        raised += _raise_promised(session, scope, year, now)
    settle_in(session, scope, now)
    return raised


def settle_in(session: Session, scope: OrgUnit, now: dt.datetime) -> list[Problem]:
    """Resolve the open problems of income not received in ``scope`` whose period has now received its due (the
    money came late): by the system, audited, with a note in words. Return them."""
    from bot.services.contract_watch import OPEN_STATUSES, resolve_problem

    rows = session.exec(select(Problem, AssetIncome).join(AssetIncome, col(AssetIncome.problem_id) == Problem.id)
                        .join(Asset, col(Asset.id) == AssetIncome.asset_id)
                        .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                        .where(col(OrgUnit.path).startswith(scope.path), Problem.source == PROBLEM_SOURCE,
                               col(Problem.status).in_(OPEN_STATUSES))
                        .order_by(col(Problem.id))).all()
    settled = []
    for problem, row in rows:
        if _is_month(row.period):
            due, received = row.due, periods_of(session, row.asset_id, [row.period])[0].received
        else:
            totals = year_totals(session, row.asset_id, int(row.period))
            due, received = row.due if row.due is not None else totals.due, totals.received
        if due is not None and received is not None and received >= due:
            resolve_problem(session, problem, now, SETTLED_NOTE, period=period_name(row.period, DEFAULT_LOCALE),
                            received=_money_words(received))
            settled.append(problem)
    return settled


def _raise_promised(session: Session, scope: OrgUnit, year: int, now: dt.datetime) -> list[Problem]:
    """The contracts' side of ``raise_in``: each active asset of ``scope`` whose contracts promised income for
    ``year`` and that received less, when no amount was entered for the year or its months (entered wins)."""
    promised = session.exec(select(AssetContract.asset_id).distinct()
                            .join(Asset, col(Asset.id) == AssetContract.asset_id)
                            .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                            .where(col(OrgUnit.path).startswith(scope.path), Asset.status == "active",
                                   col(AssetContract.income_amount) > 0,
                                   or_(col(AssetContract.start).is_(None),
                                       col(AssetContract.start) <= dt.date(year, 12, 31)),
                                   or_(col(AssetContract.end).is_(None),
                                       col(AssetContract.end) >= dt.date(year, 1, 1)))).all()
    settled: set[int] = set()
    for chunk in _chunks(promised):
        settled |= set(session.exec(select(AssetIncome.asset_id).where(
            col(AssetIncome.asset_id).in_(chunk), col(AssetIncome.period).in_(year_periods(year)),
            or_(col(AssetIncome.due).is_not(None), col(AssetIncome.problem_id).is_not(None)))).all())
    open_ids = [a for a in promised if a not in settled]
    raised = []
    for asset_id, totals in year_totals_many(session, open_ids, year).items():
        received = totals.received or Decimal(0)
        if totals.due is None or received >= totals.due:
            continue
        row = session.exec(select(AssetIncome).where(AssetIncome.asset_id == asset_id,
                                                     AssetIncome.period == f"{year:04d}")).first()
        if row is None:
            row = AssetIncome(asset_id=asset_id, period=f"{year:04d}", created_at=now, updated_at=now)
        raised.append(_raise(session, row, session.get(Asset, asset_id), totals.due, received, now))
    return raised


def _money_words(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _raise(session: Session, row: AssetIncome, asset: Asset, due: Decimal, received: Decimal,
           now: dt.datetime) -> Problem:
    from bot.services import problems

    description = translate(DEFAULT_LOCALE, PROBLEM_MESSAGE, period=period_name(row.period, DEFAULT_LOCALE),
                            due=_money_words(due), received=_money_words(received))
    problem = Problem(asset_id=asset.id, source=PROBLEM_SOURCE, kind=PROBLEM_KIND, severity="major",
                      owner_level="township", description=description, created_at=now)
    session.add(problem)
    session.flush()
    row.problem_id = problem.id
    session.add(row)
    session.add(ProblemEvent(problem_id=problem.id, at=now, action="created", note=f"income {row.period}"))
    audit.record(session, audit.SYSTEM, "problem.create", "problem", problem.id, None,
                 {"asset_id": asset.id, "kind": PROBLEM_KIND, "severity": "major", "owner_level": "township",
                  "period": row.period, "due": due, "received": received})
    village = session.get(OrgUnit, asset.village_id)
    township = notices._township(session, village)
    leaders = leaders_of(session, township)
    notices._write(session, unit=township, kind="notice", step="income-not-received", subject=f"problem/{problem.id}",
                   item=notices.ITEM, period=str(problem.id), role="township_leader",
                   routes=notices._routes(session, leaders, township),
                   body=[[OVERDUE_NOTICE, {"asset": asset.name, "village": village.name, "problem": description}]],
                   actions=[f"problem:{problem.id}"], now=now)
    problems.to_department(session, problem, now)  # a major problem reaches the industry's department too
    return problem


# --- the distribution plan ----------------------------------------------------------------------------------


def _village(session: Session, asset: Asset) -> OrgUnit:
    return session.get(OrgUnit, asset.village_id)


def _plan(session: Session, user: User, plan_id: int, action: str) -> tuple[DistributionPlan, Asset]:
    """Return a plan and its asset if ``user`` may do ``action`` on it; unknown and foreign ids alike refused."""
    plan = session.get(DistributionPlan, plan_id) if isinstance(plan_id, int) else None
    if plan is None:
        raise AccessDenied(MSG_NOT_HERE)
    asset = require_asset(session, user, action, plan.asset_id)
    return plan, asset


def _step_refused(plan: DistributionPlan) -> IncomeError:
    from bot.i18n import Label

    return IncomeError(MSG_STEP, status=Label(STATUS_LABELS.get(plan.status, plan.status)))


def parse_shares(total: Decimal, shares: Sequence[ShareIn]) -> list[tuple[str, Decimal, Decimal, int | None]]:
    """Return (category, percent, amount, households) of the typed shares; they must sum to exactly 100 %."""
    parsed = []
    for share in shares:
        if share.category not in CATEGORIES:
            raise IncomeError(MSG_CATEGORY)
        percent = _number(share.percent) if share.percent not in (None, "") else Decimal(0)
        if percent is None or percent < 0 or percent > 100:
            raise IncomeError(MSG_PERCENT)
        households = None
        if share.households not in (None, ""):
            count = _number(share.households)
            if count is None or count < 0 or count != count.to_integral_value() or count > 1_000_000:
                raise IncomeError(MSG_HOUSEHOLDS)
            households = int(count)
        if percent == 0 and not households:
            continue
        amount = (total * percent / 100).quantize(Decimal("0.0001"))
        parsed.append((share.category, percent.quantize(Decimal("0.0001")), amount, households))
    added = sum((p for _, p, _, _ in parsed), Decimal(0))
    if added != 100:
        raise IncomeError(MSG_SHARES, sum=_money_words(added))
    return parsed


def draft_plan(session: Session, user: User, asset_id: int, year: int, total: object, shares: Sequence[ShareIn], *,
               note: str = "", now: dt.datetime | None = None) -> DistributionPlan:
    """Write (or rewrite) the draft plan of an asset for a year; the village cadre's step. Audited."""
    asset = require_asset(session, user, "income.plan", asset_id)
    amount = parse_amount(total, allow_zero=False) if _number(total) not in (None, Decimal(0)) else None
    if amount is None:
        raise IncomeError(MSG_TOTAL)
    parsed = parse_shares(amount, shares)
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise IncomeError(MSG_REASON, max=NOTE_MAX)
    now = now or utcnow()
    plan = plan_of(session, asset.id, year)
    if plan is not None and plan.status != DRAFT:
        raise _step_refused(plan)
    before = None
    if plan is None:
        plan = DistributionPlan(asset_id=asset.id, year=year, status=DRAFT, created_by=user.id, created_at=now)
    else:
        before = {"total": plan.total, "shares": _shares_dict(session, plan.id)}
        for old in shares_of(session, plan.id):
            session.delete(old)
    plan.total, plan.note, plan.updated_at = amount, text or None, now
    session.add(plan)
    session.flush()
    for category, percent, share_amount, households in parsed:
        session.add(DistributionShare(plan_id=plan.id, category=category, percent=percent, amount=share_amount,
                                      households=households))
    session.flush()
    audit.record(session, _actor(user), "income.plan_draft", "distribution_plan", plan.id, before,
                 {"asset_id": asset.id, "year": year, "total": amount, "shares": _shares_dict(session, plan.id)})
    return plan


def _shares_dict(session: Session, plan_id: int) -> dict:
    return {s.category: {"percent": s.percent, "amount": s.amount, "households": s.households}
            for s in shares_of(session, plan_id)}


def _params(session: Session, asset: Asset, plan: DistributionPlan) -> tuple[OrgUnit, OrgUnit, dict]:
    village = _village(session, asset)
    township = notices._township(session, village)
    return village, township, {"asset": asset.name, "village": village.name, "township": township.name,
                               "year": plan.year}


def _tell(session: Session, unit: OrgUnit, people: list[User], role: str, plan: DistributionPlan, step: str,
          msgid: str, params: dict, now: dt.datetime, actor: audit.Actor, township: OrgUnit | None = None) -> int:
    """Queue a notice of a plan's step to ``people`` (in the caller's transaction)."""
    return notices._write(session, unit=unit, kind="notice", step=f"income-{step}-{now:%Y%m%d%H%M%S}",
                          subject=f"income-plan/{plan.id}", item=notices.ITEM, period=str(plan.year), role=role,
                          routes=notices._routes(session, people, township), body=[[msgid, params]], actions=[],
                          now=now, actor=actor)


def _cadres(session: Session, village: OrgUnit) -> list[User]:
    return list(session.exec(select(User).where(User.role == "village_cadre", col(User.active).is_(True),
                                                User.org_unit_id == village.id).order_by(col(User.id))).all())


def submit_plan(session: Session, user: User, plan_id: int, *, now: dt.datetime | None = None) -> DistributionPlan:
    """The village submits its draft to the township; the township's leaders are told."""
    plan, asset = _plan(session, user, plan_id, "income.plan")
    if plan.status != DRAFT or not shares_of(session, plan.id):
        raise _step_refused(plan)
    now = now or utcnow()
    plan.status, plan.submitted_by, plan.submitted_at, plan.updated_at = SUBMITTED, user.id, now, now
    plan.return_reason = None
    session.add(plan)
    audit.record(session, _actor(user), "income.plan_submit", "distribution_plan", plan.id, {"status": DRAFT},
                 {"status": SUBMITTED})
    village, township, params = _params(session, asset, plan)
    _tell(session, township, leaders_of(session, township), "township_leader", plan, "submitted",
          SUBMITTED_NOTICE, params, now, _actor(user), township)
    return plan


def approve_plan(session: Session, user: User, plan_id: int, *, now: dt.datetime | None = None) -> DistributionPlan:
    """The township approves a submitted plan (审核); the department (else the county office) is told to file it."""
    plan, asset = _plan(session, user, plan_id, "income.approve")
    if plan.status != SUBMITTED:
        raise _step_refused(plan)
    now = now or utcnow()
    plan.status, plan.approved_by, plan.approved_at, plan.updated_at = APPROVED, user.id, now, now
    session.add(plan)
    audit.record(session, _actor(user), "income.plan_approve", "distribution_plan", plan.id, {"status": SUBMITTED},
                 {"status": APPROVED})
    village, _township, params = _params(session, asset, plan)
    county = county_of(session, village)
    officers = departments.officers_for(session, county, asset.industry_category)
    role = "department_officer"
    if not officers:
        officers, role = leaders_of(session, county, "county_officer"), "county_officer"
    _tell(session, county, officers, role, plan, "approved", APPROVED_NOTICE, params, now, _actor(user))
    return plan


def return_plan(session: Session, user: User, plan_id: int, reason: str, *,
                now: dt.datetime | None = None) -> DistributionPlan:
    """The township sends a submitted plan back to the village with a reason; the village's cadres are told."""
    plan, asset = _plan(session, user, plan_id, "income.approve")
    if plan.status != SUBMITTED:
        raise _step_refused(plan)
    text = (reason or "").strip()
    if not text or len(text) > NOTE_MAX:
        raise IncomeError(MSG_REASON, max=NOTE_MAX)
    now = now or utcnow()
    plan.status, plan.return_reason, plan.updated_at = DRAFT, text, now
    session.add(plan)
    audit.record(session, _actor(user), "income.plan_return", "distribution_plan", plan.id, {"status": SUBMITTED},
                 {"status": DRAFT, "reason": text})
    village, _township, params = _params(session, asset, plan)
    _tell(session, village, _cadres(session, village), "village_cadre", plan, "returned", RETURNED_NOTICE,
          {**params, "reason": text}, now, _actor(user))
    return plan


def may_file(session: Session, user: User, asset: Asset) -> bool:
    """Whether ``user`` may record the filing of this asset's plan: a department officer of the asset's
    industry, or the county office (and an administrator)."""
    if user.role != "department_officer":
        return True
    return asset.industry_category in departments.categories_of(session, user.id)


def file_plan(session: Session, user: User, plan_id: int, *, now: dt.datetime | None = None) -> DistributionPlan:
    """The industry department (or the county office) records the filing (备案) of an approved plan."""
    plan, asset = _plan(session, user, plan_id, "income.file")
    if not may_file(session, user, asset):
        raise AccessDenied(MSG_DEPARTMENT)
    if plan.status != APPROVED:
        raise _step_refused(plan)
    now = now or utcnow()
    plan.status, plan.filed_by, plan.filed_at, plan.updated_at = FILED, user.id, now, now
    session.add(plan)
    audit.record(session, _actor(user), "income.plan_file", "distribution_plan", plan.id, {"status": APPROVED},
                 {"status": FILED})
    village, _township, params = _params(session, asset, plan)
    _tell(session, village, _cadres(session, village), "village_cadre", plan, "filed", FILED_NOTICE, params, now,
          _actor(user))
    return plan


def record_distribution(session: Session, user: User, plan_id: int, *, date: dt.date | str, amount: object,
                        category: str, note: str = "", receipt: bytes | None = None, store=None,
                        now: dt.datetime | None = None, tz: dt.tzinfo | None = None) -> DistributionRecord:
    """The village records a payment under a filed plan (not more than a category's planned amount); the plan
    is then 'distributed' and the township is told. ``receipt``: the paper that shows it (a photo or PDF of the
    signed list or the bank's slip), kept through ``bot.services.documents`` in ``store`` (the evidence store);
    private: it may carry households' names, so only people who see the asset open it, never the public page."""
    plan, asset = _plan(session, user, plan_id, "income.plan")
    if plan.status not in (FILED, DISTRIBUTED):
        raise _step_refused(plan)
    now = now or utcnow()
    if tz is None:
        from bot.config import get_settings

        tz = get_settings().tz
    day = _date(date)
    if day is None or day > as_utc(now).astimezone(tz).date():
        raise IncomeError(MSG_DATE)
    paid = parse_amount(amount, allow_zero=False)
    planned = {s.category: s.amount for s in shares_of(session, plan.id)}
    if category not in planned:
        raise IncomeError(MSG_CATEGORY)
    already = sum((r.amount for r in records_of(session, plan.id) if r.category == category), Decimal(0))
    if already + paid > planned[category]:
        from bot.i18n import Label

        raise IncomeError(MSG_TOO_MUCH, category=Label(CATEGORIES[category]), paid=_money_words(already + paid),
                          planned=_money_words(planned[category]))
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise IncomeError(MSG_REASON, max=NOTE_MAX)
    attachment = None
    if receipt:
        from bot.services import documents

        try:
            attachment = documents.keep(store, receipt, not_a_document=MSG_RECEIPT).sha256
        except documents.DocumentError as exc:
            raise IncomeError(exc.msgid, **exc.params) from None
    record = DistributionRecord(plan_id=plan.id, date=day, amount=paid, category=category, note=text or None,
                                attachment=attachment, recorded_by=user.id, created_at=now)
    session.add(record)
    before = plan.status
    plan.status, plan.updated_at = DISTRIBUTED, now
    session.add(plan)
    session.flush()
    audit.record(session, _actor(user), "income.distribute", "distribution_plan", plan.id, {"status": before},
                 {"status": DISTRIBUTED, "record_id": record.id, "date": day, "amount": paid, "category": category,
                  **({"attachment": attachment} if attachment else {})})
    village, township, params = _params(session, asset, plan)
    _tell(session, township, leaders_of(session, township), "township_leader", plan, "distributed",
          DISTRIBUTED_NOTICE, {**params, "amount": _money_words(paid)}, now, _actor(user), None)
    return record


def _date(value: dt.date | str) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


# --- lists for the township and the department ------------------------------------------------------------


def waiting(session: Session, user: User, status: str) -> list[tuple[DistributionPlan, Asset, OrgUnit]]:
    """The plans in ``user``'s area with ``status`` (submitted: to approve; approved: to file), oldest first;
    a department officer sees only the industries their department supervises."""
    from bot.services.access import scope_filter

    require(session, user, "asset.view")
    rows = session.exec(select(DistributionPlan, Asset, OrgUnit)
                        .join(Asset, col(Asset.id) == DistributionPlan.asset_id)
                        .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                        .where(DistributionPlan.status == status, scope_filter(session, user))
                        .order_by(col(DistributionPlan.updated_at), col(DistributionPlan.id))).all()
    if user.role == "department_officer":
        mine = set(departments.categories_of(session, user.id))
        rows = [r for r in rows if r[1].industry_category in mine]
    return [(plan, asset, village) for plan, asset, village in rows]


def receipt_of(session: Session, user: User, record_id: int, store) -> tuple[DistributionRecord, bytes, str]:
    """A payment's receipt and its type, to someone who sees the asset (``asset.view``); ``IncomeError`` when the
    record has none or is not in the user's area."""
    from bot.services import documents

    record = session.get(DistributionRecord, record_id)
    plan = session.get(DistributionPlan, record.plan_id) if record is not None else None
    if record is None or plan is None or not record.attachment:
        raise IncomeError(MSG_NOT_HERE)
    require_asset(session, user, "asset.view", plan.asset_id)
    shown = documents.read(store, record.attachment)
    if shown is None:
        raise IncomeError(MSG_NOT_HERE)
    return record, shown[0], shown[1]
