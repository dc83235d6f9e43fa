"""The WeCom settings: all five or none; a wrong AgentId or EncodingAESKey stops the start, named."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings

FULL = {"VILLAGEBOT_WECOM_CORP_ID": "ww0123456789abcdef", "VILLAGEBOT_WECOM_AGENT_ID": "1000002",
        "VILLAGEBOT_WECOM_SECRET": "s3cret", "VILLAGEBOT_WECOM_TOKEN": "tok",
        "VILLAGEBOT_WECOM_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}


def _env(monkeypatch, values: dict) -> None:
    for name in FULL:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_none_or_all_of_the_wecom_settings(monkeypatch):
    _env(monkeypatch, {})
    assert not load_settings().wecom_enabled
    _env(monkeypatch, FULL)
    settings = load_settings()
    assert settings.wecom_enabled and settings.wecom_api_root == "https://qyapi.weixin.qq.com"


def test_a_half_configured_or_wrong_wecom_app_stops_the_start_naming_the_variable(monkeypatch):
    _env(monkeypatch, {k: v for k, v in FULL.items() if k != "VILLAGEBOT_WECOM_TOKEN"})
    with pytest.raises(ConfigError, match="missing: VILLAGEBOT_WECOM_TOKEN"):
        load_settings()
    _env(monkeypatch, {**FULL, "VILLAGEBOT_WECOM_AGENT_ID": "app-1"})
    with pytest.raises(ConfigError, match="VILLAGEBOT_WECOM_AGENT_ID"):
        load_settings()
    _env(monkeypatch, {**FULL, "VILLAGEBOT_WECOM_ENCODING_AES_KEY": "tooshort"})
    with pytest.raises(ConfigError, match="VILLAGEBOT_WECOM_ENCODING_AES_KEY"):
        load_settings()
    _env(monkeypatch, {**FULL, "VILLAGEBOT_WECOM_API_ROOT": "qyapi.weixin.qq.com"})
    with pytest.raises(ConfigError, match="VILLAGEBOT_WECOM_API_ROOT"):
        load_settings()


def test_without_the_wecom_settings_its_addresses_do_not_exist(settings, sqlite_engine):
    from fastapi.testclient import TestClient

    from bot.services.channels import build_channels
    from bot.web.app import create_app

    client = TestClient(create_app(settings, sqlite_engine))
    assert client.get("/wecom/callback?echostr=x").status_code == 404
    assert client.post("/wecom/callback", content=b"<xml/>").status_code == 404
    assert client.get("/auth/wecom?code=x", follow_redirects=False).status_code == 404
    assert client.get("/wecom/join/AbCdEf123456", follow_redirects=False).status_code == 404
    assert "wecom_app" not in build_channels(settings)
