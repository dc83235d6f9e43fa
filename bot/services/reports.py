"""Reports: drafts saved after every answer, submission, and the problems answers raise.

A report is about an asset (the monthly checks; the township's inspections and quarterly forms)
or about a village or township (the yearly forms of ``bot.services.cycle``). Who may fill it
depends on the form (``FILL_ACTIONS``); the yearly steps after submission live in the cycle.

Every transport (Telegram, web form) goes through these functions: each checks access, applies
one step of the form engine (``bot.flows.Walker``) and commits, so a crash loses nothing and a
cadre continues where they stopped. A report records the form version it was answered with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.clock import period_of, utcnow
from bot.flows import REVIEW, AnswerError, Walker, evaluate_risks, form_for_asset_type, load_form
from bot.i18n import DEFAULT_LOCALE, N_, Label, UserError, translate
from bot.services import audit, duties, evidence, income, metrics, notices, problems
from bot.services.access import AccessDenied, asset_name, check_asset, require, require_asset, visible_assets
from bot.services.cycle_forms import after_submit
from bot.services.evidence import EvidenceStore
from bot.storage.models import Asset, OrgUnit, PhotoUse, Problem, ProblemEvent, Report, User
from bot.storage.rows import adopt, first, store

STATES = ("done", "draft", "todo")
# Assets a village checks every month; household assets (到户类) belong to the households (seed 004 三).
CHECKED_TYPES = ("经营性", "公益性")
CLOSED_PROBLEM_STATUSES = ("resolved", "closed")
DRAFT, SUBMITTED, DISCARDED, EXPIRED = "draft", "submitted", "discarded", "expired"
# How a report's status reads inside a message ("… this one is {status}").
STATUS_LABELS = {DRAFT: N_("a draft"), SUBMITTED: N_("submitted"), DISCARDED: N_("discarded"),
                 EXPIRED: N_("expired"), "approved": N_("approved"), "returned": N_("sent back"),
                 "signed_off": N_("signed off"), "reported": N_("reported to the township")}
# The monthly checks: a draft of one is kept until its month ends, then it expires.
MONTHLY_FORMS = ("monthly-operating", "monthly-public-welfare")

# A report sent back (by the township's review or the supervisor's sign-off) says why, in so many characters.
MAX_REASON = 500
MSG_REASON = N_("Please give a reason (up to {max} characters) so the village knows what to correct.")
MSG_SUBMITTED = N_("This report has already been submitted and can no longer be changed.")
MSG_ALREADY_DONE = N_("This month's check of {asset} has already been submitted.")
MSG_INCOMPLETE = N_("Some questions are still unanswered: {questions}.")
MSG_UNKNOWN_REPORT = N_("This is outside your area.")
MSG_EXPIRED = N_("The {period} check was not submitted before the month ended, so its draft has expired. "
                 "Please do this month's check instead.")
MSG_PHOTOS_FULL = N_("This question takes at most {max} photo(s).")
MSG_FORM_DONE = N_("“{form}” for {subject}, {period}, has already been submitted.")
MSG_NOT_HERE = N_("This is outside your area.")

# Forms filled under another permission than 'report.fill' (the village cadre's).
FILL_ACTIONS = {
    "annual-targets": "targets.set",
    "township-review": "report.review",
    "township-inspection": "inspection.fill",
    # 000 四(二)1, 四(三)1: "相关责任单位或乡镇" — the township or the responsible department (monitoring.fill).
    "quarterly-monitoring": "monitoring.fill",
    "benefit-self-evaluation": "monitoring.fill",
}


def status_label(status: str) -> Label:
    """Return a report status for people, translated with the message it is put in."""
    return Label(STATUS_LABELS.get(status, status))


def fill_action(form_id: str) -> str:
    """Return the permission needed to fill a report of this form."""
    return FILL_ACTIONS.get(form_id, "report.fill")


class ReportError(UserError):
    """A report action refused for a reason the user can understand; ``msgid`` is translatable."""


@dataclass
class AssetMonth:
    """One asset with the state of its report for the period: 'done', 'draft' or 'todo'."""

    asset: Asset
    state: str
    report: Report | None


@dataclass
class SubmitResult:
    """What this submission produced: new problems, the serious ones among them (to be told at once),
    and problems still open from an earlier month that this report saw again.

    ``already_submitted`` is True when the report had been submitted before: this call created
    nothing, the lists are empty and nobody needs to be told again.
    """

    report: Report
    problems: list[Problem]
    serious: list[Problem]
    recurring: list[Problem]
    already_submitted: bool = False


def _tz():
    from bot.config import get_settings

    return get_settings().tz


def current_period(now: dt.datetime | None = None, tz: dt.tzinfo | None = None) -> str:
    """Return the reporting month 'YYYY-MM' of ``now`` in the county's time zone."""
    return period_of(now or utcnow(), tz or _tz())


