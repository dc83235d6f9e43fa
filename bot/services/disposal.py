"""Disposal of an asset (处置, seed 003 二(八)) by procedure, one function per step.

"对发现扶贫资产运行不良、无法使用或达到使用年限等确需处置的…进行资产评估并履行相应的报批手续后，可采取拍卖、
转让、报废等形式对资产进行处置。处置结果要在本区域内公开。" The steps, in order (``ORDER``):

1. ``request``: a village cadre of the asset's village asks to dispose of it (reason, planned method, description).
   The township's 四个一批 "处置" opens a ``draft`` the cadre completes (``open_from_class``).
2. ``record_meeting``: the same village records the resolution of its 村民会议 / 村民代表会议 (date, attendees,
   result); a meeting that does not agree refuses the disposal.
3. ``approve_township``: a leader of the asset's township approves (the valuation must be recorded by then:
   ``record_valuation``, by the village or the township, with an optional report file).
4. ``approve_county``: the county office, or the industry department of the asset's category, approves.
5. ``start_notice``: the township or the county starts the public notice (QR page and village board) for the
   days the county's profile sets (``disposal: {notice_days}``, default 7).
6. ``record_outcome``: after the notice has run its days, the township or the county records what became of
   the asset (date, method, amount, counterpart, note); the asset becomes ``disposed``: it leaves the monthly
   checklist and the duty counts (they count active assets only) and stays in the ledger with its history.
7. Then the village or the township accounts for the proceeds, use by use, until all of it went to
   poverty-alleviation projects (``bot.services.disposal_proceeds``).

``refuse`` (by whoever would take the next step) and ``withdraw`` (by the village or the township) end a
disposal at any step before the record. A step out of order is refused with the step it waits for; a person
outside the step's scope is refused like a foreign asset. Every step writes a ``DisposalStep``, an audit entry
and the notice to the next actor (``bot.services.notices``, the outbox) in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import DEFAULT_LOCALE, N_, Label, UserError, translate
from bot.services import audit, pii
from bot.services.access import AccessDenied, covers, require_asset
from bot.storage.models import Asset, AssetClass, OrgUnit, Problem, ProblemEvent, User
from bot.storage.models_disposal import Disposal, DisposalStep

REASONS = {"damaged": N_("Damaged or worn out, to be scrapped"), "idle": N_("Idle for long and cannot be revitalised"),
           "auction": N_("To be sold at auction"), "transfer": N_("To be transferred"), "other": N_("Other reason")}
METHODS = {"auction": N_("Auction"), "transfer": N_("Transfer"), "scrap": N_("Scrapping"), "other": N_("Other way")}
MEETINGS = {"villagers": N_("Villagers' assembly (村民会议)"),
            "representatives": N_("Villagers' representatives' meeting (村民代表会议)")}
RESULTS = {"agreed": N_("Agreed"), "not_agreed": N_("Not agreed")}
STATUSES = {
    "draft": N_("Opened by the four-way classification: the village completes the request"),
    "requested": N_("Requested by the village"),
    "village_meeting": N_("Agreed by the village meeting"),
    "township_approved": N_("Approved by the township"),
    "county_approved": N_("Approved by the county"),
    "notice": N_("Publicly noticed"),
    "recorded": N_("Disposed and recorded"),
    "refused": N_("Refused"),
    "withdrawn": N_("Withdrawn"),
}
# What each status waits for next (in words), for the pages and the refusals.
NEXT = {
    "draft": N_("the village's request"),
    "requested": N_("the village meeting's resolution"),
    "village_meeting": N_("the township's approval"),
    "township_approved": N_("the county's approval"),
    "county_approved": N_("the public notice"),
    "notice": N_("the record of the disposal, after the notice"),
}
ORDER = ("draft", "requested", "village_meeting", "township_approved", "county_approved", "notice", "recorded")
OPEN = ("draft", "requested", "village_meeting", "township_approved", "county_approved", "notice")
CLOSED = ("recorded", "refused", "withdrawn")
DEFAULT_NOTICE_DAYS = 7
TEXT_MAX = 1000
NAME_MAX = 200
ATTACHMENT_TYPES = {".pdf": b"%PDF", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff", ".png": b"\x89PNG"}
MAX_ATTACHMENT = 20 * 1024 * 1024

# Refusals (translatable).
MSG_OUT_OF_ORDER = N_("This step cannot be taken now: the disposal is at “{status}” and waits for {next}. "
                      "Steps cannot be skipped.")
MSG_CLOSED = N_("This disposal is closed ({status}): nothing more can be done on it.")
MSG_ALREADY_OPEN = N_("{asset} already has a disposal in progress: continue that one.")
MSG_NOT_ACTIVE = N_("{asset} is not in use, so it cannot be disposed of.")
MSG_REASON = N_("Choose the reason for the disposal.")
MSG_METHOD = N_("Choose how the asset is to be disposed of.")
MSG_DESCRIPTION = N_("Describe the asset's state and why it must be disposed of (at most {max} characters).")
MSG_DATE = N_("Give the date (not in the future).")
MSG_MEETING = N_("Say which meeting decided, how many attended and what it resolved.")
MSG_VALUATION = N_("Give the valuation in 10k yuan (0 or more), who valued the asset and when.")
MSG_NO_VALUATION = N_("Record the asset's valuation (资产评估) before the township approves.")
MSG_NOTICE_RUNNING = N_("The public notice runs until {until}: the disposal can be recorded from {day} on.")
MSG_NOTICE_START = N_("The public notice cannot start before today.")
MSG_OUTCOME = N_("Give the date, the way it was disposed of and the amount received in 10k yuan (0 or more).")
MSG_COUNTERPART = N_("Name the counterpart as a company or body, without any ID number or phone number.")
MSG_CLOSE_REASON = N_("Say why (at most {max} characters).")
MSG_ATTACHMENT_TYPE = N_("The valuation report must be a PDF, JPEG or PNG file.")
MSG_ATTACHMENT_SIZE = N_("The valuation report is larger than {mb} MB.")
MSG_NOT_YOURS = N_("This step is not yours: {who} takes it.")

WHO = {
    "village": N_("a cadre of the asset's village"),
    "township": N_("a leader of the asset's township"),
    "county": N_("the county office or the asset's industry department"),
    "township_or_county": N_("the township or the county office"),
}

# Notices to the next actor (outbox rows in the step's transaction).
TO_VILLAGE_DRAFT = N_("The township classified {asset} ({village}) for disposal (处置一批): complete the disposal "
                      "request on the web (处置).")
TO_VILLAGE_MEETING = N_("Disposal of {asset} ({village}) requested: hold the village meeting and record its "
                        "resolution on the web (处置).")
TO_TOWNSHIP_APPROVE = N_("The village meeting of {village} agreed to dispose of {asset}: your approval is "
                         "awaited (处置).")
TO_COUNTY_APPROVE = N_("{township} approved disposing of {asset} ({village}): the county's approval is awaited "
                       "(处置).")
TO_TOWNSHIP_NOTICE = N_("The county approved disposing of {asset} ({village}): start its public notice (处置).")
TO_TOWNSHIP_RECORD = N_("The public notice of the disposal of {asset} ({village}) runs until {until}; record the "
                        "disposal after it (处置).")
TO_ALL_RECORDED = N_("{asset} ({village}) is disposed of: {method}, {date}. It is no longer checked monthly.")
TO_ALL_CLOSED = N_("The disposal of {asset} ({village}) was {status}: {reason}")
# Item 6: the 四个一批 "盘活" opens a task to change the contract or the operator.
REVITALISE_KIND = "revitalise"
REVITALISE_TEXT = N_("Revitalise (盘活一批): change the operating contract or the operator of this asset.")


class DisposalError(UserError, ValueError):
    """The step is refused; ``msgid`` is translatable."""


@dataclass(frozen=True)
class Place:
    """The asset of a disposal and the units above it."""

    asset: Asset
    village: OrgUnit
    township: OrgUnit
    county: OrgUnit


def place_of(session: Session, asset: Asset) -> Place:
    """The asset with its village, township and county."""
    village = session.get(OrgUnit, asset.village_id)
    ids = [int(p) for p in village.path.strip("/").split("/") if p]
    township = session.get(OrgUnit, village.parent_id) if village.parent_id else village
    county = session.get(OrgUnit, ids[0]) if ids else village
    return Place(asset, village, township, county)


def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}")


def tz_of(session: Session, unit: OrgUnit) -> dt.tzinfo:
    """The time zone of the unit's county profile (China's when none is chosen)."""
    from bot.services.duties import profile_of

    profile = profile_of(session, unit)
    return ZoneInfo(profile.timezone if profile is not None else "Asia/Shanghai")


def today(session: Session, unit: OrgUnit, now: dt.datetime | None = None) -> dt.date:
    """The county's calendar day at ``now``."""
    return as_utc(now or utcnow()).astimezone(tz_of(session, unit)).date()


