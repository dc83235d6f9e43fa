"""Tables of issue 16's sign-off (seed 004 五(二), 五(三)1): one signature per signer post of a village report.

Qinbei's self-evaluations are "村（居）务监督委员会主任、村（居）民合作社监事会主任分别签字确认": two signers,
each for their post. A ``ReportSignature`` is one of them; the report is signed off when every post the
county's profile names has signed (``bot.services.cycle.sign_off``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.clock import utcnow


class ReportSignature(SQLModel, table=True):
    """One signer's signature of a village report, for one post (e.g. ``supervisory_committee``)."""

    __tablename__ = "report_signature"
    __table_args__ = (UniqueConstraint("report_id", "post", name="uq_report_signature_post"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    post: str = Field(max_length=32)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    at: dt.datetime = Field(default_factory=utcnow)