def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}:{user.name}")


def _lookup(session: Session, asset_id: int | None, form_id: str, period: str,
            unit_id: int | None = None) -> tuple[Report | None, int]:
    """Return the current report of a subject, form and period (if any) and the next free version."""
    subject = Report.asset_id == asset_id if asset_id is not None else Report.org_unit_id == unit_id
    rows = session.exec(select(Report).where(subject, Report.form_id == form_id, Report.period == period)).all()
    current = next((r for r in rows if r.current and r.status != DISCARDED), None)
    return current, max((r.version for r in rows), default=0) + 1


def month_overview(session: Session, user: User, period: str | None = None, *,
                   now: dt.datetime | None = None) -> list[AssetMonth]:
    """Return the assets ``user`` may see with this period's report state, sorted by name."""
    period = period or current_period(now)
    assets = session.exec(visible_assets(session, user).where(
        Asset.status == "active", col(Asset.asset_type).in_(CHECKED_TYPES)).order_by(Asset.name, Asset.id)).all()
    covered: dict[int, tuple[str, ...]] = {}  # village id → the types its county's monthly duty covers
    for village_id in {a.village_id for a in assets}:
        village = session.get(OrgUnit, village_id)
        covered[village_id] = duties.monthly_types_of(session, village) if village else duties.DEFAULT_ASSET_TYPES
    assets = [a for a in assets if a.asset_type in covered[a.village_id]]  # nobody is asked what is not due
    if not assets:
        return []
    reports = session.exec(select(Report).where(
        col(Report.asset_id).in_([a.id for a in assets]), Report.period == period,
        col(Report.current).is_(True), Report.status != DISCARDED)).all()
    by_asset = {r.asset_id: r for r in reports}
    overview = []
    for asset in assets:
        report = by_asset.get(asset.id)
        if report is not None and report.status in duties.REPORT_DONE_STATUSES:
            state = "done"  # the duty service's definition: submitted (waiting for review) or approved
        elif report is None or report.status != DRAFT or month_over(report, now):
            state = "todo"  # an ended month's draft is not waiting any more
        else:
            state = "draft"
        overview.append(AssetMonth(asset, state, report))
    return overview


def start_or_resume(session: Session, user: User, asset_id: int, *, channel: str, period: str | None = None,
                    now: dt.datetime | None = None) -> Report:
    """Return this period's draft for the asset, creating it (committed) if there is none.

    Raises AccessDenied for an asset outside the user's area (or an unknown id) and ReportError
    when this period's report has already been submitted.
    """
    asset = require_asset(session, user, "report.fill", asset_id)
    now = now or utcnow()
    form = form_for_asset_type(asset.asset_type)
    return _open(session, user, form, asset.id, None, period or current_period(now), channel, now,
                 lambda: ReportError(MSG_ALREADY_DONE, asset=asset.name))


def start_or_resume_form(session: Session, user: User, form_id: str, period: str, *, channel: str,
                         asset_id: int | None = None, org_unit_id: int | None = None,
                         now: dt.datetime | None = None) -> Report:
    """Return the draft of a named form for an asset or an organisation unit, creating it if needed.

    Exactly one of ``asset_id`` and ``org_unit_id`` is given. Access is checked with the form's
    permission (``fill_action``) on the asset's village or the unit. Raises AccessDenied, KeyError
    for an unknown form, and ReportError when the report has already been submitted.
    """
    if (asset_id is None) == (org_unit_id is None):
        raise ValueError("give exactly one of asset_id and org_unit_id")
    form = load_form(form_id)
    action = fill_action(form_id)
    if asset_id is not None:
        asset = require_asset(session, user, action, asset_id)
        name = asset.name
    else:
        unit = require_unit(session, user, action, org_unit_id)
        name = unit.name
    return _open(session, user, form, asset_id, org_unit_id, period, channel, now or utcnow(),
                 lambda: ReportError(MSG_FORM_DONE, form=form.title, subject=name, period=period))