def notice_days(session: Session, unit: OrgUnit) -> int:
    """How many days the public notice lasts: the county profile's ``disposal.notice_days``, else 7."""
    from bot.services.duties import profile_of

    profile = profile_of(session, unit)
    days = (profile.disposal or {}).get("notice_days") if profile is not None else None
    return int(days or DEFAULT_NOTICE_DAYS)


# --- who may do what ---------------------------------------------------------------------------------------

def is_village(session: Session, user: User, place: Place) -> bool:
    """A cadre of the asset's village."""
    return user.active and user.role == "village_cadre" and covers(session, user, place.village)


def is_township(session: Session, user: User, place: Place) -> bool:
    """A leader of the asset's township."""
    return user.active and user.role == "township_leader" and covers(session, user, place.township)


def is_county(session: Session, user: User, place: Place) -> bool:
    """The county office of the asset's county, or a department officer there supervising its category."""
    if not user.active or not covers(session, user, place.county):
        return False
    if user.role == "county_officer":
        return True
    if user.role == "department_officer":
        from bot.services.departments import categories_of

        return bool(place.asset.industry_category) and place.asset.industry_category in categories_of(session, user.id)
    return False


STEP_ACTORS = {
    "request": ("village",), "meeting": ("village",), "valuation": ("village", "township"),
    "township": ("township",), "county": ("county",), "notice": ("township", "county"),
    "record": ("township", "county"),
    "proceeds": ("village", "township"),  # the uses of the proceeds (bot.services.disposal_proceeds)
}
CHECKS = {"village": is_village, "township": is_township, "county": is_county}
# Who takes the step a status waits for (and may refuse the disposal there).
WAITING = {"draft": "request", "requested": "meeting", "village_meeting": "township",
           "township_approved": "county", "county_approved": "notice", "notice": "record"}


