"""The problem list (问题清单): filter, take in hand, escalate to the county with a proposal, county decision.

Every problem — from a report's risk rules, a villager's QR report or an inspection — has a status
(``open``, ``acknowledged``, ``in_hand``, ``resolved``, ``escalated``), an owner level (village,
township, county), a due date and a history of ``ProblemEvent`` rows. Acknowledging and resolving
live in ``bot.services.problems`` (the scheduler reads them); this module adds the rest of the
township's and county's handling. Every step is audited and checked against the acting user's scope.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_, Label, UserError
from bot.services import audit, notices, problems
from bot.services.access import AccessDenied, require, scope_filter
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, User

STATUSES = ("open", "acknowledged", "in_hand", "resolved", "escalated", "closed")
SEVERITIES = ("serious", "major", "minor")
STATUS_LABELS = {"open": N_("open"), "acknowledged": N_("acknowledged"), "in_hand": N_("in hand"),
                 "resolved": N_("resolved"), "escalated": N_("escalated to the county"),
                 "closed": N_("closed (marked as spam)")}
SEVERITY_LABELS = {"serious": N_("serious"), "major": N_("major"), "minor": N_("minor")}
OPEN_STATUSES = ("open", "acknowledged", "in_hand", "escalated")
TEXT_MAX = 500
# Days a township has to deal with a problem, by severity, when nothing else set a due date.
DEFAULT_DUE_DAYS = {"serious": 7, "major": 15, "minor": 30}


class ProblemListError(UserError, ValueError):
    """A refused step, with a translatable message."""


@dataclass
class ProblemRow:
    """A problem with where it is and how old it is."""

    problem: Problem
    asset: Asset
    village: OrgUnit
    township: OrgUnit | None
    age_days: int

    @property
    def due_at(self) -> dt.datetime:
        """The problem's due date, or the default by severity counted from its creation."""
        if self.problem.due_at is not None:
            return as_utc(self.problem.due_at)
        return as_utc(self.problem.created_at) + dt.timedelta(days=DEFAULT_DUE_DAYS.get(self.problem.severity, 30))

    def overdue(self, now: dt.datetime) -> bool:
        return self.problem.status in OPEN_STATUSES and self.due_at < now


def list_problems(session: Session, user: User, *, unit_id: int | None = None, asset_id: int | None = None,
                  problem_id: int | None = None,
                  severity: str | None = None, status: str | None = None, min_age_days: int | None = None,
                  open_only: bool = False, now: dt.datetime | None = None) -> list[ProblemRow]:
    """Return the problems in the user's area, filtered; newest first.

    ``unit_id`` narrows to a township or village (which must lie in the user's area).
    """
    require(session, user, "problem.view")
    now = now or utcnow()
    village = aliased(OrgUnit)
    township = aliased(OrgUnit)
    query = (select(Problem, Asset, village, township)
             .join(Asset, Asset.id == Problem.asset_id)
             .join(village, village.id == Asset.village_id)
             .outerjoin(township, township.id == village.parent_id)
             .where(scope_filter(session, user, village.path)))
    if unit_id is not None:
        unit = session.get(OrgUnit, unit_id)
        if unit is None:
            raise AccessDenied(N_("This is outside your area."))
        require(session, user, "problem.view", unit)
        query = query.where(col(village.path).startswith(unit.path))
    if asset_id is not None:
        query = query.where(Problem.asset_id == asset_id)
    if problem_id is not None:
        query = query.where(Problem.id == problem_id)
    if severity is not None:
        if severity not in SEVERITIES:
            raise ProblemListError(N_("Unknown severity {value}."), value=severity)
        query = query.where(Problem.severity == severity)
    if status is not None:
        if status not in STATUSES:
            raise ProblemListError(N_("Unknown status {value}."), value=status)
        query = query.where(Problem.status == status)
    if open_only:
        query = query.where(col(Problem.status).in_(OPEN_STATUSES))
    if min_age_days is not None:
        query = query.where(Problem.created_at <= now - dt.timedelta(days=min_age_days))
    rows = session.exec(query.order_by(col(Problem.created_at).desc(), col(Problem.id).desc())).all()
    return [ProblemRow(p, a, v, t, max(0, (now - as_utc(p.created_at)).days)) for p, a, v, t in rows]