def require_unit(session: Session, user: User, action: str, unit_id: int | None) -> OrgUnit:
    """Return the unit if ``user`` may do ``action`` on it; refuse unknown and foreign ids alike."""
    unit = session.get(OrgUnit, unit_id) if isinstance(unit_id, int) else None
    if unit is None:
        raise AccessDenied(MSG_NOT_HERE)
    require(session, user, action, unit)
    return unit


def _open(session: Session, user: User, form, asset_id: int | None, unit_id: int | None, period: str,
          channel: str, now: dt.datetime, done_error: Callable[[], ReportError]) -> Report:
    """Return the subject's current draft of ``form`` for ``period``, creating it (committed) if there is none."""
    for _attempt in range(2):
        report, version = _lookup(session, asset_id, form.id, period, unit_id)
        if report is not None:
            _refuse_expired(session, report, now)
            if report.status != DRAFT:
                raise done_error()
            return report
        if form.id in MONTHLY_FORMS and period < current_period(now):
            raise ReportError(MSG_EXPIRED, period=period)
        # Two devices starting at once pick the same version: the unique constraint lets one win.
        report = Report(asset_id=asset_id, org_unit_id=unit_id, form_id=form.id, form_version=form.version,
                        period=period, version=version, status=DRAFT, answers={}, position=None, flags=[],
                        channel=channel, created_by=user.id, created_at=now, updated_at=now)
        try:
            session.add(report)
            session.flush()
            subject = {"asset_id": asset_id} if asset_id is not None else {"org_unit_id": unit_id}
            audit.record(session, _actor(user), "report.start", "report", report.id, None,
                         {**subject, "form": f"{form.id}@{form.version}", "period": period, "channel": channel})
            session.commit()
            return report
        except IntegrityError:
            session.rollback()  # another device created the draft at the same moment: use theirs
    raise RuntimeError("could not create or find the draft")  # the unique row exists after one retry


def require_subject(session: Session, user: User, action: str, report: Report | None) -> None:
    """Raise AccessDenied unless ``user`` may do ``action`` on the report's asset or unit (None: refused)."""
    if report is not None and report.asset_id is None:
        require_unit(session, user, action, report.org_unit_id)
    else:
        check_asset(session, user, action, report.asset_id if report else -1)


def subject_name(session: Session, report: Report) -> str:
    """Return what the report is about, for people: the asset's name, or the village's or township's."""
    if report.asset_id is not None:
        return asset_name(session, report.asset_id)
    return session.get(OrgUnit, report.org_unit_id).name


def walker_for(report: Report) -> Walker:
    """Return the engine over a report's stored answers, with the form version it was started with."""
    return Walker(load_form(report.form_id, report.form_version), report.answers, report.position)


# A no-op write that returns the row, re-read even if the session holds it (built once: it runs on
# every answer, and building a statement costs more than running it).
_REPORTS = Report.__table__
LOCK_REPORT = (update(_REPORTS).where(_REPORTS.c.id == bindparam("report_id"))
               .values(updated_at=_REPORTS.c.updated_at).returning(*_REPORTS.columns))
SAVE_REPORT = update(_REPORTS).where(_REPORTS.c.id == bindparam("report_id"))


def _report(session: Session, user: User, report_id: int, *, lock: bool) -> Report:
    """Return a report of an asset the user may fill; foreign and unknown ids are refused alike.

    With ``lock`` the row is locked until the transaction ends (a no-op write: a row lock on
    PostgreSQL, the write lock on SQLite) and re-read even if this session holds it, so two
    devices never overwrite each other's answers.
    """
    report = None
    if isinstance(report_id, int) and not lock:
        report = session.get(Report, report_id)
    elif isinstance(report_id, int):
        row = first(session, LOCK_REPORT, {"report_id": report_id})
        report = adopt(session, Report, row) if row is not None else None
    try:
        if report is None:
            raise AccessDenied(MSG_UNKNOWN_REPORT)
        require_subject(session, user, fill_action(report.form_id), report)
    except AccessDenied:
        session.rollback()  # release the lock at once
        raise
    return report


def _draft(session: Session, user: User, report_id: int, *, lock: bool = True,
           now: dt.datetime | None = None) -> Report:
    """Return a draft the user may fill (locked unless ``lock`` is False); ReportError if it is not one
    (with the reason when its month has ended: see ``_refuse_expired``)."""
    report = _report(session, user, report_id, lock=lock)
    _refuse_expired(session, report, now)
    if report.status != DRAFT or not report.current:
        session.rollback()
        raise ReportError(MSG_SUBMITTED)
    return report


