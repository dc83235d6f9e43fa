"""Handling a problem: acknowledge it (pauses the escalation, schedules a reminder to act) and resolve it.

Both need the action ``problem.handle`` over the problem's township, write a ProblemEvent and an
audit entry in the caller's transaction. The scheduler reads ``acknowledged_at``/``resolved_at``.
A resolution may carry photos (at most ``MAX_PHOTOS``): each is checked and kept by the evidence
store like any other upload, and recorded as a ``ProblemEvent('photo')`` (note ``sha256:<hex>``) at
the moment of the resolution, so the history shows them with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session

from bot.clock import as_utc, utcnow
from bot.i18n import N_, UserError
from bot.services import audit
from bot.services.access import AccessDenied, require
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, Report, User

NOTE_MAX = 500
MAX_PHOTOS = 5


class ProblemError(UserError, ValueError):
    """The problem cannot be handled this way; ``msgid`` is translatable."""


def _township_of(session: Session, problem: Problem) -> OrgUnit:
    asset = session.get(Asset, problem.asset_id)
    village = session.get(OrgUnit, asset.village_id)
    return session.get(OrgUnit, village.parent_id) if village.parent_id else village


def _load(session: Session, user: User | None, problem_id: int) -> Problem:
    problem = session.get(Problem, problem_id) if isinstance(problem_id, int) else None
    if problem is None:
        raise AccessDenied(N_("This is outside your area."))  # same answer as a foreign problem
    require(session, user, "problem.handle", _township_of(session, problem))
    return problem


def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}")


def acknowledge(session: Session, user: User, problem_id: int, *, now: dt.datetime | None = None) -> Problem:
    """Acknowledge a problem: stops its escalation; a repeated acknowledgement changes nothing."""
    problem = _load(session, user, problem_id)
    if problem.status == "resolved":
        raise ProblemError(N_("This problem is already resolved."))
    if problem.status == "closed":  # a villager's report marked as spam
        raise ProblemError(N_("This problem is already closed."))
    if problem.acknowledged_at is not None:
        return problem
    now = as_utc(now) if now else utcnow()
    before = {"status": problem.status, "acknowledged_at": None}
    # A problem waiting for the county's decision (losses go there at once, route_new) stays escalated.
    status = "escalated" if problem.status == "escalated" else "acknowledged"
    problem.status, problem.acknowledged_at, problem.acknowledged_by = status, now, user.id
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="acknowledged"))
    audit.record(session, _actor(user), "problem.acknowledge", "problem", problem.id, before,
                 {"status": problem.status, "acknowledged_at": now})
    return problem


def resolve(session: Session, user: User, problem_id: int, note: str, *, now: dt.datetime | None = None,
            photos: Sequence[bytes] = (), store=None) -> Problem:
    """Resolve a problem with a short note saying what was done, and optionally photos of it
    (``bot.services.evidence.EvidenceStore`` ``store``; a refused photo raises EvidenceError, nothing is written)."""
    problem = _load(session, user, problem_id)
    text = (note or "").strip()
    if not text:
        raise ProblemError(N_("Please write a short note on what was done."))
    if len(text) > NOTE_MAX:
        raise ProblemError(N_("The note is too long ({length} characters); at most {limit}."),
                           length=len(text), limit=NOTE_MAX)
    if problem.status == "resolved":
        raise ProblemError(N_("This problem is already resolved."))
    if problem.status == "closed":  # a villager's report marked as spam
        raise ProblemError(N_("This problem is already closed."))
    photos = [p for p in photos if p]
    if len(photos) > MAX_PHOTOS:
        raise ProblemError(N_("Add at most {limit} photos."), limit=MAX_PHOTOS)
    if photos and store is None:
        raise ValueError("photos need an evidence store")
    shas = list(dict.fromkeys(store.ingest(data).sha256 for data in photos))
    now = as_utc(now) if now else utcnow()
    before = {"status": problem.status, "resolved_at": None}
    problem.status, problem.resolved_at, problem.resolved_by = "resolved", now, user.id
    problem.resolution_note = text
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="resolved", note=text))
    for sha in shas:
        session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="photo",
                                 note=f"sha256:{sha}"))
    audit.record(session, _actor(user), "problem.resolve", "problem", problem.id, before,
                 {"status": "resolved", "resolved_at": now, "note": text, **({"photos": shas} if shas else {})})
    return problem


# --- routing of new problems (issue 16): losses to the county, problems to the industry department --------------

COUNTY_AT_ONCE = N_("Reported to the county office at once: {problem} — {asset} ({village}, {township}).")
DEPARTMENT = N_("A problem at {asset} ({village}, {township}), {category}, for your department: {problem}")
# 000 四(二)2, 四(三)4: losses, serious losses and insolvency go to the county office at once.
ESCALATED_NOTE = "000 四(二)2、四(三)4"


def _previous_period(period: str) -> str | None:
    """Return the period before a month ('2026-03' → '2026-02') or a quarter ('2026-Q1' → '2025-Q4')."""
    from bot import periods

    found = periods.parse(period, "month", "quarter")
    if found is None:
        return None
    if found.kind == "month":
        year, month = (found.year, found.index - 1) if found.index > 1 else (found.year - 1, 12)
        return f"{year:04d}-{month:02d}"
    year, quarter = (found.year, found.index - 1) if found.index > 1 else (found.year - 1, 4)
    return f"{year:04d}-Q{quarter}"


def _loss_before(session: Session, report: Report) -> Report | None:
    """Return a done report of the asset for the period before ``report``'s that says it lost money."""
    from sqlmodel import col, select

    from bot.flows.risks import is_loss
    from bot.services.duties import REPORT_DONE_STATUSES

    previous = _previous_period(report.period)
    if previous is None:
        return None
    earlier = session.exec(select(Report).where(
        Report.asset_id == report.asset_id, Report.period == previous, col(Report.current).is_(True),
        col(Report.status).in_(REPORT_DONE_STATUSES)).order_by(Report.id)).all()
    return next((r for r in earlier if is_loss(r.flags)), None)


