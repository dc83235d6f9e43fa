"""The scheduler's daily watch over contracts and owners (issue 17; ``bot.services.contracts`` keeps them).

Why the scheduler and not the ledger import: a contract runs out by itself, with nobody importing anything, so
only something that runs every day sees it. ``outbox.plan_county`` calls ``plan_county`` in the county's own
transaction, under the row lock on its ``schedule_state`` (PostgreSQL) that already makes planning run once
across processes; the watch acts once per local day (the first tick after the county's midnight):

- ``raise_problems``: an operating asset (经营性) with an operator and no contract (``no_contract``), or with its
  contract past its end date (``contract_expired``), goes on the township's problem list, one open problem per
  asset and kind; a problem whose cause is gone (the contract was registered or renewed) is resolved.
- ``problem_notices``: the township (its leaders and group robots) is told of the problems just raised, in words:
  one problem in a notice with its button, several of a day in one digest naming the assets, with a button to
  the problem list. Keyed ``n|problem/<id>|contract-problem|…`` or ``n|contract-problems/<township>|found-<day>|…``:
  written once, sent from the end of the quiet hours of a working day.
- ``reminders``: before a current contract ends, on the days the profile sets (``contracts.remind_days_before``,
  default 90 and 30), one notice to the village's cadres and to the township (its leaders and group robots).
  Keyed ``n|contract/<id>|remind-<days>-<end>|<recipient>/<channel>`` like every event notice
  (``bot.services.notices``): a contract gets each reminder once for each end date (a renewal starts again),
  whatever the number of ticks or processes. They are sent from the end of the county's quiet hours.

Owners not settled (``owner_unsettled``) is a finding shown on the asset's page, not a problem: a county whose
ledger has no 占股比例 yet would otherwise find every asset on its problem list on the first morning.

This module writes outbox rows as plain dicts that ``outbox.plan_county`` inserts (it does not import the
outbox, which calls it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.clock import UTC, as_utc, utcnow
from bot.i18n import DEFAULT_LOCALE, N_, translate
from bot.policy.timing import next_open
from bot.services import audit, watch_notices
from bot.services.users import leaders_of
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, User
from bot.storage.models_contract import AssetContract, AssetOwnerShare
from bot.storage.models_schedule import OutboxMessage

PROBLEM_KINDS = ("no_contract", "contract_expired")
KIND_LABELS = {"no_contract": N_("Operated without a contract"),
               "contract_expired": N_("The contract has ended and was not renewed"),
               "owner_unsettled": N_("Owners and their shares are not settled")}
SOURCE = "contract"
OPEN_STATUSES = ("open", "acknowledged", "in_hand", "escalated")
REMINDER = N_("The contract of {asset} ({village}) with {operator} ends on {date}, in {days} days: renew it or "
              "arrange the change of operator in time.")
RESOLVED_NOTE = N_("Settled: the asset's contract is on record and in force.")
HUNDRED = Decimal("100")
NOTICE_PREFIX = watch_notices.NOTICE_PREFIX
# The township is told of the contract problems found: one asset in words, several in one digest a day.
PROBLEM_NOTICE = N_("Contract problem at {asset} ({village}): {problem}. It is on the township's problem list.")
DIGEST_HEAD = N_("{township}: {count} assets have new contract problems, now on the problem list:")
DIGEST_LINE = N_("• {asset} ({village}): {problem}")
DIGEST_MORE = N_("… and {count} more: see the problem list.")
DIGEST_LINES = 15  # the assets named in a digest (a group robot's message holds about 2000 bytes)


@dataclass(frozen=True)
class Finding:
    """Something wrong with an asset's contract or owners: ``kind`` (a key of KIND_LABELS) and details."""

    asset_id: int
    kind: str
    contract_id: int | None = None
    end: dt.date | None = None


def contract_findings(session: Session, scope: OrgUnit, today: dt.date) -> list[Finding]:
    """The findings on the active assets of ``scope`` (a county, township or village) on ``today``.

    An asset without a contract record whose ledger row gives 合同到期日 (the older layout) counts as having a
    contract to that day: operated past it is ``contract_expired``, not ``no_contract``.
    """
    assets = session.exec(select(Asset.id, Asset.asset_type, Asset.operator, Asset.contract_end)
                          .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                          .where(col(OrgUnit.path).startswith(scope.path), Asset.status == "active")).all()
    ids = [a[0] for a in assets]
    contracts: dict[int, AssetContract] = {}
    sums: dict[int, Decimal] = {}
    for chunk in (ids[i:i + 900] for i in range(0, len(ids), 900)):
        for contract in session.exec(select(AssetContract).where(col(AssetContract.asset_id).in_(chunk),
                                                                 col(AssetContract.current).is_(True))):
            contracts[contract.asset_id] = contract
        for asset_id, total in session.exec(select(AssetOwnerShare.asset_id, func.sum(AssetOwnerShare.share))
                                            .where(col(AssetOwnerShare.asset_id).in_(chunk))
                                            .group_by(AssetOwnerShare.asset_id)):
            sums[asset_id] = Decimal(str(total))
    found = []
    for asset_id, asset_type, operator, ledger_end in assets:
        contract = contracts.get(asset_id)
        end = contract.end if contract is not None else ledger_end
        if contract is None and ledger_end is None and asset_type == "经营性" and (operator or "").strip():
            found.append(Finding(asset_id, "no_contract"))
        if end is not None and end < today and (contract is not None or (operator or "").strip()):
            found.append(Finding(asset_id, "contract_expired", contract.id if contract else None, end))
        if abs(sums.get(asset_id, Decimal("0")) - HUNDRED) > Decimal("0.01"):
            found.append(Finding(asset_id, "owner_unsettled"))
    return found


