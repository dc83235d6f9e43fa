"""Tables of the asset registry, reports, problems, evidence, access and audit.

Times are stored as naive UTC datetimes (``bot.clock.utcnow``); conversion to the
county's time zone happens at the edges. Money is in 万元 as Decimal.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.clock import utcnow

ROLES = (
    "village_cadre",
    "village_supervisor",
    "township_leader",
    "department_officer",
    "county_officer",
    "admin",
)
LEVELS = ("county", "township", "village")
ASSET_TYPES = ("公益性", "经营性", "到户类")
INDUSTRY_CATEGORIES = ("种植业", "养殖业", "加工业", "旅游业", "电子商务", "光伏扶贫", "其他")
FUND_SOURCES = ("central", "province", "city", "county", "other")


def _money() -> Any:
    return Field(default=Decimal("0"), sa_type=Numeric(14, 4))


class OrgUnit(SQLModel, table=True):
    """A county, township or village; ``path`` is the materialised ancestry '/1/4/9/'."""

    __tablename__ = "org_unit"
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_org_unit_parent_name"),)

    id: int | None = Field(default=None, primary_key=True)
    level: str = Field(max_length=16, index=True)
    name: str = Field(max_length=100)
    code: str | None = Field(default=None, max_length=12, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    path: str = Field(default="", max_length=255, index=True)
    policy_profile: str | None = Field(default=None, max_length=64)
    supervision_phone: str | None = Field(default=None, max_length=32)


class User(SQLModel, table=True):
    """A person with one role over one organisation unit (None: the whole installation, admins only)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=32, index=True)
    org_unit_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    phone: str | None = Field(default=None, max_length=32)
    locale: str = Field(default="zh_CN", max_length=8)
    active: bool = Field(default=True)
    created_at: dt.datetime = Field(default_factory=utcnow)


class TelegramIdentity(SQLModel, table=True):
    """A Telegram account bound to a user by an invite."""

    __tablename__ = "telegram_identity"

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=BigInteger, unique=True)
    chat_id: int = Field(sa_type=BigInteger)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    username: str | None = Field(default=None, max_length=64)
    active_report_id: int | None = Field(default=None)
    reachable: bool = Field(default=True)
    bound_at: dt.datetime = Field(default_factory=utcnow)


class Invite(SQLModel, table=True):
    """A one-time code that binds a Telegram account to a user; only its hash is stored."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    expires_at: dt.datetime
    used_at: dt.datetime | None = None
    used_by_telegram_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: dt.datetime = Field(default_factory=utcnow)


class Asset(SQLModel, table=True):
    """One project asset with every field of the ledger (seed 000 附件1) and the policy."""

    __tablename__ = "asset"

    id: int | None = Field(default=None, primary_key=True)
    project_code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    village_id: int = Field(foreign_key="org_unit.id", index=True)
    asset_type: str = Field(max_length=8, index=True)
    industry_category: str | None = Field(default=None, max_length=16, index=True)
    funds_total: Decimal = _money()
    funds_central: Decimal = _money()
    funds_province: Decimal = _money()
    funds_city: Decimal = _money()
    funds_county: Decimal = _money()
    funds_other: Decimal = _money()
    construction_type: str | None = Field(default=None, max_length=32)
    year_completed: int | None = None
    year_in_production: int | None = None
    responsible_unit: str | None = Field(default=None, max_length=200)
    construction_content: str | None = None
    beneficiaries: str | None = None
    performance_targets: str | None = None
    owner: str | None = Field(default=None, max_length=200)
    ownership_shares: str | None = Field(default=None, max_length=500)
    custodian: str | None = Field(default=None, max_length=200)
    operator: str | None = Field(default=None, max_length=200)
    contract_start: dt.date | None = None
    contract_end: dt.date | None = None
    income_terms: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    status: str = Field(default="active", max_length=16)
    public_token: str = Field(max_length=64, unique=True)
    # Optional facts for seed 000 三(二)'s thresholds (migration scoring_0001): a workshop's production
    # area and its workers (of them from poor households), the day it went into use (the 30 % / 10 % rule
    # turns on 2018-07-05), and a PV station's yearly income and the part paid for public-welfare jobs (万元).
    workshop_area_m2: Decimal | None = Field(default=None, sa_type=Numeric(12, 2))
    workers: int | None = None
    poor_workers: int | None = None
    in_use_since: dt.date | None = None
    pv_income: Decimal | None = Field(default=None, sa_type=Numeric(14, 4))
    pv_income_public_jobs: Decimal | None = Field(default=None, sa_type=Numeric(14, 4))
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Report(SQLModel, table=True):
    """One answered form (a draft until submitted) for one asset, or one village or township, and period.

    A report is about an asset (``asset_id``; the monthly checks, inspections, quarterly forms) or
    about an organisation unit (``org_unit_id``, with ``asset_id`` empty; the yearly village forms).
    A send-back creates a new version of the same (subject, form, period); older versions stay as
    history with ``current = False``.
    """

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("asset_id", "form_id", "period", "version", name="uq_report_version"),
        UniqueConstraint("org_unit_id", "form_id", "period", "version", name="uq_report_unit_version"),
        Index("ix_report_period_status", "period", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int | None = Field(default=None, foreign_key="asset.id", index=True)
    org_unit_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    form_id: str = Field(max_length=64)
    form_version: int = 1
    period: str = Field(max_length=16)
    version: int = 1
    current: bool = True
    status: str = Field(default="draft", max_length=16)
    answers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    position: str | None = Field(default=None, max_length=64)
    flags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channel: str | None = Field(default=None, max_length=16)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    submitted_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    submitted_at: dt.datetime | None = None
    review_note: str | None = None


class Problem(SQLModel, table=True):
    """An item of the problem list (问题清单), from a report, a villager or an inspection."""

    __tablename__ = "problem"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="report.id", index=True)
    source: str = Field(max_length=16)
    kind: str = Field(max_length=64)
    severity: str = Field(max_length=16, index=True)
    status: str = Field(default="open", max_length=16, index=True)
    owner_level: str = Field(default="township", max_length=16)
    description: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    due_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: int | None = Field(default=None, foreign_key="app_user.id")
    resolved_at: dt.datetime | None = None
    resolved_by: int | None = Field(default=None, foreign_key="app_user.id")
    resolution_note: str | None = None


class ProblemEvent(SQLModel, table=True):
    """One step in a problem's history (created, acknowledged, escalated, resolved, note)."""

    __tablename__ = "problem_event"

    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="problem.id", index=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=32)
    note: str | None = None


