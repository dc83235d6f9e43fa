"""The ledger's funds by year (seed 000 附件1, 填报说明2): a cross-year project is registered in each year's
ledger with the funds used that year, so the asset's ``funds_*`` are the sum of its years.

One ``AssetFundsYear`` row per asset and ledger year, written by importing a ledger whose title (or a
年度 column) names the year; ``position`` is the row's place in that year's file, so that the year's
export lists the assets in the order the county wrote them. An asset imported from a file without a
year has no rows here and keeps its totals on ``asset``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel


def _money() -> Any:
    return Field(default=Decimal("0"), sa_type=Numeric(14, 4))


class AssetFundsYear(SQLModel, table=True):
    """The funds of one asset in one year's ledger (万元), and its row's place in that ledger."""

    __tablename__ = "asset_funds_year"
    __table_args__ = (UniqueConstraint("asset_id", "year", name="uq_asset_funds_year"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    year: int = Field(index=True)
    position: int = 0
    funds_total: Decimal = _money()
    funds_central: Decimal = _money()
    funds_province: Decimal = _money()
    funds_city: Decimal = _money()
    funds_county: Decimal = _money()
    funds_other: Decimal = _money()
