"""The yearly inventory and settlement of a village's assets (seed 003: "每年初对上一年度的扶贫资产运行情况
进行清查，并对上年度资产收益进行清算").

One ``InventoryCheck`` per asset and counted year (the year before the one in which it is done): the village
cadre confirms that the asset exists, its state (``STATES`` keys, shown in words), the book value (万元) and
that the year's income was settled, with the amount received. ``bot.services.inventory`` writes them;
the village's duty (``done_by: inventory``) is recorded when every asset of the year is confirmed and settled.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class InventoryCheck(SQLModel, table=True):
    """One asset confirmed in one year's inventory: exists, state, book value, last year's income settled."""

    __tablename__ = "inventory_check"
    __table_args__ = (UniqueConstraint("asset_id", "year", name="uq_inventory_check"),)

    id: int | None = Field(default=None, primary_key=True)
    village_id: int = Field(foreign_key="org_unit.id", index=True)
    year: int = Field(index=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    exists: bool = True
    state: str = Field(max_length=16)
    value: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 4))
    income_settled: bool = False
    income_received: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 4))
    note: str | None = Field(default=None, max_length=500)
    confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")
    confirmed_at: dt.datetime = Field(default_factory=utcnow)
