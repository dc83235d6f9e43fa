"""One definition of a duty's state: for every unit, duty (policy profile item) and period.

A duty is an item of the county's policy profile (``bot/policy/profiles/*.yaml``) for one period and
its responsible unit: a village (village items), a township, or the county (county and department
items). Its state at a moment is one of

- ``not_due``: its period has not begun (or, for a report on the previous period, not ended);
- ``due``: open and not yet done, the deadline has not passed;
- ``done``: recorded as done — when, and by what (``Done.by``: ``form`` submitted, ``sign_off``,
  an officer's ``record``, the township's ``review``, the county's ``grade``; ``Done.ref`` is the
  report or the duty record);
- ``late``: not done and its deadline has passed;
- ``not_applicable``: nothing to do (a village without an asset the monthly check covers).

What makes a duty done:

- ``village_monthly_report``: every active asset of the village of the types the item covers
  (``asset_types`` of the profile item, else 经营性 and 公益性) that was in the registry before the
  month ended has a current monthly report that is submitted (waiting for review) or approved
  (``REPORT_DONE_STATUSES``). A report sent back (``returned``) is history; its next version is a
  draft until it is resubmitted, so the duty is open again. Done at the latest submission.
- any other duty: a ``DutyRecord`` of the responsible unit for the period, written by the flow
  that completes it (``mark_done``: forms, sign-offs, review, grading) or by an officer's record
  (``record``: date, note, optional attachment).
- a village's yearly inventory (``done_by: inventory``, seed 003 年初清查、清算; the period is the year
  counted): recorded (``inventory_done``) when every asset of the village of the types the item covers that
  was in the ledger during that year (``in_year``) is confirmed with its income settled
  (``InventoryCheck``), and never before; the confirmations are final after that. A village without such
  an asset has nothing to count (``not_applicable``).

The scheduler's fact loader (``bot.services.schedule_facts``), the dashboards and exports
(``bot.services.oversight``), the compliance scores (``bot.services.assessment.compliance``), the
officers' duty pages and the ``villagebot duty`` commands all ask here. The questions are answered
for many units at once, in a few set-based queries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import case, false, func, or_, true
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_, Label, UserError
from bot.policy.calendar import Occurrence, occurrences
from bot.policy.profile import DEFAULT_ASSET_TYPES, FREQUENCIES, DueItem, Profile
from bot.policy.timing import local_to_utc
from bot.services import audit, policies
from bot.services.access import AccessDenied
from bot.services.blobs import BlobStore, LocalStore
from bot.services.orgs import county_of
from bot.storage.models import Asset, OrgUnit, Report, User
from bot.storage.models_disposal import Disposal
from bot.storage.models_schedule import DutyRecord

NOT_DUE, DUE, DONE, LATE, NOT_APPLICABLE = "not_due", "due", "done", "late", "not_applicable"
STATES = (NOT_DUE, DUE, DONE, LATE, NOT_APPLICABLE)
STATE_LABELS = {NOT_DUE: N_("not due yet"), DUE: N_("due"), DONE: N_("done"), LATE: N_("late"),
                NOT_APPLICABLE: N_("not applicable")}
BY_LABELS = {"form": N_("form submitted"), "sign_off": N_("signed off and reported"),
             "record": N_("officer's record"), "review": N_("township review"), "grade": N_("county grading"),
             "classify": N_("every asset classified"), "inventory": N_("every asset counted and its income settled")}
MONTHLY_REPORT = "village_monthly_report"
INVENTORY = "inventory"  # done_by of the village's yearly inventory and settlement
# A current monthly report in one of these states makes its asset's month done: submitted and
# waiting for the township's review, or approved. 'returned' (sent back) is not: its next version is.
REPORT_DONE_STATUSES = ("submitted", "approved")
LISTED_LATE = dt.timedelta(days=120)   # a late duty stays on an officer's list this long
LISTED_DONE = dt.timedelta(days=31)    # a done one this long
NOTE_MAX = 2000
ATTACHMENT_TYPES = {".pdf", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx", ".txt"}
RECORDER_ROLES = ("township_leader", "department_officer", "county_officer")

MSG_NOT_RECORDABLE = N_("“{item}” is done through its own form or step, not by a record.")
MSG_NOT_YOURS = N_("“{item}” is a duty of another role.")
MSG_UNKNOWN_ITEM = N_("Your county's policy has no duty “{item}”.")
MSG_NO_PROFILE = N_("Your county has not chosen a policy profile.")
MSG_WRONG_UNIT = N_("“{item}” is not a duty of {unit}.")
MSG_BAD_PERIOD = N_("{period} is not a period of “{item}”.")
MSG_NOT_OPEN = N_("“{item}” for {period} is not open yet.")
MSG_RECORDED = N_("“{item}” for {period} is already recorded as done.")
MSG_NOTE = N_("Write a note of 1 to {max} characters.")
MSG_DATE_FUTURE = N_("The date cannot be in the future.")
MSG_ATTACHMENT_TYPE = N_("Attach a PDF, picture, Word, Excel or text file.")
MSG_ATTACHMENT_SIZE = N_("The attachment is larger than {mb} MB.")


PERIOD_MONTH = N_("{year}-{month}")
PERIOD_QUARTER = N_("{year} quarter {quarter}")
PERIOD_HALF = (N_("{year} first half"), N_("{year} second half"))
PERIOD_YEAR = N_("{year}")


def period_name(period: str, locale: str | None) -> str:
    """Return a period as people read it: 2026年11月, 2026年第3季度, 2026年上半年, 2026年."""
    from bot.i18n import translate

    year, rest = period[:4], period[4:]
    if rest.startswith("-Q"):
        return translate(locale, PERIOD_QUARTER, year=year, quarter=rest[2:])
    if rest.startswith("-H"):
        return translate(locale, PERIOD_HALF[rest[2:] == "2"], year=year)
    if rest.startswith("-"):
        return translate(locale, PERIOD_MONTH, year=year, month=int(rest[1:]))
    return translate(locale, PERIOD_YEAR, year=year)


class DutyError(UserError, ValueError):
    """A duty request refused for a reason the user can understand (translatable ``msgid``)."""


@dataclass(frozen=True)
class Done:
    """How a duty was done: when, by what (``by``), the report or record (``ref``), who, and a note."""

    at: dt.datetime
    by: str
    ref: int | None = None
    user_id: int | None = None
    note: str | None = None
    occurred_on: dt.date | None = None
    first_at: dt.datetime | None = None  # monthly report: the latest of the assets' first submissions


@dataclass(frozen=True)
class DutyState:
    """One duty of one unit and period at a moment."""

    item: str
    label: str
    role: str
    done_by: str
    unit_id: int
    unit_name: str
    period: str
    opens_at: dt.datetime
    due_at: dt.datetime
    state: str
    done: Done | None = None

    @property
    def on_time(self) -> bool:
        """True when done by the deadline (its minute included). A monthly report corrected after a send-back
        is on time by its first submission, as the dashboards and the compliance score count it."""
        if self.done is None:
            return False
        return as_utc(self.done.first_at or self.done.at) < self.due_at + dt.timedelta(minutes=1)


# ---------------------------------------------------------------------------------------------------------
# Profiles


def profile_of(session: Session, unit: OrgUnit) -> Profile | None:
    """Return the policy profile of the nearest unit at or above ``unit`` that chose one, else None."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    chosen = dict(session.exec(select(OrgUnit.id, OrgUnit.policy_profile).where(col(OrgUnit.id).in_(ids))).all())
    for unit_id in reversed(ids):
        if chosen.get(unit_id):
            return policies.profile_by_id(session, chosen[unit_id])
    return None


