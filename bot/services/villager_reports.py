"""Villagers' reports from the public QR page: limits a new cookie cannot reset, duplicates folded,
a moderation queue instead of a locked form, and the township's spam action.

A report's source is two keyed hashes (``Source``): of the client's network address (an IPv6
address counts by its /64 network, which one subscriber usually holds whole) and of the device
cookie, each HMAC-SHA-256 under a key derived from the server's secret. The address itself is never
stored. Every submission that is not refused is a ``VillagerReport`` row; the limits count those
rows:

- per device: ``PER_DEVICE_LIMIT`` in ``DEVICE_WINDOW``;
- per address: ``PER_ADDRESS_HOUR`` in an hour and ``PER_ADDRESS_DAY`` in a day, so a script that
  takes a fresh cookie for every report is stopped all the same;
- a device the township muted is refused.

Over a limit the villager is told to try later (HTTP 429). What is accepted becomes one of:

- **folded**: the same text (normalised: width, case, spaces and punctuation ignored) was reported
  for the same asset within ``FOLD_WINDOW`` and is still open or held: the earlier report's
  ``count`` goes up and, for a filed one, its problem gets a ``ProblemEvent`` 'reported_again' —
  unless the same address or device sent it before (then it only counts towards the limits);
- **held**: the asset had ``PER_ASSET_LIMIT`` filed villager reports in ``ASSET_WINDOW``, or the
  address is muted (a muted address may be shared by many villagers behind one carrier gateway, so
  its reports are held, not refused): the report waits in the township's moderation queue, creates
  no problem and alerts no one; the township accepts (a problem is filed) or discards it;
- **filed**: a township ``Problem`` (source ``villager``), as before.

So spam never locks an asset's form: past the threshold genuine reports queue for moderation.

The township (``problem.handle`` over the asset) may mark a villager problem or a held report as
spam: the problem is closed, and every address and device that sent it is muted for the chosen
number of days. Every step writes an audit entry in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, text
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_, UserError, translate
from bot.services import audit, notices
from bot.services.access import AccessDenied, require, require_asset, scope_filter
from bot.services.evidence import EvidenceStore
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, User
from bot.storage.models_villager import VillagerMute, VillagerReport

CATEGORIES = {
    "damaged": N_("Damaged, broken or missing"),
    "idle": N_("Idle or not used"),
    "misuse": N_("Occupied, leased out or sold without approval"),
    "income": N_("Income not distributed or not disclosed"),
    "other": N_("Something else"),
}
MAJOR_CATEGORIES = frozenset({"damaged", "misuse"})
MAX_TEXT = 1000

PER_DEVICE_LIMIT = 5
DEVICE_WINDOW = dt.timedelta(hours=24)
PER_ADDRESS_HOUR = 10
PER_ADDRESS_DAY = 30
PER_ASSET_LIMIT = 20
ASSET_WINDOW = dt.timedelta(hours=24)
FOLD_WINDOW = dt.timedelta(days=30)
MUTE_DAYS = (1, 7, 30, 90)
DEFAULT_MUTE_DAYS = 30

REPORT_ACTION = "problem.villager_report"
FILED, FOLDED, HELD, ACCEPTED, DISCARDED, SPAM = "filed", "folded", "held", "accepted", "discarded", "spam"
ZH = "zh_CN"
# One PostgreSQL advisory lock serialises villager reports (see _lock).
_PG_LOCK_KEY = 0x56_4C_52_50  # 'VLRP'
_CLOSED = ("resolved", "closed")

MSG_FILED = N_("Thank you. Your report was sent to the township, which will look into it.")
MSG_FOLDED = N_("Thank you. This problem had already been reported; your report was added to it, so the "
                "township sees how many people reported it.")
MSG_HELD = N_("Thank you. Your report was received; the township will check it before it goes on the "
              "problem list.")
MSG_DEVICE_LIMIT = N_("You have sent {n} reports today. Please try again tomorrow, or call the "
                      "supervision number.")
MSG_ADDRESS_LIMIT = N_("Many reports were sent from your network lately. Please try again later, or call the "
                       "supervision number.")
MSG_MUTED = N_("Reports from this phone are paused for a while. To reach the township, please call the "
               "supervision number.")
MSG_SPAM_NOTE = N_("Marked as spam by the township.")


class PublicReportError(ValueError):
    """A villager report is refused for a reason the villager can understand; ``msgid`` is translatable."""

    def __init__(self, msgid: str, *, rate_limited: bool = False, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params
        self.rate_limited = rate_limited


class ModerationError(UserError, ValueError):
    """A township's moderation step is refused; ``msgid`` is translatable."""