def _refuse_expired(session: Session, report: Report, now: dt.datetime | None) -> None:
    """Raise ReportError (the reason) for an expired report, or a draft of an ended month, expiring it now.

    The hourly sweep expires such drafts; this catches one used before the sweep got to it.
    """
    period = report.period
    if report.status == DRAFT and month_over(report, now):
        expire_drafts(session, now, ids=[report.id])  # commits
        raise ReportError(MSG_EXPIRED, period=period)
    if report.status == EXPIRED:
        session.rollback()
        raise ReportError(MSG_EXPIRED, period=period)


def month_over(report: Report, now: dt.datetime | None = None) -> bool:
    """Whether the report is a monthly check of a month that has ended (in the county's time zone)."""
    return report.form_id in MONTHLY_FORMS and report.period < current_period(now)


def expire_drafts(session: Session, now: dt.datetime | None = None, *, ids: list[int] | None = None) -> list[int]:
    """Expire the drafts of monthly checks whose month has ended (only ``ids``, if given); audited, committed.

    The hourly sweep of the scheduler calls this; answering or submitting such a draft calls it
    for that one draft. Returns the ids expired (none twice: the UPDATE only takes drafts).
    """
    now = now or utcnow()
    table = Report.__table__
    query = (update(table).where(table.c.status == DRAFT, table.c.form_id.in_(MONTHLY_FORMS),
                                 table.c.period < current_period(now))
             .values(status=EXPIRED, updated_at=now).returning(table.c.id, table.c.period))
    if ids is not None:
        query = query.where(table.c.id.in_(ids))
    rows = session.execute(query).all()
    if rows:
        audit.record_many(session, audit.SYSTEM, [
            ("report.expire", "report", row.id, {"status": DRAFT}, {"status": EXPIRED, "period": row.period})
            for row in rows])
    session.commit()
    return [row.id for row in rows]


def _save(session: Session, report: Report, walker: Walker, now: dt.datetime | None) -> None:
    """Write the walker's answers and position to the draft and commit (one Core UPDATE)."""
    store(session, report, SAVE_REPORT, {"answers": walker.answers, "position": walker.position,
                                         "updated_at": now or utcnow()}, report_id=report.id)
    session.commit()


def _step(session: Session, user: User, report_id: int, action: Callable[[Walker], Any],
          now: dt.datetime | None) -> tuple[Report, Walker]:
    """Apply one engine step to a draft and commit; on AnswerError roll back and re-raise."""
    report = _draft(session, user, report_id, now=now)
    walker = walker_for(report)
    try:
        action(walker)
    except AnswerError:
        session.rollback()
        raise
    _save(session, report, walker, now)
    metrics.ANSWERS.labels(report.channel or "web").inc()
    return report, walker


