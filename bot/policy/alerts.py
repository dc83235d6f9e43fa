"""Serious problems: alert the township at once, the county if nobody acknowledges, then remind to act."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from bot.policy.context import Context, Draft
from bot.policy.facts import SeriousProblem
from bot.policy.messages import ACT, ALERT, ALERT_UNACKNOWLEDGED, Line, PlannedMessage
from bot.policy.profile import ROLE_LEVEL
from bot.policy.timing import next_open

ITEM = "serious_problem"


def _before(moment: dt.datetime | None, at: dt.datetime) -> bool:
    return moment is not None and moment <= at


def alerts(ctx: Context, problem: SeriousProblem) -> Iterator[PlannedMessage]:
    """Yield every message about one serious problem that should exist by ``ctx.until``."""
    rules = ctx.profile.serious
    params = _params(ctx, problem)
    start = problem.created_at
    if start <= ctx.until and not problem.alerted:  # the adapter's own alert is never repeated
        yield from _send(ctx, problem, rules.first_role, _draft(problem, "alert", "alert", start, True,
                                                                 Line(ALERT, params)))
    timeout = start + rules.ack_timeout
    if timeout <= ctx.until and not _before(problem.acknowledged_at, timeout) \
            and not _before(problem.resolved_at, timeout):
        hours = round(rules.ack_timeout.total_seconds() / 3600)
        text = Line(ALERT_UNACKNOWLEDGED, {**params, "hours": hours})
        yield from _send(ctx, problem, rules.then_role, _draft(problem, "escalation", "ack-timeout", timeout,
                                                               True, text))
    yield from _act_reminders(ctx, problem, params)


def _act_reminders(ctx: Context, problem: SeriousProblem, params: dict[str, object]) -> Iterator[PlannedMessage]:
    """Yield the reminders to act after an acknowledgement, until the problem is resolved.

    None falls while the problem waits for the county's decision (escalated from the problem list).
    """
    rules = ctx.profile.serious
    if problem.acknowledged_at is None:
        return
    for k in range(1, rules.act_reminders + 1):
        at = next_open(problem.acknowledged_at + k * rules.act_after, ctx.tz, ctx.profile)
        if at > ctx.until or _before(problem.resolved_at, at):
            return
        if problem.waits_for_county(at):
            continue  # the township handed it up: nothing for it to act on until the county decides
        draft = _draft(problem, "reminder", f"act-{k}", at, False, Line(ACT, params))
        yield from _send(ctx, problem, rules.first_role, draft)


def _draft(problem: SeriousProblem, kind: str, step: str, at: dt.datetime, urgent: bool, text: Line) -> Draft:
    family = "act" if step.startswith("act-") else step
    return Draft(kind=kind, step=step, subject=f"problem/{problem.id}", item=ITEM, period=problem.id,
                 at=at, urgent=urgent, due_at=None, text=text, about=(problem.scope,),
                 actions=("acknowledge", "resolve") if urgent else ("resolve",), family=family)


def _send(ctx: Context, problem: SeriousProblem, role: str, draft: Draft) -> Iterator[PlannedMessage]:
    head = ctx.facts.ancestor(problem.scope, ROLE_LEVEL[role])
    if head is None:
        return
    for recipient in ctx.facts.routes(head.code, role):
        yield draft.to(recipient)


def _params(ctx: Context, problem: SeriousProblem) -> dict[str, object]:
    unit = ctx.facts.find(problem.scope)
    name = unit.name if unit else problem.scope
    parent = ctx.facts.find(unit.parent) if unit else None
    if parent is not None and parent.level == "township":
        name = f"{parent.name} / {name}"
    return {"scope": name, "title": problem.title, "created": ctx.local(problem.created_at)}
