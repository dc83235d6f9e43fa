"""The income tests run on the shared county of ``tests.worlds``: a village cadre, a township leader, a county
officer, an agriculture department officer and the operating greenhouse (种植业) of 新桥村; another township's
leader and another village's cadre for the scope checks; signed-in clients of the real app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.config import Settings
from bot.services import weblinks
from bot.storage.models import Problem, User
from bot.web.app import create_app
from tests.worlds import NOW, outbox_to, world  # noqa: F401


def problems_of(engine, asset_id: int, kind: str) -> list[Problem]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(Problem).where(Problem.asset_id == asset_id, Problem.kind == kind)).all())


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
