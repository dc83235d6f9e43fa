"""Conversation state of the Telegram bot that must outlive a process: pending follow-ups.

A follow-up is the text the bot waits for after a button: the reason of a send-back, the note of
a resolved problem or of a changed class, the proposal of an escalation. It is kept per Telegram
user and chat, so a restart or another process serving the webhook finds it, and it is read and
deleted in the same transaction as the change the text makes (``bot.adapters.telegram``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class TelegramFollowUp(SQLModel, table=True):
    """The follow-up a Telegram user's next text answers in one chat: its kind, argument and expiry."""

    __tablename__ = "telegram_follow_up"

    telegram_user_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    chat_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str = Field(max_length=32)
    argument: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime = Field(index=True)


class RateWindow(SQLModel, table=True):
    """How many calls one pacing key (all of the bot, one chat, one group) made in one time window: shared by
    every process on the database, so N processes together keep Telegram's limits (``bot.services.pacing``)."""

    __tablename__ = "rate_window"

    key: str = Field(max_length=64, primary_key=True)
    window: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    count: int = 0
