"""Settings from VILLAGEBOT_* variables: defaults, and a clear error naming each wrong variable."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import ConfigError, load_settings


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No VILLAGEBOT_* variable from the caller's environment; the working directory is empty."""
    for name in list(os.environ):
        if name.startswith("VILLAGEBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_are_a_sqlite_file_under_data_and_china_time(clean_env, tmp_path):
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'data' / 'villagebot.sqlite3'}"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.tz == ZoneInfo("Asia/Shanghai")
    assert settings.telegram_token == ""
    assert settings.telegram_api_url == "https://api.telegram.org"


def test_the_data_dir_and_other_values_come_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("VILLAGEBOT_DATA_DIR", str(tmp_path / "elsewhere"))
    clean_env.setenv("VILLAGEBOT_TIMEZONE", "Asia/Urumqi")
    clean_env.setenv("VILLAGEBOT_TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    clean_env.setenv("VILLAGEBOT_MAX_UPLOAD_MB", "5")
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'elsewhere' / 'villagebot.sqlite3').resolve()}"
    assert settings.tz == ZoneInfo("Asia/Urumqi")
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.max_upload_mb == 5


def test_an_explicit_database_url_wins_over_the_data_dir(clean_env):
    clean_env.setenv("VILLAGEBOT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/villagebot")
    assert load_settings().effective_database_url == "postgresql://postgres@127.0.0.1:5432/villagebot"


BAD_VALUES = [
    ("VILLAGEBOT_TIMEZONE", "Mars/Olympus_Mons"),
    ("VILLAGEBOT_DATABASE_URL", "mysql://root@localhost/villagebot"),
    ("VILLAGEBOT_MAX_UPLOAD_MB", "twenty"),
    ("VILLAGEBOT_MAX_UPLOAD_MB", "0"),
    ("VILLAGEBOT_TELEGRAM_API_URL", "api.telegram.org"),
    ("VILLAGEBOT_PUBLIC_URL", "ftp://example.org"),
    ("VILLAGEBOT_TELEGRAM_MODE", "push"),
]


@pytest.mark.parametrize("variable,value", BAD_VALUES)
def test_a_bad_value_is_a_config_error_naming_the_variable(clean_env, variable, value):
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert variable in str(caught.value)
    others = {v for v, _ in BAD_VALUES} - {variable}
    assert not any(other in str(caught.value) for other in others)


def test_every_bad_variable_is_named_at_once(clean_env):
    clean_env.setenv("VILLAGEBOT_TIMEZONE", "Nowhere/Town")
    clean_env.setenv("VILLAGEBOT_MAX_UPLOAD_MB", "lots")
    message = str(pytest.raises(ConfigError, load_settings).value)
    assert "VILLAGEBOT_TIMEZONE" in message and "VILLAGEBOT_MAX_UPLOAD_MB" in message


@pytest.mark.parametrize("variable,value", BAD_VALUES[:5])
def test_serve_with_a_bad_value_exits_with_the_message(clean_env, tmp_path: Path, variable, value):
    env = {variable: value, "VILLAGEBOT_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli, ["serve", "--port", "1"], env=env)
    assert result.exit_code != 0
    assert variable in result.output
    assert "invalid configuration" in result.output
    assert not (tmp_path / "data").exists()  # it stopped before touching anything


def test_the_readme_documents_every_setting():
    from bot.config import Settings

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [f"VILLAGEBOT_{name.upper()}" for name in Settings.model_fields
               if f"`VILLAGEBOT_{name.upper()}`" not in readme]
    assert not missing, f"add these to the configuration table in README.md: {missing}"
