"""Contracts and ownership of an asset (issue 17: 合同, 确权; seed 003 "明确产权主体以及各产权主体占股比例").

``AssetContract``: one operating contract of an asset (经营方式、经营期限、收益约定、带贫减贫机制、风险防控).
A new contract for the same asset (another operator, a renewal) ends the current one: the older rows stay
with ``current = False`` and ``ended_at`` as the asset's contract history. ``asset.operator``,
``contract_start``, ``contract_end`` and ``income_terms`` mirror the current contract (the ledger's export
and the older pages read them). ``ContractAttachment``: the signed contract as a photo (kept by the
evidence store) or a PDF (kept by the blob store under ``contracts/``), addressed by SHA-256.
``AssetOwnerShare``: the owners (产权主体) of an asset and their shares in percent, which sum to 100;
``asset.ownership_shares`` mirrors them as one line ("某村股份经济合作社 60%；某合作社 40%").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Numeric
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class AssetContract(SQLModel, table=True):
    """One operating contract of an asset; ``current`` marks the one in force (one per asset)."""

    __tablename__ = "asset_contract"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    operator: str = Field(max_length=200)
    mode: str | None = Field(default=None, max_length=16)  # a key of bot.services.contracts.MODES
    start: dt.date | None = None
    end: dt.date | None = Field(default=None, index=True)
    income_amount: Decimal | None = Field(default=None, sa_type=Numeric(14, 4))  # 万元 a year
    income_terms: str | None = None
    poverty_mechanism: str | None = None
    risk_terms: str | None = None
    current: bool = Field(default=True, index=True)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    ended_at: dt.datetime | None = None


class ContractAttachment(SQLModel, table=True):
    """A scan or photo of a signed contract: a stored file addressed by SHA-256."""

    __tablename__ = "contract_attachment"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="asset_contract.id", index=True)
    sha256: str = Field(max_length=64)
    mime: str = Field(max_length=32)
    size_bytes: int
    filename: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)


class AssetOwnerShare(SQLModel, table=True):
    """One owner (产权主体) of an asset and its share in percent; an asset's shares sum to 100."""

    __tablename__ = "asset_owner_share"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    owner: str = Field(max_length=200)
    share: Decimal = Field(sa_type=Numeric(7, 4))
    position: int = 0
