"""The ledger's world: the tree of tests.factories, an officer of each kind, signed-in clients of the real app."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.services import weblinks
from bot.storage.models import User
from bot.web.app import create_app
from tests.factories import Tree, make_tree, make_user


@dataclass
class World:
    tree: Tree
    county: User          # county officer of 桃源县
    leader_a: User        # township leader of 新桥镇
    leader_b: User        # township leader of 北坡乡
    foreign: User         # county officer of 远山县
    cadre: User           # village cadre of 新桥村


@pytest.fixture
def world(engine) -> World:
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        world = World(tree, make_user(session, "county_officer", tree.county, name="县乡村振兴局张科长"),
                      make_user(session, "township_leader", tree.township_a, name="新桥镇李镇长"),
                      make_user(session, "township_leader", tree.township_b, name="北坡乡王乡长"),
                      make_user(session, "county_officer", tree.other_county, name="远山县赵科长"),
                      make_user(session, "village_cadre", tree.village_a1, name="新桥村刘书记"))
        session.commit()
        return world


@pytest.fixture
def app(settings, engine):
    return create_app(settings, engine)


@pytest.fixture
def sign_in(app, engine, settings):
    """Return a function giving a TestClient signed in (by a single-use link) as a user."""

    def client_for(user: User) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        with Session(engine) as session:
            url = weblinks.create_link(session, user, secret=settings.secret_key, public_url="http://testserver")
            session.commit()
        assert client.get(url.removeprefix("http://testserver")).status_code == 303
        return client

    return client_for


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no form with a CSRF token on the page"
    return found.group(1)