def history(session: Session, user: User, problem_id: int) -> list[ProblemEvent]:
    """Return a problem's events, oldest first."""
    _load(session, user, problem_id, "problem.view")
    return list(session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == problem_id)
                             .order_by(col(ProblemEvent.at), col(ProblemEvent.id))).all())


def _load(session: Session, user: User, problem_id: int, action: str) -> Problem:
    problem = session.get(Problem, problem_id) if isinstance(problem_id, int) else None
    if problem is None:
        raise AccessDenied(N_("This is outside your area."))
    asset = session.get(Asset, problem.asset_id)
    require(session, user, action, session.get(OrgUnit, asset.village_id))
    return problem


def _text(value: str | None, msgid: str) -> str:
    text = (value or "").strip()
    if not text or len(text) > TEXT_MAX:
        raise ProblemListError(msgid, max=TEXT_MAX)
    return text


def _step(session: Session, user: User, problem: Problem, action: str, note: str | None,
          changes: dict, now: dt.datetime) -> Problem:
    before = {k: getattr(problem, k) for k in changes}
    for key, value in changes.items():
        setattr(problem, key, value)
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action=action, note=note))
    audit.record(session, audit.Actor(user.id, f"user:{user.id}"), f"problem.{action}", "problem", problem.id,
                 before, {**changes, "note": note})
    return problem


def take_in_hand(session: Session, user: User, problem_id: int, note: str | None = None, *,
                 now: dt.datetime | None = None) -> Problem:
    """The township is dealing with it (status ``in_hand``)."""
    problem = _load(session, user, problem_id, "problem.handle")
    if problem.status == "resolved":
        raise ProblemListError(N_("This problem is already resolved."))
    if problem.status == "closed":  # a villager's report marked as spam
        raise ProblemListError(N_("This problem is already closed."))
    now = now or utcnow()
    changes = {"status": "in_hand"}
    if problem.acknowledged_at is None:
        changes.update(acknowledged_at=now, acknowledged_by=user.id)
    return _step(session, user, problem, "in_hand", (note or "").strip() or None, changes, now)


def escalate(session: Session, user: User, problem_id: int, proposal: str, *,
             now: dt.datetime | None = None) -> Problem:
    """Hand a problem up to the county with a proposed disposal (status ``escalated``, owner county)."""
    problem = _load(session, user, problem_id, "problem.handle")
    text = _text(proposal, N_("Please write the proposed disposal (up to {max} characters)."))
    if problem.status in ("resolved", "escalated", "closed"):
        raise ProblemListError(N_("This problem cannot be escalated now (it is {status})."),
                               status=Label(STATUS_LABELS[problem.status]))
    now = now or utcnow()
    _step(session, user, problem, "escalated", text, {"status": "escalated", "owner_level": "county"}, now)
    notices.problem_escalated(session, problem, text, actor=audit.Actor(user.id, f"user:{user.id}"), now=now)
    # 002 第六条: what the township reports to the county goes to the industry department concerned too.
    problems.to_department(session, problem, now)
    return problem


def decide(session: Session, user: User, problem_id: int, decision: str, *,
           now: dt.datetime | None = None) -> Problem:
    """The county records its decision on an escalated problem; the township carries it out (``in_hand``)."""
    problem = _load(session, user, problem_id, "problem.decide")
    text = _text(decision, N_("Please write the county's decision (up to {max} characters)."))
    if problem.status != "escalated":
        raise ProblemListError(N_("Only an escalated problem awaits the county's decision."))
    now = now or utcnow()
    _step(session, user, problem, "decided", text, {"status": "in_hand", "owner_level": "township"}, now)
    notices.problem_decided(session, problem, text, actor=audit.Actor(user.id, f"user:{user.id}"), now=now)
    return problem