def raise_problems(session: Session, scope: OrgUnit, today: dt.date, now: dt.datetime) -> list[Problem]:
    """Put each asset operated without a contract, or past its contract's end, on the problem list (one open
    problem per asset and kind), and resolve the open ones whose cause is gone. Return the new problems."""
    findings = {(f.asset_id, f.kind): f for f in contract_findings(session, scope, today) if f.kind in PROBLEM_KINDS}
    open_rows = session.exec(select(Problem).join(Asset, col(Asset.id) == Problem.asset_id)
                             .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                             .where(col(OrgUnit.path).startswith(scope.path), Problem.source == SOURCE,
                                    col(Problem.kind).in_(PROBLEM_KINDS),
                                    col(Problem.status).in_(OPEN_STATUSES))).all()
    held = {(p.asset_id, p.kind) for p in open_rows}
    created = []
    for asset_id, kind in sorted(findings):
        if (asset_id, kind) in held:
            continue
        problem = Problem(asset_id=asset_id, source=SOURCE, kind=kind, severity="major", owner_level="township",
                          description=KIND_LABELS[kind], created_at=now, due_at=now + dt.timedelta(days=30))
        session.add(problem)
        session.flush()
        session.add(ProblemEvent(problem_id=problem.id, at=now, action="created", note=kind))
        audit.record(session, audit.SYSTEM, "problem.create", "problem", problem.id, None,
                     {"asset_id": asset_id, "kind": kind, "source": SOURCE})
        created.append(problem)
    for problem in open_rows:
        if (problem.asset_id, problem.kind) not in findings:
            resolve_problem(session, problem, now)
    return created


def resolve_problem(session: Session, problem: Problem, now: dt.datetime, msgid: str = RESOLVED_NOTE,
                    **params: object) -> None:
    """Resolve a problem whose cause is gone (by the system, audited): a contract's, or income received at last
    (``bot.services.income.settle_in``), with the note ``msgid`` in words."""
    note = translate(DEFAULT_LOCALE, msgid, **params)
    before = {"status": problem.status}
    problem.status, problem.resolved_at, problem.resolution_note = "resolved", now, note
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, action="resolved", note=note))
    audit.record(session, audit.SYSTEM, "problem.resolve", "problem", problem.id, before,
                 {"status": "resolved", "note": note})


# --- reminders -------------------------------------------------------------------------------------------

def _people(session: Session, village: OrgUnit) -> list[User]:
    """The village's cadres and the township's leaders (of the asset's village)."""
    cadres = session.exec(select(User).where(User.role == "village_cadre", col(User.active).is_(True),
                                             User.org_unit_id == village.id).order_by(User.id)).all()
    return [*cadres, *leaders_of(session, village)]