def may(session: Session, user: User, place: Place, step: str) -> bool:
    """Whether ``user`` may take ``step`` on a disposal of ``place``'s asset."""
    return any(CHECKS[kind](session, user, place) for kind in STEP_ACTORS[step])


def _who(step: str) -> str:
    kinds = STEP_ACTORS[step]
    return WHO["township_or_county"] if kinds == ("township", "county") else WHO[kinds[0]]


def _require(session: Session, user: User | None, place: Place, step: str) -> None:
    if user is None or not user.active:
        raise AccessDenied(N_("Please sign in first."))
    if not covers(session, user, place.village):
        raise AccessDenied(N_("This is outside your area."))
    if not may(session, user, place, step):
        raise AccessDenied(MSG_NOT_YOURS, who=Label(_who(step)))


def _at(disposal: Disposal, *expected: str) -> None:
    """Refuse unless the disposal is at one of ``expected`` (a closed one, or a step out of order)."""
    if disposal.status in expected:
        return
    if disposal.status in CLOSED:
        raise DisposalError(MSG_CLOSED, status=Label(STATUSES[disposal.status]))
    raise DisposalError(MSG_OUT_OF_ORDER, status=Label(STATUSES[disposal.status]),
                        next=Label(NEXT.get(disposal.status, N_("nothing more"))))


# --- reading -----------------------------------------------------------------------------------------------

def load(session: Session, user: User | None, disposal_id: int) -> tuple[Disposal, Place]:
    """Return a disposal the user may see (``asset.view`` over its asset); unknown and foreign alike refused."""
    disposal = session.get(Disposal, disposal_id) if isinstance(disposal_id, int) else None
    if disposal is None:
        raise AccessDenied(N_("This is outside your area."))
    asset = require_asset(session, user, "asset.view", disposal.asset_id)
    return disposal, place_of(session, asset)


def open_for(session: Session, asset_id: int) -> Disposal | None:
    """The asset's disposal in progress, if any."""
    return session.exec(select(Disposal).where(Disposal.asset_id == asset_id, col(Disposal.status).in_(OPEN))
                        .order_by(col(Disposal.id).desc())).first()


