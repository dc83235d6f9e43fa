"""Income of an asset and its distribution (issue 17 item 2; seed 003 收益分配, 000 附件3).

Money is in 万元 as Decimal, like the ledger and the monthly check's answer ``income_amount``.

- ``AssetIncome``: per asset and period (the monthly check's 'YYYY-MM', or a year 'YYYY' for a yearly rent),
  the income due (entered on the web; later also from the contract) and received (the monthly check's
  answer feeds it, ``bot.services.income.record_from_report``). ``problem_id`` is the problem raised when
  the due income was not received in time (once per asset and period).
- ``DistributionPlan``: the yearly plan of one asset (draft → submitted → approved by the township → filed
  with the industry department → distributed), its ``DistributionShare`` rows (category, percent, amount,
  a number of households — never a household's name or ID) and the ``DistributionRecord`` rows of what was paid.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class AssetIncome(SQLModel, table=True):
    """Income due and received of one asset in one period (万元); None: nothing entered or reported yet."""

    __tablename__ = "asset_income"
    __table_args__ = (UniqueConstraint("asset_id", "period", name="uq_asset_income_period"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    period: str = Field(max_length=16)
    due: Decimal | None = Field(default=None, sa_type=Numeric(14, 4))
    received: Decimal | None = Field(default=None, sa_type=Numeric(14, 4))
    report_id: int | None = Field(default=None, foreign_key="report.id")
    entered_by: int | None = Field(default=None, foreign_key="app_user.id")
    problem_id: int | None = Field(default=None, foreign_key="problem.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class DistributionPlan(SQLModel, table=True):
    """The income distribution plan (收益分配方案) of one asset for one year."""

    __tablename__ = "distribution_plan"
    __table_args__ = (UniqueConstraint("asset_id", "year", name="uq_distribution_plan_year"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    year: int
    status: str = Field(default="draft", max_length=16, index=True)
    total: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 4))
    note: str | None = Field(default=None, max_length=500)
    return_reason: str | None = Field(default=None, max_length=500)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    submitted_by: int | None = Field(default=None, foreign_key="app_user.id")
    submitted_at: dt.datetime | None = None
    approved_by: int | None = Field(default=None, foreign_key="app_user.id")
    approved_at: dt.datetime | None = None
    filed_by: int | None = Field(default=None, foreign_key="app_user.id")
    filed_at: dt.datetime | None = None
    updated_at: dt.datetime = Field(default_factory=utcnow)


class DistributionShare(SQLModel, table=True):
    """One category of a plan: its percent of the total, the amount, and how many households (a count only)."""

    __tablename__ = "distribution_share"
    __table_args__ = (UniqueConstraint("plan_id", "category", name="uq_distribution_share_category"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="distribution_plan.id", index=True)
    category: str = Field(max_length=16)
    percent: Decimal = Field(sa_type=Numeric(7, 4))
    amount: Decimal = Field(sa_type=Numeric(14, 4))
    households: int | None = None


class DistributionRecord(SQLModel, table=True):
    """One payment made under a filed plan (万元), with an optional attachment (the evidence store's sha256)."""

    __tablename__ = "distribution_record"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="distribution_plan.id", index=True)
    date: dt.date
    amount: Decimal = Field(sa_type=Numeric(14, 4))
    category: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=500)
    attachment: str | None = Field(default=None, max_length=64)
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
