"""The county that the fidelity and income tests share (one builder): 桃源县 (``tests.factories.make_tree``) with a
village cadre of 新桥村, the township leader of 新桥镇, a county officer, the agriculture department officer
(种植业, 养殖业) and the culture-and-tourism department's officer (旅游业); for the scope checks the leader of
another township (北坡乡) and the cadre of another village of the same township (王庄村); and three assets of
新桥村 registered on 2025-01-01: an operating greenhouse (种植业), an operating workshop (加工业) and a public
welfare road.

A conftest takes the ``world`` fixture by importing it (``from tests.worlds import world``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from bot.clock import UTC
from bot.services import departments
from bot.storage.models_schedule import OutboxMessage
from tests.factories import Tree, make_asset, make_tree, make_user

NOW = dt.datetime(2026, 4, 10, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
REGISTERED = dt.datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class World:
    tree: Tree
    cadre: int         # 新桥村
    leader: int        # 新桥镇
    county: int
    department: int    # 农业农村局: 种植业, 养殖业
    tourism: int       # 文旅局: 旅游业 only
    other_leader: int  # 北坡乡
    other_cadre: int   # 王庄村, same township, another village
    greenhouse: int    # 种植业, in 新桥村
    workshop: int      # 加工业, in 新桥村
    road: int          # 公益性, in 新桥村


def build_world(engine) -> World:
    """Write the world into the database of ``engine`` and return its ids."""
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        cadre = make_user(session, "village_cadre", tree.village_a1, "张村干")
        leader = make_user(session, "township_leader", tree.township_a, "李镇长")
        county = make_user(session, "county_officer", tree.county, "王主任")
        department = make_user(session, "department_officer", tree.county, "农业农村局吴股长")
        tourism = make_user(session, "department_officer", tree.county, "文旅局赵科长")
        other_leader = make_user(session, "township_leader", tree.township_b, "北坡乡钱乡长")
        other_cadre = make_user(session, "village_cadre", tree.village_a2, "王庄村孙会计")
        greenhouse = make_asset(session, tree.village_a1, name="新桥村蔬菜大棚", industry_category="种植业",
                                construction_content="大棚20座", created_at=REGISTERED)
        workshop = make_asset(session, tree.village_a1, name="新桥村扶贫车间", industry_category="加工业",
                              created_at=REGISTERED)
        road = make_asset(session, tree.village_a1, name="新桥村通组路", asset_type="公益性", industry_category=None,
                          created_at=REGISTERED)
        departments.set_categories(session, None, department.id, ["种植业", "养殖业"])
        departments.set_categories(session, None, tourism.id, ["旅游业"])
        session.commit()
        return World(tree, cadre.id, leader.id, county.id, department.id, tourism.id, other_leader.id,
                     other_cadre.id, greenhouse.id, workshop.id, road.id)


@pytest.fixture
def world(engine) -> World:
    return build_world(engine)


def outbox_to(engine, user_id: int) -> list[OutboxMessage]:
    """The outbox rows to one user, oldest first."""
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.recipient == f"u{user_id}")
                                 .order_by(OutboxMessage.id)).all())
