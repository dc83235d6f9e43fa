"""Industry departments (行业主管部门): which industry categories a department officer answers for.

Seed 002 第七条: "行业主管部门履行行业监管职责…对乡（镇）上报的问题及时组织研究解决"; 第六条: the township
reports "及涉及的行业主管部门". A department officer is scoped to the county; the categories given here
(``Asset.industry_category``, 000 附件1 填报说明1) say which assets' problems reach them
(``bot.services.problems.route_new``). Setting them is the county office's (``user.invite``), audited.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.i18n import N_, UserError
from bot.services import audit
from bot.services.access import require
from bot.storage.models import INDUSTRY_CATEGORIES, OrgUnit, User
from bot.storage.models_fidelity import DepartmentCategory


class DepartmentError(UserError, ValueError):
    """A refused change, with a translatable message."""


def categories_of(session: Session, user_id: int) -> list[str]:
    """Return the industry categories of a department officer, in the ledger's order."""
    found = set(session.exec(select(DepartmentCategory.category).where(DepartmentCategory.user_id == user_id)).all())
    return [c for c in INDUSTRY_CATEGORIES if c in found]


def set_categories(session: Session, actor: User | None, officer_id: int, categories: list[str]) -> list[str]:
    """Replace a department officer's categories (the caller commits); ``actor`` None is the command line."""
    officer = session.get(User, officer_id) if isinstance(officer_id, int) else None
    if officer is None or officer.role != "department_officer":
        raise DepartmentError(N_("User {id} is not a department officer."), id=officer_id)
    if actor is not None:
        require(session, actor, "user.invite", session.get(OrgUnit, officer.org_unit_id))
    unknown = [c for c in categories if c not in INDUSTRY_CATEGORIES]
    if unknown:
        raise DepartmentError(N_("Unknown industry category {value}: use one of {choices}."),
                              value=unknown[0], choices="、".join(INDUSTRY_CATEGORIES))
    before = categories_of(session, officer.id)
    wanted = [c for c in INDUSTRY_CATEGORIES if c in set(categories)]
    for row in session.exec(select(DepartmentCategory).where(DepartmentCategory.user_id == officer.id)).all():
        if row.category not in wanted:
            session.delete(row)
    for category in wanted:
        if category not in before:
            session.add(DepartmentCategory(user_id=officer.id, category=category))
    who = audit.Actor(actor.id, f"user:{actor.id}") if actor is not None else audit.Actor(None, "cli")
    audit.record(session, who, "department.categories", "app_user", officer.id, {"categories": before},
                 {"categories": wanted})
    session.flush()
    return wanted


def officers_for(session: Session, county: OrgUnit, category: str | None) -> list[User]:
    """Return the active department officers of ``county`` whose department supervises ``category``."""
    if not category:
        return []
    return list(session.exec(
        select(User).join(DepartmentCategory, DepartmentCategory.user_id == User.id)
        .where(User.role == "department_officer", col(User.active).is_(True), User.org_unit_id == county.id,
               DepartmentCategory.category == category).order_by(User.id)).all())
