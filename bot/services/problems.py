"""Handling a problem: acknowledge it (pauses the escalation, schedules a reminder to act) and resolve it.

Both need the action ``problem.handle`` over the problem's township, write a ProblemEvent and an
audit entry in the caller's transaction. The scheduler reads ``acknowledged_at``/``resolved_at``.
A resolution may carry photos (at most ``MAX_PHOTOS``): each is checked and kept by the evidence
store like any other upload, and recorded as a ``ProblemEvent('photo')`` (note ``sha256:<hex>``) at
the moment of the resolution, so the history shows them with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session

from bot.clock import as_utc, utcnow
from bot.i18n import N_, UserError
from bot.services import audit
from bot.services.access import AccessDenied, require
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, User

NOTE_MAX = 500
MAX_PHOTOS = 5


class ProblemError(UserError, ValueError):
    """The problem cannot be handled this way; ``msgid`` is translatable."""


def _township_of(session: Session, problem: Problem) -> OrgUnit:
    asset = session.get(Asset, problem.asset_id)
    village = session.get(OrgUnit, asset.village_id)
    return session.get(OrgUnit, village.parent_id) if village.parent_id else village


def _load(session: Session, user: User | None, problem_id: int) -> Problem:
    problem = session.get(Problem, problem_id) if isinstance(problem_id, int) else None
    if problem is None:
        raise AccessDenied(N_("This is outside your area."))  # same answer as a foreign problem
    require(session, user, "problem.handle", _township_of(session, problem))
    return problem


def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}")


def acknowledge(session: Session, user: User, problem_id: int, *, now: dt.datetime | None = None) -> Problem:
    """Acknowledge a problem: stops its escalation; a repeated acknowledgement changes nothing."""
    problem = _load(session, user, problem_id)
    if problem.status == "resolved":
        raise ProblemError(N_("This problem is already resolved."))
    if problem.status == "closed":  # a villager's report marked as spam
        raise ProblemError(N_("This problem is already closed."))
    if problem.acknowledged_at is not None:
        return problem
    now = as_utc(now) if now else utcnow()
    before = {"status": problem.status, "acknowledged_at": None}
    problem.status, problem.acknowledged_at, problem.acknowledged_by = "acknowledged", now, user.id
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="acknowledged"))
    audit.record(session, _actor(user), "problem.acknowledge", "problem", problem.id, before,
                 {"status": problem.status, "acknowledged_at": now})
    return problem


def resolve(session: Session, user: User, problem_id: int, note: str, *, now: dt.datetime | None = None,
            photos: Sequence[bytes] = (), store=None) -> Problem:
    """Resolve a problem with a short note saying what was done, and optionally photos of it
    (``bot.services.evidence.EvidenceStore`` ``store``; a refused photo raises EvidenceError, nothing is written)."""
    problem = _load(session, user, problem_id)
    text = (note or "").strip()
    if not text:
        raise ProblemError(N_("Please write a short note on what was done."))
    if len(text) > NOTE_MAX:
        raise ProblemError(N_("The note is too long ({length} characters); at most {limit}."),
                           length=len(text), limit=NOTE_MAX)
    if problem.status == "resolved":
        raise ProblemError(N_("This problem is already resolved."))
    if problem.status == "closed":  # a villager's report marked as spam
        raise ProblemError(N_("This problem is already closed."))
    photos = [p for p in photos if p]
    if len(photos) > MAX_PHOTOS:
        raise ProblemError(N_("Add at most {limit} photos."), limit=MAX_PHOTOS)
    if photos and store is None:
        raise ValueError("photos need an evidence store")
    shas = list(dict.fromkeys(store.ingest(data).sha256 for data in photos))
    now = as_utc(now) if now else utcnow()
    before = {"status": problem.status, "resolved_at": None}
    problem.status, problem.resolved_at, problem.resolved_by = "resolved", now, user.id
    problem.resolution_note = text
    session.add(problem)
    session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="resolved", note=text))
    for sha in shas:
        session.add(ProblemEvent(problem_id=problem.id, at=now, actor_user_id=user.id, action="photo",
                                 note=f"sha256:{sha}"))
    audit.record(session, _actor(user), "problem.resolve", "problem", problem.id, before,
                 {"status": "resolved", "resolved_at": now, "note": text, **({"photos": shas} if shas else {})})
    return problem