def route_new(session: Session, user: User, report: Report, created: list[Problem],
              now: dt.datetime) -> list[Problem]:
    """Route what a submitted report raised, in its transaction (``reports.submit`` calls this after the
    problems are created and audited, before the notices): return the problems it adds to ``created``.

    - Losses in two consecutive periods (000 四(二)2 "连续亏算"): a report whose risks say the operator lost
      money, after a done report of the period before that said so too, raises a serious problem
      ``consecutive_losses`` (once while it is open; later reports note it again).
    - Consecutive or serious losses and insolvency (``risks.COUNTY_KINDS``) go to the county office at once:
      status ``escalated``, owner county (the county decides, ``problem_list.decide``), an ``escalated`` event
      and a notice to the county officers.
    - Serious and major problems of an asset of an industry category reach the department officers of that
      category (002 第六、七条): a notice each (``bot.services.departments``).
    """
    from sqlmodel import col, select

    from bot.flows.risks import CONSECUTIVE_LOSSES, CONSECUTIVE_LOSSES_MESSAGE, COUNTY_KINDS, is_loss
    from bot.i18n import DEFAULT_LOCALE, translate

    if report.asset_id is None:
        return []
    added: list[Problem] = []
    if is_loss(report.flags):
        before = _loss_before(session, report)
        if before is not None:
            open_one = session.exec(select(Problem).where(
                Problem.asset_id == report.asset_id, Problem.kind == CONSECUTIVE_LOSSES,
                col(Problem.status).not_in(("resolved", "closed")))).first()
            if open_one is not None:
                session.add(ProblemEvent(problem_id=open_one.id, at=now, actor_user_id=user.id,
                                         action="reported_again", note=f"report {report.id} ({report.period})"))
            else:
                problem = Problem(asset_id=report.asset_id, report_id=report.id, source="report",
                                  kind=CONSECUTIVE_LOSSES, severity="serious", owner_level="township",
                                  description=translate(DEFAULT_LOCALE, CONSECUTIVE_LOSSES_MESSAGE,
                                                        previous=before.period, period=report.period),
                                  created_at=now)
                session.add(problem)
                session.flush()
                session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="created",
                                         note=f"report {report.id} ({report.period}) after report {before.id} "
                                              f"({before.period})"))
                audit.record(session, _actor(user), "problem.create", "problem", problem.id, None,
                             {"asset_id": problem.asset_id, "report_id": report.id, "kind": problem.kind,
                              "severity": problem.severity, "owner_level": problem.owner_level,
                              "after_report_id": before.id})
                added.append(problem)
    for problem in [*created, *added]:
        if problem.kind in COUNTY_KINDS and problem.status not in ("escalated", "resolved", "closed"):
            _to_county(session, user, problem, now)
    for problem in [*created, *added]:
        if problem.severity in ("serious", "major"):
            to_department(session, problem, now)
    session.flush()
    return added


def _to_county(session: Session, user: User, problem: Problem, now: dt.datetime) -> None:
    """Hand a loss problem to the county office at once: escalated, owner county, event, audit, notice."""
    from sqlmodel import col, select

    from bot.services import notices

    before = {"status": problem.status, "owner_level": problem.owner_level}
    problem.status, problem.owner_level = "escalated", "county"
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="escalated",
                             note=ESCALATED_NOTE))
    audit.record(session, _actor(user), "problem.escalated", "problem", problem.id, before,
                 {"status": "escalated", "owner_level": "county", "note": ESCALATED_NOTE})
    _, village, params = notices._problem_params(session, problem)
    township = notices._township(session, village)
    county = session.get(OrgUnit, notices._county_id(village))
    officers = list(session.exec(select(User).where(User.role == "county_officer", col(User.active).is_(True),
                                                    User.org_unit_id == county.id).order_by(User.id)).all())
    body = [[COUNTY_AT_ONCE, {**params, "township": township.name, "problem": problem.description or problem.kind}]]
    notices._write(session, unit=county, kind="notice", step="county-at-once", subject=f"problem/{problem.id}",
                   item=notices.ITEM, period=str(problem.id), role="county_officer",
                   routes=notices._routes(session, officers, None), body=body,
                   actions=[f"problem:{problem.id}"], now=now, actor=_actor(user))


def to_department(session: Session, problem: Problem, now: dt.datetime) -> int:
    """Tell the department officers of the asset's industry category of a problem (002 第六、七条), once per
    problem (the outbox key makes a second call write nothing); return how many rows were written."""
    from bot.services import departments, notices

    asset, village, params = notices._problem_params(session, problem)
    county = session.get(OrgUnit, notices._county_id(village))
    officers = departments.officers_for(session, county, asset.industry_category)
    if not officers:
        return 0
    township = notices._township(session, village)
    body = [[DEPARTMENT, {**params, "township": township.name, "category": asset.industry_category,
                          "problem": problem.description or problem.kind}]]
    return notices._write(session, unit=county, kind="notice", step="department", subject=f"problem/{problem.id}",
                          item=notices.ITEM, period=str(problem.id), role="department_officer",
                          routes=notices._routes(session, officers, None), body=body,
                          actions=[f"problem:{problem.id}"], now=now)
