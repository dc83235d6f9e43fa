"""The scheduler's daily watch over disposals (issue 17 item 5; ``bot.services.disposal`` keeps them).

A disposal waits on people: nothing happens by itself when its public notice ends, or when a step is left
undone. ``outbox.plan_county`` calls ``plan_county`` in the county's planning transaction, under the lock that
makes planning run once across processes (as ``contract_watch``); the watch acts once per local day (the first
tick after the county's midnight) and returns outbox rows for it to insert:

- ``notice_reminders``: the day after a public notice's last day (``disposal.notice_days`` of the profile), the
  township's leaders — who record the disposal (the county office when the township has none) — are reminded
  that it may now be recorded. Keyed ``n|disposal/<id>|notice-ended-<last day>|…``: once per notice.
- ``escalations``: a disposal left at one step for more than the profile's ``disposal.stall_days`` (default 14;
  counted from its last step, or for a notice from the first day it may be recorded) is escalated to the level
  above whoever takes that step: the village's steps (the request, the meeting) to the township's leaders, the
  township's (its approval) to the county office; the county's own steps (its approval, starting the notice,
  the record) to the county office, the top of the chain. Keyed ``n|disposal/<id>|stalled-<status>-<since>|…``:
  once per step it stalls at; a later step that stalls again is escalated again.

- ``proceeds_reminders``: a recorded disposal whose proceeds are not all accounted for as used for
  poverty-alleviation projects ``PROCEEDS_DAYS`` (90) after its record: the township's leaders are reminded, once
  per disposal (``n|disposal/<id>|proceeds-left|…``).

All are sent from the end of the quiet hours of a working day, in the recipients' words, with no button (as the
disposal's other notices: people open 资产处置 from their home page). Each is audited (``notice.queue``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.clock import as_utc
from bot.i18n import N_
from bot.policy.schema import DISPOSAL_STALL_DAYS
from bot.policy.timing import next_open
from bot.services import watch_notices
from bot.services.disposal import NEXT, OPEN, Place, place_of
from bot.storage.models import Asset, OrgUnit, User
from bot.storage.models_disposal import Disposal, DisposalProceedsUse

NOTICE_ENDED = N_("The public notice of the disposal of {asset} ({village}) ended on {until}: record the disposal "
                  "now (处置).")
STALLED = N_("The disposal of {asset} ({village}, {township}) has waited {days} days for {next} since {since}, longer "
             "than the {limit} days allowed: please see that it goes on (处置).")
PROCEEDS_LEFT = N_("{asset} ({village}) was disposed of on {date}, more than {days} days ago, and {left} of its "
                   "{received} 万元 of proceeds are not yet used for poverty-alleviation projects: record their use "
                   "(处置).")
PROCEEDS_DAYS = 90  # our reading: a quarter after the record, the proceeds should be put to use
# Whom a disposal that waits too long at a status is escalated to: the level above whoever takes its next step.
ESCALATE_TO = {"draft": "township", "requested": "township", "village_meeting": "county",
               "township_approved": "county", "county_approved": "county", "notice": "county"}
ROLES = {"township": "township_leader", "county": "county_officer"}


def _people(session: Session, place: Place, level: str) -> tuple[str, list[User]]:
    """The level's people (the township's leaders, the county office) and the level told; a township without an
    active leader: the county office."""
    if level == "township":
        leaders = list(session.exec(select(User).where(User.role == "township_leader", col(User.active).is_(True),
                                                       User.org_unit_id == place.township.id)
                                    .order_by(User.id)).all())
        if leaders:
            return level, leaders
    return "county", list(session.exec(select(User).where(User.role == "county_officer", col(User.active).is_(True),
                                                          User.org_unit_id == place.county.id)
                                       .order_by(User.id)).all())


def _open(session: Session, scope: OrgUnit) -> list[tuple[Disposal, Asset]]:
    return list(session.exec(select(Disposal, Asset).join(Asset, col(Asset.id) == Disposal.asset_id)
                             .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                             .where(col(OrgUnit.path).startswith(scope.path), col(Disposal.status).in_(OPEN))
                             .order_by(col(Disposal.id))).all())


def _rows(session: Session, place: Place, disposal: Disposal, level: str, step: str, body: list,
          send_at: dt.datetime) -> list[dict[str, Any]]:
    told, people = _people(session, place, level)
    unit = place.township if told == "township" else place.county
    return watch_notices.rows(session, unit=unit, subject=f"disposal/{disposal.id}", step=step, item="disposal",
                              period=str(disposal.id), role=ROLES[told],
                              people=watch_notices.routes(session, people, None), body=body, actions=[],
                              send_at=send_at)


def notice_reminders(session: Session, scope: OrgUnit, today: dt.date, send_at: dt.datetime) -> list[dict[str, Any]]:
    """The reminders that a disposal's public notice has ended and it may be recorded (once per notice)."""
    rows: list[dict[str, Any]] = []
    for disposal, asset in _open(session, scope):
        if disposal.status != "notice" or disposal.notice_until is None or disposal.notice_until >= today:
            continue
        place = place_of(session, asset)
        body = [[NOTICE_ENDED, {"asset": asset.name, "village": place.village.name,
                                "until": disposal.notice_until.isoformat()}]]
        rows += _rows(session, place, disposal, "township", f"notice-ended-{disposal.notice_until.isoformat()}",
                      body, send_at)
    return rows


