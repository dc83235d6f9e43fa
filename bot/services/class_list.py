"""四个一批 for the web: a township's (or county's) operating assets with their class of a month, and the
township leader's choice.

``overview`` lists the active operating assets (经营性) of a unit with the class row of the month and,
when there is none, the latest earlier one (the dashboards count an asset by its latest class up to
the month, ``bot.services.oversight.classes``). For a township leader over their township it first
refreshes the suggestions, exactly as Telegram's ``/classes`` does (``assessment.classes.suggest_classes``).

``choose`` records the leader's class: over a suggestion it is ``assessment.classes.confirm_class``
(a note is needed to change it); an asset without any monthly report has no suggestion, and the
leader may still classify it, with a note saying why (audited as ``asset.classify`` as well).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.i18n import N_
from bot.scoring.trace import Step
from bot.services import audit
from bot.services.access import PERMISSIONS, require, require_asset
from bot.services.assessment import classes as four_way
from bot.services.assessment.common import AssessmentError
from bot.storage.models import Asset, AssetClass, OrgUnit, User

MSG_NOTE_WITHOUT_SUGGESTION = N_("This asset has no monthly report to suggest a class from: add a note saying why "
                                 "you choose this class.")


@dataclass
class ClassItem:
    """An operating asset with its class row of the month (``row``) or else its latest earlier one."""

    asset: Asset
    village: OrgUnit
    row: AssetClass | None
    earlier: AssetClass | None = None
    reasons: list[Step] = field(default_factory=list)
    signals: list[Step] = field(default_factory=list)

    @property
    def shown(self) -> AssetClass | None:
        return self.row or self.earlier

    @property
    def klass(self) -> str | None:
        """The class that counts (confirmed, else suggested), as stored (巩固/提升/盘活/处置), or None."""
        shown = self.shown
        return (shown.confirmed or shown.suggested) if shown is not None else None

    @property
    def confirmed(self) -> bool:
        """Whether the township confirmed a class for this month."""
        return self.row is not None and self.row.confirmed is not None


def _items(session: Session, unit: OrgUnit, period: str, asset_id: int | None = None) -> list[ClassItem]:
    query = (select(Asset, OrgUnit).join(OrgUnit, col(OrgUnit.id) == col(Asset.village_id))
             .where(col(OrgUnit.path).startswith(unit.path), col(Asset.asset_type).in_(four_way.CLASSIFIED_TYPES),
                    Asset.status == "active"))
    if asset_id is not None:
        query = query.where(Asset.id == asset_id)
    pairs = session.exec(query.order_by(col(OrgUnit.name), col(Asset.name), col(Asset.id))).all()
    ids = [a.id for a, _ in pairs]
    rows: dict[int, list[AssetClass]] = {}
    if ids:
        for row in session.exec(select(AssetClass).where(col(AssetClass.asset_id).in_(ids),
                                                         AssetClass.period <= period)
                                .order_by(col(AssetClass.period).desc(), col(AssetClass.id))).all():
            rows.setdefault(row.asset_id, []).append(row)
    items = []
    for asset, village in pairs:
        found = rows.get(asset.id, [])
        current = next((r for r in found if r.period == period), None)
        earlier = next((r for r in found if r.period < period), None) if current is None else None
        shown = current or earlier
        items.append(ClassItem(asset, village, current, earlier,
                               four_way.reason_steps(shown) if shown else [],
                               four_way.reason_steps(shown, main=False) if shown else []))
    return items


def can_classify(session: Session, user: User, unit: OrgUnit) -> bool:
    """Whether the user may choose the classes of ``unit``'s assets (a township leader over their township)."""
    return "asset.classify" in PERMISSIONS.get(user.role, frozenset()) and unit.level == "township"


def overview(session: Session, user: User, unit: OrgUnit, period: str) -> list[ClassItem]:
    """Return the unit's operating assets with their class of ``period`` (refreshing the suggestions first
    when the user classifies this township; the caller commits)."""
    require(session, user, "asset.view", unit)
    if can_classify(session, user, unit):
        four_way.suggest_classes(session, unit, period, user=user)
    return _items(session, unit, period)


def item(session: Session, user: User, asset_id: int, period: str) -> ClassItem:
    """Return one operating asset with its class of ``period`` (unknown and foreign ids refused alike)."""
    asset = require_asset(session, user, "asset.view", asset_id)
    village = session.get(OrgUnit, asset.village_id)
    found = _items(session, village, period, asset_id=asset.id)
    if not found:
        raise AssessmentError(N_("Only operating assets are classified."))
    return found[0]


def choose(session: Session, user: User, asset_id: int, period: str, chosen: str, note: str | None) -> AssetClass:
    """Record the leader's class of an asset for ``period``: confirm or change the suggestion, or, for an
    asset without one, classify it with a note (audited). The caller commits."""
    asset = require_asset(session, user, "asset.classify", asset_id)
    if four_way.class_row(session, asset.id, period) is not None:
        return four_way.confirm_class(session, user, asset.id, period, chosen, note)
    if asset.asset_type not in four_way.CLASSIFIED_TYPES:
        raise AssessmentError(N_("Only operating assets are classified."))
    stored = four_way.STORED.get(chosen, chosen)
    if stored not in four_way.CLASS_OF:
        raise AssessmentError(N_("Unknown class {value}: choose 巩固, 提升, 盘活 or 处置."), value=chosen)
    text = (note or "").strip() or None
    if text is None:
        raise AssessmentError(MSG_NOTE_WITHOUT_SUGGESTION)
    row = AssetClass(asset_id=asset.id, period=period, suggested=None, reasons=[], confirmed=stored, note=text,
                     confirmed_by=user.id, confirmed_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, four_way.actor_of(user), "asset.classify", "asset_class", row.id, None,
                 {"asset_id": asset.id, "period": period, "suggested": None, "confirmed": stored, "note": text,
                  "confirmed_by": user.id})
    from bot.services import disposal

    disposal.follow_class(session, user, row)  # 处置 opens a disposal request, 盘活 a contract task (issue 17)
    return row