def monthly_types_of(session: Session, village: OrgUnit) -> tuple[str, ...]:
    """Return the asset types the monthly check covers in ``village`` (its county profile's monthly item,
    else the default): the assets a cadre is asked to report on, and the ones the duty counts."""
    profile = profile_of(session, village)
    if profile is None:
        return DEFAULT_ASSET_TYPES
    try:
        return profile.item(MONTHLY_REPORT).covers
    except KeyError:
        return DEFAULT_ASSET_TYPES


def monthly_asset_types(deadline) -> tuple[str, ...]:
    """Return the asset types the village's monthly check covers under a unit's deadline rule
    (``assessment.common.deadline_for``, which carries the profile's monthly item)."""
    item = getattr(deadline, "item", None)
    return item.covers if item is not None else DEFAULT_ASSET_TYPES


def opens_at(item: DueItem, occ: Occurrence, tz: dt.tzinfo) -> dt.datetime:
    """Return when a duty opens: its period's start, or the next period's for a report on the previous one."""
    year, rest = occ.period[:4], occ.period[4:]
    months = FREQUENCIES[item.frequency]
    if rest.startswith("-Q"):
        month = (int(rest[2]) - 1) * 3 + 1
    elif rest.startswith("-H"):
        month = (int(rest[2]) - 1) * 6 + 1
    elif rest.startswith("-"):
        month = int(rest[1:3])
    else:
        month = 1
    if item.due.next_period:
        month += months
    year_n = int(year) + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return local_to_utc(dt.date(year_n, month, 1), dt.time(0, 0), tz)