def latest_for(session: Session, asset_id: int) -> Disposal | None:
    """The asset's latest disposal (in progress or closed), if any."""
    return session.exec(select(Disposal).where(Disposal.asset_id == asset_id)
                        .order_by(col(Disposal.id).desc())).first()


def steps(session: Session, disposal_id: int) -> list[tuple[DisposalStep, str | None]]:
    """The disposal's history, oldest first, with each actor's name."""
    rows = session.exec(select(DisposalStep).where(DisposalStep.disposal_id == disposal_id)
                        .order_by(col(DisposalStep.at), col(DisposalStep.id))).all()
    ids = {r.actor_user_id for r in rows if r.actor_user_id}
    names = {u.id: u.name for u in session.exec(select(User).where(col(User.id).in_(ids))).all()} if ids else {}
    return [(r, names.get(r.actor_user_id) if r.actor_user_id else None) for r in rows]


def in_area(session: Session, user: User, *, open_only: bool = True,
            asset_id: int | None = None) -> list[tuple[Disposal, Asset, OrgUnit]]:
    """The disposals of the user's area (in progress only, unless ``open_only`` is False), newest first."""
    from bot.services.access import require, scope_filter

    require(session, user, "asset.view")  # the assets the user sees (access.visible_assets), each with its disposals
    query = (select(Asset, Disposal).join(OrgUnit, col(Asset.village_id) == OrgUnit.id)
             .join(Disposal, col(Disposal.asset_id) == Asset.id).where(scope_filter(session, user)))
    if open_only:
        query = query.where(col(Disposal.status).in_(OPEN))
    if asset_id is not None:
        query = query.where(Asset.id == asset_id)
    rows = session.exec(query.order_by(col(Disposal.updated_at).desc(), col(Disposal.id).desc()).limit(300)).all()
    villages = {u.id: u for u in session.exec(select(OrgUnit).where(
        col(OrgUnit.id).in_({a.village_id for a, _ in rows}))).all()} if rows else {}
    return [(d, a, villages[a.village_id]) for a, d in rows]


def requestable_assets(session: Session, user: User) -> list[Asset]:
    """The active assets of the cadre's village without a disposal in progress (what they may ask to dispose of)."""
    if user.role != "village_cadre" or user.org_unit_id is None:
        return []
    busy = select(Disposal.asset_id).where(col(Disposal.status).in_(("requested", "village_meeting",
                                                                     "township_approved", "county_approved",
                                                                     "notice")))
    return list(session.exec(select(Asset).where(Asset.village_id == user.org_unit_id, Asset.status == "active",
                                                 col(Asset.id).not_in(busy)).order_by(Asset.name, Asset.id)).all())


# --- writing -----------------------------------------------------------------------------------------------

def _text(value: str | None, limit: int = TEXT_MAX) -> str | None:
    text = (value or "").strip()
    return text[:limit] if text else None


def _step(session: Session, user: User | None, disposal: Disposal, step: str, before: dict, after: dict,
          now: dt.datetime, note: str | None = None) -> None:
    """Record a step: the history row, the change's audit entry."""
    disposal.updated_at = now
    session.add(disposal)
    session.flush()
    session.add(DisposalStep(disposal_id=disposal.id, step=step, actor_user_id=user.id if user else None, at=now,
                             note=note))
    actor = _actor(user) if user is not None else audit.SYSTEM
    audit.record(session, actor, f"disposal.{step}", "asset_disposal", disposal.id, before,
                 {"asset_id": disposal.asset_id, "status": disposal.status, **after})


def _notify(session: Session, user: User | None, place: Place, disposal: Disposal, step: str, to: tuple[str, ...],
            msgid: str, now: dt.datetime, **params: object) -> int:
    """Tell the people who take the next step (never the one who just acted), through the outbox."""
    from bot.services import departments, notices

    people: list[User] = []
    if "village" in to:
        people += session.exec(select(User).where(User.role == "village_cadre", col(User.active).is_(True),
                                                  User.org_unit_id == place.village.id).order_by(User.id)).all()
    if "township" in to:
        people += session.exec(select(User).where(User.role == "township_leader", col(User.active).is_(True),
                                                  User.org_unit_id == place.township.id).order_by(User.id)).all()
    if "county" in to:
        people += session.exec(select(User).where(User.role == "county_officer", col(User.active).is_(True),
                                                  User.org_unit_id == place.county.id).order_by(User.id)).all()
        people += departments.officers_for(session, place.county, place.asset.industry_category)
    people = [p for p in people if user is None or p.id != user.id]
    if not people:
        return 0
    body = [[msgid, {"asset": place.asset.name, "village": place.village.name, "township": place.township.name,
                     **params}]]
    unit = place.county if to == ("county",) else place.township if "township" in to else place.village
    role = {"village": "village_cadre", "township": "township_leader", "county": "county_officer"}[to[0]]
    return notices._write(session, unit=unit, kind="notice", step=step, subject=f"disposal/{disposal.id}",
                          item=notices.ITEM, period=str(disposal.id), role=role,
                          routes=notices._routes(session, people, None), body=body, actions=[], now=now,
                          actor=_actor(user) if user is not None else audit.SYSTEM)