@dataclass(frozen=True)
class Source:
    """Where a report came from, as keyed hashes only."""

    address_hash: str
    device_hash: str
    device_label: str  # the audit actor of the report: ``device:<hash>``


@dataclass(frozen=True)
class Outcome:
    """What became of an accepted report: ``filed``, ``folded`` or ``held``."""

    status: str
    report: VillagerReport
    problem: Problem | None

    @property
    def message(self) -> str:
        """The msgid that thanks the villager for this outcome."""
        return {FILED: MSG_FILED, FOLDED: MSG_FOLDED, HELD: MSG_HELD}[self.status]


@dataclass
class HeldRow:
    """A held report with its asset and village, for the moderation queue."""

    report: VillagerReport
    asset: Asset
    village: OrgUnit


# ------------------------------------------------------------------------------------------ sources

def device_pseudonym(device_id: str) -> str:
    """Return the audit actor label of a reporting device (a hash: the cookie itself is never stored)."""
    return "device:" + hashlib.sha256(device_id.encode("utf-8")).hexdigest()[:24]


def _source_key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), b"villagebot/villager-source/v1", hashlib.sha256).digest()


def network_of(address: str | None) -> str:
    """Return what an address counts as: an IPv4 address itself, an IPv6 address's /64 network."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown:" + (address or "").strip()[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def source_of(secret: str, address: str | None, device_id: str) -> Source:
    """Return the hashed source of a report from ``address`` (the client's IP) and the device id."""
    key = _source_key(secret)
    address_hash = hmac.new(key, b"address:" + network_of(address).encode("utf-8"), hashlib.sha256).hexdigest()
    device_hash = hmac.new(key, b"device:" + device_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return Source(address_hash, device_hash, device_pseudonym(device_id))


def normalise(value: str) -> str:
    """Return text as compared for duplicates: NFKC, case-folded, without spaces, punctuation or symbols."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PZSC")


def text_hash(value: str) -> str:
    """Return the SHA-256 of the normalised text."""
    return hashlib.sha256(normalise(value).encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------------ submitting

def _lock(session: Session) -> None:
    """Serialise villager reports until the caller commits, so that concurrent posts cannot all pass a limit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    else:  # SQLite: a write statement takes the database's write lock now (it waits out the busy timeout)
        session.execute(text("UPDATE villager_report SET count = count WHERE 1 = 0"))


def _count(session: Session, *where) -> int:
    return int(session.exec(select(func.count()).select_from(VillagerReport).where(*where)).one())


def muted(session: Session, source_hash: str, now: dt.datetime) -> bool:
    """Return whether a source hash is muted at ``now``."""
    return session.exec(select(VillagerMute.id).where(VillagerMute.source_hash == source_hash,
                                                      VillagerMute.until > now)).first() is not None


def _check_limits(session: Session, source: Source, now: dt.datetime) -> None:
    if muted(session, source.device_hash, now):
        raise PublicReportError(MSG_MUTED, rate_limited=True)
    if _count(session, VillagerReport.device_hash == source.device_hash,
              VillagerReport.created_at >= now - DEVICE_WINDOW) >= PER_DEVICE_LIMIT:
        raise PublicReportError(MSG_DEVICE_LIMIT, rate_limited=True, n=PER_DEVICE_LIMIT)
    by_address = VillagerReport.address_hash == source.address_hash
    if (_count(session, by_address, VillagerReport.created_at >= now - dt.timedelta(hours=1)) >= PER_ADDRESS_HOUR
            or _count(session, by_address, VillagerReport.created_at >= now - dt.timedelta(days=1))
            >= PER_ADDRESS_DAY):
        raise PublicReportError(MSG_ADDRESS_LIMIT, rate_limited=True)


def _fold_target(session: Session, asset: Asset, digest: str, now: dt.datetime) -> VillagerReport | None:
    """The earlier report of the same text for this asset that is still open (filed/accepted) or held."""
    candidates = session.exec(
        select(VillagerReport).where(
            VillagerReport.asset_id == asset.id, VillagerReport.text_hash == digest,
            col(VillagerReport.status).in_((FILED, ACCEPTED, HELD)),
            VillagerReport.created_at >= now - FOLD_WINDOW)
        .order_by(col(VillagerReport.created_at).desc(), col(VillagerReport.id).desc())).all()
    for report in candidates:
        if report.status == HELD:
            return report
        problem = session.get(Problem, report.problem_id) if report.problem_id else None
        if problem is not None and problem.status not in _CLOSED:
            return report
    return None


def _same_sender(session: Session, target: VillagerReport, source: Source) -> bool:
    """Whether this address or device already sent ``target`` or a report folded into it."""
    if source.address_hash == target.address_hash or source.device_hash == target.device_hash:
        return True
    return _count(session, VillagerReport.folded_into_id == target.id,
                  (VillagerReport.address_hash == source.address_hash)
                  | (VillagerReport.device_hash == source.device_hash)) > 0


def _new_problem(session: Session, asset: Asset, category: str, description: str, photo_sha: str | None,
                 now: dt.datetime, *, actor_user_id: int | None = None, note: str | None = None) -> Problem:
    problem = Problem(asset_id=asset.id, source="villager", kind=f"villager.{category}",
                      severity="major" if category in MAJOR_CATEGORIES else "minor", owner_level="township",
                      description=description, created_at=now)
    session.add(problem)
    session.flush()
    parts = [p for p in (note, f"photo sha256:{photo_sha}" if photo_sha else None) if p]
    session.add(ProblemEvent(problem_id=problem.id, at=now, action="created", actor_user_id=actor_user_id,
                             note="; ".join(parts) or None))
    notices.villager_report(session, problem)  # the township is told, in this transaction (one road out)
    return problem


def submit(session: Session, asset: Asset, *, text: str, category: str, source: Source,
           photo: bytes | None = None, store: EvidenceStore | None = None,
           now: dt.datetime | None = None) -> Outcome:
    """Take a villager's report: refuse it (limits, muted device), fold it, hold it or file it.

    Flushes; the caller commits. Raises PublicReportError (empty or too long text, unknown category,
    a limit) and EvidenceError (a photo that is not a usable picture) before anything is written.
    """
    text_ = (text or "").strip()
    if not text_:
        raise PublicReportError(N_("Please describe the problem."))
    if len(text_) > MAX_TEXT:
        raise PublicReportError(N_("Please keep the description under {n} characters."), n=MAX_TEXT)
    if category not in CATEGORIES:
        raise PublicReportError(N_("Please choose what kind of problem it is."))
    now = as_utc(now) if now else utcnow()
    _check_limits(session, source, now)  # refuse early, before a photo costs anything
    sha = None
    if photo:
        if store is None:
            raise ValueError("a photo needs an evidence store")
        sha = store.ingest(photo).sha256
    _lock(session)  # then again under the lock, which is not held while a photo is decoded
    _check_limits(session, source, now)
    digest = text_hash(text_)
    report = VillagerReport(asset_id=asset.id, status=HELD, category=category, text=text_, text_hash=digest,
                            photo_sha256=sha, address_hash=source.address_hash, device_hash=source.device_hash,
                            created_at=now)
    actor = audit.Actor(None, source.device_label)
    address_muted = muted(session, source.address_hash, now)
    target = None if address_muted else _fold_target(session, asset, digest, now)
    if target is not None:
        report.status, report.folded_into_id, report.problem_id = FOLDED, target.id, target.problem_id
        if _same_sender(session, target, source):  # the same person again: kept for the limits, not counted
            session.add(report)
            session.flush()
            return Outcome(FOLDED, report, None)
        target.count += 1
        session.add_all([target, report])
        session.flush()
        if target.problem_id is not None:
            note = translate(ZH, N_("Reported again by a villager ({n} times in all)."), n=target.count)
            if sha:
                note += f"; photo sha256:{sha}"
            session.add(ProblemEvent(problem_id=target.problem_id, at=now, action="reported_again", note=note))
            audit.record(session, actor, "problem.villager_report_repeated", "problem", target.problem_id, None,
                         {"villager_report_id": report.id, "count": target.count, "photo_sha256": sha})
        else:
            audit.record(session, actor, "villager_report.repeated", "villager_report", target.id, None,
                         {"villager_report_id": report.id, "count": target.count})
        return Outcome(FOLDED, report, None)
    busy = _count(session, VillagerReport.asset_id == asset.id, VillagerReport.status == FILED,
                  VillagerReport.created_at >= now - ASSET_WINDOW) >= PER_ASSET_LIMIT
    if address_muted or busy:
        report.muted_source = address_muted
        session.add(report)
        session.flush()
        audit.record(session, actor, "villager_report.held", "villager_report", report.id, None, {
            "asset_id": asset.id, "category": category, "muted_source": address_muted, "photo_sha256": sha})
        return Outcome(HELD, report, None)
    problem = _new_problem(session, asset, category, text_, sha, now)
    report.status, report.problem_id = FILED, problem.id
    session.add(report)
    session.flush()
    audit.record(session, actor, REPORT_ACTION, "problem", problem.id, None, {
        "asset_id": asset.id, "kind": problem.kind, "severity": problem.severity, "photo_sha256": sha,
        "villager_report_id": report.id})
    return Outcome(FILED, report, problem)


def report_problem(session: Session, asset: Asset, *, text: str, category: str, device_id: str,
                   address: str | None = None, secret: str = "", photo: bytes | None = None,
                   store: EvidenceStore | None = None, now: dt.datetime | None = None) -> Outcome:
    """``submit`` for callers holding a raw device id and address (hashed here, never stored)."""
    return submit(session, asset, text=text, category=category, source=source_of(secret, address, device_id),
                  photo=photo, store=store, now=now)


# ------------------------------------------------------------------------------------------ the township

def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}")


def _mute_days(days: int) -> int:
    if days not in MUTE_DAYS:
        raise ModerationError(N_("Choose how long to mute the sender: {choices} days."),
                              choices=", ".join(str(d) for d in MUTE_DAYS))
    return days


def _mute(session: Session, user: User, reports: list[VillagerReport], until: dt.datetime, now: dt.datetime, *,
          problem_id: int | None = None, report_id: int | None = None) -> int:
    """Mute every address and device of ``reports`` until ``until``; return how many sources."""
    sources = {("address", r.address_hash) for r in reports} | {("device", r.device_hash) for r in reports}
    for kind, source_hash in sorted(sources):
        session.add(VillagerMute(kind=kind, source_hash=source_hash, until=until, problem_id=problem_id,
                                 report_id=report_id, created_by=user.id, created_at=now))
    return len(sources)


def _decide(session: Session, user: User, reports: list[VillagerReport], status: str, now: dt.datetime,
            problem_id: int | None = None) -> None:
    for report in reports:
        report.status, report.decided_at, report.decided_by = status, now, user.id
        if problem_id is not None:
            report.problem_id = problem_id
        session.add(report)


def mark_problem_spam(session: Session, user: User, problem_id: int, *, days: int = DEFAULT_MUTE_DAYS,
                      now: dt.datetime | None = None) -> Problem:
    """Mark a villager problem as spam: close it and mute every source that reported it for ``days``."""
    problem = session.get(Problem, problem_id) if isinstance(problem_id, int) else None
    require_asset(session, user, "problem.handle", problem.asset_id if problem is not None else -1)
    if problem.source != "villager":
        raise ModerationError(N_("Only a villager's report can be marked as spam."))
    if problem.status in _CLOSED:
        raise ModerationError(N_("This problem is already closed."))
    days = _mute_days(days)
    now = as_utc(now) if now else utcnow()
    reports = list(session.exec(select(VillagerReport).where(VillagerReport.problem_id == problem.id)).all())
    sources = _mute(session, user, reports, now + dt.timedelta(days=days), now, problem_id=problem.id)
    _decide(session, user, reports, SPAM, now)
    before = {"status": problem.status, "resolved_at": None}
    problem.status, problem.resolved_at, problem.resolved_by = "closed", now, user.id
    problem.resolution_note = translate(ZH, MSG_SPAM_NOTE)
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="spam",
                             note=translate(ZH, N_("Sender muted for {days} days."), days=days)))
    audit.record(session, _actor(user), "problem.villager_spam", "problem", problem.id, before,
                 {"status": "closed", "resolved_at": now, "reports": len(reports), "muted_sources": sources,
                  "mute_days": days})
    return problem


