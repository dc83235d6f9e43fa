"""The quarterly forms and the yearly cycle of seed 004, as a state machine over reports.

Which forms exist and who fills them is ``FORMS``; when each is due comes from the county's policy
profile (``OrgUnit.policy_profile``: qinbei-2023 for the yearly cycle, jiaozuo-2020 for the
quarterly monitoring and benefit forms, yanshan-2024 for the township's inspections).

A village's yearly report moves on like this (each step audited, each a ``CycleStep`` row)::

    draft --submit (cadre)--> submitted --sign_off (village supervisor)--> signed_off
          --(posted 10 days on the village's QR pages)--> report_up (cadre) --> reported
          --review (township: its own review form + the year-end rubric score)--> approved

The mid-year self-check has no posting: the sign-off files it with the township at once. The
county then grades each township (``grade``) on the seed 004 bands 好/较好/一般/较差. Nothing
reaches the township before the sign-off.

Where the county's profile says so (``sign_off:``, Qinbei 五(二), 五(三)1): every signer post signs, each
by another supervisor (``ReportSignature``), before the report is signed off; the posting is on the
village's physical board and its days count from the photo of the posted notice (``record_posting``);
and a villager's report from the QR pages during the posting holds the report until it is answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot import periods
from bot.clock import as_utc, utcnow
from bot.flows import load_form
from bot.i18n import N_, UserError, translate
from bot.policy.calendar import Occurrence, occurrences
from bot.policy.profile import FREQUENCIES, SignOffRule
from bot.policy.scoring import grades_of
from bot.scoring.errors import ScoringInputError
from bot.scoring.numbers import round_half_up
from bot.services import audit, notices, pii, policies, reports
from bot.services.access import PERMISSIONS, AccessDenied, require, scope_filter
from bot.services.assessment import score_asset
from bot.services.cycle_forms import (  # noqa: F401 - the forms of the calendars, re-exported
    FORMS,
    SUBMITTED,
    TOWNSHIP_REVIEW,
    YEAREND,
    CycleForm,
    after_submit,
    all_submitted,
    county_of,
    needs_sign_off,
    record_duty,
    supervisors_of,
)
from bot.services.evidence import EvidenceStore
from bot.storage.models import Asset, OrgUnit, Problem, Report, User
from bot.storage.models_cycle import CycleStep
from bot.storage.models_scoring import ReportSignature
from bot.storage.models_villager import VillagerReport

SIGNED_OFF, REPORTED, APPROVED, RETURNED = "signed_off", "reported", "approved", "returned"
GRADE_SCALE = "qinbei-2023"
OVERDUE_LISTED = dt.timedelta(days=31)  # an overdue form stays on the list this long

MSG_NOT_SIGNABLE = N_("Only a submitted report waiting for sign-off can be signed off; this one is {status}.")
MSG_NOT_SIGNED = N_("The report must be signed off by the village supervisor first.")
MSG_BAD_PERIOD = N_("“{period}” is not a reporting period. Open the form from your list of forms due.")
MSG_POSTING = N_("The self-evaluation is posted publicly until {until}; it can be reported after that.")
MSG_NOT_REPORTED = N_("{village} has not reported its year-end self-evaluation yet.")
MSG_NO_REVIEW_FORM = N_("Fill in the township's review of {village} first.")
MSG_NO_EVALUATION = N_("The score sheet of {asset} is missing.")
MSG_BAD_EVALUATION = N_("The score sheet of {asset} cannot be scored: {reason}")
MSG_NOTHING_TO_GRADE = N_("No village of {township} has been reviewed for {year} yet.")
MSG_DONE_ALREADY = N_("This step has already been done.")
MSG_UNKNOWN_FORM = N_("This form is not available.")
MSG_WILL_MASK = N_("Personal numbers were found in the text that will be posted publicly. On the public page "
                   "they will be shown masked: {items}. Signing off still posts it.")
MSG_SIGNED_ALREADY = N_("You have already signed this report; it waits for the signature of: {posts}.")
MSG_NO_SUCH_POST = N_("This report does not wait for the signature of “{post}”.")
MSG_NO_PHOTO = N_("Post the self-evaluation on the village notice board and send a photo of the posted notice "
                  "first; the {days} days of the posting count from then.")
MSG_NOT_POSTABLE = N_("Only a signed-off report waiting for its posting on the notice board can be posted.")
MSG_HELD = N_("Villagers raised {count} objections during the posting; they must be answered before the "
              "report goes to the township.")
MSG_UNKNOWN_POST = N_("unknown")
POST_LABELS = {
    "supervisory_committee": N_("Chair of the village affairs supervisory committee"),
    "cooperative_board": N_("Chair of the board of supervisors of the villagers' cooperative"),
}
POSTED_TEXT_KEYS = ("summary",)  # the free-text answers a posted form shows on the QR pages


class CycleError(UserError, ValueError):
    """A cycle step refused for a reason the user can understand; ``msgid`` is translatable.

    A ValueError, so transports that answer ValueErrors carrying a msgid show it to the user.
    """


@dataclass
class DueForm:
    """One form a user has to fill: for which subject and period, by when, and its draft if started."""

    form_id: str
    title: str
    subject_id: int
    subject_name: str
    period: str
    due_at: dt.datetime
    report: Report | None


@dataclass(frozen=True)
class PostedEvaluation:
    """A village's year-end self-evaluation while it is posted publicly (for the QR pages)."""

    village: str
    period: str
    posted_from: dt.datetime
    posted_until: dt.datetime
    targets_met: str
    self_score: Any
    summary: str

    def as_dict(self) -> dict:
        """Return the notice as plain data for the public page."""
        return {"village": self.village, "period": self.period, "posted_from": self.posted_from.isoformat(),
                "posted_until": self.posted_until.isoformat(), "targets_met": self.targets_met,
                "self_score": str(self.self_score), "summary": self.summary}


