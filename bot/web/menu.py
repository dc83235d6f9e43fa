"""Each role's home page (``/home``): a menu of every page that role may use, grouped by kind of work.

Pages register themselves here with ``add`` (one line beside their route), gated by an action of
``bot.services.access.PERMISSIONS`` or by a list of roles; the home page shows a signed-in person the
entries their role allows, and the header of every signed-in page links back to it. A crawler test
(tests/web/test_crawl.py) starts here and must reach every page a role may use by links alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request

from bot.config import Settings
from bot.i18n import N_
from bot.services.access import PERMISSIONS
from bot.storage.models import User
from bot.web.common import render, require_user, web

router = APIRouter(tags=["home"])

# Sections, in the order the home page shows them.
WORK, AREA, OFFICE, ME = N_("Today's work"), N_("My area"), N_("Office"), N_("My account")
SECTIONS = (WORK, AREA, OFFICE, ME)


@dataclass(frozen=True)
class Entry:
    """One menu entry: ``path`` (may hold ``{unit}``, the user's own unit id), its label and hint (msgids)."""

    path: str
    label: str
    section: str = WORK
    hint: str = ""
    action: str | None = None
    roles: frozenset[str] | None = None
    order: int = 100
    needs_unit: bool = False  # a page of one's own unit: not for an administrator over the whole installation

    def allowed(self, user: User) -> bool:
        if self.roles is not None and user.role not in self.roles:
            return False
        if self.needs_unit and user.org_unit_id is None:
            return False
        return self.action is None or self.action in PERMISSIONS.get(user.role, frozenset())

    def href(self, user: User) -> str | None:
        if "{unit}" in self.path:
            if user.org_unit_id is None:
                return None
            return self.path.replace("{unit}", str(user.org_unit_id))
        return self.path


ENTRIES: list[Entry] = []


def add(path: str, label: str, *, section: str = WORK, hint: str = "", action: str | None = None,
        roles: tuple[str, ...] | frozenset[str] | None = None, order: int = 100, needs_unit: bool = False) -> Entry:
    """Register a page in the home menu of every role that may use it (idempotent per path and label)."""
    entry = Entry(path, label, section, hint, action, frozenset(roles) if roles is not None else None, order,
                  needs_unit)
    if not any(e.path == path and e.label == label for e in ENTRIES):
        ENTRIES.append(entry)
    return entry


def for_user(user: User) -> list[tuple[str, list[tuple[Entry, str]]]]:
    """Return the sections of ``user``'s home, each with its (entry, address) pairs, in order."""
    chosen = [(e, href) for e in sorted(ENTRIES, key=lambda e: e.order)
              if e.allowed(user) and (href := e.href(user)) is not None]
    return [(section, [pair for pair in chosen if pair[0].section == section]) for section in SECTIONS
            if any(pair[0].section == section for pair in chosen)]


CADRES = ("village_cadre", "village_supervisor")
OFFICERS = ("township_leader", "department_officer", "county_officer", "admin")

# The pages that existed before the menu; new pages register beside their routes.
add("/f", N_("This month's checks"), hint=N_("The checklist of each asset, and the forms due"), roles=CADRES,
    order=10)
# 000 四(二)1 "相关责任单位或乡镇": a department files the quarterly forms of its industries' projects (issue 16).
add("/f", N_("Quarterly forms due"), hint=N_("The quarterly monitoring and benefit forms of my department's projects"),
    roles=("department_officer",), order=15)
add("/review", N_("Reports to review"), hint=N_("Approve or send back the villages' reports"),
    action="report.review", order=20)
add("/problems", N_("Problems"), hint=N_("Problems found by checks and villagers, and what is done about them"),
    action="problem.view", roles=OFFICERS, order=30)
add("/duties", N_("My duties"), hint=N_("What the policy asks of my office, and recording it as done"),
    roles=OFFICERS, order=40, needs_unit=True)
# A township reviews its villages and a county grades its townships: an admin, outside any unit, does neither.
add("/duties/review", N_("Year-end review of villages"), action="report.review", roles=("township_leader",), order=45,
    needs_unit=True)
add("/duties/grade", N_("Year-end grading of townships"), action="grade.set", roles=("county_officer",), order=46,
    needs_unit=True)
add("/oversight/{unit}", N_("Dashboard"), section=AREA, hint=N_("Reports, problems and scores of my area"),
    roles=OFFICERS, order=10)
add("/oversight", N_("Dashboard"), section=AREA, hint=N_("Reports, problems and scores by county"),
    roles=("admin",), order=11)
add("/people/waiting", N_("People who have not joined"), section=AREA, action="user.reinvite", order=30)
add("/villager-reports", N_("Villager reports on hold"), section=AREA, action="problem.handle", order=40)
add("/me/sessions", N_("My sign-ins"), section=ME, hint=N_("The phones and browsers signed in as me"), order=90)


@router.get("/home", include_in_schema=False)
def home(request: Request):
    """The signed-in person's home: their name, role and area, and the menu of their work."""
    with web(request).session() as session:
        user = require_user(request, session)
        from bot.services import reach
        from bot.storage.models import OrgUnit

        unit = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None
        return render(request, "home.html", user=user, unit=unit, sections=for_user(user),
                      role_label=reach.ROLE_LABELS.get(user.role, user.role))


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add the home page."""
    app.include_router(router)