def villager_count(session: Session, problem_id: int) -> int:
    """How many senders reported a problem (the first and each other address or device that sent the same)."""
    total = session.exec(select(func.sum(VillagerReport.count)).where(
        VillagerReport.problem_id == problem_id, col(VillagerReport.folded_into_id).is_(None))).one()
    return int(total or 0)


def held_reports(session: Session, user: User, *, limit: int = 200) -> tuple[list[HeldRow], int]:
    """Return the held reports in the user's area, oldest first (at most ``limit``), and how many in all."""
    require(session, user, "problem.handle")
    village = aliased(OrgUnit)
    where = (VillagerReport.status == HELD, scope_filter(session, user, village.path))
    base = (select(VillagerReport, Asset, village).join(Asset, Asset.id == VillagerReport.asset_id)
            .join(village, village.id == Asset.village_id))
    total = session.exec(select(func.count()).select_from(VillagerReport)
                         .join(Asset, Asset.id == VillagerReport.asset_id)
                         .join(village, village.id == Asset.village_id).where(*where)).one()
    rows = session.exec(base.where(*where).order_by(col(VillagerReport.created_at), col(VillagerReport.id))
                        .limit(limit)).all()
    return [HeldRow(r, a, v) for r, a, v in rows], int(total)


def held_count(session: Session, user: User) -> int:
    """How many reports wait in the user's moderation queue (0 for a user who cannot moderate)."""
    try:
        return held_reports(session, user, limit=0)[1]
    except AccessDenied:
        return 0