# ---------------------------------------------------------------------------------------------- in words
# A problem's history for people: each event as a sentence (msgid + params) with who did it and when,
# and the photos that came with it. Older events keep their notes as written by the services
# ("report 12 (2026-12)", "photo sha256:…", "outbox: u3/telegram", a villager note in Chinese): they
# are read back here into their parts, so that no page shows a stored code.

HISTORY = {
    "created_report": N_("{who} found it in the monthly check of {period}."),
    "created_report_nobody": N_("Found in the monthly check of {period}."),
    "created_villager": N_("A villager reported it on the asset's public page."),
    "created_accepted": N_("A villager reported it on {date}; {who} accepted it onto the problem list after "
                           "moderation ({n} report(s))."),
    "created": N_("{who} put it on the problem list."),
    "created_nobody": N_("Put on the problem list."),
    "alerted": N_("The township was alerted at once: {names}."),
    "alerted_nobody": N_("The township was alerted at once."),
    "acknowledged": N_("{who} acknowledged it."),
    "in_hand": N_("{who} marked it as in hand."),
    "resolved": N_("{who} resolved it: {note}"),
    "escalated": N_("{who} handed it up to the county, proposing: {note}"),
    "decided": N_("{who} recorded the county's decision: {note}"),
    "again_report": N_("Found again in the monthly check of {period}."),
    "again_villager": N_("A villager reported it again ({n} times in all)."),
    "again": N_("Reported again."),
    "spam": N_("{who} marked it as spam; whoever sent it cannot report for {days} days."),
    "photo": N_("{who} added a photo."),
    "other": N_("{who} added to its history."),
}
NOBODY = N_("someone")
_REPORT_NOTE = re.compile(r"^report (\d+) \(([^)]+)\)$")
_PHOTO_NOTE = re.compile(r"(?:photo )?sha256:([0-9a-f]{64})")
_OUTBOX_NOTE = re.compile(r"^outbox: (.*)$")


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a problem as a sentence: ``msgid`` with ``params`` (``period`` is a stored period
    label the page puts in words), when, and the photos (SHA-256) that came with it."""

    at: dt.datetime
    action: str
    msgid: str
    params: dict
    period: str | None = None
    photos: tuple[str, ...] = ()
    note: str | None = None


def _parse(note: str, msgid: str) -> dict | None:
    """Return the placeholders of ``note`` written from ``msgid`` in either language, or None."""
    from bot.i18n import translate

    for lang in ("zh_CN", "en"):
        pattern = re.escape(translate(lang, msgid))
        pattern = re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m.group(1)}>.+?)", pattern)
        found = re.match(f"^{pattern}$", note)
        if found:
            return found.groupdict()
    return None


VILLAGER_ACCEPTED = "Received {date}; accepted by the township after moderation ({n} report(s))."
VILLAGER_AGAIN = "Reported again by a villager ({n} times in all)."
VILLAGER_MUTED = "Sender muted for {days} days."


def _split_note(note: str | None) -> tuple[str | None, tuple[str, ...]]:
    """Return (the note without photo references, the photos' SHA-256)."""
    if not note:
        return None, ()
    photos = tuple(_PHOTO_NOTE.findall(note))
    rest = "; ".join(part.strip() for part in _PHOTO_NOTE.sub("", note).split("; ") if part.strip()) or None
    return rest, photos


def _recipients(session: Session, text: str) -> str:
    """The names of an alert's recipients from its note (``u3/telegram, r2/wecom``)."""
    from bot.storage.models_schedule import ChannelRoute

    names = []
    for part in text.split(","):
        who = part.strip().partition("/")[0]
        row = None
        if who[1:].isdigit():
            row = session.get(User, int(who[1:])) if who.startswith("u") else (
                session.get(ChannelRoute, int(who[1:])) if who.startswith("r") else None)
        if row is not None and row.name not in names:
            names.append(row.name)
    return "、".join(names)


def _entry(session: Session, problem: Problem, event: ProblemEvent, who: str | None) -> HistoryEntry:
    note, photos = _split_note(event.note)
    base = {"at": as_utc(event.at), "action": event.action, "photos": photos}
    person = {"who": who or NOBODY}
    action = event.action
    if action in ("created", "reported_again"):
        report = _REPORT_NOTE.match(note or "")
        if report:
            key = ("created_report" if who else "created_report_nobody") if action == "created" else "again_report"
            return HistoryEntry(msgid=HISTORY[key], params=person, period=report.group(2), **base)
        if action == "reported_again":
            parsed = _parse(note or "", VILLAGER_AGAIN)
            if parsed is not None:
                return HistoryEntry(msgid=HISTORY["again_villager"], params={"n": parsed["n"]}, **base)
            return HistoryEntry(msgid=HISTORY["again"], params={}, note=note, **base)
        if problem.source == "villager":
            parsed = _parse(note or "", VILLAGER_ACCEPTED)
            if parsed is not None:
                return HistoryEntry(msgid=HISTORY["created_accepted"], params={**person, **parsed}, **base)
            return HistoryEntry(msgid=HISTORY["created_villager"], params={}, note=note, **base)
        return HistoryEntry(msgid=HISTORY["created" if who else "created_nobody"], params=person, note=note, **base)
    if action == "alerted":
        found = _OUTBOX_NOTE.match(note or "")
        names = _recipients(session, found.group(1)) if found else ""
        return HistoryEntry(msgid=HISTORY["alerted" if names else "alerted_nobody"], params={"names": names},
                            **base)
    if action in ("resolved", "escalated", "decided"):
        return HistoryEntry(msgid=HISTORY[action], params={**person, "note": note or ""}, **base)
    if action == "spam":
        parsed = _parse(note or "", VILLAGER_MUTED) or {"days": "?"}
        return HistoryEntry(msgid=HISTORY["spam"], params={**person, "days": parsed["days"]}, **base)
    if action in ("acknowledged", "in_hand", "photo"):
        return HistoryEntry(msgid=HISTORY[action], params=person, note=note, **base)
    return HistoryEntry(msgid=HISTORY["other"], params=person, note=note, **base)


def history_in_words(session: Session, user: User, problem_id: int) -> list[HistoryEntry]:
    """Return a problem's history as sentences, oldest first; the photos added with a step (the same
    person at the same moment) are shown with that step."""
    problem = _load(session, user, problem_id, "problem.view")
    events = history(session, user, problem_id)
    ids = {e.actor_user_id for e in events if e.actor_user_id}
    names = {u.id: u.name for u in session.exec(select(User).where(col(User.id).in_(ids))).all()} if ids else {}
    entries: list[HistoryEntry] = []
    for event in events:
        entry = _entry(session, problem, event, names.get(event.actor_user_id))
        last = entries[-1] if entries else None
        if (event.action == "photo" and last is not None and last.at == entry.at
                and last.params.get("who") == entry.params.get("who")):
            entries[-1] = HistoryEntry(last.at, last.action, last.msgid, last.params, last.period,
                                       last.photos + entry.photos, last.note)
            continue
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class ProblemPhoto:
    """A photo of a problem: from a villager's report (``villager``) or added by the township or county."""

    sha256: str
    source: str
    at: dt.datetime


def photos(session: Session, user: User, problem_id: int) -> list[ProblemPhoto]:
    """Return the photos of a problem the user may see, oldest first: villagers' (from the public page)
    and those added when it was handled."""
    from bot.storage.models_villager import VillagerReport

    problem = _load(session, user, problem_id, "problem.view")
    found: dict[str, ProblemPhoto] = {}
    for report in session.exec(select(VillagerReport).where(VillagerReport.problem_id == problem.id,
                                                            col(VillagerReport.photo_sha256).is_not(None))
                               .order_by(col(VillagerReport.created_at), col(VillagerReport.id))).all():
        found.setdefault(report.photo_sha256, ProblemPhoto(report.photo_sha256, "villager",
                                                           as_utc(report.created_at)))
    for event in history(session, user, problem_id):
        for sha in _split_note(event.note)[1]:
            source = "villager" if event.actor_user_id is None or event.action != "photo" else "handled"
            found.setdefault(sha, ProblemPhoto(sha, source, as_utc(event.at)))
    return sorted(found.values(), key=lambda p: p.at)
