"""One Settings object, read from environment variables with the prefix VILLAGEBOT_."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """A configuration value is wrong; the message names the variable."""


SECRET_KEY_FILE = "secret_key"
MIN_KEY_LENGTH = 16
# Keys that were ever published as a default: refused even when set on purpose.
PUBLIC_KEYS = frozenset({"dev-insecure-secret-change-me"})


class SecretKeyMissing(ConfigError):
    """No VILLAGEBOT_SECRET_KEY and no key file, and one may not be generated here."""


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
    # Messages a second the bot may send in all (Telegram's free limit is 30; a paid allowance may be more),
    # shared by every process on the database; a sixth is kept for replies ahead of bulk reminders.
    telegram_rate: int = 30
    public_url: str = "http://127.0.0.1:8000"
    # Print signboards even when public_url is a local or non-https address (test prints only; docs/office.md).
    allow_local_public_url: bool = False
    timezone: str = "Asia/Shanghai"
    secret_key: str = ""  # empty: a random key kept in <data_dir>/secret_key (see resolve_secret_key)
    max_upload_mb: int = 20
    # Where photos and attachments live: unset = data_dir/evidence on local disk; file:///path;
    # s3://KEY:SECRET@host:port/bucket[/prefix][?secure=0] for an S3-compatible store shared by several hosts.
    storage_url: str | None = None
    supervision_phone: str = ""
    audit_key: str = ""  # the audit log's HMAC key (empty: the key file below)
    audit_key_file: Path | None = None  # default: audit.key in data_dir, created once with mode 0600

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: str) -> str:
        if value and value.strip() in PUBLIC_KEYS:
            raise ValueError("this is the old public development key; anyone could sign cookies with it. "
                             "Unset it (a random key is then kept in the data directory) or set your own")
        if value and len(value) < MIN_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_KEY_LENGTH} characters (e.g. `openssl rand -hex 32`)")
        return value
    # WeCom (企业微信) self-built app (docs/wecom.md): all of corp id, agent id, secret, token and
    # EncodingAESKey, or none (no WeCom app). The API root may be a self-hosted 政务微信 or a test double.
    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: str = ""
    wecom_token: str = ""
    wecom_encoding_aes_key: str = ""
    wecom_api_root: str = "https://qyapi.weixin.qq.com"

    @field_validator("wecom_api_root")
    @classmethod
    def _wecom_root(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (default https://qyapi.weixin.qq.com)")
        return value.rstrip("/")

    @field_validator("wecom_agent_id")
    @classmethod
    def _wecom_agent(cls, value: str) -> str:
        if value and not value.strip().isdigit():
            raise ValueError("must be the app's AgentId, a number (WeCom admin console, the app's page)")
        return value.strip()

    @field_validator("wecom_encoding_aes_key")
    @classmethod
    def _wecom_aes_key(cls, value: str) -> str:
        if value and (len(value) != 43 or not value.isalnum()):
            raise ValueError("must be the 43 letters and digits of the app's EncodingAESKey (API 接收消息 settings)")
        return value

    @model_validator(mode="after")
    def _wecom_complete(self) -> Settings:
        names = ("wecom_corp_id", "wecom_agent_id", "wecom_secret", "wecom_token", "wecom_encoding_aes_key")
        missing = [n for n in names if not getattr(self, n)]
        if missing and len(missing) < len(names):
            raise ValueError("the WeCom app needs all of VILLAGEBOT_WECOM_CORP_ID, _AGENT_ID, _SECRET, _TOKEN and "
                             "_ENCODING_AES_KEY (docs/wecom.md); missing: "
                             + ", ".join(f"VILLAGEBOT_{n.upper()}" for n in missing))
        return self

    @property
    def wecom_enabled(self) -> bool:
        """Whether the WeCom app is configured (every VILLAGEBOT_WECOM_* value but the API root set)."""
        return all((self.wecom_corp_id, self.wecom_agent_id, self.wecom_secret, self.wecom_token,
                    self.wecom_encoding_aes_key))

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

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / SECRET_KEY_FILE


def is_loopback(host: str) -> bool:
    """Whether serving on ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_key(path: Path) -> str | None:
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(f"the key file {path} is empty or too short; delete it to have a new one made, "
                          "or set VILLAGEBOT_SECRET_KEY")
    return key


def _create_key(path: Path) -> str:
    """Write a new random key to ``path`` (mode 0600) unless another process just did; return the key kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails if the file exists: two first starts keep one key
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    kept = _read_key(path)
    if kept is None:  # deleted between our write and this read
        raise ConfigError(f"the key file {path} disappeared while it was being created; start again")
    return kept


def resolve_secret_key(settings: Settings, *, generate: bool = True) -> Settings:
    """Return ``settings`` with a secret key: VILLAGEBOT_SECRET_KEY, else the key file in the data
    directory, else (when ``generate``) a new random key written there with mode 0600 and reused later.

    Raise SecretKeyMissing when there is none and ``generate`` is false (serving on a public address).
    """
    if settings.secret_key:
        return settings
    path = settings.secret_key_file
    key = _read_key(path)
    if key is None:
        if not generate:
            raise SecretKeyMissing(
                f"VILLAGEBOT_SECRET_KEY is not set and there is no key file {path}. On an address other "
                "than 127.0.0.1 the key is not made silently: set VILLAGEBOT_SECRET_KEY to a long random "
                "value (e.g. `openssl rand -hex 32`; the same for every process that shares the database), "
                "or create the key file once with `villagebot secret init` on a data directory that is kept.")
        key = _create_key(path)
    return settings.model_copy(update={"secret_key": key})


def load_settings() -> Settings:
    """Read the settings from the environment; raise ConfigError naming the wrong variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if not err["loc"]:  # a rule across several variables: its message names them
                problems.append(str(err["msg"]).removeprefix("Value error, "))
                continue
            field = str(err["loc"][0])
            problems.append(f"VILLAGEBOT_{field.upper()}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests build their own Settings)."""
    return load_settings()