def answer(session: Session, user: User, report_id: int, key: str, raw: Any, *,
           now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Answer one question of a draft (AnswerError says what to fix); saved and committed."""
    return _step(session, user, report_id, lambda w: w.answer(key, raw), now)


def toggle(session: Session, user: User, report_id: int, key: str, option_key: str, *,
           now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Add or remove one option of a multi-choice answer; saved and committed."""
    return _step(session, user, report_id, lambda w: w.toggle(key, option_key), now)


def done(session: Session, user: User, report_id: int, key: str, *,
         now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Finish a multi-choice or photo question; saved and committed."""
    return _step(session, user, report_id, lambda w: w.done(key), now)


def skip(session: Session, user: User, report_id: int, key: str, *,
         now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Skip an optional question; saved and committed."""
    return _step(session, user, report_id, lambda w: w.skip(key), now)


def clear(session: Session, user: User, report_id: int, key: str, *,
          now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Remove an answer (e.g. to send the photos of a question again); saved and committed."""
    return _step(session, user, report_id, lambda w: w.clear(key), now)


def back(session: Session, user: User, report_id: int, *, now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Move to the previous visible question; saved and committed."""
    return _step(session, user, report_id, lambda w: w.back(), now)


def goto(session: Session, user: User, report_id: int, key: str, *,
         now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Jump to an earlier question to change it; saved and committed."""
    return _step(session, user, report_id, lambda w: w.goto(key), now)


def set_location(session: Session, user: User, report_id: int, key: str, lat: float, lon: float, *,
                 now: dt.datetime | None = None) -> tuple[Report, Walker]:
    """Answer a location question; saved and committed."""
    return answer(session, user, report_id, key, {"lat": lat, "lon": lon}, now=now)


def period_start(period: str) -> dt.date:
    """Return the first day of a period '2026-11', '2026-Q3', '2026-H1' or '2026'."""
    year, _, part = period.partition("-")
    if not part:
        return dt.date(int(year), 1, 1)
    if part[0] in "QH":
        months = 3 if part[0] == "Q" else 6
        return dt.date(int(year), (int(part[1:]) - 1) * months + 1, 1)
    return dt.date(int(year), int(part), 1)


def add_photo(session: Session, user: User, report_id: int, key: str, data: bytes, store: EvidenceStore, *,
              now: dt.datetime | None = None) -> tuple[Report, Walker, list[dict]]:
    """Check and store a photo, attach it to a photo question, and return its doubt flags.

    EvidenceError (not a photo, too large…) and AnswerError (wrong question, too many photos,
    the same photo twice) propagate with nothing saved.
    """
    walker = walker_for(_draft(session, user, report_id, lock=False, now=now))
    question = walker.form.question(key)
    if question is None or question.type != "photo" or question not in walker.visible():
        raise AnswerError(N_("This question does not take a photo."), key=key)
    if len(walker.answers.get(key) or []) >= question.max_count:
        raise AnswerError(question.error or MSG_PHOTOS_FULL, {"max": question.max_count}, key=key)
    ingested = store.ingest(data)  # the slow part, before the draft is locked
    report = _draft(session, user, report_id, now=now)
    walker = walker_for(report)
    try:
        use = evidence.record_use(session, photo=ingested, report=report, question_key=key,
                                  period_start=period_start(report.period), tz=store.local_tz)
        walker.answer(key, {"sha256": ingested.sha256, "photo_id": use.photo_id})
    except AnswerError:
        session.rollback()
        raise
    flags = list(use.flags)
    _save(session, report, walker, now)
    return report, walker, flags


def _photo_flags(session: Session, report: Report) -> list[dict]:
    """Return the flags of the photos the answers still hold (a replaced photo's flags are left out)."""
    kept = {(ref["photo_id"], key) for key, value in report.answers.items() if isinstance(value, list)
            for ref in value if isinstance(ref, dict) and "photo_id" in ref}
    uses = session.exec(select(PhotoUse).where(PhotoUse.report_id == report.id).order_by(col(PhotoUse.id)))
    return [{**flag, "question_key": use.question_key} for use in uses
            if (use.photo_id, use.question_key) in kept for flag in use.flags]


def _describe(hit) -> str:
    """Return a problem's description for the problem list (in the default language), with the cadre's note."""
    text = translate(DEFAULT_LOCALE, hit.msgid, **{k: "" if v is None else v for k, v in hit.params.items()})
    return f"{text} {hit.note}" if hit.note else text


def submit(session: Session, user: User, report_id: int, *, now: dt.datetime | None = None) -> SubmitResult:
    """Submit a complete draft: flags, problems (with events) and audit entries, in one transaction.

    Submitting again changes nothing and returns ``already_submitted=True``. A problem of a
    kind still open for the asset (from an earlier month) is not duplicated: it gets a
    'reported_again' event and is returned in ``recurring``.
    """
    report = _report(session, user, report_id, lock=True)
    if report.status != DRAFT and report.submitted_at is not None:
        session.rollback()
        return _earlier_result(report)
    _refuse_expired(session, report, now)
    if report.status != DRAFT or not report.current:
        session.rollback()
        raise ReportError(MSG_SUBMITTED)
    walker = walker_for(report)
    missing = walker.missing()
    if missing:
        session.rollback()
        shown = [q.key for q in walker.visible()]
        names = ", ".join(str(shown.index(k) + 1) for k in missing)
        raise ReportError(MSG_INCOMPLETE, questions=names, keys=missing)
    now = now or utcnow()
    report.status, report.submitted_at, report.submitted_by, report.updated_at = SUBMITTED, now, user.id, now
    hits = evaluate_risks(walker.form, report.answers)
    report.flags = [hit.as_flag() for hit in hits] + _photo_flags(session, report)
    report.position = walker.position
    session.add(report)
    created, recurring = _raise_problems(session, user, report, hits, now)
    after_submit(session, user, report, now)
    income.record_from_report(session, report, now)  # the income answer feeds the asset's income (issue 17)
    audit.record_many(session, _actor(user), [
        ("report.submit", "report", report.id, {"status": DRAFT},
         {"status": SUBMITTED, "asset_id": report.asset_id, "org_unit_id": report.org_unit_id,
          "period": report.period,
          "form": f"{report.form_id}@{report.form_version}", "answers": report.answers, "flags": report.flags}),
        *[("problem.create", "problem", p.id, None,
           {"asset_id": p.asset_id, "report_id": report.id, "kind": p.kind, "severity": p.severity,
            "owner_level": p.owner_level}) for p in created],
        *[("problem.reported_again", "problem", p.id, None, {"report_id": report.id}) for p in recurring],
    ])
    created += problems.route_new(session, user, report, created, now)  # losses to the county, departments
    notices.report_submitted(session, user, report, created, now)  # in the same transaction
    session.commit()
    metrics.SUBMISSIONS.labels(report.channel or "web").inc()
    return SubmitResult(report, created, [p for p in created if p.severity == "serious"], recurring)


def _raise_problems(session: Session, user: User, report: Report, hits, now: dt.datetime
                    ) -> tuple[list[Problem], list[Problem]]:
    """Create a Problem (+ 'created' event) per hit, or note a still-open one of the same kind again.

    Problems belong to assets: a report about a village or township raises none.
    """
    if report.asset_id is None:
        return [], []
    open_by_kind = {p.kind: p for p in session.exec(select(Problem).where(
        Problem.asset_id == report.asset_id, Problem.source == "report",
        col(Problem.status).not_in(CLOSED_PROBLEM_STATUSES))).all()}
    created, recurring = [], []
    for hit in hits:
        existing = open_by_kind.get(hit.kind)
        if existing is not None:
            session.add(ProblemEvent(problem_id=existing.id, at=now, actor_user_id=user.id,
                                     action="reported_again", note=f"report {report.id} ({report.period})"))
            recurring.append(existing)
            continue
        problem = Problem(asset_id=report.asset_id, report_id=report.id, source="report", kind=hit.kind,
                          severity=hit.severity, owner_level="village" if hit.severity == "minor" else "township",
                          description=_describe(hit), created_at=now)
        session.add(problem)
        session.flush()
        session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="created",
                                 note=f"report {report.id} ({report.period})"))
        open_by_kind[hit.kind] = problem
        created.append(problem)
    session.flush()
    return created, recurring


def _earlier_result(report: Report) -> SubmitResult:
    return SubmitResult(report, [], [], [], already_submitted=True)


def reopen(session: Session, old: Report, reason: str, now: dt.datetime, *, actor: audit.Actor,
           action: str) -> Report:
    """Open the next version of a report sent back with ``reason``: a draft prefilled with its answers.

    The photos come along with their flags, so the evidence of the corrected version is complete.
    The caller has marked ``old`` returned; this audits both (``action`` for the send-back) and
    the caller commits.
    """
    new = Report(asset_id=old.asset_id, org_unit_id=old.org_unit_id, form_id=old.form_id,
                 form_version=old.form_version, period=old.period, version=old.version + 1, current=True,
                 status=DRAFT, answers=dict(old.answers), position=REVIEW, flags=[], channel=old.channel,
                 created_by=old.submitted_by or old.created_by, created_at=now, updated_at=now, review_note=reason)
    session.add(new)
    session.flush()
    for use in session.exec(select(PhotoUse).where(PhotoUse.report_id == old.id)).all():
        session.add(PhotoUse(photo_id=use.photo_id, report_id=new.id, asset_id=use.asset_id,
                             question_key=use.question_key, flags=list(use.flags), created_at=now))
    audit.record_many(session, actor, [
        (action, "report", old.id, {"status": SUBMITTED}, {"status": old.status, "reason": reason}),
        ("report.reopen", "report", new.id, None,
         {"version": new.version, "previous": old.id, "answers": new.answers, "reason": reason}),
    ])
    return new


def discard(session: Session, user: User, report_id: int, *, now: dt.datetime | None = None) -> Report:
    """Drop a draft (kept as history with status 'discarded'); audited and committed."""
    report = _draft(session, user, report_id, now=now)
    before = {"status": report.status, "answers": report.answers}
    report.status = DISCARDED
    report.current = False
    report.updated_at = now or utcnow()
    session.add(report)
    audit.record(session, _actor(user), "report.discard", "report", report.id, before, {"status": DISCARDED})
    session.commit()
    return report
