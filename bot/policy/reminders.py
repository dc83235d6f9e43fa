"""Reminders before a due time (D-5, D-1 at 09:00 local by default) to those not yet done."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from bot.policy.calendar import Occurrence
from bot.policy.context import Context, Draft
from bot.policy.messages import REMIND, REMIND_POSTING, Line, PlannedMessage
from bot.policy.timing import local_to_utc, next_open, previous_working_at


def reminder_at(ctx: Context, nominal: dt.datetime, deadline: dt.datetime) -> dt.datetime:
    """Return when a reminder planned for ``nominal`` goes out.

    It waits out quiet hours and days off, unless waiting would carry it past the deadline it
    announces: then it goes out earlier, on the last working day before (a reminder on Monday
    for a Sunday deadline is useless).
    """
    forward = next_open(nominal, ctx.tz, ctx.profile)
    if forward < deadline:
        return forward
    return previous_working_at(nominal, ctx.tz, ctx.profile, ctx.profile.reminders.at)


def schedule(ctx: Context, deadline: dt.datetime, prefix: str) -> list[tuple[str, dt.datetime]]:
    """Return (step, at) for each reminder offset before ``deadline``.

    Each reminder first waits out quiet hours and days off. When days off fold reminders onto one
    another (an earlier offset no longer goes out before a later one), the days off swallowed the
    reminder window: the folded reminders go out on the last working day before their nominal
    days instead, and of reminders sharing a slot only the latest step is kept.
    """
    day = deadline.astimezone(ctx.tz).date()
    at_time = ctx.profile.reminders.at
    nominals = [(f"{prefix}-d{offset}", local_to_utc(day - dt.timedelta(days=offset), at_time, ctx.tz))
                for offset in ctx.profile.reminders.offsets_days]  # largest offset first
    forward = [reminder_at(ctx, nominal, deadline) for _, nominal in nominals]
    folded: set[int] = set()
    for index in range(len(forward) - 1):
        if forward[index] >= forward[index + 1]:
            folded.update((index, index + 1))
    steps: list[tuple[str, dt.datetime]] = []
    for index, (step, nominal) in enumerate(nominals):
        at = previous_working_at(nominal, ctx.tz, ctx.profile, at_time) if index in folded else forward[index]
        steps = [(s, a) for s, a in steps if a < at]
        steps.append((step, at))
    return steps


def reminders(ctx: Context, occ: Occurrence) -> Iterator[PlannedMessage]:
    """Yield the reminders of one occurrence due by ``ctx.until`` for every unit not yet done.

    A catch-up tick (after the service was down) never sends a reminder of a deadline that has
    passed by the time it goes out: "due by the 25th" on the 27th is stale, and the escalation
    that follows the deadline says what is late. A posting reminder ("start posting by …") skips
    the units that have started posting.
    """
    plans = [("remind", occ.due_at, REMIND)]
    if occ.posting_by is not None:
        plans.insert(0, ("posting", occ.posting_by, REMIND_POSTING))
    for prefix, deadline, msgid in plans:
        if ctx.since is not None and deadline <= ctx.until:
            continue
        steps = [(s, a) for s, a in schedule(ctx, deadline, prefix) if ctx.wanted(a)]
        if steps:
            yield from _to_units(ctx, occ, steps, _text(ctx, occ, msgid), prefix)


def _to_units(ctx: Context, occ: Occurrence, steps: list[tuple[str, dt.datetime]], text: Line,
              family: str) -> Iterator[PlannedMessage]:
    roles = (occ.role, *occ.signed_by)
    for unit in ctx.facts.members(occ.level):
        for step, at in steps:
            if ctx.facts.submitted_by(occ.item, occ.period, unit.code, at):
                break  # done: later steps are later still
            if family == "posting" and ctx.facts.posting_started_by(occ.item, occ.period, unit.code, at):
                break  # posting already: nothing to start
            draft = Draft(kind="reminder", step=step, subject=occ.subject, item=occ.item, period=occ.period,
                          at=at, urgent=False, due_at=occ.due_at, text=text, about=(unit.code,),
                          actions=("open",), family=family)
            for role in roles:
                for recipient in ctx.facts.routes(unit.code, role):
                    yield draft.to(recipient)


def _text(ctx: Context, occ: Occurrence, msgid: str) -> Line:
    params: dict[str, object] = {"item": occ.label, "period": occ.period, "due": ctx.local(occ.due_at)}
    if msgid == REMIND_POSTING and occ.posting_by is not None:
        params.update(days=occ.posting_days, start=ctx.local(occ.posting_by)[:10])
    return Line(msgid, params)