def _actor(user: User | None) -> audit.Actor:
    if user is None:
        return audit.Actor(None, "cli")
    return audit.Actor(user.id, f"user:{user.id}:{user.name}")


def _unit_for(session: Session, user: User | None, action: str, unit_id: int, level: str) -> OrgUnit:
    """Return the unit ``user`` may act on; without a user (the command line, as the system) any unit of
    the level."""
    if user is not None:
        return reports.require_unit(session, user, action, unit_id)
    unit = session.get(OrgUnit, unit_id) if isinstance(unit_id, int) else None
    if unit is None or unit.level != level:
        raise AccessDenied(reports.MSG_NOT_HERE)
    return unit


def _open_at(occ: Occurrence, spec: CycleForm, item, tz: dt.tzinfo) -> dt.datetime:
    """Return when an occurrence may be started: ``open_days`` before it is due, never before its period
    begins (or, for a report on the previous period, before that period ends)."""
    start = reports.period_start(occ.period)
    if item.due.next_period:
        month = start.month - 1 + FREQUENCIES[item.frequency]
        start = dt.date(start.year + month // 12, month % 12 + 1, 1)
    opened = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    return max(as_utc(opened), occ.due_at - dt.timedelta(days=spec.open_days))


def open_occurrences(session: Session, unit: OrgUnit, now: dt.datetime | None = None
                     ) -> list[tuple[CycleForm, Occurrence]]:
    """Return the forms of ``FORMS`` open at ``now`` on the calendar of the unit's county profile."""
    now = as_utc(now or utcnow())
    county = county_of(session, unit)
    profile = policies.county_profile(session, county)
    if profile is None:
        return []
    tz = ZoneInfo(profile.timezone)
    found = []
    by_item = {spec.item: spec for spec in FORMS.values()}
    for occ in occurrences(profile, tz, now - OVERDUE_LISTED, now + dt.timedelta(days=400)):
        spec = by_item.get(occ.item)
        if spec and _open_at(occ, spec, profile.item(occ.item), tz) <= now:
            found.append((spec, occ))
    return found


def _subjects(session: Session, user: User, spec: CycleForm) -> list[tuple[int, str]]:
    """Return (id, name) of the assets or villages in the user's scope the form is filled for."""
    if spec.subject == "asset":
        query = select(Asset).join(OrgUnit, Asset.village_id == OrgUnit.id).where(
            scope_filter(session, user), Asset.status == "active", col(Asset.asset_type).in_(spec.asset_types))
        if user.role == "department_officer":  # a department files for the projects of its industries
            from bot.services.departments import categories_of

            query = query.where(col(Asset.industry_category).in_(categories_of(session, user.id)))
        rows = session.exec(query.order_by(Asset.name, Asset.id)).all()
        return [(a.id, a.name) for a in rows]
    rows = session.exec(select(OrgUnit).where(scope_filter(session, user), OrgUnit.level == "village")
                        .order_by(OrgUnit.name, OrgUnit.id)).all()
    return [(v.id, v.name) for v in rows]


def _current(session: Session, form_id: str, subject: str, subject_id: int, period: str) -> Report | None:
    column = Report.asset_id if subject == "asset" else Report.org_unit_id
    return session.exec(select(Report).where(column == subject_id, Report.form_id == form_id,
                                             Report.period == period, col(Report.current).is_(True),
                                             Report.status != reports.DISCARDED)).first()


def due_forms(session: Session, user: User, now: dt.datetime | None = None) -> list[DueForm]:
    """Return the forms due for the user's role and scope that are open and not yet submitted.

    The township's review of a village appears only once the village has reported its year-end
    self-evaluation (after sign-off and posting).
    """
    if user.org_unit_id is None:
        return []
    unit = session.get(OrgUnit, user.org_unit_id)
    found: list[DueForm] = []
    for spec, occ in open_occurrences(session, unit, now):
        if spec.role != user.role and user.role not in spec.also_by:
            continue
        title = load_form(spec.form_id).title
        for subject_id, name in _subjects(session, user, spec):
            report = _current(session, spec.form_id, spec.subject, subject_id, occ.period)
            if report is not None and report.status != reports.DRAFT:
                continue
            if spec.form_id == TOWNSHIP_REVIEW and not _reported(session, subject_id, occ.period):
                continue
            found.append(DueForm(spec.form_id, title, subject_id, name, occ.period, occ.due_at, report))
    return sorted(found, key=lambda d: (d.due_at, d.form_id, d.subject_name))


def _reported(session: Session, village_id: int, period: str) -> bool:
    report = _current(session, YEAREND, "village", village_id, period)
    return report is not None and report.status in (REPORTED, APPROVED)


def start(session: Session, user: User, form_id: str, subject_id: int, period: str, *, channel: str,
          now: dt.datetime | None = None) -> Report:
    """Start or resume a form of the calendars for an asset or village (``reports.start_or_resume_form``).

    The township's review of a village can only start once the village has reported its
    year-end self-evaluation.
    """
    spec = FORMS.get(form_id)
    if spec is None:
        raise CycleError(MSG_UNKNOWN_FORM)
    if not periods.valid_label(period):
        raise CycleError(MSG_BAD_PERIOD, period=str(period)[:20])
    if spec.subject == "asset":
        return reports.start_or_resume_form(session, user, form_id, period, channel=channel, asset_id=subject_id,
                                            now=now)
    if form_id == TOWNSHIP_REVIEW:
        village = reports.require_unit(session, user, "report.review", subject_id)
        if not _reported(session, village.id, period):
            raise CycleError(MSG_NOT_REPORTED, village=village.name)
    return reports.start_or_resume_form(session, user, form_id, period, channel=channel, org_unit_id=subject_id,
                                        now=now)


def _locked(session: Session, report_id: int) -> Report | None:
    if not isinstance(report_id, int):
        return None
    return session.exec(select(Report).where(Report.id == report_id).with_for_update()).first()


def _step(session: Session, report: Report, step: str, user: User | None, at: dt.datetime,
          until: dt.datetime | None = None, data: dict | None = None) -> CycleStep:
    row = CycleStep(report_id=report.id, org_unit_id=report.org_unit_id, form_id=report.form_id,
                    period=report.period, step=step, at=at, until=until, by_user_id=user.id if user else None,
                    data=data or {})
    session.add(row)
    return row


def sign_rule(session: Session, report: Report) -> SignOffRule | None:
    """Return how the county's profile says this report is signed and posted (None: one signature, posted from
    the sign-off, as without the profile's ``sign_off`` section)."""
    spec = FORMS.get(report.form_id)
    unit = session.get(OrgUnit, report.org_unit_id) if report.org_unit_id else None
    if spec is None or unit is None:
        return None
    profile = policies.county_profile(session, county_of(session, unit))
    return profile.sign_off.get(spec.item) if profile is not None else None


def signatures(session: Session, report_id: int) -> list[ReportSignature]:
    """Return the signatures of a report, in order."""
    return list(session.exec(select(ReportSignature).where(ReportSignature.report_id == report_id)
                             .order_by(col(ReportSignature.at), col(ReportSignature.id))).all())


@dataclass(frozen=True)
class Signing:
    """Who has signed a report for which post, and which posts it still waits for."""

    signed: tuple[tuple[str, str], ...]  # (post msgid, signer's name)
    waiting: tuple[str, ...]             # post keys still to sign
    labels: dict[str, str]               # post key → msgid


def signing(session: Session, report: Report) -> Signing:
    """Return the signing state of a report (for the sign-off page)."""
    rule = sign_rule(session, report)
    posts = rule.posts if rule and len(rule.posts) > 1 else ()
    done = signatures(session, report.id) if posts else []
    names = {u.id: u.name for u in session.exec(select(User).where(
        col(User.id).in_([d.user_id for d in done]))).all()} if done else {}
    signed = tuple((POST_LABELS.get(d.post, d.post), names.get(d.user_id, "")) for d in done)
    waiting = tuple(p for p in posts if p not in {d.post for d in done})
    return Signing(signed, waiting, {p: POST_LABELS.get(p, p) for p in posts})


def awaiting_sign_off(session: Session, user: User) -> list[Report]:
    """Return the submitted reports in the user's scope that wait for their sign-off (not those they signed)."""
    require(session, user, "report.sign_off")
    forms = [f.form_id for f in FORMS.values() if f.signed_by == user.role]
    rows = session.exec(select(Report).join(OrgUnit, OrgUnit.id == Report.org_unit_id).where(
        scope_filter(session, user), col(Report.form_id).in_(forms), Report.status == SUBMITTED,
        col(Report.current).is_(True)).order_by(Report.submitted_at, Report.id)).all()
    signed = set(session.exec(select(ReportSignature.report_id).where(
        ReportSignature.user_id == user.id, col(ReportSignature.report_id).in_([r.id for r in rows])
    )).all()) if rows else set()
    return [r for r in rows if r.id not in signed]


def sign_off(session: Session, user: User, report_id: int, *, post: str | None = None,
             now: dt.datetime | None = None) -> Report:
    """Sign off a submitted village report as its supervisor (audited, committed).

    Where the county's profile names several signer posts (Qinbei: the supervisory committee's and the
    cooperative board's chairs), this is one signature, for ``post`` or else the first post still unsigned;
    each post is signed by another person, and the report is signed off with the last one. A form with public
    posting then starts its posting window (``posting_days`` long) — unless the profile wants the photo of the
    notice on the village board, which starts it (``record_posting``); a form without posting is filed with the
    township at once.
    """
    report = _signable(session, user, report_id)
    spec = FORMS[report.form_id]
    now = as_utc(now or utcnow())
    rule = sign_rule(session, report)
    signers: list[dict] = []
    if rule is not None and len(rule.posts) > 1:
        done = signatures(session, report.id)
        waiting = [p for p in rule.posts if p not in {d.post for d in done}]
        locale = user.locale
        names = "、".join(translate(locale, POST_LABELS[p]) for p in waiting)
        try:
            if any(d.user_id == user.id for d in done):
                raise CycleError(MSG_SIGNED_ALREADY, posts=names)
            if post is not None and post not in waiting:
                raise CycleError(MSG_NO_SUCH_POST, post=translate(locale, POST_LABELS.get(post, MSG_UNKNOWN_POST)))
        except CycleError:
            session.rollback()
            raise
        chosen = post or waiting[0]
        session.add(ReportSignature(report_id=report.id, post=chosen, user_id=user.id, at=now))
        audit.record(session, _actor(user), "cycle.sign", "report", report.id, None,
                     {"post": chosen, "waiting": [p for p in waiting if p != chosen]})
        if len(waiting) > 1:
            report.updated_at = now
            session.add(report)
            session.commit()
            return report
        signers = [{"post": d.post, "user_id": d.user_id} for d in done] + [{"post": chosen, "user_id": user.id}]
    report.status, report.updated_at = SIGNED_OFF, now
    _step(session, report, "sign_off", user, now, data={"signers": signers} if signers else None)
    entries = [("cycle.sign_off", "report", report.id, {"status": SUBMITTED}, {"status": SIGNED_OFF})]
    if spec.posting_days and not (rule and rule.posting_photo):
        until = now + dt.timedelta(days=spec.posting_days)
        _step(session, report, "post", user, now, until=until)
        entries.append(("cycle.post", "report", report.id, None,
                        {"from": now, "until": until, "days": spec.posting_days}))
    elif not spec.posting_days:
        report.status = REPORTED
        _step(session, report, "report_up", user, now)
        entries.append(("cycle.report_up", "report", report.id, {"status": SIGNED_OFF}, {"status": REPORTED}))
    session.add(report)
    audit.record_many(session, _actor(user), entries)
    if report.status == REPORTED:
        record_duty(session, report.org_unit_id, spec.item, report.period, user, now, "sign_off")
    session.commit()
    return report


def record_posting(session: Session, user: User, report_id: int, photo: bytes, store: EvidenceStore, *,
                   now: dt.datetime | None = None) -> CycleStep:
    """Record that a signed-off self-evaluation is posted on the village board, with the photo of the posted
    notice (audited, committed): its ``posting_days`` (10) count from now. The photo is checked and stored like
    any evidence photo (``EvidenceStore.ingest``: refused with an ``EvidenceError`` when it is no photo)."""
    report = _locked(session, report_id)
    try:
        if report is None or report.asset_id is not None:
            raise AccessDenied(N_("This is outside your area."))
        reports.require_subject(session, user, "report.fill", report)
        spec = FORMS.get(report.form_id)
        rule = sign_rule(session, report)
        if (report.status != SIGNED_OFF or not report.current or spec is None or not spec.posting_days
                or not (rule and rule.posting_photo) or _posting(session, report.id) is not None):
            raise CycleError(MSG_NOT_POSTABLE)
        ingested = store.ingest(photo)
    except Exception:
        session.rollback()
        raise
    from bot.services.evidence import _upsert_photo

    stored = _upsert_photo(session, ingested)
    session.flush()
    now = as_utc(now or utcnow())
    until = now + dt.timedelta(days=spec.posting_days)
    row = _step(session, report, "post", user, now, until=until,
                data={"photo_id": stored.id, "sha256": stored.sha256, "on": "board"})
    audit.record(session, _actor(user), "cycle.post", "report", report.id, None,
                 {"from": now, "until": until, "days": spec.posting_days, "photo": stored.sha256})
    session.commit()
    return row


def awaiting_posting(session: Session, user: User) -> list[Report]:
    """Return the signed-off reports in the user's scope that wait for the photo of their posted notice."""
    if "report.fill" not in PERMISSIONS.get(user.role, frozenset()):
        return []
    forms = [f.form_id for f in FORMS.values() if f.posting_days]
    rows = session.exec(select(Report).join(OrgUnit, OrgUnit.id == Report.org_unit_id).where(
        scope_filter(session, user), col(Report.form_id).in_(forms), Report.status == SIGNED_OFF,
        col(Report.current).is_(True)).order_by(Report.period, Report.id)).all()
    return [r for r in rows if _posting(session, r.id) is None and (rule := sign_rule(session, r))
            and rule.posting_photo]


ANSWERED = ("resolved", "closed")


def objections(session: Session, report: Report, *, open_only: bool = True) -> list[VillagerReport]:
    """Return the villagers' reports raised from the QR pages of the village's assets during the report's posting
    (our reading: any report then counts as an objection); with ``open_only``, those not yet answered — a filed
    one until its problem is resolved or closed, a held one until the township accepts it (then as filed) or
    discards it. Folded reports count with the one they were added to."""
    posting = _posting(session, report.id)
    if posting is None or report.org_unit_id is None:
        return []
    rows = session.exec(select(VillagerReport).join(Asset, Asset.id == VillagerReport.asset_id).where(
        Asset.village_id == report.org_unit_id, VillagerReport.created_at >= posting.at,
        VillagerReport.created_at < posting.until, col(VillagerReport.status).in_(("filed", "held", "accepted")))
        .order_by(col(VillagerReport.created_at))).all()
    if not open_only:
        return list(rows)
    problem_ids = [r.problem_id for r in rows if r.problem_id]
    closed = set(session.exec(select(Problem.id).where(col(Problem.id).in_(problem_ids),
                                                       col(Problem.status).in_(ANSWERED))).all()) if problem_ids else set()
    return [r for r in rows if r.status == "held" or (r.problem_id is not None and r.problem_id not in closed)]


def held_by_objections(session: Session, user: User) -> list[tuple[Report, list[VillagerReport]]]:
    """Return the user's signed-off reports whose posting raised objections still unanswered."""
    if "report.fill" not in PERMISSIONS.get(user.role, frozenset()):
        return []
    found = []
    for item in to_report_up(session, user):
        rule = sign_rule(session, item.report)
        if rule and rule.objections_hold and (held := objections(session, item.report)):
            found.append((item.report, held))
    return found


def send_back(session: Session, user: User, report_id: int, reason: str, *,
              now: dt.datetime | None = None) -> Report:
    """The supervisor returns a report waiting for sign-off with a reason; return the reopened draft (committed).

    The report becomes ``returned`` (kept as history); its next version is a draft with the same
    answers and photos, which the village corrects and submits again for sign-off.
    """
    reason = (reason or "").strip()
    if not reason or len(reason) > reports.MAX_REASON:
        raise CycleError(reports.MSG_REASON, max=reports.MAX_REASON)
    report = _signable(session, user, report_id)
    now = as_utc(now or utcnow())
    report.status, report.current, report.review_note, report.updated_at = RETURNED, False, reason, now
    session.add(report)
    _step(session, report, "send_back", user, now, data={"reason": reason})
    session.flush()
    new = reports.reopen(session, report, reason, now, actor=_actor(user), action="cycle.send_back")
    notices.sent_back(session, new, reason, by="supervisor", actor=_actor(user), now=now)
    session.commit()
    return new


def _signable(session: Session, user: User, report_id: int) -> Report:
    """Lock and return a report waiting for ``user``'s sign-off (refusals roll back)."""
    report = _locked(session, report_id)
    spec = FORMS.get(report.form_id) if report else None
    try:
        if report is None or spec is None or spec.signed_by is None:
            raise AccessDenied(N_("This is outside your area."))
        reports.require_subject(session, user, "report.sign_off", report)
        if report.status != SUBMITTED or not report.current:
            raise CycleError(MSG_NOT_SIGNABLE, status=reports.status_label(report.status))
    except (AccessDenied, CycleError):
        session.rollback()
        raise
    return report


@dataclass(frozen=True)
class ToReport:
    """A signed-off village report the village still has to report to the township."""

    report: Report
    subject_name: str
    posted_until: dt.datetime | None  # end of its public posting, None if it is not posted

    def ready(self, now: dt.datetime) -> bool:
        return self.posted_until is None or as_utc(now) >= as_utc(self.posted_until)


def to_report_up(session: Session, user: User) -> list[ToReport]:
    """Return the signed-off reports in the user's scope that the village has yet to report up.

    Only for people who fill the village's forms (``report.fill``); the others get an empty list.
    """
    if "report.fill" not in PERMISSIONS.get(user.role, frozenset()):
        return []
    forms = [f.form_id for f in FORMS.values() if f.signed_by]
    rows = session.exec(select(Report, OrgUnit).join(OrgUnit, OrgUnit.id == Report.org_unit_id).where(
        scope_filter(session, user), col(Report.form_id).in_(forms), Report.status == SIGNED_OFF,
        col(Report.current).is_(True)).order_by(Report.period, Report.id)).all()
    out = []
    for report, unit in rows:
        posting = _posting(session, report.id)
        if posting is None and FORMS[report.form_id].posting_days:
            continue  # waits for the photo of its posted notice (``awaiting_posting``)
        out.append(ToReport(report, unit.name, as_utc(posting.until) if posting else None))
    return out


def _posting(session: Session, report_id: int) -> CycleStep | None:
    return session.exec(select(CycleStep).where(CycleStep.report_id == report_id, CycleStep.step == "post")).first()


def report_up(session: Session, user: User, report_id: int, *, now: dt.datetime | None = None) -> Report:
    """Report a signed-off year-end self-evaluation to the township once its posting is over (audited)."""
    report = _locked(session, report_id)
    try:
        if report is None or report.asset_id is not None:
            raise AccessDenied(N_("This is outside your area."))
        reports.require_subject(session, user, "report.fill", report)
        if report.status in (SUBMITTED, reports.DRAFT):
            raise CycleError(MSG_NOT_SIGNED)
        if report.status != SIGNED_OFF or not report.current:
            raise CycleError(MSG_DONE_ALREADY)
        now = as_utc(now or utcnow())
        posting = _posting(session, report.id)
        spec = FORMS[report.form_id]
        rule = sign_rule(session, report)
        if posting is None and spec.posting_days:
            raise CycleError(MSG_NO_PHOTO, days=spec.posting_days)
        if posting is not None and now < as_utc(posting.until):
            raise CycleError(MSG_POSTING, until=as_utc(posting.until).date().isoformat())
        if rule is not None and rule.objections_hold and (held := objections(session, report)):
            raise CycleError(MSG_HELD, count=len(held))
    except (AccessDenied, CycleError):
        session.rollback()
        raise
    report.status, report.updated_at = REPORTED, now
    session.add(report)
    _step(session, report, "report_up", user, now)
    audit.record(session, _actor(user), "cycle.report_up", "report", report.id, {"status": SIGNED_OFF},
                 {"status": REPORTED})
    record_duty(session, report.org_unit_id, FORMS[report.form_id].item, report.period, user, now, "sign_off")
    session.commit()
    return report


def masked_on_posting(report: Report) -> list[pii.Finding]:
    """Return the personal numbers the public page will mask when this report is posted (none if the form
    is not posted): shown to the author and to the supervisor before the sign-off posts it."""
    spec = FORMS.get(report.form_id)
    if spec is None or not spec.posting_days:
        return []
    return [f for key in POSTED_TEXT_KEYS for f in pii.find(str((report.answers or {}).get(key) or ""))]


def posting_warning(report: Report, locale: str | None) -> str | None:
    """Return the translated warning listing what will be masked when ``report`` is posted, or None."""
    found = masked_on_posting(report)
    return translate(locale, MSG_WILL_MASK, items=pii.describe(found, locale)) if found else None


def posted_evaluation(session: Session, asset: Asset, now: dt.datetime | None = None) -> PostedEvaluation | None:
    """Return the year-end self-evaluation of the asset's village if it is posted publicly at ``now``.

    For the QR page (``bot.services.public``): shown from the sign-off for exactly the posting days.
    """
    now = as_utc(now or utcnow())
    row = session.exec(select(CycleStep, Report).join(Report, Report.id == CycleStep.report_id).where(
        CycleStep.org_unit_id == asset.village_id, CycleStep.form_id == YEAREND, CycleStep.step == "post")
        .order_by(col(CycleStep.at).desc())).first()
    if row is None:
        return None
    step, report = row
    if not as_utc(step.at) <= now < as_utc(step.until):
        return None
    form = load_form(report.form_id, report.form_version)
    choice = report.answers.get("targets_met")
    label = next((o.label for o in form.question("targets_met").options if o.key == choice), "")
    village = session.get(OrgUnit, asset.village_id)
    return PostedEvaluation(village.name, report.period, as_utc(step.at), as_utc(step.until),
                            translate("zh_CN", label) if label else "", report.answers.get("self_score"),
                            str(report.answers.get("summary") or ""))


def review(session: Session, user: User | None, village_id: int, year: int,
           evaluations: Mapping[int, Mapping[str, Any]], *, now: dt.datetime | None = None) -> CycleStep:
    """Score a village's reported year-end self-evaluation for the township (audited, committed).

    Each active public-welfare or operating asset of the village is scored on the seed 004 year-end
    rubric of its type with the facts the registry holds (``bot.services.assessment``) and the
    township's evaluation of it (``evaluations[asset_id]``: the facts-file mapping of judgments and
    facts); the village's score is their mean, to two places. The township's review form for the
    village must be submitted first. ``user`` None: the command line, as the system.
    """
    village = _unit_for(session, user, "report.review", village_id, "village")
    period = f"{year:04d}"
    evaluation = _current(session, YEAREND, "village", village.id, period)
    if evaluation is None or evaluation.status != REPORTED:
        raise CycleError(MSG_NOT_REPORTED, village=village.name)
    review_form = _current(session, TOWNSHIP_REVIEW, "village", village.id, period)
    if review_form is None or review_form.status == reports.DRAFT:
        raise CycleError(MSG_NO_REVIEW_FORM, village=village.name)
    assets = session.exec(select(Asset).where(Asset.village_id == village.id, Asset.status == "active",
                                              col(Asset.asset_type).in_(reports.CHECKED_TYPES))
                           .order_by(Asset.id)).all()
    totals: dict[str, str] = {}
    for asset in assets:
        if asset.id not in evaluations:
            raise CycleError(MSG_NO_EVALUATION, asset=asset.name)
        try:
            sheet = score_asset(session, asset.id, year=year, evaluation=evaluations[asset.id], user=user).sheet
        except ScoringInputError as exc:
            raise CycleError(MSG_BAD_EVALUATION, asset=asset.name,
                             reason=translate("zh_CN", exc.msgid, **exc.params)) from None
        totals[str(asset.id)] = str(round_half_up(sheet.total, 2))
    score = round_half_up(sum((Decimal(t) for t in totals.values()), Decimal(0)) / max(len(totals), 1), 2)
    now = as_utc(now or utcnow())
    evaluation = _locked(session, evaluation.id)
    if evaluation.status != REPORTED:
        session.rollback()
        raise CycleError(MSG_DONE_ALREADY)
    evaluation.status, evaluation.updated_at = APPROVED, now
    session.add(evaluation)
    row = _step(session, evaluation, "review", user, now,
                data={"score": str(score), "assets": totals, "review_report_id": review_form.id})
    audit.record(session, _actor(user), "cycle.review", "org_unit", village.id, {"status": REPORTED},
                 {"status": APPROVED, "period": period, "score": score, "assets": totals})
    session.flush()
    villages = session.exec(select(OrgUnit.id).where(OrgUnit.parent_id == village.parent_id,
                                                     OrgUnit.level == "village")).all()
    if set(village_scores(session, session.get(OrgUnit, village.parent_id), period)) >= set(villages):
        record_duty(session, village.parent_id, FORMS[TOWNSHIP_REVIEW].item, period, user, now, "review")
    session.commit()
    return row


def village_scores(session: Session, township: OrgUnit, period: str) -> dict[int, Decimal]:
    """Return the township's review score of each of its reviewed villages for a year."""
    rows = session.exec(select(CycleStep).join(OrgUnit, OrgUnit.id == CycleStep.org_unit_id).where(
        OrgUnit.parent_id == township.id, CycleStep.form_id == YEAREND, CycleStep.period == period,
        CycleStep.step == "review")).all()
    return {r.org_unit_id: Decimal(r.data["score"]) for r in rows}


def grade(session: Session, user: User | None, township_id: int, year: int, *,
          now: dt.datetime | None = None) -> CycleStep:
    """Grade a township for the year on the seed 004 bands (audited, committed).

    Its score is the mean of the township's review scores of its villages; the grade is 好 (≥ 90),
    较好 (≥ 80), 一般 (≥ 70) or 较差.
    """
    township = _unit_for(session, user, "grade.set", township_id, "township")
    period = f"{year:04d}"
    scores = village_scores(session, township, period)
    if not scores:
        raise CycleError(MSG_NOTHING_TO_GRADE, township=township.name, year=year)
    existing = session.exec(select(CycleStep).where(CycleStep.org_unit_id == township.id, CycleStep.period == period,
                                                    CycleStep.step == "grade")).first()
    if existing is not None:
        raise CycleError(MSG_DONE_ALREADY)
    score = round_half_up(sum(scores.values(), Decimal(0)) / len(scores), 2)
    band = grades_of(policies.county_profile(session, county_of(session, township)), GRADE_SCALE).grade(score)
    now = as_utc(now or utcnow())
    data = {"score": str(score), "grade": band.published, "label": band.label,
            "villages": {str(k): str(v) for k, v in scores.items()}}
    row = CycleStep(report_id=None, org_unit_id=township.id, form_id=YEAREND, period=period, step="grade", at=now,
                    by_user_id=user.id if user else None, data=data)
    session.add(row)
    audit.record(session, _actor(user), "cycle.grade", "org_unit", township.id, None, {"period": period, **data})
    session.flush()
    county = county_of(session, township)
    townships = session.exec(select(OrgUnit.id).where(OrgUnit.parent_id == county.id,
                                                      OrgUnit.level == "township")).all()
    graded = session.exec(select(CycleStep.org_unit_id).where(col(CycleStep.org_unit_id).in_(townships),
                                                              CycleStep.period == period,
                                                              CycleStep.step == "grade")).all()
    if set(graded) >= set(townships):
        record_duty(session, county.id, "county_grading", period, user, now, "grade")
    session.commit()
    return row


def steps(session: Session, user: User, report_id: int) -> list[CycleStep]:
    """Return the cycle steps of a report the user may view, in order."""
    report = session.get(Report, report_id) if isinstance(report_id, int) else None
    reports.require_subject(session, user, "report.view", report)
    return list(session.exec(select(CycleStep).where(CycleStep.report_id == report_id)
                             .order_by(col(CycleStep.at), col(CycleStep.id))).all())


# ---------------------------------------------------------------------------------------------------------
# The township's review and the county's grading, as pages and commands reach them


@dataclass(frozen=True)
class VillageReview:
    """Where a village stands in the township's year-end review."""

    village: OrgUnit
    reported: bool  # its self-evaluation is reported (after sign-off and posting)
    review_form: Report | None  # the township's review form (draft or submitted)
    score: Decimal | None  # the township's score once reviewed

    @property
    def ready(self) -> bool:
        """True when the township can score it now."""
        return (self.reported and self.score is None and self.review_form is not None
                and self.review_form.status != reports.DRAFT)


def reviews(session: Session, user: User | None, township_id: int, year: int) -> list[VillageReview]:
    """Return every village of a township with its review state for ``year``, by name."""
    township = _unit_for(session, user, "report.review", township_id, "township")
    period = f"{year:04d}"
    scores = village_scores(session, township, period)
    villages = session.exec(select(OrgUnit).where(OrgUnit.parent_id == township.id, OrgUnit.level == "village")
                            .order_by(OrgUnit.name, OrgUnit.id)).all()
    return [VillageReview(v, _reported(session, v.id, period) or v.id in scores,
                          _current(session, TOWNSHIP_REVIEW, "village", v.id, period), scores.get(v.id))
            for v in villages]


@dataclass(frozen=True)
class TownshipGrade:
    """Where a township stands in the county's grading: its reviewed villages' scores and its grade."""

    township: OrgUnit
    villages: int
    reviewed: int
    mean: Decimal | None
    grade: CycleStep | None


def gradings(session: Session, user: User | None, county_id: int, year: int) -> list[TownshipGrade]:
    """Return every township of a county with its grading state for ``year``, by name."""
    county = _unit_for(session, user, "grade.set", county_id, "county")
    period = f"{year:04d}"
    found = []
    for township in session.exec(select(OrgUnit).where(OrgUnit.parent_id == county.id, OrgUnit.level == "township")
                                 .order_by(OrgUnit.name, OrgUnit.id)).all():
        scores = village_scores(session, township, period)
        villages = len(session.exec(select(OrgUnit.id).where(OrgUnit.parent_id == township.id,
                                                             OrgUnit.level == "village")).all())
        step = session.exec(select(CycleStep).where(CycleStep.org_unit_id == township.id, CycleStep.period == period,
                                                    CycleStep.step == "grade")).first()
        mean = round_half_up(sum(scores.values(), Decimal(0)) / len(scores), 2) if scores else None
        found.append(TownshipGrade(township, villages, len(scores), mean, step))
    return found


@dataclass(frozen=True)
class SheetCheck:
    """One judged sub-item of a rubric indicator (met or not)."""

    code: str
    item_id: str
    label: str


@dataclass(frozen=True)
class SheetFact:
    """One fact a rubric rule reads (a number, or a date), and the registry's value when it holds it."""

    path: str
    label: str
    kind: str  # 'number' or 'date'
    filled: Any = None


@dataclass(frozen=True)
class ReviewSheet:
    """The township's evaluation of one asset for the year-end rubric: what it judges and what it counts."""

    asset: Asset
    rubric: str
    checks: tuple[SheetCheck, ...]
    facts: tuple[SheetFact, ...]


def _rule_facts(rule, label: str) -> list[tuple[str, str, str]]:
    """Return (path, label, kind) of the facts a rule reads."""
    found: list[tuple[str, str, str]] = []
    rate = getattr(rule, "rate", None)
    if rate is not None and hasattr(rate, "numerator"):
        found += [(rate.numerator, f"{label}: {rate.numerator}", "number"),
                  (rate.denominator, f"{label}: {rate.denominator}", "number")]
    if hasattr(rule, "numerator") and hasattr(rule, "denominator"):
        found += [(rule.numerator, f"{label}: {rule.numerator}", "number"),
                  (rule.denominator, f"{label}: {rule.denominator}", "number")]
    if hasattr(rule, "planned") and hasattr(rule, "actual"):
        found += [(rule.planned, f"{label}: {rule.planned}", "date"), (rule.actual, f"{label}: {rule.actual}", "date")]
    elif hasattr(rule, "actual"):
        found.append((rule.actual, f"{label}: {rule.actual}", "number"))
        if isinstance(getattr(rule, "limit", None), str):
            found.append((rule.limit, f"{label}: {rule.limit}", "number"))
    for part in getattr(rule, "parts", ()):
        found += _rule_facts(part.rule, label)
    return found


def _rule_checks(rule) -> list[tuple[str, str]]:
    """Return (item id, label) of a rule's checklist sub-items (also inside summed parts)."""
    found = [(i.id, getattr(i, "label", i.id)) for i in getattr(rule, "items", ()) if hasattr(i, "points")]
    for part in getattr(rule, "parts", ()):
        found += _rule_checks(part.rule)
    return found


def review_sheets(session: Session, user: User | None, village_id: int, year: int) -> list[ReviewSheet]:
    """Return the evaluation sheet of each asset ``review`` scores for the village (checked assets, by id)."""
    from bot.scoring.rubric import load_rubric
    from bot.services.assessment.facts import RUBRIC_BY_TYPE, profile_rubric, registry_facts

    village = _unit_for(session, user, "report.review", village_id, "village")
    assets = session.exec(select(Asset).where(Asset.village_id == village.id, Asset.status == "active",
                                              col(Asset.asset_type).in_(reports.CHECKED_TYPES))
                          .order_by(Asset.id)).all()
    sheets = []
    for asset in assets:
        rubric_id = profile_rubric(session, asset) or RUBRIC_BY_TYPE.get(asset.asset_type, "qinbei-2023-operating")
        rubric = load_rubric(rubric_id)
        filled = registry_facts(session, asset, year).sources
        checks, facts, seen = [], [], set()
        for _, _, third in rubric.leaves():
            label = third.published or third.label
            checks += [SheetCheck(third.code, item_id, f"{label}: {item_label}")
                       for item_id, item_label in _rule_checks(third.rule)]
            for path, fact_label, kind in _rule_facts(third.rule, label):
                if path not in seen:
                    seen.add(path)
                    facts.append(SheetFact(path, fact_label, kind, filled[path][0] if path in filled else None))
        sheets.append(ReviewSheet(asset, rubric_id, tuple(checks), tuple(facts)))
    return sheets


def evaluations_from_form(sheets: list[ReviewSheet], form: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """Turn a review page's fields into ``review``'s evaluations: ``j:<asset>:<code>:<item>`` present means met,
    ``f:<asset>:<path>`` is a fact (the registry's facts are left to the registry)."""
    found: dict[int, dict[str, Any]] = {}
    for sheet in sheets:
        judgments: dict[str, dict[str, str]] = {}
        for check in sheet.checks:
            met = form.get(f"j:{sheet.asset.id}:{check.code}:{check.item_id}") not in (None, "", "0")
            judgments.setdefault(check.code, {})[str(check.item_id)] = "met" if met else "not_met"
        facts: dict[str, Any] = {}
        for fact in sheet.facts:
            if fact.filled is not None:
                continue
            value = str(form.get(f"f:{sheet.asset.id}:{fact.path}") or "").strip()
            if not value:
                continue
            node = facts
            *parents, leaf = fact.path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value if fact.kind == "date" else _number(value)
        found[sheet.asset.id] = {"rubric": sheet.rubric, "judgments": judgments, "facts": facts}
    return found


def _number(value: str) -> Any:
    try:
        number = Decimal(value)
    except ArithmeticError:
        return value  # the scorer refuses it with the field's name
    return int(number) if number == number.to_integral_value() else float(number)
