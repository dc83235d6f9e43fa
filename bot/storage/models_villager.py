"""Tables of the villagers' report channel: every report as received (by hashed source), and mutes.

A ``VillagerReport`` is one submission of the public report form. Its source is kept only as two
keyed hashes (HMAC-SHA-256 under a key derived from the server's secret): of the client's network
address and of its device cookie — never the address itself. ``status`` says what became of it:

- ``filed``: it created a township ``Problem`` (``problem_id``);
- ``folded``: the same text was already reported for the asset; it was added to that report
  (``folded_into_id``) and counted there (``count``), not filed again;
- ``held``: the asset had many reports lately (or its source is muted), so it waits in the
  township's moderation queue, alerting no one;
- ``accepted`` / ``discarded``: a held report the township accepted (a Problem was created) or
  discarded; ``spam``: the township marked it as spam (its source is muted for a while).

A ``VillagerMute`` silences one source hash (``kind`` ``address`` or ``device``) until ``until``.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from bot.clock import utcnow

REPORT_STATUSES = ("filed", "folded", "held", "accepted", "discarded", "spam")


class VillagerReport(SQLModel, table=True):
    """One villager report as received from the public page, with its hashed source."""

    __tablename__ = "villager_report"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="asset.id", index=True)
    problem_id: int | None = Field(default=None, foreign_key="problem.id", index=True)
    folded_into_id: int | None = Field(default=None, foreign_key="villager_report.id", index=True)
    status: str = Field(max_length=16, index=True)
    category: str = Field(max_length=16)
    text: str
    text_hash: str = Field(max_length=64, index=True)
    photo_sha256: str | None = Field(default=None, max_length=64)
    address_hash: str = Field(max_length=64, index=True)
    device_hash: str = Field(max_length=64, index=True)
    muted_source: bool = False
    count: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow, index=True)
    decided_at: dt.datetime | None = None
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")


class VillagerMute(SQLModel, table=True):
    """A source (hashed address or device) whose reports are held or refused until ``until``."""

    __tablename__ = "villager_mute"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    source_hash: str = Field(max_length=64, index=True)
    until: dt.datetime
    problem_id: int | None = Field(default=None, foreign_key="problem.id")
    report_id: int | None = Field(default=None, foreign_key="villager_report.id")
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
