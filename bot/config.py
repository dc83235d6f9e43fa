"""One Settings object, read from environment variables with the prefix VILLAGEBOT_."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A configuration value is wrong; the message names the variable."""


class Settings(BaseSettings):
    """Runtime configuration; every field maps to VILLAGEBOT_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="VILLAGEBOT_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"))
    database_url: str = ""
    telegram_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_proxy: str = ""  # an HTTP proxy for the calls to the Bot API server (empty: direct)
    telegram_bot_username: str = "VillageBot"
    telegram_webhook_secret: str = ""
    telegram_mode: str = "polling"
    public_url: str = "http://127.0.0.1:8000"
    timezone: str = "Asia/Shanghai"
    secret_key: str = "dev-insecure-secret-change-me"
    max_upload_mb: int = 20
    supervision_phone: str = ""
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client; empty: none,
    # the client is the socket's peer (villager report limits count by it).
    trusted_proxies: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql:// (e.g. postgresql+psycopg://host/db)")
        return value

    @field_validator("telegram_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("telegram_proxy")
    @classmethod
    def _proxy_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// proxy URL, e.g. http://10.0.0.5:3128")
        return value

    @field_validator("telegram_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in ("polling", "webhook"):
            raise ValueError("must be 'polling' or 'webhook'")
        return value

    @field_validator("max_upload_mb")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of megabytes")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
        return value

    @property
    def trusted_networks(self) -> tuple:
        """The proxies whose X-Forwarded-For header is believed, as ip_network objects."""
        return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",")
                     if p.strip())

    @property
    def effective_database_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'villagebot.sqlite3').resolve()}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"


def load_settings() -> Settings:
    """Read the settings from the environment; raise ConfigError naming the wrong variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"VILLAGEBOT_{field.upper()}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests build their own Settings)."""
    return load_settings()
