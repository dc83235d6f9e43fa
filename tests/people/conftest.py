"""Fixtures for the people pages and web sign-in: a real app on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.config import Settings
from bot.services import weblinks
from bot.storage.models import User
from bot.web.app import create_app
from tests.factories import Tree, make_tree, make_user

BASE = "http://testserver"
PHONE = "Mozilla/5.0 (Linux; Android 14; HarmonyOS) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36"
LAPTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
LINK_RE = re.compile(r'id="(?:invite|device)-link" class="link" value="([^"]+)"')


@dataclass
class Office:
    tree: Tree
    officer: User   # county officer of 桃源县
    leader: User    # township leader of 新桥镇
    other_leader: User  # township leader of 北坡乡


@pytest.fixture
def people_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", telegram_token="", public_url=BASE,
                    secret_key="test-secret-key-0123456789", telegram_bot_username="VillageTestBot")


@pytest.fixture
def office(engine) -> Office:
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        officer = make_user(session, "county_officer", tree.county, name="周科长")
        leader = make_user(session, "township_leader", tree.township_a, name="张镇长")
        other = make_user(session, "township_leader", tree.township_b, name="刘乡长")
        session.commit()
        return Office(tree, officer, leader, other)


@pytest.fixture
def app(people_settings, engine):
    return create_app(people_settings, engine)


def browser(app, agent: str = PHONE) -> TestClient:
    """A fresh browser: no cookies, following no redirects."""
    client = TestClient(app, follow_redirects=False)
    client.headers["User-Agent"] = agent
    return client


def signed_in(app, engine, user: User, agent: str = LAPTOP) -> TestClient:
    """A browser signed in as ``user`` by a single-use link (as the bot's /form gives)."""
    client = browser(app, agent)
    with Session(engine) as session:
        url = weblinks.create_link(session, session.get(User, user.id), secret=app.state.settings.secret_key,
                                   public_url=BASE)
        session.commit()
    assert client.get(url.removeprefix(BASE)).status_code == 303
    return client


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def link_of(html: str) -> str:
    match = LINK_RE.search(html)
    assert match, "no link on the page"
    return match.group(1).replace("&amp;", "&")


def invite_on_the_web(client: TestClient, *, name: str, role: str, unit_id: int) -> tuple[int, str]:
    """Fill the invite form as the signed-in ``client``; return the status and the page."""
    form = client.get("/people/invite")
    assert form.status_code == 200, form.text
    answer = client.post("/people/invite", data={"csrf": csrf_of(form.text), "name": name, "role": role,
                                                 "unit": str(unit_id)})
    return answer.status_code, answer.text
