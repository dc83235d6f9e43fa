"""WeCom (企业微信) self-built app: the accounts bound to users and the callbacks already handled.

``wecom_identity`` is a person's WeCom member id (``UserId``) in the county's WeCom organisation:
recorded by an officer (``bound_at`` empty until the person first writes to the app) or bound by
the person with an invite code. It is the route of the personal ``wecom_app`` channel
(``bot.services.channels``) and remembers the draft the person is filling in WeCom and the text
the app waits for (a problem's resolution note). ``wecom_callback`` holds the keys of callbacks
handled (a message's ``MsgId``, an event's sender + time + key): WeCom repeats a callback it got no
quick answer to, and a replayed one is dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class WeComIdentity(SQLModel, table=True):
    """A WeCom member (``userid``) bound to one user."""

    __tablename__ = "wecom_identity"

    id: int | None = Field(default=None, primary_key=True)
    userid: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", unique=True)
    reachable: bool = Field(default=True)
    recorded_at: dt.datetime = Field(default_factory=utcnow)
    bound_at: dt.datetime | None = Field(default=None)  # None: recorded by an officer, never seen yet
    active_report_id: int | None = Field(default=None)
    follow_up: Any = Field(default=None, sa_column=Column(JSON, nullable=True))  # {"kind", "argument", "until"}


class WeComCallback(SQLModel, table=True):
    """A callback already handled, by its key (replays are dropped)."""

    __tablename__ = "wecom_callback"

    key: str = Field(max_length=200, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, index=True)
