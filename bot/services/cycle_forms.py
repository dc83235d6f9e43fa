"""The forms of the calendars (seed 004's yearly cycle, the township's inspections and quarterly forms):
what each is about, who fills and who signs it, and the duty a submission completes.

A leaf below ``bot.services.reports`` and ``bot.services.cycle``: ``reports.submit`` calls
``after_submit`` and ``bot.services.notices`` asks ``needs_sign_off`` / ``supervisors_of`` without
importing the cycle, which builds on both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.services import duties
from bot.services.orgs import county_of
from bot.storage.models import Asset, OrgUnit, Report, User

SUBMITTED = "submitted"
YEAREND, TOWNSHIP_REVIEW = "yearend-self-evaluation", "township-review"


@dataclass(frozen=True)
class CycleForm:
    """A form of the calendars: its profile item, what it is about, who fills and signs it."""

    form_id: str
    item: str
    subject: str  # 'asset' or 'village'
    role: str
    open_days: int  # it may be filled from this many days before it is due
    signed_by: str | None = None
    posting_days: int = 0
    asset_types: tuple[str, ...] = ()
    also_by: tuple[str, ...] = ()  # other roles that may fill it (it still counts for ``role``'s unit)


FORMS: dict[str, CycleForm] = {f.form_id: f for f in (
    CycleForm("annual-targets", "department_targets", "village", "department_officer", 31),
    CycleForm("midyear-self-check", "midyear_self_check", "village", "village_cadre", 30,
              signed_by="village_supervisor"),
    CycleForm(YEAREND, "village_self_evaluation", "village", "village_cadre", 45,
              signed_by="village_supervisor", posting_days=10),
    CycleForm(TOWNSHIP_REVIEW, "township_review", "village", "township_leader", 30),
    CycleForm("township-inspection", "township_inspection", "asset", "township_leader", 92,
              asset_types=("经营性", "公益性")),
    # 000 四(二)1, 四(三)1: "相关责任单位或乡镇" — the township, or the department responsible for the project.
    CycleForm("quarterly-monitoring", "quarterly_monitoring", "asset", "township_leader", 15,
              asset_types=("经营性",), also_by=("department_officer",)),
    CycleForm("benefit-self-evaluation", "benefit_self_evaluation", "asset", "township_leader", 15,
              asset_types=("经营性",), also_by=("department_officer",)),
)}


def record_duty(session: Session, unit_id: int, item: str, period: str, user: User | None, at: dt.datetime,
                 by: str = "form") -> None:
    """Mark a calendar duty done for its responsible unit (``duties.mark_done``), once, so reminders stop."""
    duties.mark_done(session, unit_id, item, period, user, at, by)


def all_submitted(session: Session, form_id: str, period: str, subject: str, ids: list[int]) -> bool:
    column = Report.asset_id if subject == "asset" else Report.org_unit_id
    done = set(session.exec(select(column).where(col(column).in_(ids), Report.form_id == form_id,
                                                 Report.period == period, col(Report.current).is_(True),
                                                 col(Report.submitted_at).is_not(None))).all())
    return done >= set(ids)


def after_submit(session: Session, user: User, report: Report, now: dt.datetime) -> None:
    """Record the duty a submission completes (called by ``reports.submit`` in its transaction).

    A township's inspection duty is done at its first inspection of the quarter; its quarterly
    monitoring and benefit duties once every operating asset has its form; the departments' targets
    once every village of the county has them. Signed forms are done later (``sign_off``, ``report_up``).
    """
    spec = FORMS.get(report.form_id)
    if spec is None or spec.signed_by:
        return
    session.flush()
    if spec.subject == "asset":
        village = session.get(OrgUnit, session.get(Asset, report.asset_id).village_id)
        township = session.get(OrgUnit, village.parent_id)
        if spec.form_id != "township-inspection":
            assets = session.exec(select(Asset.id).join(OrgUnit, Asset.village_id == OrgUnit.id).where(
                OrgUnit.parent_id == township.id, Asset.status == "active",
                col(Asset.asset_type).in_(spec.asset_types))).all()
            if not all_submitted(session, spec.form_id, report.period, "asset", list(assets)):
                return
        record_duty(session, township.id, spec.item, report.period, user, now)
    elif spec.form_id == "annual-targets":
        county = county_of(session, session.get(OrgUnit, report.org_unit_id))
        villages = session.exec(select(OrgUnit.id).where(col(OrgUnit.path).startswith(county.path),
                                                         OrgUnit.level == "village")).all()
        if all_submitted(session, spec.form_id, report.period, "village", list(villages)):
            record_duty(session, county.id, spec.item, report.period, user, now)


def supervisors_of(session: Session, report: Report) -> list[User]:
    """Return the active village supervisors who sign the report off (its village's)."""
    spec = FORMS.get(report.form_id)
    if spec is None or spec.signed_by is None or report.org_unit_id is None:
        return []
    return list(session.exec(select(User).where(User.org_unit_id == report.org_unit_id,
                                                User.role == spec.signed_by,
                                                col(User.active).is_(True)).order_by(User.id)).all())


def needs_sign_off(report: Report) -> bool:
    """Whether a submitted report waits for a supervisor's sign-off before it goes up."""
    spec = FORMS.get(report.form_id)
    return bool(spec and spec.signed_by and report.status == SUBMITTED)
