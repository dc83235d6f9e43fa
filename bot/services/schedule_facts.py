"""Read a county's profile and plain facts (org tree, recipients, what is done, serious problems)
from the database, and plan its messages for a time window.

Scope codes are the units' administrative codes (``#<id>`` for a unit without one); the county's
departments share one synthetic scope ``<county code>/dept``. What counts as done:

what ``bot.services.duties`` says (the one definition): the village monthly report when every
active asset of the types the profile item covers has a current submitted or approved report for the
month (a village without such assets has nothing to report); any other duty when a ``DutyRecord``
of the responsible unit for the period exists (a village's yearly inventory without an asset of the year to
count is done from the start).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.clock import UTC
from bot.i18n import N_
from bot.policy.calendar import Occurrence, occurrences
from bot.policy.facts import NO_CHANNEL, Facts, Recipient, Scope, SeriousProblem, Submission
from bot.policy.messages import PlannedMessage
from bot.policy.planner import plan
from bot.policy.profile import ROLE_LEVEL, Profile
from bot.services import duties, reach
from bot.services.cycle_forms import FORMS
from bot.services.policies import county_profile
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, TelegramIdentity, User
from bot.storage.models_schedule import ChannelRoute
from bot.storage.models_wecom import WeComIdentity

MONTHLY_REPORT = "village_monthly_report"
EPOCH = dt.datetime(2000, 1, 1, tzinfo=UTC)
DEPARTMENTS = N_("Industry departments")


def scope_code(unit: OrgUnit | Unit) -> str:
    """Return the planner's code of a unit."""
    return unit.code or f"#{unit.id}"


def department_code(county: OrgUnit) -> str:
    """Return the synthetic scope code of a county's industry departments."""
    return f"{scope_code(county)}/dept"


def counties_with_profile(session: Session) -> list[OrgUnit]:
    """Return the counties that have chosen a policy profile, by id."""
    return list(session.exec(select(OrgUnit).where(OrgUnit.level == "county", OrgUnit.policy_profile.is_not(None))
                             .order_by(OrgUnit.id)).all())


@dataclass
class CountyView:
    """One county with its profile, zone and units (code → unit; the departments map to the county)."""

    county: OrgUnit
    profile: Profile
    units: dict[str, Unit] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.profile.timezone)

    def lookback(self) -> dt.timedelta:
        """Return how long after its due time an occurrence can still cause a message."""
        esc = self.profile.escalation
        return esc.first_after + esc.wait * (len(esc.chain) + esc.max_repeats) + dt.timedelta(days=14)

    def lookahead(self) -> dt.timedelta:
        """Return how long before its due time an occurrence can already cause a message."""
        posting = max((i.posting_days or 0 for i in self.profile.items), default=0)
        return dt.timedelta(days=max(self.profile.reminders.offsets_days, default=0) + posting + 3)

    def occurrences(self, since: dt.datetime, until: dt.datetime) -> list[Occurrence]:
        """Return the occurrences that can cause a message in (since, until]."""
        return occurrences(self.profile, self.tz, since - self.lookback(), until + self.lookahead())


@dataclass(frozen=True)
class Unit:
    """The columns of an OrgUnit the planner needs (loaded without the ORM, for large counties)."""

    id: int
    level: str
    name: str
    code: str | None
    parent_id: int | None
    path: str


def county_view(session: Session, county: OrgUnit) -> CountyView:
    """Return the county with its loaded profile and units."""
    view = CountyView(county=county, profile=county_profile(session, county))
    rows = session.exec(select(OrgUnit.id, OrgUnit.level, OrgUnit.name, OrgUnit.code, OrgUnit.parent_id,
                               OrgUnit.path).where(OrgUnit.path.like(county.path + "%"))).all()
    for row in rows:
        unit = Unit(*row)
        view.units[scope_code(unit)] = unit
    view.units[department_code(county)] = view.units[scope_code(county)]
    return view


def load_facts(session: Session, view: CountyView, occs: list[Occurrence], since: dt.datetime) -> Facts:
    """Return the planner's facts for ``view`` covering the given occurrences."""
    county = view.county
    by_id = {u.id: u for u in view.units.values()}
    scopes = [Scope(department_code(county), "department", DEPARTMENTS, scope_code(county))]
    for unit in by_id.values():
        parent = by_id.get(unit.parent_id)
        scopes.append(Scope(scope_code(unit), unit.level, unit.name, scope_code(parent) if parent else None))
    return Facts(scopes=tuple(scopes), recipients=tuple(_recipients(session, view, by_id)),
                 submissions=tuple(_submissions(session, view, by_id, occs)),
                 problems=tuple(_problems(session, view, by_id, since)),
                 postings=tuple(_postings(session, view, by_id, occs)))