def may_request(session: Session, user: User, asset_id: int) -> Place:
    """Return the asset's place if ``user`` may ask to dispose of it (a cadre of its village, the asset in use)."""
    asset = require_asset(session, user, "asset.view", asset_id)
    place = place_of(session, asset)
    _require(session, user, place, "request")
    if asset.status != "active":
        raise DisposalError(MSG_NOT_ACTIVE, asset=asset.name)
    return place


def can_request(session: Session, user: User, asset_id: int) -> bool:
    """Whether ``may_request`` lets ``user`` ask to dispose of the asset (its request page opens)."""
    try:
        may_request(session, user, asset_id)
    except (AccessDenied, DisposalError):
        return False
    return True


def request(session: Session, user: User, asset_id: int, *, reason: str, method: str, description: str,
            now: dt.datetime | None = None) -> Disposal:
    """The village asks to dispose of an asset (or completes the draft the classification opened)."""
    now = as_utc(now or utcnow())
    place = may_request(session, user, asset_id)
    if reason not in REASONS:
        raise DisposalError(MSG_REASON)
    if method not in METHODS:
        raise DisposalError(MSG_METHOD)
    text = _text(description, TEXT_MAX + 1)
    if text is None or len(text) > TEXT_MAX:
        raise DisposalError(MSG_DESCRIPTION, max=TEXT_MAX)
    disposal = open_for(session, asset_id)
    if disposal is not None and disposal.status != "draft":
        raise DisposalError(MSG_ALREADY_OPEN, asset=place.asset.name)
    before = None if disposal is None else {"status": disposal.status, "reason": disposal.reason,
                                            "description": disposal.description}
    if disposal is None:
        disposal = Disposal(asset_id=asset_id, created_by=user.id, created_at=now)
    disposal.status, disposal.reason, disposal.method, disposal.description = "requested", reason, method, text
    _step(session, user, disposal, "request", before or {}, {"reason": reason, "method": method,
                                                           "description": text}, now)
    _notify(session, user, place, disposal, "requested", ("village",), TO_VILLAGE_MEETING, now)
    return disposal


def record_meeting(session: Session, user: User, disposal_id: int, *, kind: str, held_on: dt.date | None,
                   attendees: int | None, result: str, note: str = "", now: dt.datetime | None = None) -> Disposal:
    """The village records its meeting's resolution; a meeting that does not agree refuses the disposal."""
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    _require(session, user, place, "meeting")
    _at(disposal, "requested")
    if kind not in MEETINGS or result not in RESULTS or not attendees or attendees < 1 or attendees > 100_000:
        raise DisposalError(MSG_MEETING)
    if held_on is None or held_on > today(session, place.village, now):
        raise DisposalError(MSG_DATE)
    text = _text(note)
    before = {"status": disposal.status}
    disposal.meeting_kind, disposal.meeting_on, disposal.meeting_attendees = kind, held_on, attendees
    disposal.meeting_result = result
    if result == "agreed":
        disposal.status = "village_meeting"
    else:
        disposal.status, disposal.closed_reason = "refused", translate(DEFAULT_LOCALE, RESULTS[result])
    _step(session, user, disposal, "meeting", before, {"meeting_kind": kind, "meeting_on": held_on,
                                                      "meeting_attendees": attendees, "meeting_result": result}, now,
          note=text)
    if result == "agreed":
        _notify(session, user, place, disposal, "village-meeting", ("township",), TO_TOWNSHIP_APPROVE, now)
    else:
        _notify_closed(session, user, place, disposal, now)
    return disposal


