"""`make demo`: a sign-in link for every role on the chosen port, and a county that follows a policy profile."""

from __future__ import annotations

import re

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.cli import cli
from bot.config import Settings
from bot.services.demo import COUNTY, DEMO_PROFILE, SHOWCASE_ROLES, base_url, load_demo, sign_in_lines
from bot.storage.models import ROLES, OrgUnit, User
from bot.web.app import create_app


def _settings(tmp_path, **values) -> Settings:
    return Settings(data_dir=tmp_path / "data", telegram_token="", secret_key="test-secret-key-0123456789", **values)


def test_links_use_the_chosen_port_unless_a_public_address_is_set(tmp_path):
    assert base_url(_settings(tmp_path), "127.0.0.1", 8123) == "http://127.0.0.1:8123"
    assert base_url(_settings(tmp_path), "0.0.0.0", 9000) == "http://127.0.0.1:9000"
    assert base_url(_settings(tmp_path), "192.168.1.20", 8000) == "http://192.168.1.20:8000"
    assert base_url(_settings(tmp_path, public_url="https://zc.example.cn/"), "0.0.0.0", 8123) == \
        "https://zc.example.cn"


def test_the_demo_prints_a_working_sign_in_link_for_every_role_on_the_chosen_port(engine, tmp_path):
    settings = _settings(tmp_path)
    base = base_url(settings, "127.0.0.1", 8123)
    with Session(engine) as session:
        summary = load_demo(session, settings, base)
        session.commit()
        assert all(":8123/join/" in line for line in summary.invites)
        lines = sign_in_lines(session, settings, base)
        session.commit()
        county = session.exec(select(OrgUnit).where(OrgUnit.code == COUNTY[1])).one()
        assert county.policy_profile == DEMO_PROFILE
    assert len(lines) == len(SHOWCASE_ROLES) == len(ROLES)
    for label in ("村干部", "村务监督", "乡镇", "县"):
        assert any(label in line for line in lines), label
    assert all(re.search(r"http://127\.0\.0\.1:8123/auth/link/\S+$", line) for line in lines), lines
    cadre, supervisor = lines[0], lines[1]
    assert cadre.split(" · ")[1] == supervisor.split(" · ")[1], "cadre and supervisor of one village: sign-off"
    app = create_app(settings.model_copy(update={"public_url": base}), engine)
    roles = set()
    for line in lines:
        browser = TestClient(app, follow_redirects=False)
        path = line.rsplit(base, 1)[1]
        assert browser.get(path).status_code == 303
        me = browser.get("/api/me")
        assert me.status_code == 200
        with Session(engine) as session:
            roles.add(session.get(User, me.json()["id"]).role)
    assert roles == set(ROLES)


def test_the_demo_command_prints_links_with_the_port_it_is_given(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.startswith("VILLAGEBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["demo", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"http://127\.0\.0\.1:8123/auth/link/\S+", result.output)) == len(ROLES)
    assert ":8000" not in result.output
    again = CliRunner().invoke(cli, ["demo", "--port", "8124"])
    assert again.exit_code == 0 and len(re.findall(r":8124/auth/link/", again.output)) == len(ROLES)


def test_the_invite_command_prints_the_web_link_too(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.startswith("VILLAGEBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VILLAGEBOT_PUBLIC_URL", "https://zc.example.cn")
    assert CliRunner().invoke(cli, ["demo"]).exit_code == 0
    result = CliRunner().invoke(cli, ["users", "invite", "--scope", "石桥村", "--role", "village_cadre",
                                      "--name", "新书记"])
    assert result.exit_code == 0, result.output
    code = re.search(r"start=(\S+)", result.output).group(1)
    assert f"https://zc.example.cn/join/{code}" in result.output
