"""Fixtures for the office pages: a county with two townships and assets, the people of every role, and
TestClients signed in (by a single-use link) on the real app over a real database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.config import Settings
from bot.services import weblinks
from bot.storage.models import Asset, User
from bot.web.app import create_app
from tests.factories import make_asset, make_tree, make_user

SECRET = "test-secret-key-0123456789"
PUBLIC = "https://zc.example.cn"


@dataclass
class Office:
    """The populated database of one test."""

    tree: object
    assets: list[Asset]  # of 桃源县: two in 新桥村, one in 王庄村 (新桥镇), one in 梨树村 (北坡乡)
    foreign: Asset  # of 远山县
    county_officer: User
    township_leader: User
    other_leader: User
    cadre: User
    admin: User
    other_officer: User


def populate(session: Session) -> Office:
    tree = make_tree(session)
    assets = [
        make_asset(session, tree.village_a1, name="新桥村光伏电站", project_code="XQ-2019-01", year_completed=2019,
                   contract_start=dt.date(2020, 1, 1),
                   contract_end=dt.date(2029, 12, 31), owner="新桥村股份经济合作社"),
        make_asset(session, tree.village_a1, name="新桥村灌溉水渠", asset_type="公益性", project_code="XQ-2020-02"),
        make_asset(session, tree.village_a2, name="王庄村扶贫车间", project_code="WZ-2021-01"),
        make_asset(session, tree.village_b1, name="梨树村冷库", project_code="LS-2022-01"),
    ]
    foreign = make_asset(session, tree.village_x, name="远山村茶厂", project_code="YS-2020-01")
    people = dict(
        county_officer=make_user(session, "county_officer", tree.county, name="周科长"),
        township_leader=make_user(session, "township_leader", tree.township_a, name="吴镇长"),
        other_leader=make_user(session, "township_leader", tree.township_b, name="郑乡长"),
        cadre=make_user(session, "village_cadre", tree.village_a1, name="李书记"),
        admin=make_user(session, "admin", None, name="管理员"),
        other_officer=make_user(session, "county_officer", tree.other_county, name="钱科长"),
    )
    for user in people.values():
        user.active = True
        session.add(user)
    session.commit()
    return Office(tree, assets, foreign, **people)


@pytest.fixture
def office(engine) -> Office:
    with Session(engine, expire_on_commit=False) as session:
        return populate(session)


@pytest.fixture
def office_sqlite(sqlite_engine) -> Office:
    with Session(sqlite_engine, expire_on_commit=False) as session:
        return populate(session)


def office_settings(tmp_path, **values) -> Settings:
    return Settings(**{"data_dir": tmp_path / "data", "public_url": PUBLIC, "secret_key": SECRET, **values})


def signed_in(engine, settings: Settings, user: User) -> TestClient:
    """A browser signed in as ``user`` (https, so that the Secure cookies of an https public address flow)."""
    base = "https://testserver" if settings.public_url.startswith("https://") else "http://testserver"
    client = TestClient(create_app(settings, engine), base_url=base, follow_redirects=False)
    with Session(engine) as session:
        link = weblinks.create_link(session, session.get(User, user.id), secret=SECRET, public_url=base)
        session.commit()
    assert client.get(link.removeprefix(base)).status_code == 303
    return client


@pytest.fixture
def browser(engine, tmp_path):
    """Return a function: the signed-in client of a user, on an app with the given settings."""

    def make(user: User, **values) -> TestClient:
        return signed_in(engine, office_settings(tmp_path, **values), user)

    return make


@pytest.fixture
def browser_sqlite(sqlite_engine, tmp_path):
    def make(user: User, **values) -> TestClient:
        return signed_in(sqlite_engine, office_settings(tmp_path, **values), user)

    return make