def keep_attachment(store, name: str, content: bytes, max_bytes: int = MAX_ATTACHMENT) -> str:
    """Check a valuation report (PDF, JPEG or PNG by its name and its first bytes, at most ``max_bytes``) and
    keep it in the file store by its SHA-256 (private); return its key."""
    suffix = Path(name or "").suffix.lower()
    magic = ATTACHMENT_TYPES.get(suffix)
    if magic is None or not content.startswith(magic):
        raise DisposalError(MSG_ATTACHMENT_TYPE)
    if len(content) > max_bytes:
        raise DisposalError(MSG_ATTACHMENT_SIZE, mb=max_bytes // (1024 * 1024))
    digest = hashlib.sha256(content).hexdigest()
    key = f"disposal/{digest[:2]}/{digest}{suffix}"
    store.put(key, content, private=True)
    return key


def _money(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("10000000000"):
        return None
    return amount.quantize(Decimal("0.0001"))


def record_valuation(session: Session, user: User, disposal_id: int, *, amount: object, valuer: str,
                     valued_on: dt.date | None, attachment: tuple[str, bytes] | None = None, store=None,
                     now: dt.datetime | None = None) -> Disposal:
    """The village or the township records the asset's valuation, with the report file if there is one."""
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    _require(session, user, place, "valuation")
    _at(disposal, "requested", "village_meeting")
    value, who = _money(amount), _text(valuer, NAME_MAX)
    if value is None or who is None:
        raise DisposalError(MSG_VALUATION)
    if valued_on is None or valued_on > today(session, place.village, now):
        raise DisposalError(MSG_DATE)
    key = name = None
    if attachment is not None and attachment[1]:
        if store is None:
            raise ValueError("an attachment needs a file store")
        name = Path(attachment[0] or "file").name[-NAME_MAX:]
        key = keep_attachment(store, name, attachment[1])
    before = {"valuation": disposal.valuation, "valuer": disposal.valuer, "valued_on": disposal.valued_on}
    disposal.valuation, disposal.valuer, disposal.valued_on = value, who, valued_on
    if key is not None:
        disposal.valuation_file, disposal.valuation_file_name = key, name
    _step(session, user, disposal, "valuation", before, {"valuation": value, "valuer": who, "valued_on": valued_on,
                                                        "valuation_file": key}, now)
    return disposal


def approve_township(session: Session, user: User, disposal_id: int, *, note: str = "",
                     now: dt.datetime | None = None) -> Disposal:
    """A leader of the asset's township approves (after the village meeting, with the valuation recorded)."""
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    _require(session, user, place, "township")
    _at(disposal, "village_meeting")
    if disposal.valuation is None:
        raise DisposalError(MSG_NO_VALUATION)
    before = {"status": disposal.status}
    disposal.status = "township_approved"
    _step(session, user, disposal, "township", before, {}, now, note=_text(note))
    _notify(session, user, place, disposal, "township-approved", ("county",), TO_COUNTY_APPROVE, now)
    return disposal


def approve_county(session: Session, user: User, disposal_id: int, *, note: str = "",
                   now: dt.datetime | None = None) -> Disposal:
    """The county office (or the asset's industry department) approves."""
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    _require(session, user, place, "county")
    _at(disposal, "township_approved")
    before = {"status": disposal.status}
    disposal.status = "county_approved"
    _step(session, user, disposal, "county", before, {}, now, note=_text(note))
    _notify(session, user, place, disposal, "county-approved", ("township",), TO_TOWNSHIP_NOTICE, now)
    return disposal


def start_notice(session: Session, user: User, disposal_id: int, *, starts_on: dt.date | None = None,
                 now: dt.datetime | None = None) -> Disposal:
    """The township or the county starts the public notice (today, or a later day) for the profile's days."""
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    _require(session, user, place, "notice")
    _at(disposal, "county_approved")
    first = today(session, place.village, now)
    starts_on = starts_on or first
    if starts_on < first:
        raise DisposalError(MSG_NOTICE_START)
    days = notice_days(session, place.village)
    before = {"status": disposal.status}
    disposal.status, disposal.notice_from = "notice", starts_on
    disposal.notice_until = starts_on + dt.timedelta(days=days - 1)
    _step(session, user, disposal, "notice", before, {"notice_from": starts_on, "notice_until": disposal.notice_until,
                                                     "notice_days": days}, now)
    _notify(session, user, place, disposal, "notice", ("township",), TO_TOWNSHIP_RECORD, now,
            until=disposal.notice_until.isoformat())
    return disposal


def record_outcome(session: Session, user: User, disposal_id: int, *, done_on: dt.date | None, method: str,
                   amount: object, counterpart: str = "", note: str = "", now: dt.datetime | None = None) -> Disposal:
    """After the notice has run its days, record what became of the asset; the asset is ``disposed``."""
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    _require(session, user, place, "record")
    _at(disposal, "notice")
    day = today(session, place.village, now)
    if disposal.notice_until is None or day <= disposal.notice_until:
        until = disposal.notice_until or day
        raise DisposalError(MSG_NOTICE_RUNNING, until=until.isoformat(),
                            day=(until + dt.timedelta(days=1)).isoformat())
    value = _money(amount)
    if method not in METHODS or value is None:
        raise DisposalError(MSG_OUTCOME)
    if done_on is None or done_on > day:
        raise DisposalError(MSG_DATE)
    party = _text(counterpart, NAME_MAX + 1)
    if party is not None and (len(party) > NAME_MAX or pii.mask(party) != party):
        raise DisposalError(MSG_COUNTERPART)
    before = {"status": disposal.status}
    disposal.status, disposal.outcome_on, disposal.outcome_method = "recorded", done_on, method
    disposal.outcome_amount, disposal.counterpart, disposal.outcome_note = value, party, _text(note)
    _step(session, user, disposal, "record", before, {"outcome_on": done_on, "outcome_method": method,
                                                     "outcome_amount": value, "counterpart": party,
                                                     "outcome_note": disposal.outcome_note}, now)
    asset = place.asset
    audit.record(session, _actor(user), "asset.update", "asset", asset.id, {"status": asset.status},
                 {"status": "disposed", "disposal_id": disposal.id})
    asset.status, asset.updated_at = "disposed", now
    session.add(asset)
    _notify(session, user, place, disposal, "recorded", ("village", "township"), TO_ALL_RECORDED, now,
            method=Label(METHODS[method]), date=done_on.isoformat())
    return disposal


def _notify_closed(session: Session, user: User, place: Place, disposal: Disposal, now: dt.datetime) -> None:
    _notify(session, user, place, disposal, disposal.status, ("village", "township"), TO_ALL_CLOSED, now,
            status=Label(STATUSES[disposal.status]), reason=disposal.closed_reason or "")


def _close(session: Session, user: User, disposal_id: int, status: str, reason: str,
           now: dt.datetime | None) -> Disposal:
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    if disposal.status in CLOSED:
        _at(disposal, *OPEN)
    if status == "refused":
        _require(session, user, place, WAITING[disposal.status])
    elif not (is_village(session, user, place) or is_township(session, user, place)):
        _require(session, user, place, "meeting")  # refused, naming who may withdraw it
    text = _text(reason, TEXT_MAX + 1)
    if text is None or len(text) > TEXT_MAX:
        raise DisposalError(MSG_CLOSE_REASON, max=TEXT_MAX)
    before = {"status": disposal.status}
    disposal.status, disposal.closed_reason = status, text
    _step(session, user, disposal, "refuse" if status == "refused" else "withdraw", before,
          {"closed_reason": text}, now, note=text)
    _notify_closed(session, user, place, disposal, now)
    return disposal


def refuse(session: Session, user: User, disposal_id: int, reason: str, *, now: dt.datetime | None = None) -> Disposal:
    """Whoever takes the step the disposal waits for refuses it, saying why."""
    return _close(session, user, disposal_id, "refused", reason, now)


def withdraw(session: Session, user: User, disposal_id: int, reason: str, *,
             now: dt.datetime | None = None) -> Disposal:
    """The village (or its township) withdraws the request, saying why."""
    return _close(session, user, disposal_id, "withdrawn", reason, now)


# --- item 6: what the township's 四个一批 opens ------------------------------------------------------------

def _reason_of(row: AssetClass) -> str:
    """The disposal reason the classification's reasons point to: idle, else damaged (service life, disaster)."""
    msgids = [str(r.get("msgid", "")) for r in row.reasons if r.get("main", True)]
    return "idle" if any(m.startswith("Idle for") for m in msgids) else "damaged"


def _reasons_text(row: AssetClass) -> str:
    parts = []
    for r in row.reasons:
        if r.get("main", True):
            try:
                parts.append(translate(DEFAULT_LOCALE, str(r.get("msgid", "")), **(r.get("params") or {})))
            except (KeyError, IndexError, ValueError):
                continue
    if row.note:
        parts.append(row.note)
    return "；".join(p for p in parts if p)[:TEXT_MAX] or translate(DEFAULT_LOCALE, REASONS[_reason_of(row)])


def open_from_class(session: Session, user: User, row: AssetClass, *, now: dt.datetime | None = None) -> Disposal:
    """The township confirmed "处置" for an asset: open a disposal draft (reason from the classification's
    reasons) for the village to complete, unless one is in progress; return it. Audited, the village told."""
    now = as_utc(now or utcnow())
    found = open_for(session, row.asset_id)
    if found is not None:
        return found
    asset = session.get(Asset, row.asset_id)
    place = place_of(session, asset)
    disposal = Disposal(asset_id=asset.id, status="draft", reason=_reason_of(row),
                        method="scrap" if _reason_of(row) == "damaged" else "other",
                        description=_reasons_text(row), class_id=row.id, created_by=user.id, created_at=now)
    _step(session, user, disposal, "draft", {}, {"reason": disposal.reason, "class_id": row.id}, now)
    _notify(session, user, place, disposal, "draft", ("village",), TO_VILLAGE_DRAFT, now)
    return disposal


def open_revitalise(session: Session, user: User, row: AssetClass, *, now: dt.datetime | None = None) -> Problem:
    """The township confirmed "盘活" for an asset: put a task to change its contract or operator on the
    township's problem list (once while it is open); return it."""
    now = as_utc(now or utcnow())
    found = session.exec(select(Problem).where(Problem.asset_id == row.asset_id, Problem.kind == REVITALISE_KIND,
                                               col(Problem.status).not_in(("resolved", "closed")))).first()
    if found is not None:
        return found
    problem = Problem(asset_id=row.asset_id, source="inspection", kind=REVITALISE_KIND, severity="minor",
                      owner_level="township", description=translate(DEFAULT_LOCALE, REVITALISE_TEXT),
                      created_at=now)
    session.add(problem)
    session.flush()
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="created",
                             note=f"asset_class {row.id} ({row.period})"))
    audit.record(session, _actor(user), "problem.create", "problem", problem.id, None,
                 {"asset_id": row.asset_id, "kind": REVITALISE_KIND, "severity": "minor", "owner_level": "township",
                  "class_id": row.id})
    return problem


