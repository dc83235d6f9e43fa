"""The township's review of monthly reports: approve, or send back with a reason.

A report sent back is never edited in place: its row is kept (status ``returned``, the reason in
``review_note``, ``current`` cleared) and a new version of the same report (same asset, form and
period, ``version + 1``) is opened as a draft prefilled with the old answers and photos. The cadre
corrects it through the usual draft functions (``bot.services.reports``) and submits it again;
``history`` shows every version. Both steps are in the audit log with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.i18n import N_, UserError, translate
from bot.services import audit, notices, reports
from bot.services.access import AccessDenied, require, require_asset, scope_filter
from bot.storage.models import Asset, OrgUnit, Report, User

SUBMITTED, APPROVED, RETURNED, DRAFT = "submitted", "approved", "returned", "draft"
MAX_REASON, MSG_REASON = reports.MAX_REASON, reports.MSG_REASON  # one rule for every send-back

MSG_NOT_REVIEWABLE = N_("Only a submitted report can be reviewed; this one is {status}.")


class ReviewError(UserError):
    """A review action refused for a reason the user can understand."""


@dataclass
class ReviewItem:
    """A report to review, with its asset and village."""

    report: Report
    asset: Asset
    village: OrgUnit


def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}:{user.name}")


def to_review(session: Session, user: User, period: str, *, include_reviewed: bool = False) -> list[ReviewItem]:
    """Return the period's current reports in the user's area awaiting review (or all, if asked)."""
    require(session, user, "report.review")
    statuses = [SUBMITTED, APPROVED] if include_reviewed else [SUBMITTED]
    rows = session.exec(
        select(Report, Asset, OrgUnit).join(Asset, Asset.id == Report.asset_id)
        .join(OrgUnit, OrgUnit.id == Asset.village_id)
        .where(scope_filter(session, user), Report.period == period, col(Report.current).is_(True),
               col(Report.status).in_(statuses))
        .order_by(OrgUnit.name, Asset.name)).all()
    return [ReviewItem(r, a, v) for r, a, v in rows]


def _reviewable(session: Session, user: User, report_id: int) -> Report:
    report = session.exec(select(Report).where(Report.id == report_id).with_for_update()).first() \
        if isinstance(report_id, int) else None
    # Unknown and foreign reports get the same refusal.
    require_asset(session, user, "report.review", report.asset_id if report else -1)
    if report.status != SUBMITTED or not report.current:
        raise ReviewError(MSG_NOT_REVIEWABLE, status=reports.status_label(report.status))
    return report


def approve(session: Session, user: User, report_id: int, note: str | None = None, *,
            now: dt.datetime | None = None) -> Report:
    """Approve a submitted report (audited) and commit."""
    report = _reviewable(session, user, report_id)
    now = now or utcnow()
    claimed = session.execute(update(Report).where(Report.id == report.id, Report.status == SUBMITTED)
                              .values(status=APPROVED, review_note=note, updated_at=now)).rowcount
    if claimed != 1:
        session.rollback()
        raise ReviewError(MSG_NOT_REVIEWABLE, status=reports.status_label(session.get(Report, report_id).status))
    audit.record(session, _actor(user), "report.approve", "report", report.id, {"status": SUBMITTED},
                 {"status": APPROVED, "note": note})
    session.commit()
    session.refresh(report)
    return report


def send_back(session: Session, user: User, report_id: int, reason: str, *,
              now: dt.datetime | None = None) -> Report:
    """Return a submitted report with a reason; open and return its next version, prefilled (committed)."""
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise ReviewError(MSG_REASON, max=MAX_REASON)
    old = _reviewable(session, user, report_id)
    now = now or utcnow()
    claimed = session.execute(update(Report).where(Report.id == old.id, Report.status == SUBMITTED)
                              .values(status=RETURNED, current=False, review_note=reason, updated_at=now)).rowcount
    if claimed != 1:
        session.rollback()
        raise ReviewError(MSG_NOT_REVIEWABLE, status=reports.status_label(session.get(Report, report_id).status))
    session.refresh(old)
    new = reports.reopen(session, old, reason, now, actor=_actor(user), action="report.send_back")
    notices.sent_back(session, new, reason, by="township", actor=_actor(user), now=now)
    session.commit()
    return new


def history(session: Session, user: User, asset_id: int, period: str) -> list[Report]:
    """Return every version of an asset's report for a period, oldest first."""
    require_asset(session, user, "report.view", asset_id)
    return list(session.exec(select(Report).where(Report.asset_id == asset_id, Report.period == period)
                             .order_by(col(Report.form_id), col(Report.version))).all())


def flag_text(locale: str, flag: dict) -> str:
    """A report flag for people: a photo's doubt (reused, old, far) or a risk the answers raised."""
    if flag.get("question_key"):
        from bot.services.evidence import flag_label

        return flag_label(locale, flag)
    params = {k: "" if v is None else v for k, v in (flag.get("params") or {}).items()}
    message = flag.get("msgid")
    return translate(locale, message, **params) if message else str(flag.get("kind", ""))


def submitter(session: Session, report: Report) -> User | None:
    """Return who submitted (or started) a report, to tell them of the review."""
    user_id = report.submitted_by or report.created_by
    return session.get(User, user_id) if user_id else None


__all__ = ["AccessDenied", "ReviewError", "ReviewItem", "approve", "flag_text", "history", "send_back",
           "submitter", "to_review"]