def waiting_since(disposal: Disposal, tz: dt.tzinfo) -> dt.date:
    """The county-local day from which a disposal waits for its next step: its last step's (the first day it may
    be recorded, for a notice)."""
    if disposal.status == "notice" and disposal.notice_until is not None:
        return disposal.notice_until + dt.timedelta(days=1)
    return as_utc(disposal.updated_at).astimezone(tz).date()


def escalations(session: Session, scope: OrgUnit, today: dt.date, limit: int, tz: dt.tzinfo,
                send_at: dt.datetime) -> list[dict[str, Any]]:
    """The notices to the level above of the disposals left at one step for more than ``limit`` days (once per
    step it stalls at)."""
    rows: list[dict[str, Any]] = []
    for disposal, asset in _open(session, scope):
        since = waiting_since(disposal, tz)
        days = (today - since).days
        if days <= limit:
            continue
        place = place_of(session, asset)
        body = [[STALLED, {"asset": asset.name, "village": place.village.name, "township": place.township.name,
                           "days": days, "next": watch_notices.translatable(NEXT[disposal.status]),
                           "since": since.isoformat(), "limit": limit}]]
        rows += _rows(session, place, disposal, ESCALATE_TO[disposal.status],
                      f"stalled-{disposal.status}-{since.isoformat()}", body, send_at)
    return rows


def proceeds_reminders(session: Session, scope: OrgUnit, today: dt.date, send_at: dt.datetime) -> list[dict[str, Any]]:
    """The reminders that a disposal's proceeds are not all used ``PROCEEDS_DAYS`` after its record (once per
    disposal), to the township's leaders (``bot.services.disposal_proceeds``)."""
    cutoff = today - dt.timedelta(days=PROCEEDS_DAYS)
    found = session.exec(select(Disposal, Asset).join(Asset, col(Asset.id) == Disposal.asset_id)
                         .join(OrgUnit, col(OrgUnit.id) == Asset.village_id)
                         .where(col(OrgUnit.path).startswith(scope.path), Disposal.status == "recorded",
                                col(Disposal.outcome_amount) > 0, col(Disposal.outcome_on) < cutoff)
                         .order_by(col(Disposal.id))).all()
    if not found:
        return []
    used = dict(session.exec(select(DisposalProceedsUse.disposal_id, func.sum(DisposalProceedsUse.amount))
                             .where(col(DisposalProceedsUse.disposal_id).in_([d.id for d, _ in found]))
                             .group_by(DisposalProceedsUse.disposal_id)).all())
    rows: list[dict[str, Any]] = []
    for disposal, asset in found:
        left = Decimal(disposal.outcome_amount) - Decimal(str(used.get(disposal.id) or 0))
        if left <= 0:
            continue
        place = place_of(session, asset)
        body = [[PROCEEDS_LEFT, {"asset": asset.name, "village": place.village.name,
                                 "date": disposal.outcome_on.isoformat(), "days": PROCEEDS_DAYS,
                                 "left": format(left.normalize(), "f"),
                                 "received": format(Decimal(disposal.outcome_amount).normalize(), "f")}]]
        rows += _rows(session, place, disposal, "township", "proceeds-left", body, send_at)
    return rows


def plan_county(session: Session, view: Any, since: dt.datetime, now: dt.datetime) -> list[dict[str, Any]]:
    """The day's work on disposals for one county (``outbox.plan_county`` calls it under the county's lock and
    inserts the rows returned): once the county's local day has turned since the last tick, the reminders of
    the notices ended and the escalations of the disposals that wait too long."""
    tz = view.tz
    today = as_utc(now).astimezone(tz).date()
    if as_utc(since).astimezone(tz).date() >= today:
        return []
    send_at = next_open(as_utc(now), tz, view.profile)
    limit = int((view.profile.disposal or {}).get("stall_days") or DISPOSAL_STALL_DAYS)
    return (notice_reminders(session, view.county, today, send_at)
            + escalations(session, view.county, today, limit, tz, send_at)
            + proceeds_reminders(session, view.county, today, send_at))