def follow_class(session: Session, user: User, row: AssetClass) -> tuple[str, int] | None:
    """What a confirmed class opens (issue 17 item 6): ``("disposal", id)`` for 处置, ``("problem", id)`` for
    盘活, None for the others. Idempotent: an open one is returned, not doubled."""
    if row.confirmed == "处置":
        return "disposal", open_from_class(session, user, row).id or 0
    if row.confirmed == "盘活":
        return "problem", open_revitalise(session, user, row).id or 0
    return None


# --- what the public page and the asset's pages say ----------------------------------------------------------

def public_facts(session: Session, asset: Asset, now: dt.datetime | None = None) -> dict | None:
    """What the QR page discloses of the asset's disposal: during its notice the notice (reason, valuation,
    planned method, the notice's days), after the record what became of the asset; else None. No person's
    name: the counterpart is a company or body, masked like every published free text."""
    disposal = session.exec(select(Disposal).where(Disposal.asset_id == asset.id,
                                                   col(Disposal.status).in_(("notice", "recorded")))
                            .order_by(col(Disposal.id).desc())).first()
    if disposal is None:
        return None
    village = session.get(OrgUnit, asset.village_id)
    if disposal.status == "notice" and (disposal.notice_from is None
                                        or today(session, village, now) < disposal.notice_from):
        return None
    facts = {"stage": disposal.status, "reason": disposal.reason, "method": disposal.method,
             "valuation": _plain(disposal.valuation), "notice_from": disposal.notice_from,
             "notice_until": disposal.notice_until, "outcome_on": None, "outcome_method": None,
             "outcome_amount": None, "counterpart": None, "proceeds": None}
    if disposal.status == "recorded":  # its proceeds' uses: bot.services.public.disposal_section adds them
        facts.update(outcome_on=disposal.outcome_on, outcome_method=disposal.outcome_method,
                     outcome_amount=_plain(disposal.outcome_amount), counterpart=pii.mask(disposal.counterpart))
    return audit.jsonable(facts)


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")
