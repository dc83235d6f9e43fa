"""Reporting compliance over the registry, per village and township, per month or year, up to the county.

For each active asset of the types the county's monthly duty covers (``bot.services.duties``: the
profile item's ``asset_types``, else 经营性 and 公益性), every month from the one it entered the
registry, one monthly report is expected; a month whose deadline (the county's policy profile, else
the 25th 23:59 Asia/Shanghai) has not yet passed on ``as_of`` counts only once its report is in. A
report is in when the duty service counts it done (current version submitted or approved; one sent
back counts again once resubmitted). Of an expected report we read:

- on time: its first submission, as a local date, is on or before the due date;
- complete: the latest submitted version answers every question its form requires;
- valid photo evidence: it has photos and none of them is flagged (reused, old, far);

and every problem of the scope's assets with its deadline (``due_at``, else created +
``DEFAULT_RESOLVE_DAYS``) and resolution day. The pure ``bot.scoring.compliance`` scores them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.flows import Walker, load_form
from bot.scoring.compliance import ComplianceScore, ProblemRecord, ReportRecord, score_compliance
from bot.services.access import require
from bot.services.assessment.common import Deadline, deadline_for, month_label, parse_period
from bot.services.duties import done_reports, monthly_asset_types
from bot.storage.models import Asset, OrgUnit, PhotoUse, Problem, Report, User

DEFAULT_RESOLVE_DAYS = 30   # our reading: no published deadline for solving a problem without one
LEVELS_BELOW = {"county": ("county", "township", "village"), "township": ("township", "village"),
                "village": ("village",)}


@dataclass(frozen=True)
class ComplianceResult:
    """Compliance of ``scope`` and of every unit below it, by level; ``as_of`` is the local day used."""

    scope: OrgUnit
    period: str
    as_of: dt.date
    levels: dict[str, list[ComplianceScore]]


def report_complete(report: Report) -> bool:
    """True when the report answers every question its form version requires."""
    try:
        form = load_form(report.form_id, version=report.form_version)
    except KeyError:  # a form this installation does not ship: nothing can be checked
        return False
    return Walker(form, dict(report.answers), None).complete


def photos_valid(session: Session, report_ids: list[int]) -> dict[int, bool]:
    """Return {report id: has photos and none is flagged}."""
    flags: dict[int, list[bool]] = defaultdict(list)
    if report_ids:
        for use in session.exec(select(PhotoUse).where(col(PhotoUse.report_id).in_(report_ids))).all():
            flags[use.report_id].append(not use.flags)
    return {rid: bool(flags[rid]) and all(flags[rid]) for rid in report_ids}


def compliance_scores(session: Session, scope: OrgUnit, period: str, *, as_of: dt.datetime | None = None,
                      user: User | None = None) -> ComplianceResult:
    """Score reporting compliance in ``scope`` for ``period`` ("YYYY-MM" or "YYYY").

    With a ``user``, they need 'report.view' over the scope.
    """
    if user is not None:
        require(session, user, "report.view", scope)
    year, month = parse_period(period)
    months = [month] if month else list(range(1, 13))
    deadline = deadline_for(session, scope)
    today = (as_of or utcnow()).astimezone(deadline.tz).date()
    villages = session.exec(select(OrgUnit).where(OrgUnit.level == "village",
                                                  col(OrgUnit.path).startswith(scope.path))).all()
    townships = {u.id: u.name for u in session.exec(select(OrgUnit).where(
        col(OrgUnit.id).in_({v.parent_id for v in villages}))).all()}
    where = {v.id: (townships.get(v.parent_id, ""), v.name) for v in villages}
    deadlines = {v.id: deadline_for(session, v) for v in villages}
    assets = session.exec(select(Asset).where(col(Asset.village_id).in_(list(where)))).all()
    checked = [a for a in assets if a.status == "active"
               and a.asset_type in monthly_asset_types(deadlines[a.village_id])]
    records = expected_reports(session, checked, where, deadlines, year, months, today)
    problems = problem_records(session, assets, where, deadline)  # of every asset: villagers report any
    levels = {level: score_compliance(records, problems, level=level, period=period, as_of=today)
              for level in LEVELS_BELOW[scope.level]}
    return ComplianceResult(scope, period, today, levels)


def expected_reports(session: Session, assets: list[Asset], where: dict[int, tuple[str, str]],
                     deadlines: dict[int, Deadline], year: int, months: list[int],
                     today: dt.date) -> list[ReportRecord]:
    """Return a ReportRecord for every report expected of ``assets`` in these months of ``year``."""
    found = done_reports(session, [a.id for a in assets], [month_label(year, m) for m in months])
    valid = photos_valid(session, [s.report.id for s in found.values()])
    records = []
    for asset in assets:
        first = asset.created_at.astimezone(deadlines[asset.village_id].tz).date().replace(day=1)
        township, village = where[asset.village_id]
        for month in months:
            if dt.date(year, month, 1) < first:
                continue
            deadline = deadlines[asset.village_id]
            due = deadline.due(year, month)
            submitted = found.get((asset.id, month_label(year, month)))
            if submitted is None:
                if due >= today:
                    continue  # not late yet
                records.append(ReportRecord(township, village, month_label(year, month), due))
                continue
            records.append(ReportRecord(
                township, village, month_label(year, month), due,
                submitted=submitted.first_submitted_at.astimezone(deadline.tz).date(),
                complete=report_complete(submitted.report), photos_valid=valid[submitted.report.id]))
    return records


def problem_records(session: Session, assets: list[Asset], where: dict[int, tuple[str, str]],
                    deadline: Deadline) -> list[ProblemRecord]:
    """Return a ProblemRecord for every problem of ``assets``."""
    village_of = {a.id: a.village_id for a in assets}
    if not village_of:
        return []
    records = []
    for problem in session.exec(select(Problem).where(col(Problem.asset_id).in_(list(village_of)))).all():
        due = problem.due_at or problem.created_at + dt.timedelta(days=DEFAULT_RESOLVE_DAYS)
        resolved = problem.resolved_at.astimezone(deadline.tz).date() if problem.resolved_at else None
        township, village = where[village_of[problem.asset_id]]
        records.append(ProblemRecord(township, village, due.astimezone(deadline.tz).date(), resolved))
    return records
