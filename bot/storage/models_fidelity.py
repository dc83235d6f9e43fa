"""Which industries a department officer answers for (seed 002 第七条 行业主管部门; 000 附件1 产业类别).

A ``department_officer`` is scoped to a county like the county office; a ``DepartmentCategory`` row says
that this officer's department supervises assets of one industry category (种植业, 养殖业…): problems on
such an asset reach them (``bot.services.problems.route_new``). An officer without rows receives none.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class DepartmentCategory(SQLModel, table=True):
    """One industry category (``Asset.industry_category``) a department officer's department supervises."""

    __tablename__ = "department_category"
    __table_args__ = (UniqueConstraint("user_id", "category", name="uq_department_category"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    category: str = Field(max_length=16, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
