"""Tables of the yearly cycle (seed 004): the steps a village's yearly report goes through.

A ``CycleStep`` records one step of a report beyond its submission — the village supervisor's
sign-off, the public posting (its 10-day window), the report to the township, the township's
review with its score — or the county's grade of a township for a year. The report's own row
keeps the answers; the steps say who moved it on and when. Each step is also in the audit log.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.clock import utcnow

STEPS = ("sign_off", "post", "report_up", "review", "grade")


class CycleStep(SQLModel, table=True):
    """One step of the yearly cycle for a report (or, for 'grade', a township and year)."""

    __tablename__ = "cycle_step"
    __table_args__ = (UniqueConstraint("org_unit_id", "period", "form_id", "step", name="uq_cycle_step"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int | None = Field(default=None, foreign_key="report.id", index=True)
    org_unit_id: int = Field(foreign_key="org_unit.id", index=True)
    form_id: str = Field(max_length=64)
    period: str = Field(max_length=16)
    step: str = Field(max_length=16)
    at: dt.datetime = Field(default_factory=utcnow)
    until: dt.datetime | None = None
    by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