class Photo(SQLModel, table=True):
    """A stored image, addressed by the SHA-256 of its original bytes."""

    __tablename__ = "photo"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    mime: str = Field(max_length=32)
    width: int
    height: int
    size_bytes: int
    phash: str = Field(max_length=32, index=True)
    taken_at: dt.datetime | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class PhotoUse(SQLModel, table=True):
    """A photo attached to a report's question; flags say why it looks doubtful."""

    __tablename__ = "photo_use"

    id: int | None = Field(default=None, primary_key=True)
    photo_id: int = Field(foreign_key="photo.id", index=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    question_key: str = Field(max_length=64)
    flags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)


class ProcessedUpdate(SQLModel, table=True):
    """A Telegram update_id already handled (webhook and polling deduplication)."""

    __tablename__ = "processed_update"

    update_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    processed_at: dt.datetime = Field(default_factory=utcnow)


class LinkToken(SQLModel, table=True):
    """A signed, expiring, single-use sign-in link for the web form; only its hash is stored."""

    __tablename__ = "link_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    purpose: str = Field(default="signin", max_length=32)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    expires_at: dt.datetime
    used_at: dt.datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries a random id, only its SHA-256 is stored; revocable."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    via: str = Field(default="link", max_length=16)  # how it was opened: link, telegram
    user_agent: str = Field(default="", max_length=300)
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_seen_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None


class AssetClass(SQLModel, table=True):
    """The township's four-way class (四个一批) of an asset, suggested and confirmed."""

    __tablename__ = "asset_class"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    period: str = Field(max_length=16)
    suggested: str | None = Field(default=None, max_length=8)
    reasons: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    confirmed: str | None = Field(default=None, max_length=8)
    note: str | None = None
    confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")
    confirmed_at: dt.datetime | None = None


class AuditEntry(SQLModel, table=True):
    """An append-only audit record, chained to the previous one and signed (bot/services/audit.py):
    scheme 1 is HMAC-SHA256 over every column with the key ``key_id``; scheme 0 the legacy plain SHA-256."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor_user_id: int | None = None
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64, index=True)
    entity: str = Field(max_length=32)
    entity_id: str | None = Field(default=None, max_length=64)
    before: dict | None = Field(default=None, sa_column=Column(JSON))
    after: dict | None = Field(default=None, sa_column=Column(JSON))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    scheme: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    key_id: str | None = Field(default=None, max_length=16)


# The other tables register on the same metadata; imported last, since they refer to the tables above.
from bot.storage import (  # noqa: E402
    models_contract,  # noqa: F401
    models_cycle,  # noqa: F401
    models_disposal,  # noqa: F401
    models_fidelity,  # noqa: F401
    models_income,  # noqa: F401
    models_inventory,  # noqa: F401
    models_ledger,  # noqa: F401
    models_schedule,  # noqa: F401
    models_scoring,  # noqa: F401
    models_telegram,  # noqa: F401
    models_villager,  # noqa: F401
)
