"""Digests of late units up the chain: one per township to its leader, then one per county."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from bot.policy.calendar import Occurrence
from bot.policy.context import Context, Draft
from bot.policy.facts import Scope
from bot.policy.messages import (
    DIGEST,
    LATE_LINE,
    LATE_LINE_NOBODY,
    LATE_LINE_SOME_ABSENT,
    LATE_LINE_UNREACHABLE,
    MORE_LATE,
    OVERDUE_SELF,
    Line,
    PlannedMessage,
)
from bot.policy.profile import LEVELS, ChainStep
from bot.policy.timing import next_open

MAX_LINES = 40  # a digest stays readable (and within Telegram's 4096 characters)


def rungs(ctx: Context, occ: Occurrence) -> list[tuple[str, ChainStep, dt.datetime]]:
    """Return (step, chain rung, nominal time) for every escalation of an occurrence, repeats
    included; the chain starts at the first rung above the occurrence's own level."""
    esc = ctx.profile.escalation
    above = [c for c in esc.chain if LEVELS.index(c.level) > LEVELS.index(occ.level)]
    chain = above or [_self_rung(occ)]
    start = occ.due_at + esc.first_after
    found = [(f"escalate-{i + 1}-{rung.level}", rung, start + i * esc.wait) for i, rung in enumerate(chain)]
    top_step, top, top_at = found[-1]
    found += [(f"{top_step}-repeat-{k}", top, top_at + k * esc.wait) for k in range(1, esc.max_repeats + 1)]
    return found


def _self_rung(occ: Occurrence) -> ChainStep:
    """Return the rung for a duty nobody sits above: the responsible office itself is told it is late."""
    return ChainStep(role=occ.role, level=occ.level)


def escalations(ctx: Context, occ: Occurrence) -> Iterator[PlannedMessage]:
    """Yield the digests of one occurrence due by ``ctx.until``, each listing the units still late."""
    if occ.due_at > ctx.until:
        return
    last: dt.datetime | None = None
    for step, rung, nominal in rungs(ctx, occ):
        at = next_open(nominal, ctx.tz, ctx.profile)
        if at > ctx.until:
            break
        if last is not None and at <= last:
            continue  # a weekend folded this repeat onto the previous digest: one is enough
        last = at
        late = [u for u in ctx.facts.members(occ.level)
                if not ctx.facts.submitted_by(occ.item, occ.period, u.code, at)]
        if not late:
            break  # everyone is done: the chain stops for good
        if ctx.wanted(at):
            yield from _digests(ctx, occ, step, rung, at, late)


def _digests(ctx: Context, occ: Occurrence, step: str, rung: ChainStep, at: dt.datetime,
             late: list[Scope]) -> Iterator[PlannedMessage]:
    groups: dict[str, list[Scope]] = {}
    for unit in late:
        head = ctx.facts.ancestor(unit.code, rung.level)
        if head is not None:
            groups.setdefault(head.code, []).append(unit)
    family = step.split("-repeat-")[0]
    for head_code, units in groups.items():
        draft = Draft(kind="digest", step=step, subject=occ.subject, item=occ.item, period=occ.period,
                      at=at, urgent=False, due_at=occ.due_at, text=_head(ctx, occ, rung, units),
                      lines=_lines(ctx, occ, rung, units),
                      about=tuple(u.code for u in units), actions=("open",), family=family)
        for recipient in ctx.facts.routes(head_code, rung.role):
            yield draft.to(recipient)


def _lines(ctx: Context, occ: Occurrence, rung: ChainStep, units: list[Scope]) -> tuple[Line, ...]:
    """Return one line per late unit, at most MAX_LINES of them and then how many more there are."""
    if rung.level == occ.level:
        return ()
    lines = tuple(_line(ctx, occ, rung, u) for u in units[:MAX_LINES])
    if len(units) > MAX_LINES:
        lines += (Line(MORE_LATE, {"count": len(units) - MAX_LINES}),)
    return lines


def _head(ctx: Context, occ: Occurrence, rung: ChainStep, units: list[Scope]) -> Line:
    params: dict[str, object] = {"item": occ.label, "period": occ.period, "due": ctx.local(occ.due_at)}
    if rung.level == occ.level:
        return Line(OVERDUE_SELF, params)
    return Line(DIGEST, {**params, "count": len(units)})


def _line(ctx: Context, occ: Occurrence, rung: ChainStep, unit: Scope) -> Line:
    """Return 'unit: responsible names'; above the township the unit is named with its township."""
    name = unit.name
    parent = ctx.facts.find(unit.parent)
    if parent is not None and parent.level != rung.level:
        name = f"{parent.name} / {unit.name}"
    routes = ctx.facts.routes(unit.code, occ.role)
    people = tuple(sorted({r.name for r in routes if r.joined}))
    absent = tuple(sorted({r.name for r in routes if not r.joined} - set(people)))
    if not people and not absent:
        return Line(LATE_LINE_NOBODY, {"scope": name})
    if not people:
        return Line(LATE_LINE_UNREACHABLE, {"scope": name, "absent": absent})
    if absent:
        return Line(LATE_LINE_SOME_ABSENT, {"scope": name, "people": people, "absent": absent})
    return Line(LATE_LINE, {"scope": name, "people": people})
