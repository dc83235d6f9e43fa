"""Factories for tests: a small tree of two townships, users of each role, assets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session

from bot.services import audit
from bot.services.orgs import ensure_unit
from bot.storage.models import Asset, OrgUnit, User

ACTOR = audit.Actor(None, "test")


@dataclass
class Tree:
    county: OrgUnit
    other_county: OrgUnit
    township_a: OrgUnit
    township_b: OrgUnit
    village_a1: OrgUnit
    village_a2: OrgUnit
    village_b1: OrgUnit
    village_x: OrgUnit  # in the other county


def make_tree(session: Session) -> Tree:
    """Create 桃源县 (two townships, three villages) and 远山县 with one village."""
    county, _ = ensure_unit(session, ACTOR, None, "county", "桃源县", "430525000000")
    ta, _ = ensure_unit(session, ACTOR, county, "township", "新桥镇", "430525100000")
    tb, _ = ensure_unit(session, ACTOR, county, "township", "北坡乡", "430525200000")
    va1, _ = ensure_unit(session, ACTOR, ta, "village", "新桥村", "430525101000")
    va2, _ = ensure_unit(session, ACTOR, ta, "village", "王庄村", "430525103000")
    vb1, _ = ensure_unit(session, ACTOR, tb, "village", "梨树村", "430525105000")
    other, _ = ensure_unit(session, ACTOR, None, "county", "远山县", "430600000000")
    tx, _ = ensure_unit(session, ACTOR, other, "township", "远山镇", "430600100000")
    vx, _ = ensure_unit(session, ACTOR, tx, "village", "远山村", "430600101000")
    session.flush()
    return Tree(county, other, ta, tb, va1, va2, vb1, vx)


def make_user(session: Session, role: str, unit: OrgUnit | None, name: str | None = None) -> User:
    user = User(name=name or f"{role}@{unit.name if unit else 'all'}", role=role,
                org_unit_id=unit.id if unit else None)
    session.add(user)
    session.flush()
    return user


def make_asset(session: Session, village: OrgUnit, **values) -> Asset:
    code = values.pop("project_code", f"T-{secrets.token_hex(4)}")
    defaults = dict(name=f"{village.name}扶贫车间", asset_type="经营性", industry_category="加工业",
                    funds_total=Decimal("100"), funds_central=Decimal("60"), funds_county=Decimal("40"),
                    latitude=31.4, longitude=117.2, operator="桃源县农业发展有限公司")
    defaults.update(values)
    asset = Asset(project_code=code, village_id=village.id, public_token=secrets.token_urlsafe(16), **defaults)
    session.add(asset)
    session.flush()
    return asset
