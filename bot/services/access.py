"""Who may do what where: roles × actions, and scope by the organisation tree.

A user's scope is their organisation unit and everything below it (``OrgUnit.path`` prefix);
an admin without a unit covers the whole installation. Every service function checks here
before it reads or writes, and raises ``AccessDenied`` with a translatable message.
"""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, select

from bot.i18n import N_
from bot.storage.models import Asset, OrgUnit, User
from bot.storage.rows import adopt, columns, first, prefixed

# What each role may do (within its scope).
PERMISSIONS: dict[str, frozenset[str]] = {
    # inventory.confirm: seed 003 二(八) the village counts its assets and settles their income each year.
    "village_cadre": frozenset({"asset.view", "report.fill", "report.view", "problem.view", "inventory.confirm"}),
    "village_supervisor": frozenset({"asset.view", "report.view", "report.sign_off", "problem.view"}),
    "township_leader": frozenset({
        "asset.view", "report.view", "report.review", "problem.view", "problem.handle", "asset.classify",
        "inspection.fill", "monitoring.fill", "export.ledger", "user.reinvite", "user.invite", "user.manage",
        "signboard.print", "contract.edit",
    }),
    # monitoring.fill: 000 四(二)1 "相关责任单位或乡镇" file the quarterly monitoring and benefit forms.
    "department_officer": frozenset({"asset.view", "report.view", "problem.view", "targets.set", "export.ledger",
                                     "monitoring.fill"}),
    "county_officer": frozenset({
        "asset.view", "asset.edit", "asset.import", "report.view", "problem.view", "problem.handle",
        "problem.decide", "export.ledger", "user.invite", "user.reinvite", "user.manage", "policy.choose",
        "grade.set", "org.import", "signboard.print", "audit.view", "audit.verify", "contract.edit",
    }),
    "admin": frozenset({
        "asset.view", "asset.edit", "asset.import", "report.view", "report.review", "problem.view",
        "problem.handle", "problem.decide", "export.ledger", "user.invite", "user.reinvite", "user.manage",
        "policy.choose", "grade.set", "org.import", "audit.verify", "signboard.print", "audit.view",
        "contract.edit",
    }),
}
# Income and its distribution (issue 17 item 2, bot.services.income): the village or township enters the income
# due; the village drafts, submits and records the distribution plan; the township approves it; the industry
# department (or the county) records its filing (seed 003 "经乡镇人民政府审核后报相关行业部门备案").
INCOME_PERMISSIONS: dict[str, frozenset[str]] = {
    "village_cadre": frozenset({"income.enter", "income.plan"}),
    "township_leader": frozenset({"income.enter", "income.approve"}),
    "department_officer": frozenset({"income.file"}),
    "county_officer": frozenset({"income.enter", "income.file"}),
    "admin": frozenset({"income.enter", "income.approve", "income.file"}),
}
for _role, _actions in INCOME_PERMISSIONS.items():
    PERMISSIONS[_role] = PERMISSIONS[_role] | _actions
ACTIONS = frozenset().union(*PERMISSIONS.values())
# Which roles a person may give (invite, change to): a township its villages' people, a county anyone but
# an administrator; ``users`` checks it beside the scope.
GRANTABLE: dict[str, tuple[str, ...]] = {
    "township_leader": ("village_cadre", "village_supervisor"),
    "county_officer": ("village_cadre", "village_supervisor", "township_leader", "department_officer",
                       "county_officer"),
    "admin": ("village_cadre", "village_supervisor", "township_leader", "department_officer", "county_officer",
              "admin"),
}
# The lowest level of the tree each role may be scoped to.
ROLE_LEVELS = {
    "village_cadre": {"village"},
    "village_supervisor": {"village"},
    "township_leader": {"township"},
    "department_officer": {"county"},
    "county_officer": {"county"},
    "admin": {"county", "township", "village"},
}


# Statements built once and run in Core (see bot.storage.rows): building one costs more than running it.
_ASSETS, _UNITS = Asset.__table__, OrgUnit.__table__
_VILLAGE, _SCOPE = _UNITS.alias("village"), _UNITS.alias("scope")
ASSET_AND_VILLAGE = (core_select(*columns(Asset, "a_"), *columns(OrgUnit, "v_"))
                     .join_from(_ASSETS, _UNITS, _UNITS.c.id == _ASSETS.c.village_id)
                     .where(_ASSETS.c.id == bindparam("asset_id")))