def _in_county(view: CountyView, level: str | None = None):
    """Return a subquery of the ids of the county's units (of one level)."""
    query = select(OrgUnit.id).where(OrgUnit.path.like(view.county.path + "%"))
    return query.where(OrgUnit.level == level) if level else query


def _recipients(session: Session, view: CountyView, by_id: dict[int, Unit]) -> list[Recipient]:
    users = session.exec(
        select(User.id, User.name, User.role, User.org_unit_id, User.locale)
        .join(TelegramIdentity, TelegramIdentity.user_id == User.id)
        .where(User.active.is_(True), TelegramIdentity.reachable.is_(True), User.role.in_(list(ROLE_LEVEL)),
               User.org_unit_id.in_(_in_county(view)))).all()
    found, seen = [], set()
    for user_id, name, role, unit_id, locale in users:
        if user_id in seen:
            continue
        seen.add(user_id)
        scope = department_code(view.county) if role == "department_officer" else scope_code(by_id[unit_id])
        found.append(Recipient(f"u{user_id}", name, role, scope, "telegram", locale))
    found += _wecom_members(session, view, by_id)
    found += _not_joined(session, view, by_id)
    routes = session.exec(select(ChannelRoute).where(ChannelRoute.org_unit_id.in_(_in_county(view, "township")),
                                                     ChannelRoute.reachable.is_(True))).all()
    for route in routes:
        found.append(Recipient(f"r{route.id}", route.name, "township_leader", scope_code(by_id[route.org_unit_id]),
                               route.kind, "zh_CN"))
    return found


def _wecom_members(session: Session, view: CountyView, by_id: dict[int, Unit]) -> list[Recipient]:
    """Return the active people with a reachable WeCom app route (channel ``wecom_app``)."""
    users = session.exec(
        select(User.id, User.name, User.role, User.org_unit_id, User.locale)
        .join(WeComIdentity, WeComIdentity.user_id == User.id)
        .where(User.active.is_(True), WeComIdentity.reachable.is_(True), User.role.in_(list(ROLE_LEVEL)),
               User.org_unit_id.in_(_in_county(view))).order_by(User.id)).all()
    found = []
    for user_id, name, role, unit_id, locale in users:
        scope = department_code(view.county) if role == "department_officer" else scope_code(by_id[unit_id])
        found.append(Recipient(f"u{user_id}", name, role, scope, "wecom_app", locale))
    return found


def _not_joined(session: Session, view: CountyView, by_id: dict[int, Unit]) -> list[Recipient]:
    """Return the people who have not joined (``reach.waiting``): messages are planned for them with the
    channel ``none`` — shown by the preview and named in the digests, never sent."""
    users = session.exec(
        select(User.id, User.name, User.role, User.org_unit_id, User.locale)
        .where(reach.waiting(), User.org_unit_id.in_(_in_county(view))).order_by(User.id)).all()
    found = []
    for user_id, name, role, unit_id, locale in users:
        scope = department_code(view.county) if role == "department_officer" else scope_code(by_id[unit_id])
        found.append(Recipient(f"u{user_id}", name, role, scope, NO_CHANNEL, locale))
    return found


def _submissions(session: Session, view: CountyView, by_id: dict[int, Unit],
                 occs: list[Occurrence]) -> list[Submission]:
    """Return what is done, as the duty service (``bot.services.duties``) defines it."""
    found: list[Submission] = []
    monthly = sorted({o.period for o in occs if o.item == MONTHLY_REPORT})
    if monthly:
        found += _monthly_reports(session, view, by_id, monthly)
    others = sorted({o.item for o in occs if o.item != MONTHLY_REPORT})
    if others:
        levels = {o.item: o.level for o in occs}
        for (unit_id, item, period), done in duties.recorded(session, _in_county(view), others).items():
            unit = by_id[unit_id]
            code = department_code(view.county) if levels[item] == "department" else scope_code(unit)
            found.append(Submission(item, period, code, done.at))
        found += _nothing_to_count(session, view, by_id, occs)
    return found


def _nothing_to_count(session: Session, view: CountyView, by_id: dict[int, Unit],
                      occs: list[Occurrence]) -> list[Submission]:
    """A village's yearly inventory (``done_by: inventory``) with no asset of the year to count is done from the
    start (EPOCH), as ``duties.states`` calls it not applicable."""
    found: list[Submission] = []
    for item in duties.inventory_items(view.profile):
        years = sorted({o.period for o in occs if o.item == item.kind})
        if not years:
            continue
        expected = duties.inventory_expected(session, _in_county(view, "village"), years, item.covers, view.tz)
        found += [Submission(item.kind, year, scope_code(unit), EPOCH) for year in years
                  for vid, unit in by_id.items() if unit.level == "village" and (vid, year) not in expected]
    return found