def state_of(done: Done | None, opened: dt.datetime, due_at: dt.datetime, now: dt.datetime,
             applicable: bool = True) -> str:
    """Return the state of one duty from what is known of it."""
    if done is not None:
        return DONE
    if not applicable:
        return NOT_APPLICABLE
    if now > due_at:
        return LATE
    return DUE if now >= opened else NOT_DUE


# ---------------------------------------------------------------------------------------------------------
# What is done (set-based)


def report_done():
    """Return the SQL condition of a Report that counts as done (current, submitted or approved)."""
    return col(Report.current).is_(True) & col(Report.status).in_(REPORT_DONE_STATUSES)


def month_end(period: str, tz: dt.tzinfo) -> dt.datetime:
    """Return the first instant (UTC) after the month 'YYYY-MM' in zone ``tz``."""
    year, month = int(period[:4]), int(period[5:7])
    return local_to_utc(dt.date(year + month // 12, month % 12 + 1, 1), dt.time(0, 0), tz)


def _last_day(period: str) -> dt.date:
    """The last day of the month 'YYYY-MM'."""
    year, month = int(period[:4]), int(period[5:7])
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def monthly_done(session: Session, villages, periods: Iterable[str], asset_types: Iterable[str],
                 tz: dt.tzinfo, *, firsts: dict[tuple[int, str], dt.datetime] | None = None
                 ) -> tuple[dict[tuple[int, str], dt.datetime], set[tuple[int, str]]]:
    """Return ({(village id, period): done at}, {(village id, period) with something to report}).

    ``villages`` is a list or a subquery of village ids. One pass per month over the covered assets
    left-joined to that month's done reports (the shape of the bare missing-report query). Given a
    ``firsts`` dict, it is filled with the latest of the assets' first submissions (any version) of each
    done village (on time or not, as the dashboards count it).
    """
    done: dict[tuple[int, str], dt.datetime] = {}
    expected: set[tuple[int, str]] = set()
    types = list(asset_types)
    for period in sorted(set(periods)):
        joined = (Report.asset_id == Asset.id) & (Report.period == period) & report_done()
        missing = func.sum(case((Report.id.is_(None), 1), else_=0))
        columns = [Asset.village_id, missing, func.max(Report.submitted_at)]
        query = select(*columns).select_from(Asset).outerjoin(Report, joined)
        if firsts is not None:
            first = (select(Report.asset_id, func.min(Report.submitted_at).label("first"))
                     .where(Report.period == period, col(Report.submitted_at).is_not(None))
                     .group_by(Report.asset_id).subquery())
            query = select(*columns, func.max(first.c.first)).select_from(Asset).outerjoin(Report, joined) \
                .outerjoin(first, first.c.asset_id == Asset.id)
        rows = session.exec(
            query.where(in_use_through(month_end(period, tz), _last_day(period)), col(Asset.asset_type).in_(types),
                        col(Asset.village_id).in_(villages))
            .group_by(Asset.village_id)).all()
        for village_id, absent, at, *first_at in rows:
            expected.add((village_id, period))
            if not absent and at is not None:
                done[(village_id, period)] = as_utc(at)
                if firsts is not None and first_at and first_at[0] is not None:
                    firsts[(village_id, period)] = as_utc(first_at[0])
    return done, expected


def recorded(session: Session, units, items: Iterable[str]) -> dict[tuple[int, str, str], Done]:
    """Return {(unit id, item, period): Done} of the duty records of these units (a list or subquery)."""
    items = list(items)
    if not items:
        return {}
    rows = session.exec(select(DutyRecord).where(col(DutyRecord.org_unit_id).in_(units),
                                                 col(DutyRecord.item).in_(items))).all()
    return {(r.org_unit_id, r.item, r.period): Done(as_utc(r.done_at), r.by, r.id, r.user_id, r.note, r.occurred_on)
            for r in rows}


@dataclass(frozen=True)
class DoneReport:
    """The done report of one asset and month: its current version and its first submission (any version)."""

    report: Report
    first_submitted_at: dt.datetime


def done_reports(session: Session, asset_ids: Iterable[int], periods: Iterable[str]) -> dict[tuple[int, str],
                                                                                               DoneReport]:
    """Return {(asset id, period): DoneReport} for the monthly reports that count as done."""
    asset_ids, periods = list(asset_ids), list(periods)
    if not asset_ids or not periods:
        return {}
    found: dict[tuple[int, str], DoneReport] = {}
    for start in range(0, len(asset_ids), 900):
        chunk = asset_ids[start:start + 900]
        rows = session.exec(select(Report).where(col(Report.asset_id).in_(chunk), col(Report.period).in_(periods),
                                                 col(Report.submitted_at).is_not(None))).all()
        firsts: dict[tuple[int, str], dt.datetime] = {}
        for row in rows:
            key = (row.asset_id, row.period)
            firsts[key] = min(firsts.get(key, row.submitted_at), row.submitted_at)
        for row in rows:
            if row.current and row.status in REPORT_DONE_STATUSES:
                found[(row.asset_id, row.period)] = DoneReport(row, firsts[(row.asset_id, row.period)])
    return found


# ---------------------------------------------------------------------------------------------------------
# States of a county's duties


def _responsible(units: list[OrgUnit], county: OrgUnit, item: DueItem) -> list[OrgUnit]:
    if item.level in ("county", "department"):
        return [county]
    return [u for u in units if u.level == item.level]


def states(session: Session, scope: OrgUnit, start: dt.datetime, end: dt.datetime, *,
           now: dt.datetime | None = None, items: Iterable[str] | None = None) -> list[DutyState]:
    """Return the state at ``now`` of every duty of every unit in ``scope`` (and of its county, for the
    county's and departments' duties) whose deadline falls in [start, end], by due time, item, unit."""
    now = as_utc(now or utcnow())
    county = county_of(session, scope)
    profile = profile_of(session, scope)
    if profile is None:
        return []
    tz = ZoneInfo(profile.timezone)
    wanted = set(items) if items is not None else None
    occs = [o for o in occurrences(profile, tz, start - dt.timedelta(seconds=1), end)
            if start <= o.due_at <= end and (wanted is None or o.item in wanted)]
    if not occs:
        return []
    units = list(session.exec(select(OrgUnit).where(col(OrgUnit.path).startswith(scope.path))).all())
    in_scope = {u.id for u in units}
    monthly = [o.period for o in occs if o.item == MONTHLY_REPORT]
    below = select(OrgUnit.id).where(col(OrgUnit.path).startswith(scope.path))
    done_monthly, expected, firsts = {}, set(), {}
    if monthly:
        done_monthly, expected = monthly_done(session, below.where(OrgUnit.level == "village"), monthly,
                                              profile.item(MONTHLY_REPORT).covers, tz, firsts=firsts)
    counted: set[tuple[int, str, str]] = set()
    for kind in {o.item for o in occs if profile.item(o.item).done_by == INVENTORY}:
        years = [o.period for o in occs if o.item == kind]
        counted |= {(v, kind, p) for v, p in inventory_expected(session, below.where(OrgUnit.level == "village"),
                                                                 years, profile.item(kind).covers, tz)}
    records = recorded(session, below.union(select(OrgUnit.id).where(OrgUnit.id == county.id)),
                       {o.item for o in occs if o.item != MONTHLY_REPORT})
    found: list[DutyState] = []
    for occ in occs:
        item = profile.item(occ.item)
        opened = opens_at(item, occ, tz)
        for unit in _responsible(units, county, item):
            if unit.id != county.id and unit.id not in in_scope:
                continue
            if item.kind == MONTHLY_REPORT:
                at = done_monthly.get((unit.id, occ.period))
                done = Done(at, "form", first_at=firsts.get((unit.id, occ.period))) if at is not None else None
                applicable = (unit.id, occ.period) in expected
            else:
                done = records.get((unit.id, item.kind, occ.period))
                applicable = item.done_by != INVENTORY or (unit.id, item.kind, occ.period) in counted
            found.append(DutyState(item.kind, item.label, item.role, item.done_by, unit.id, unit.name, occ.period,
                                   opened, occ.due_at, state_of(done, opened, occ.due_at, now, applicable), done))
    return sorted(found, key=lambda s: (s.due_at, s.item, s.unit_name, s.unit_id))


def for_user(session: Session, user: User, now: dt.datetime | None = None) -> list[DutyState]:
    """Return the duties of the user's role and unit to show them: open ones, late ones of the last four months,
    and ones done in the last month (a township leader's are their township's, an officer's the county's)."""
    now = as_utc(now or utcnow())
    if user.org_unit_id is None or user.role not in RECORDER_ROLES:
        return []
    unit = session.get(OrgUnit, user.org_unit_id)
    found = []
    for state in states(session, unit, now - LISTED_LATE, now + dt.timedelta(days=400), now=now):
        if state.role != user.role or (state.unit_id != unit.id):
            continue
        if state.state == NOT_DUE or (state.state == DONE and state.done.at < now - LISTED_DONE):
            continue
        found.append(state)
    return found


# ---------------------------------------------------------------------------------------------------------
# Recording


def mark_done(session: Session, unit_id: int, item: str, period: str, user: User | None, at: dt.datetime,
              by: str, **record: object) -> DutyRecord | None:
    """Record a duty done for its responsible unit, once (audited ``duty.done``; the caller commits).

    Returns the new record, or None when it was already recorded.
    """
    exists = session.exec(select(DutyRecord).where(DutyRecord.org_unit_id == unit_id, DutyRecord.item == item,
                                                   DutyRecord.period == period)).first()
    if exists is not None:
        return None
    row = DutyRecord(org_unit_id=unit_id, item=item, period=period, done_at=at, by=by,
                     user_id=user.id if user else None, **record)
    session.add(row)
    actor = audit.Actor(user.id, f"user:{user.id}:{user.name}") if user else audit.Actor(None, "cli")
    after = {"item": item, "period": period, "by": by}
    after.update({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in record.items() if v is not None})
    audit.record(session, actor, "duty.done", "org_unit", unit_id, None, after)
    return row


def recordable(session: Session, user: User, now: dt.datetime | None = None) -> list[DutyState]:
    """Return the user's duties that an officer's record completes and that are open or late, not done."""
    return [s for s in for_user(session, user, now) if s.done_by == "record" and s.state in (DUE, LATE)]


def _attachment_key(store: BlobStore, name: str, content: bytes, max_bytes: int) -> str:
    """Keep an attachment in the file store (local disk or the shared object store) by its SHA-256."""
    suffix = Path(name).suffix.lower()
    if suffix not in ATTACHMENT_TYPES:
        raise DutyError(MSG_ATTACHMENT_TYPE)
    if len(content) > max_bytes:
        raise DutyError(MSG_ATTACHMENT_SIZE, mb=max_bytes // (1024 * 1024))
    digest = hashlib.sha256(content).hexdigest()
    key = f"duties/{digest[:2]}/{digest}{suffix}"
    store.put(key, content, private=True)
    return key


def record(session: Session, user: User | None, item: str, period: str, *, occurred_on: dt.date, note: str,
           attachment: tuple[str, bytes] | None = None, data_dir: Path | None = None,
           max_bytes: int = 20 * 1024 * 1024, now: dt.datetime | None = None,
           unit: OrgUnit | None = None, store: BlobStore | None = None) -> DutyRecord:
    """Record a duty done by an officer's record (a visit, a report to the county, a sample check,
    targets issued): the day it happened, a note, an optional attachment (stored by SHA-256 under
    ``data_dir/duties``). Audited (``duty.done``) and committed.

    The user must hold the item's role over its responsible unit (the county for county and department
    duties, their township for township duties); the period must be one of the item's and open.
    Without a user (the command line, as the system) ``unit`` names the responsible unit.
    """
    now = as_utc(now or utcnow())
    if user is not None:
        if not user.active or user.org_unit_id is None or user.role not in RECORDER_ROLES:
            raise AccessDenied()
        unit = session.get(OrgUnit, user.org_unit_id)
    if unit is None:
        raise AccessDenied()
    profile = profile_of(session, unit)
    if profile is None:
        raise DutyError(MSG_NO_PROFILE)
    try:
        due = profile.item(item)
    except KeyError:
        raise DutyError(MSG_UNKNOWN_ITEM, item=item) from None
    if due.done_by != "record":
        raise DutyError(MSG_NOT_RECORDABLE, item=Label(due.label))
    if user is not None and due.role != user.role:
        raise DutyError(MSG_NOT_YOURS, item=Label(due.label))
    if unit.level != ("county" if due.level == "department" else due.level):
        if user is not None:
            raise AccessDenied()
        raise DutyError(MSG_WRONG_UNIT, item=Label(due.label), unit=unit.name)
    tz = ZoneInfo(profile.timezone)
    occ = _occurrence(profile, due, period, tz)
    if occ is None:
        raise DutyError(MSG_BAD_PERIOD, period=period, item=Label(due.label))
    if opens_at(due, occ, tz) > now:
        raise DutyError(MSG_NOT_OPEN, period=period_name(period, None), item=Label(due.label))
    if occurred_on > now.astimezone(tz).date():
        raise DutyError(MSG_DATE_FUTURE)
    note = (note or "").strip()
    if not 1 <= len(note) <= NOTE_MAX:
        raise DutyError(MSG_NOTE, max=NOTE_MAX)
    path = name = None
    if attachment is not None and attachment[1]:
        name = Path(attachment[0] or "file").name[-200:]
        path = _attachment_key(store or LocalStore(data_dir or Path("data")), name, attachment[1], max_bytes)
    row = mark_done(session, unit.id, item, period, user, now, "record", occurred_on=occurred_on, note=note,
                    attachment=path, attachment_name=name)
    if row is None:
        session.rollback()
        raise DutyError(MSG_RECORDED, item=Label(due.label), period=period_name(period, None))
    session.commit()
    return row


_PERIOD_RE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4]|-H[12])?$")


def _occurrence(profile: Profile, item: DueItem, period: str, tz: dt.tzinfo) -> Occurrence | None:
    if not isinstance(period, str) or not _PERIOD_RE.match(period):
        return None
    year = int(period[:4])
    start = dt.datetime(year - 1, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + 2, 1, 1, tzinfo=dt.UTC)
    return next((o for o in occurrences(profile, tz, start, end) if o.item == item.kind and o.period == period),
                None)


# ---------------------------------------------------------------------------------------------------------
# The township's four-way classification (seed 002 第六条: "按照'四个一批'进行分类管理并建立台账")

CLASSIFIED_TYPES = ("经营性",)  # 第二条: the assets of this rule are operating assets (as the monthly check)


def classification_done(session: Session, user: User | None, asset_id: int, period: str,
                        now: dt.datetime | None = None) -> DutyRecord | None:
    """After a class is confirmed: when every active operating asset of the asset's township registered before
    the month ended has a confirmed class for ``period`` (a month), record the township's duty of kind
    ``done_by: classify`` of its profile as done (``by`` classify). The caller commits; None when nothing
    was recorded (no such duty, not every asset classified yet, or recorded before)."""
    from bot.storage.models import AssetClass

    asset = session.get(Asset, asset_id)
    village = session.get(OrgUnit, asset.village_id) if asset else None
    township = session.get(OrgUnit, village.parent_id) if village and village.parent_id else None
    if township is None or not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", period or ""):
        return None
    profile = profile_of(session, township)
    items = [i for i in (profile.items if profile else ()) if i.done_by == "classify" and i.level == "township"]
    if not items:
        return None
    tz = ZoneInfo(profile.timezone)
    assets = set(session.exec(select(Asset.id).join(OrgUnit, Asset.village_id == OrgUnit.id).where(
        OrgUnit.parent_id == township.id, col(Asset.asset_type).in_(CLASSIFIED_TYPES),
        in_use_through(month_end(period, tz), _last_day(period)))).all())
    confirmed = set(session.exec(select(AssetClass.asset_id).where(
        col(AssetClass.asset_id).in_(list(assets)), AssetClass.period == period,
        col(AssetClass.confirmed).is_not(None))).all()) if assets else set()
    if not assets or not assets <= confirmed:
        return None
    session.flush()
    row = None
    for item in items:
        row = mark_done(session, township.id, item.kind, period, user, as_utc(now or utcnow()), "classify") or row
    return row


# ---------------------------------------------------------------------------------------------------------
# The village's yearly inventory and income settlement (seed 003 二(八): "每年初对上一年度的扶贫资产运行情况
# 进行清查，并对上年度资产收益进行清算")


def year_bounds(year: int, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """Return the first instant (UTC) of the year in zone ``tz`` and the first after it."""
    return (local_to_utc(dt.date(year, 1, 1), dt.time(0, 0), tz),
            local_to_utc(dt.date(year + 1, 1, 1), dt.time(0, 0), tz))


def _disposed_on():
    """The SQL day an asset's recorded disposal gives (``Disposal.outcome_on``, the county's calendar), or NULL."""
    return (select(func.max(Disposal.outcome_on))
            .where(Disposal.asset_id == Asset.id, Disposal.status == "recorded").scalar_subquery())


def in_year(year: int, tz: dt.tzinfo):
    """Return the SQL condition of an asset that was in the ledger during ``year``: registered before the year
    ended, and active still, or disposed of on a day of the year or after it (the day its disposal's record
    gives, ``Disposal.outcome_on``, a day of the county's calendar), or — without a recorded disposal, and not
    deleted as a mistake — changed (retired, disposed) only after the year began."""
    start, end = year_bounds(year, tz)
    disposed_on = _disposed_on()
    gone_after_start = (Asset.status != "deleted") & or_(
        disposed_on >= dt.date(year, 1, 1), disposed_on.is_(None) & (col(Asset.updated_at) >= start))
    return (col(Asset.created_at) < end) & ((Asset.status == "active") | gone_after_start)


def in_use_through(end: dt.datetime, last_day: dt.date):
    """Return the SQL condition of an asset in use through a period (a month's check is due of it): registered
    before ``end`` (the first instant after the period), and active still, or disposed of after ``last_day``
    (its disposal record's date), or — without a recorded disposal, and not deleted as a mistake — changed
    only from ``end`` on. So a month before an asset's disposal still expects its check, the month of the
    disposal and those after it do not."""
    disposed_on = _disposed_on()
    gone_later = or_(disposed_on > last_day, disposed_on.is_(None) & (col(Asset.updated_at) >= end))
    # CASE: the disposal's subquery runs only for the few assets no longer active (the dashboards sum this
    # over every asset and month)
    in_use = case((Asset.status == "active", true()), (Asset.status == "deleted", false()), else_=gone_later)
    return (col(Asset.created_at) < end) & in_use


def inventory_expected(session: Session, villages, years: Iterable[str], asset_types: Iterable[str],
                       tz: dt.tzinfo) -> set[tuple[int, str]]:
    """Return {(village id, year)} of the villages (a list or subquery) with an asset to count that year."""
    found: set[tuple[int, str]] = set()
    types = list(asset_types)
    for period in sorted(set(years)):
        rows = session.exec(select(Asset.village_id).where(
            in_year(int(period), tz), col(Asset.asset_type).in_(types), col(Asset.village_id).in_(villages))
            .distinct()).all()
        found |= {(village_id, period) for village_id in rows}
    return found


def inventory_items(profile: Profile | None) -> list[DueItem]:
    """Return the village duties of the profile done by the yearly inventory."""
    return [i for i in (profile.items if profile else ()) if i.done_by == INVENTORY and i.level == "village"]


def inventory_missing(session: Session, village_id: int, year: int, asset_types: Iterable[str],
                      tz: dt.tzinfo) -> tuple[list[int], list[int]]:
    """Return (the ids of the village's assets of the year, those not yet confirmed with their income settled)."""
    from bot.storage.models_inventory import InventoryCheck

    assets = list(session.exec(select(Asset.id).where(
        Asset.village_id == village_id, in_year(year, tz), col(Asset.asset_type).in_(list(asset_types)))
        .order_by(Asset.id)).all())
    settled = set(session.exec(select(InventoryCheck.asset_id).where(
        InventoryCheck.year == year, InventoryCheck.village_id == village_id,
        col(InventoryCheck.income_settled).is_(True))).all())
    return assets, [a for a in assets if a not in settled]


def inventory_done(session: Session, user: User | None, village: OrgUnit, year: int,
                   now: dt.datetime | None = None) -> DutyRecord | None:
    """After the year's inventory is submitted: when every asset of the village of the year is confirmed with
    its income settled, record the village's duties of kind ``done_by: inventory`` for the year (``by``
    inventory). The caller commits; None when nothing was recorded (no such duty, the year not open yet, an
    asset still to confirm, or recorded before)."""
    profile = profile_of(session, village)
    items = inventory_items(profile)
    if not items or village.level != "village":
        return None
    tz = ZoneInfo(profile.timezone)
    now = as_utc(now or utcnow())
    session.flush()
    row = None
    for item in items:
        occ = _occurrence(profile, item, f"{year:04d}", tz)
        assets, missing = inventory_missing(session, village.id, year, item.covers, tz)
        if occ is None or opens_at(item, occ, tz) > now or not assets or missing:
            continue
        row = mark_done(session, village.id, item.kind, occ.period, user, now, INVENTORY) or row
    return row
