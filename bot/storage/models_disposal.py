"""Disposal of an asset (处置, seed 003 二(八)): the request, its valuation, the approvals up the chain, the
public notice and the record of what became of the asset (``bot.services.disposal``).

"进行资产评估并履行相应的报批手续后，可采取拍卖、转让、报废等形式对资产进行处置。处置结果要在本区域内公开。"
A ``Disposal`` holds the facts of each step as they are recorded; ``DisposalStep`` is its history, one row a step.
Money is in 万元 as Decimal, dates are the county's calendar days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Numeric
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class Disposal(SQLModel, table=True):
    """One disposal of one asset, from the request to the record (or refused / withdrawn on the way)."""

    __tablename__ = "asset_disposal"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    status: str = Field(default="requested", max_length=24, index=True)
    reason: str = Field(default="other", max_length=16)  # damaged, idle, auction, transfer, other
    method: str = Field(default="other", max_length=16)  # the planned way: auction, transfer, scrap, other
    description: str | None = None
    # The valuation (资产评估): amount in 万元, who valued it, when, and the report kept in the file store.
    valuation: Decimal | None = Field(default=None, sa_type=Numeric(14, 4))
    valuer: str | None = Field(default=None, max_length=200)
    valued_on: dt.date | None = None
    valuation_file: str | None = Field(default=None, max_length=255)
    valuation_file_name: str | None = Field(default=None, max_length=200)
    # The village meeting's resolution (村民会议 / 村民代表会议).
    meeting_kind: str | None = Field(default=None, max_length=16)
    meeting_on: dt.date | None = None
    meeting_attendees: int | None = None
    meeting_result: str | None = Field(default=None, max_length=16)
    # The public notice: first and last day it is shown.
    notice_from: dt.date | None = None
    notice_until: dt.date | None = None
    # The record: what became of the asset (a counterpart is a company or body, never a person's ID).
    outcome_on: dt.date | None = None
    outcome_method: str | None = Field(default=None, max_length=16)
    outcome_amount: Decimal | None = Field(default=None, sa_type=Numeric(14, 4))
    counterpart: str | None = Field(default=None, max_length=200)
    outcome_note: str | None = None
    closed_reason: str | None = None  # why it was refused or withdrawn
    class_id: int | None = Field(default=None, foreign_key="asset_class.id")  # the 四个一批 "处置" it came from
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class DisposalStep(SQLModel, table=True):
    """One step of a disposal's history: who did it, when, with what note."""

    __tablename__ = "asset_disposal_step"

    id: int | None = Field(default=None, primary_key=True)
    disposal_id: int = Field(foreign_key="asset_disposal.id", index=True)
    step: str = Field(max_length=24)
    actor_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    at: dt.datetime = Field(default_factory=utcnow)
    note: str | None = None


class DisposalProceedsUse(SQLModel, table=True):
    """One use of a disposal's proceeds (seed 003: "处置收入…按程序全部用于扶贫项目"): when, how much (万元), for
    which poverty-alleviation project or purpose (words; no person's name or ID)."""

    __tablename__ = "asset_disposal_proceeds"

    id: int | None = Field(default=None, primary_key=True)
    disposal_id: int = Field(foreign_key="asset_disposal.id", index=True)
    used_on: dt.date
    amount: Decimal = Field(sa_type=Numeric(14, 4))
    purpose: str = Field(max_length=200)
    note: str | None = None
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