def _monthly_reports(session: Session, view: CountyView, by_id: dict[int, Unit],
                     periods: list[str]) -> list[Submission]:
    """Per village and month: done when every covered asset has a done report (``duties.monthly_done``);
    a village with nothing to report is done from the start (EPOCH)."""
    types = view.profile.item(MONTHLY_REPORT).covers
    done, expected = duties.monthly_done(session, _in_county(view, "village"), periods, types, view.tz)
    found = [Submission(MONTHLY_REPORT, period, scope_code(by_id[vid]), at) for (vid, period), at in done.items()]
    for period in periods:
        found += [Submission(MONTHLY_REPORT, period, scope_code(unit), EPOCH)
                  for vid, unit in by_id.items() if unit.level == "village" and (vid, period) not in expected]
    return found


def _postings(session: Session, view: CountyView, by_id: dict[int, Unit],
              occs: list[Occurrence]) -> list[Submission]:
    """Return when each unit started the public posting of an item with a posting window."""
    from bot.storage.models_cycle import CycleStep

    items = {o.item for o in occs if o.posting_by is not None}
    forms = {f.form_id: f.item for f in FORMS.values() if f.item in items}
    if not forms:
        return []
    rows = session.exec(select(CycleStep.form_id, CycleStep.period, CycleStep.org_unit_id, CycleStep.at).where(
        CycleStep.step == "post", col(CycleStep.form_id).in_(list(forms)),
        CycleStep.org_unit_id.in_(_in_county(view)))).all()
    return [Submission(forms[form_id], period, scope_code(by_id[unit_id]), at)
            for form_id, period, unit_id, at in rows if unit_id in by_id]


def _problems(session: Session, view: CountyView, by_id: dict[int, Unit],
              since: dt.datetime) -> list[SeriousProblem]:
    rows = session.exec(select(Problem, Asset.village_id).join(Asset, Asset.id == Problem.asset_id).where(
        Problem.severity == "serious", Asset.village_id.in_(_in_county(view, "village")),
        (Problem.resolved_at.is_(None)) | (Problem.resolved_at > since))).all()
    events = session.exec(select(ProblemEvent.problem_id, ProblemEvent.action, ProblemEvent.at).where(
        col(ProblemEvent.action).in_(("alerted", "escalated", "decided")),
        col(ProblemEvent.problem_id).in_([p.id for p, _ in rows])).order_by(ProblemEvent.at, ProblemEvent.id)
    ).all() if rows else []
    alerted = {pid for pid, action, _ in events if action == "alerted"}
    windows: dict[int, list[list]] = {}
    for pid, action, at in events:
        if action == "escalated":
            windows.setdefault(pid, []).append([at, None])
        elif action == "decided" and windows.get(pid) and windows[pid][-1][1] is None:
            windows[pid][-1][1] = at
    return [SeriousProblem(str(p.id), scope_code(by_id[vid]), p.description or p.kind, p.created_at,
                           p.acknowledged_at, p.resolved_at, p.id in alerted,
                           tuple((start, end) for start, end in windows.get(p.id, ()))) for p, vid in rows]


def planned(session: Session, view: CountyView, until: dt.datetime,
            since: dt.datetime) -> tuple[list[PlannedMessage], Facts]:
    """Return the messages planned in (since, until] for the county (stale ones collapsed) and the facts."""
    occs = view.occurrences(since, until)
    facts = load_facts(session, view, occs, since)
    return plan(view.profile, view.tz, occs, facts, until=until, since=since), facts


def preview(session: Session, start: dt.datetime, end: dt.datetime,
            scope: OrgUnit | None = None) -> list[tuple[CountyView, PlannedMessage, Facts]]:
    """Return every message planned in [start, end] with today's facts (nothing is written or sent),
    for every county with a profile or only about ``scope`` (a county, township or village)."""
    found = []
    for county in counties_with_profile(session):
        if scope is not None and not (scope.path.startswith(county.path) or county.path.startswith(scope.path)):
            continue
        view = county_view(session, county)
        occs = view.occurrences(start, end)
        facts = load_facts(session, view, occs, start)
        for message in plan(view.profile, view.tz, occs, facts, until=end):
            if message.at < start or (scope is not None and not _concerns(view, message, scope)):
                continue
            found.append((view, message, facts))
    return sorted(found, key=lambda f: (f[1].at, f[1].key))


def _concerns(view: CountyView, message: PlannedMessage, scope: OrgUnit) -> bool:
    units = [view.units.get(code) for code in (message.scope, *message.about)]
    return any(u is not None and u.path.startswith(scope.path) for u in units)