ASSET_NAME = core_select(_ASSETS.c.name).where(_ASSETS.c.id == bindparam("asset_id"))
ASSET_SCOPE = (core_select(_VILLAGE.c.path.label("village_path"), _SCOPE.c.path.label("scope_path"), _ASSETS.c.name)
               .select_from(_ASSETS.join(_VILLAGE, _VILLAGE.c.id == _ASSETS.c.village_id)
                            .outerjoin(_SCOPE, _SCOPE.c.id == bindparam("scope_id")))
               .where(_ASSETS.c.id == bindparam("asset_id")))


class AccessDenied(PermissionError):
    """The acting user may not do this here; ``msgid`` is translatable."""

    def __init__(self, msgid: str = N_("You do not have access to this."), **params: object) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params


def unit_path(session: Session, unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    unit = session.get(OrgUnit, unit_id)
    return unit.path if unit else None


def covers(session: Session, user: User, unit: OrgUnit) -> bool:
    """Return whether ``unit`` lies within the user's scope."""
    if user.org_unit_id is None:
        return user.role == "admin"
    return _within(unit.path, unit_path(session, user.org_unit_id))


def _within(path: str, scope_path: str | None) -> bool:
    return bool(scope_path) and path.startswith(scope_path)


def require(session: Session, user: User | None, action: str, unit: OrgUnit | None = None) -> None:
    """Raise AccessDenied unless ``user`` may do ``action`` on ``unit`` (or anywhere, if None)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if user is None or not user.active:
        raise AccessDenied(N_("Please sign in first."))
    if action not in PERMISSIONS.get(user.role, frozenset()):
        raise AccessDenied(N_("Your role cannot do this."))
    if unit is not None and not covers(session, user, unit):
        raise AccessDenied(N_("This is outside your area."))


def may(session: Session, user: User | None, action: str, unit: OrgUnit | None = None) -> bool:
    """Return whether ``require`` lets ``user`` do ``action`` on ``unit`` (or anywhere, if None): what a page asks
    before it shows a link to another page, or a form, that requires it."""
    try:
        require(session, user, action, unit)
    except AccessDenied:
        return False
    return True


def require_asset(session: Session, user: User | None, action: str, asset_id: int) -> Asset:
    """Return the asset if ``user`` may do ``action`` on it; refuse unknown and foreign ids alike."""
    row = None
    if isinstance(asset_id, int):
        # One query for the asset and its village (this runs on every answer of every checklist).
        row = first(session, ASSET_AND_VILLAGE, {"asset_id": asset_id})
    if row is None:
        # Same answer as a foreign asset: do not reveal which ids exist.
        raise AccessDenied(N_("This is outside your area."))
    asset, village = adopt(session, Asset, prefixed(row, "a_")), adopt(session, OrgUnit, prefixed(row, "v_"))
    require(session, user, action, village)
    # The session's identity map holds objects weakly; keep the asset so that the next
    # session.get() of it in this session (the question's title, say) needs no query.
    session.info.setdefault("held", {})[("asset", asset.id)] = asset
    return asset


def check_asset(session: Session, user: User | None, action: str, asset_id: int) -> None:
    """Raise AccessDenied unless ``user`` may do ``action`` on the asset; like ``require_asset``, loading nothing.

    One Core query answers both paths (the asset's village and the user's unit): this check runs
    on every answer of every checklist.
    """
    row = None
    if isinstance(asset_id, int):
        row = first(session, ASSET_SCOPE, {"asset_id": asset_id,
                                           "scope_id": user.org_unit_id if user is not None else None})
    if row is None:
        raise AccessDenied(N_("This is outside your area."))
    require(session, user, action)
    if user.org_unit_id is None and user.role == "admin":
        return
    if not _within(row["village_path"], row["scope_path"]):
        raise AccessDenied(N_("This is outside your area."))
    # What the next question's title needs, without another query (see asset_name).
    session.info.setdefault("asset_names", {})[asset_id] = row["name"]


def asset_name(session: Session, asset_id: int) -> str:
    """Return an asset's name: as this session last checked it (check_asset), or from the database."""
    name = session.info.get("asset_names", {}).get(asset_id)
    if name is None:
        name = first(session, ASSET_NAME, {"asset_id": asset_id})["name"]
    return name


def scope_filter(session: Session, user: User, path=None):
    """Return a SQL condition restricting a query to the user's scope.

    ``path`` is the organisation-path column to test (``OrgUnit.path`` unless an aliased unit is used).
    """
    path = OrgUnit.path if path is None else path
    if user.org_unit_id is None and user.role == "admin":
        return path.like("/%")
    scope_path = unit_path(session, user.org_unit_id) or "/nothing/"
    return path.like(scope_path + "%")


def visible_assets(session: Session, user: User, action: str = "asset.view"):
    """Return a select() of the assets the user may see, joined to their village."""
    require(session, user, action)
    return select(Asset).join(OrgUnit, Asset.village_id == OrgUnit.id).where(scope_filter(session, user))
