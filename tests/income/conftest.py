"""A county with a village cadre, a township leader, a county officer, an agriculture department officer and
one operating greenhouse (种植业) in 新桥村; another township's leader and cadre for the scope checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.clock import UTC
from bot.config import Settings
from bot.services import departments, weblinks
from bot.storage.models import Problem, User
from bot.storage.models_schedule import OutboxMessage
from bot.web.app import create_app
from tests.factories import Tree, make_asset, make_tree, make_user

NOW = dt.datetime(2026, 4, 10, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
REGISTERED = dt.datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class World:
    tree: Tree
    cadre: int
    leader: int
    county: int
    department: int
    tourism: int      # a department officer of 旅游业 only
    other_leader: int  # 北坡乡
    other_cadre: int   # 王庄村, same township, another village
    greenhouse: int    # 种植业, in 新桥村


@pytest.fixture
def world(engine) -> World:
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
                                created_at=REGISTERED)
        departments.set_categories(session, None, department.id, ["种植业"])
        departments.set_categories(session, None, tourism.id, ["旅游业"])
        session.commit()
        return World(tree, cadre.id, leader.id, county.id, department.id, tourism.id, other_leader.id,
                     other_cadre.id, greenhouse.id)


def problems_of(engine, asset_id: int, kind: str) -> list[Problem]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(Problem).where(Problem.asset_id == asset_id, Problem.kind == kind)).all())


def outbox_to(engine, user_id: int) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.recipient == f"u{user_id}")
                                 .order_by(OutboxMessage.id)).all())


@pytest.fixture
def client_for(engine, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    app = create_app(settings, engine)

    def make(user_id: int) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        with Session(engine) as session:
            url = weblinks.create_link(session, session.get(User, user_id), secret=settings.secret_key,
                                       public_url="http://testserver")
            session.commit()
        assert client.get(url.removeprefix("http://testserver")).status_code == 303
        return client

    return make