def reminders(session: Session, scope: OrgUnit, days_before: tuple[int, ...], today: dt.date,
              send_at: dt.datetime) -> list[dict[str, Any]]:
    """The outbox rows of the reminders due ``today`` before the contracts in ``scope`` end: for a contract ending
    in ``n`` days, the reminder of the smallest configured day count ≥ n, to the village's cadres and the township.
    A reminder already in the outbox is not planned (nor audited) again."""
    if not days_before:
        return []
    last = today + dt.timedelta(days=max(days_before))
    ending = session.exec(select(AssetContract, Asset, OrgUnit).join(Asset, col(Asset.id) == AssetContract.asset_id)
                          .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                          .where(col(OrgUnit.path).startswith(scope.path), col(AssetContract.current).is_(True),
                                 Asset.status == "active", col(AssetContract.end).is_not(None),
                                 col(AssetContract.end) >= today, col(AssetContract.end) <= last)).all()
    items = [(f"contract/{c.id}", c.operator, c.end, a, v) for c, a, v in ending]
    # An asset whose ledger row gives 合同到期日 but has no contract record yet (the older layout).
    held = select(AssetContract.asset_id).where(col(AssetContract.current).is_(True))
    legacy = session.exec(select(Asset, OrgUnit).join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                          .where(col(OrgUnit.path).startswith(scope.path), Asset.status == "active",
                                 col(Asset.operator).is_not(None), col(Asset.contract_end) >= today,
                                 col(Asset.contract_end) <= last, col(Asset.id).not_in(held))).all()
    items += [(f"asset/{a.id}/contract", a.operator, a.contract_end, a, v) for a, v in legacy]
    rows: list[dict[str, Any]] = []
    for subject, operator, end, asset, village in items:
        left = (end - today).days
        day = min(d for d in days_before if d >= left)
        step = f"remind-{day}-{end.isoformat()}"
        if session.exec(select(OutboxMessage.id).where(
                col(OutboxMessage.key).startswith(f"{NOTICE_PREFIX}{subject}|{step}|"))).first():
            continue
        parent = session.get(OrgUnit, village.parent_id) if village.parent_id else None
        township = parent if parent is not None and parent.level == "township" else None
        routes = watch_notices.routes(session, _people(session, village), township)
        body = [[REMINDER, {"asset": asset.name, "village": village.name, "operator": operator,
                            "date": end.isoformat(), "days": left}]]
        county_id = int(village.path.strip("/").split("/")[0])
        rows += [{
            "key": watch_notices.key(subject, step, person, channel), "county_id": county_id, "kind": "notice",
            "step": step, "subject": subject, "item": "contract", "period": end.isoformat(), "role": "village_cadre",
            "scope": village.code or f"#{village.id}", "channel": channel, "recipient": person,
            "recipient_name": name[:100], "locale": locale, "send_at": send_at, "urgent": False, "body": body,
            "actions": [], "collapsed": 0, "status": "pending", "attempts": 0, "next_attempt_at": send_at,
            "recovered": 0, "created_at": utcnow(),
        } for person, channel, name, locale in routes]
        audit.record(session, audit.SYSTEM, "notice.queue", "outbox_message", subject, None,
                     {"notice": step, "recipients": [f"{person}/{channel}" for person, channel, _, _ in routes]})
    return rows


def _line(problem: Problem, asset: Asset, village: OrgUnit, msgid: str) -> list:
    return [msgid, {"asset": asset.name, "village": village.name,
                    "problem": watch_notices.translatable(KIND_LABELS[problem.kind])}]


def problem_notices(session: Session, problems: list[Problem], today: dt.date,
                    send_at: dt.datetime) -> list[dict[str, Any]]:
    """The outbox rows telling each township (its leaders and group robots) of the contract problems just put on
    its list: one problem in words, with its button; several in one digest of the day naming the assets (up to
    ``DIGEST_LINES``), with a button to the problem list. Each written once (keyed on the problem, or on the
    township and the day)."""
    by_township: dict[int, list[tuple[Problem, Asset, OrgUnit]]] = {}
    towns: dict[int, OrgUnit] = {}
    for problem in problems:
        asset = session.get(Asset, problem.asset_id)
        village = session.get(OrgUnit, asset.village_id)
        parent = session.get(OrgUnit, village.parent_id) if village.parent_id else None
        township = parent if parent is not None and parent.level == "township" else village
        towns[township.id] = township
        by_township.setdefault(township.id, []).append((problem, asset, village))
    rows: list[dict[str, Any]] = []
    for township_id, found in sorted(by_township.items()):
        township = towns[township_id]
        people = watch_notices.routes(session, leaders_of(session, township), township)
        if len(found) == 1:
            problem, asset, village = found[0]
            rows += watch_notices.rows(session, unit=township, subject=f"problem/{problem.id}", step="contract-problem",
                                       item="contract", period=str(problem.id), role="township_leader", people=people,
                                       body=[_line(problem, asset, village, PROBLEM_NOTICE)],
                                       actions=[f"problem:{problem.id}"], send_at=send_at)
            continue
        body = [[DIGEST_HEAD, {"count": len(found), "township": township.name}]]
        body += [_line(problem, asset, village, DIGEST_LINE) for problem, asset, village in found[:DIGEST_LINES]]
        if len(found) > DIGEST_LINES:
            body.append([DIGEST_MORE, {"count": len(found) - DIGEST_LINES}])
        rows += watch_notices.rows(session, unit=township, subject=f"contract-problems/{township.id}",
                                   step=f"found-{today.isoformat()}", item="contract", period=today.isoformat(),
                                   role="township_leader", people=people, body=body, actions=["problems"],
                                   send_at=send_at)
    return rows


def plan_county(session: Session, view: Any, since: dt.datetime, now: dt.datetime) -> list[dict[str, Any]]:
    """The day's work on contracts for one county (``outbox.plan_county`` calls it under the county's lock and
    inserts the rows returned): once the county's local day has turned since the last tick, raise and settle the
    contract problems and plan the day's reminders, sent from the end of the quiet hours."""
    tz = view.tz
    today = as_utc(now).astimezone(tz).date()
    if as_utc(since).astimezone(tz).date() >= today:
        return []
    quiet = view.profile.quiet_hours
    opens = dt.datetime.combine(today, quiet.end if quiet else dt.time(8), tzinfo=tz).astimezone(UTC)
    created = raise_problems(session, view.county, today, as_utc(now))
    told = problem_notices(session, created, today, next_open(as_utc(now), tz, view.profile))
    return told + reminders(session, view.county, view.profile.contracts.remind_days_before, today,
                            max(as_utc(now), opens))
