"""Tables of the scheduler: due items, the tick watermark, the outbox, duties done, group webhooks.

The planner (bot.policy) is pure; these rows are its memory. An outgoing message is one
``OutboxMessage`` row with a unique ``key`` (subject|step|recipient): any number of tick
processes may insert it, one of them claims it by compare-and-set and sends it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.clock import utcnow

OUTBOX_STATUSES = ("pending", "claimed", "sending", "sent", "unreachable", "failed")
ROUTE_KINDS = ("wecom", "dingtalk")


class ScheduleState(SQLModel, table=True):
    """Per county: the instant up to which messages have been planned (the tick watermark)."""

    __tablename__ = "schedule_state"

    county_id: int = Field(foreign_key="org_unit.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    watermark: dt.datetime
    updated_at: dt.datetime = Field(default_factory=utcnow)
    # The last planning failure of this county (None once a tick plans it again): shown on /healthz.
    error: str | None = Field(default=None, max_length=500)
    error_at: dt.datetime | None = None


class DueItemRow(SQLModel, table=True):
    """One occurrence of a profile's duty in one county (e.g. village_monthly_report 2026-11)."""

    __tablename__ = "due_item"
    __table_args__ = (UniqueConstraint("county_id", "item", "period", name="uq_due_item"),)

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="org_unit.id", index=True)
    item: str = Field(max_length=64)
    period: str = Field(max_length=16)
    role: str = Field(max_length=32)
    level: str = Field(max_length=16)
    due_at: dt.datetime = Field(index=True)
    profile: str = Field(max_length=64)


class DutyRecord(SQLModel, table=True):
    """A duty other than the monthly report recorded as done by a unit (inspection, self-check…).

    ``by`` says how: ``form`` (its forms submitted), ``sign_off`` (signed off, reported up), ``record``
    (an officer's record: ``occurred_on``, ``note``, optional ``attachment``), ``review``, ``grade``.
    """

    __tablename__ = "duty_record"
    __table_args__ = (UniqueConstraint("org_unit_id", "item", "period", name="uq_duty_record"),)

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int = Field(foreign_key="org_unit.id", index=True)
    item: str = Field(max_length=64)
    period: str = Field(max_length=16)
    done_at: dt.datetime
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    by: str = Field(default="form", max_length=16, sa_column_kwargs={"server_default": "form"})
    occurred_on: dt.date | None = None
    note: str | None = Field(default=None, max_length=2000)
    attachment: str | None = Field(default=None, max_length=300)
    attachment_name: str | None = Field(default=None, max_length=200)


class ChannelRoute(SQLModel, table=True):
    """A township's WeCom (企业微信) or DingTalk group-robot webhook."""

    __tablename__ = "channel_route"

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int = Field(foreign_key="org_unit.id", index=True)
    kind: str = Field(max_length=16)
    name: str = Field(max_length=100)
    url: str = Field(max_length=500)
    secret: str | None = Field(default=None, max_length=200)
    reachable: bool = Field(default=True)
    created_at: dt.datetime = Field(default_factory=utcnow)


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient route; ``key`` is unique, ``status`` moves by compare-and-set.

    pending → claimed (in a batch) → sending (handed to the channel) → sent; a transient failure puts it back to pending with a later
    ``next_attempt_at``; a dead route makes it ``unreachable`` (and forwards it up the chain).
    ``recovered`` counts re-sends after a claim was left behind by a process that died.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    county_id: int = Field(foreign_key="org_unit.id", index=True)
    kind: str = Field(max_length=16)
    step: str = Field(max_length=64)
    subject: str = Field(max_length=100)
    item: str = Field(max_length=64)
    period: str = Field(max_length=16)
    role: str = Field(max_length=32)
    scope: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=32)
    recipient_name: str = Field(default="", max_length=100)
    locale: str = Field(default="zh_CN", max_length=8)
    send_at: dt.datetime
    urgent: bool = False
    body: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    collapsed: int = 0
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime
    claimed_at: dt.datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=64)
    recovered: int = 0
    sent_at: dt.datetime | None = None
    error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow)


class PolicyDocument(SQLModel, table=True):
    """A county's own policy profile (a file given by path to ``policy use``), kept in the database so
    that every later tick, on any host, reads the same text even when the file is gone."""

    __tablename__ = "policy_document"

    id: int | None = Field(default=None, primary_key=True)
    profile_id: str = Field(max_length=64, unique=True)
    source: str = Field(max_length=500)
    content: str
    sha256: str = Field(max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