def _held(session: Session, user: User, report_id: int) -> tuple[VillagerReport, Asset, list[VillagerReport]]:
    report = session.get(VillagerReport, report_id) if isinstance(report_id, int) else None
    asset = require_asset(session, user, "problem.handle", report.asset_id if report is not None else -1)
    if report.status != HELD:
        raise ModerationError(N_("This report has already been dealt with."))
    folded = list(session.exec(select(VillagerReport).where(VillagerReport.folded_into_id == report.id)).all())
    return report, asset, [report, *folded]


def accept(session: Session, user: User, report_id: int, *, now: dt.datetime | None = None) -> Problem:
    """Accept a held report: it is filed as a township problem (with its folded duplicates counted)."""
    report, asset, group = _held(session, user, report_id)
    now = as_utc(now) if now else utcnow()
    received = as_utc(report.created_at).date().isoformat()
    note = translate(ZH, N_("Received {date}; accepted by the township after moderation ({n} report(s))."),
                     date=received, n=report.count)
    problem = _new_problem(session, asset, report.category, report.text, report.photo_sha256, now,
                           actor_user_id=user.id, note=note)
    _decide(session, user, group, ACCEPTED, now, problem_id=problem.id)
    for duplicate in group[1:]:
        duplicate.status = FOLDED
    audit.record(session, _actor(user), "villager_report.accept", "villager_report", report.id,
                 {"status": HELD}, {"status": ACCEPTED, "problem_id": problem.id, "count": report.count})
    return problem


def discard(session: Session, user: User, report_id: int, *, spam: bool = False, days: int = DEFAULT_MUTE_DAYS,
            now: dt.datetime | None = None) -> VillagerReport:
    """Discard a held report; as ``spam``, also mute its sources (and its duplicates') for ``days``."""
    report, _asset, group = _held(session, user, report_id)
    now = as_utc(now) if now else utcnow()
    after: dict = {"status": SPAM if spam else DISCARDED}
    if spam:
        days = _mute_days(days)
        after["muted_sources"] = _mute(session, user, group, now + dt.timedelta(days=days), now,
                                       report_id=report.id)
        after["mute_days"] = days
    _decide(session, user, group, after["status"], now)
    audit.record(session, _actor(user), "villager_report.spam" if spam else "villager_report.discard",
                 "villager_report", report.id, {"status": HELD}, after)
    return report
