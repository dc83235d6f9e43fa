"""The scheduler's loop: plan each county's messages into the outbox, then deliver them exactly once.

``tick(engine, channels, now=...)`` is all a scheduler (APScheduler, the CLI, a test) calls:

1. ``plan_county``: under a row lock on the county's ``schedule_state`` (PostgreSQL), plan the
   messages in (watermark, now] — stale reminders of one item to one person collapse into one —
   and insert them with ``ON CONFLICT (key) DO NOTHING``; then move the watermark to ``now``.
2. ``recover``: a message claimed longer than ``LEASE`` ago and never marked sent belonged to a
   process that died between sending and marking: it is put back once (and logged), a second
   time it is given up (it may have been delivered twice already).
3. ``deliver``: each pending message is claimed by ``UPDATE … WHERE id = :id AND status =
   'pending'`` (only one process wins), sent, and marked sent. A transient failure puts it back
   with a later ``next_attempt_at``; a dead route marks that Telegram identity or webhook
   unreachable and forwards the message to the next level of the chain.

Event notices (alerts, sign-off and send-back notices, decisions, villagers' reports) are rows too,
written by ``bot.services.notices`` with ``queue`` in the transaction of the change that causes them;
after that transaction commits, ``nudge`` wakes this process's ``Courier``, which delivers at once
(the tick delivers them anyway). ``compose`` turns a row's actions ("name" or "name:argument", see
``ACTIONS``) into Telegram buttons and, for the group robots, web links.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from dataclasses import dataclass, fields

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_, translate
from bot.policy.facts import NO_CHANNEL
from bot.policy.messages import Line, PlannedMessage, render_line
from bot.policy.validate import ProfileError
from bot.services import contract_watch, disposal_watch, metrics
from bot.services.channels import Button, DeliveryError, Target
from bot.services.outbox_queue import (  # noqa: F401 - the door for notices is part of the outbox's interface
    NOTICE_PREFIX,
    NUDGE,
    listen,
    message_key,
    nudge,
    queue,
    unlisten,
)
from bot.services.outbox_queue import insert_ignore as _insert_ignore
from bot.services.schedule_facts import (
    CountyView,
    counties_with_profile,
    county_view,
    department_code,
    planned,
    scope_code,
)
from bot.services.users import telegram_chats
from bot.services.wecom_people import members
from bot.storage.db import session_scope
from bot.storage.models import OrgUnit, TelegramIdentity, User
from bot.storage.models_schedule import ChannelRoute, DueItemRow, OutboxMessage, ScheduleState
from bot.storage.models_wecom import WeComIdentity

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 12
FIRST_LOOKBACK = dt.timedelta(days=1)  # a county's first tick plans the last day, not its whole history
UNCONFIGURED_WAIT = dt.timedelta(hours=1)

# A message's actions are stored as "name" or "name:argument"; each becomes a Telegram button
# (label, callback data) and, for the group robots, a link to the same thing on the web.
ACTIONS: dict[str, tuple[str, str, str | None]] = {
    "open": (N_("Open reports"), "go:report", "/review"),
    "acknowledge": (N_("Acknowledge"), "pb:ack:{}", "/problems/{}"),
    "resolve": (N_("Resolve"), "pb:res:{}", "/problems/{}"),
    "problem": (N_("Open the problem"), "pl:{}", "/problems/{}"),
    "problems": (N_("Open the problem list"), "pl:list:0", "/problems"),  # a digest of several problems
    "reopen": (N_("Open the report to correct it"), "n:{}:resume", "/f/report/{}"),
    "sign_off": (N_("Open the report to sign it off"), "so:{}", "/f/signoff/{}"),
}
# Actions that still make sense for the person a message is forwarded to (the next level up).
FORWARDABLE = frozenset({"open", "acknowledge", "resolve", "problem", "problems"})
WECOM_APP = "wecom_app"  # the WeCom self-built app's personal channel (recipients "u<id>" like Telegram's)
FORWARDED = N_("Forwarded to you because {name} could not be reached:")
COLLAPSED = N_("({count} earlier reminders about this were folded into this one.)")
NEXT_UP = {"village": ("township_leader", "township"), "township": ("county_officer", "county"),
           "department": ("county_officer", "county")}


@dataclass
class TickResult:
    """What one tick did."""

    planned: int = 0
    inserted: int = 0
    sent: int = 0
    retried: int = 0
    unreachable: int = 0
    forwarded: int = 0
    failed: int = 0
    recovered: int = 0
    county_errors: int = 0

    def add(self, other: TickResult) -> None:
        """Add another result's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def worker_id() -> str:
    """Return a name for this process, stored with its claims."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _body(message: PlannedMessage) -> list:
    lines = [message.text, *message.lines]
    return [[line.msgid, {k: list(v) if isinstance(v, tuple) else v for k, v in line.params.items()}]
            for line in lines]


def _row(county_id: int, message: PlannedMessage, name: str, now: dt.datetime) -> dict:
    return {
        "key": message_key(message.key), "county_id": county_id, "kind": message.kind, "step": message.step,
        "subject": message.subject, "item": message.item, "period": message.period, "role": message.role,
        "scope": message.scope, "channel": message.channel, "recipient": message.recipient,
        "recipient_name": name[:100], "locale": message.locale, "send_at": message.at, "urgent": message.urgent,
        "body": _body(message), "actions": list(message.actions), "collapsed": message.collapsed,
        "status": "pending", "attempts": 0, "next_attempt_at": message.at, "recovered": 0, "created_at": now,
    }


def _lock_state(session: Session, county: OrgUnit, now: dt.datetime) -> ScheduleState:
    _insert_ignore(session, ScheduleState, [{"county_id": county.id, "watermark": now - FIRST_LOOKBACK,
                                             "updated_at": now}], ["county_id"])
    return session.exec(select(ScheduleState).where(ScheduleState.county_id == county.id).with_for_update()).one()


def plan_county(session: Session, county: OrgUnit, now: dt.datetime) -> TickResult:
    """Plan the county's messages in (watermark, now] into the outbox and advance the watermark."""
    result = TickResult()
    state = _lock_state(session, county, now)
    since = as_utc(state.watermark)
    if since >= now:
        return result
    view = county_view(session, county)
    messages, facts = planned(session, view, now, since)
    names = {(r.person, r.channel, r.scope): r.name for r in facts.recipients}
    rows = [_row(county.id, m, names.get((m.recipient, m.channel, m.scope), ""), now) for m in messages
            if m.channel != NO_CHANNEL]  # people who have not joined: in the preview and the digests only
    result.planned = len(rows)
    result.inserted = _insert_ignore(session, OutboxMessage, rows, ["key"])
    _record_due_items(session, view, since, now)
    # Once a local day: the contract problems and the reminders before a contract ends (issue 17).
    result.inserted += _insert_ignore(session, OutboxMessage, contract_watch.plan_county(session, view, since, now),
                                      ["key"])
    # … and the disposals': the notices ended (record it now), the disposals left too long at one step.
    result.inserted += _insert_ignore(session, OutboxMessage, disposal_watch.plan_county(session, view, since, now),
                                      ["key"])
    # Once a local day: income due and not received (its notices are written with each problem).
    from bot.services import income  # income writes notices, which import this module

    income.plan_county(session, view, since, now)
    session.execute(update(ScheduleState).where(ScheduleState.county_id == county.id)
                    .values(watermark=now, updated_at=utcnow(), error=None, error_at=None))
    return result


def _record_due_items(session: Session, view: CountyView, since: dt.datetime, now: dt.datetime) -> None:
    rows = [{"county_id": view.county.id, "item": o.item, "period": o.period, "role": o.role, "level": o.level,
             "due_at": o.due_at, "profile": view.profile.id} for o in view.occurrences(since, now)]
    _insert_ignore(session, DueItemRow, rows, ["county_id", "item", "period"])


def recover(session: Session, lease: dt.timedelta = LEASE) -> TickResult:
    """Give back the claims older than ``lease`` (by the wall clock) that were never marked sent.

    A message only claimed in a batch was never handed to a channel: it simply goes back. A message
    in ``sending`` may have been delivered before its process died: it goes back once, with a
    warning; if that happens again it is given up instead of risking a third copy.
    """
    result = TickResult()
    cutoff = utcnow() - lease
    session.execute(update(OutboxMessage).where(OutboxMessage.status == "claimed", OutboxMessage.claimed_at < cutoff)
                    .values(status="pending", claimed_by=None))
    stale = session.exec(select(OutboxMessage).where(OutboxMessage.status == "sending",
                                                     OutboxMessage.claimed_at < cutoff)).all()
    for message in stale:
        still = (OutboxMessage.id == message.id, OutboxMessage.status == "sending",
                 OutboxMessage.claimed_at == message.claimed_at)
        if message.recovered == 0:
            changed = session.execute(update(OutboxMessage).where(*still).values(
                status="pending", recovered=1, claimed_by=None)).rowcount
            if changed:
                result.recovered += 1
                log.warning("outbox: message %s (%s) was claimed by %s at %s and never marked sent; "
                            "sending it again, so %s may receive it twice", message.id, message.key,
                            message.claimed_by, message.claimed_at, message.recipient)
        else:
            changed = session.execute(update(OutboxMessage).where(*still).values(
                status="failed", error="claimed again after a re-send and never marked sent")).rowcount
            if changed:
                result.failed += 1
                log.error("outbox: message %s (%s) was re-sent once and again never marked sent; giving up",
                          message.id, message.key)
    return result


def _param(value: object, locale: str) -> object:
    """A body parameter as shown: ``{"_t": msgid, "p": {...}}`` is translated (its own parameters too)."""
    if isinstance(value, dict) and "_t" in value:
        params = {k: _param(v, locale) for k, v in (value.get("p") or {}).items()}
        return translate(locale, str(value["_t"]), **params)
    return value


def action_button(action: str, locale: str, subject: str = "") -> Button | None:
    """Return the button of a stored action ("name" or "name:argument"); None for an unknown name.

    An action without argument about a problem (the planner's "acknowledge", "resolve") takes the
    problem's id from the message's subject ``problem/<id>``.
    """
    name, _, argument = action.partition(":")
    if name not in ACTIONS:
        return None
    if not argument and subject.startswith("problem/"):
        argument = subject.split("/", 1)[1]
    label, data, link = ACTIONS[name]
    return Button(translate(locale, label), data.format(argument),
                  link.format(argument) if link else None)


def compose(message: OutboxMessage) -> tuple[str, list[Button]]:
    """Return the message's text in the recipient's language and its buttons."""
    locale = message.locale
    lines = [render_line(Line(msgid, {k: _param(v, locale) for k, v in params.items()}), locale)
             for msgid, params in message.body]
    if message.collapsed:
        lines.append(translate(locale, COLLAPSED, count=message.collapsed))
    buttons = [b for b in (action_button(a, locale, message.subject) for a in message.actions) if b is not None]
    return "\n".join(lines), buttons


def _set(session: Session, message_id: int, worker: str, **values) -> int:
    return session.execute(update(OutboxMessage).where(
        OutboxMessage.id == message_id, OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker)
        .values(**values)).rowcount


def deliver(engine: Engine, channels: dict, *, now: dt.datetime | None = None, worker: str | None = None,
            batch: int = 100, lease: dt.timedelta = LEASE) -> TickResult:
    """Recover stale claims, then claim, send and mark every pending message due by ``now``.

    A batch is claimed at once (status ``claimed``: nothing sent yet). Then, one message at a time,
    a single transaction marks the previous message sent and moves this one to ``sending``; only
    then is it handed to its channel. So a process killed at any point leaves at most one message
    sent but not marked, and ``recover`` re-sends (and logs) only that one.
    """
    now = now or utcnow()
    worker = worker or worker_id()
    with session_scope(engine) as session:
        result = recover(session, lease)
    while True:
        claimed = _claim_batch(engine, now, worker, batch)
        if not claimed:
            return result
        previous: int | None = None
        for message, target in claimed:
            started = _start(engine, message, previous, worker)
            if previous is not None:
                result.sent += 1
            previous = _send(engine, channels, message, target, now, worker, result) if started else None
        if previous is not None:
            with session_scope(engine) as session:
                _set(session, previous, worker, status="sent", sent_at=utcnow(), error=None)
            result.sent += 1


def _claim_batch(engine: Engine, now: dt.datetime, worker: str,
                 batch: int) -> list[tuple[OutboxMessage, Target | None]]:
    """Claim up to ``batch`` due messages by compare-and-set; return those this process won, in
    order, each with where it goes (None: no reachable route)."""
    with session_scope(engine) as session:
        ids = session.exec(select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.urgent.desc(), OutboxMessage.send_at, OutboxMessage.id).limit(batch)).all()
        if not ids:
            return []
        won = set(session.execute(update(OutboxMessage).where(
            OutboxMessage.id.in_(ids), OutboxMessage.status == "pending").values(
            status="claimed", claimed_at=utcnow(), claimed_by=worker).returning(OutboxMessage.id)).scalars().all())
        messages = sorted(session.exec(select(OutboxMessage).where(OutboxMessage.id.in_(won))).all(),
                          key=lambda m: ids.index(m.id))
        session.expunge_all()
        targets = _targets(session, messages)
    return [(m, targets.get(m.id)) for m in messages]


def _targets(session: Session, messages: list[OutboxMessage]) -> dict[int, Target]:
    """Return {message id: target} for the messages whose recipient is reachable."""
    wecom = {m.id: int(m.recipient[1:]) for m in messages if m.recipient.startswith("u") and m.channel == WECOM_APP}
    users = {m.id: int(m.recipient[1:]) for m in messages if m.recipient.startswith("u") and m.id not in wecom}
    routes = {m.id: int(m.recipient[1:]) for m in messages if m.recipient.startswith("r")}
    chats = telegram_chats(session, sorted(set(users.values())))
    live = {r.id: r for r in session.exec(select(ChannelRoute).where(
        ChannelRoute.id.in_(sorted(set(routes.values()))), ChannelRoute.reachable.is_(True))).all()} if routes else {}
    found = {mid: Target(chat_id=chats[uid]) for mid, uid in users.items() if uid in chats}
    member_of = members(session, sorted(set(wecom.values())))
    found.update({mid: Target(userid=member_of[uid]) for mid, uid in wecom.items() if uid in member_of})
    # The WeCom conversation's replies ("w…"): to the member who wrote, named in the row itself.
    found.update({m.id: Target(userid=str(m.body[0][1]["to"])) for m in messages if m.recipient.startswith("w")
                  and m.body and isinstance(m.body[0][1], dict) and m.body[0][1].get("to")})
    found.update({mid: Target(url=live[rid].url, secret=live[rid].secret) for mid, rid in routes.items() if rid in live})
    return found


def _start(engine: Engine, message: OutboxMessage, previous: int | None, worker: str) -> bool:
    """Mark the previous message sent and move this one to ``sending``, in one transaction."""
    with session_scope(engine) as session:
        if previous is not None:
            _set(session, previous, worker, status="sent", sent_at=utcnow(), error=None)
        started = session.execute(update(OutboxMessage).where(
            OutboxMessage.id == message.id, OutboxMessage.status == "claimed", OutboxMessage.claimed_by == worker)
            .values(status="sending", claimed_at=utcnow(), attempts=OutboxMessage.attempts + 1)).rowcount == 1
    message.attempts += 1
    return started


def _send(engine: Engine, channels: dict, message: OutboxMessage, target: Target | None, now: dt.datetime,
          worker: str, result: TickResult) -> int | None:
    """Hand one message to its channel; return its id when it went out (to be marked sent)."""
    channel = channels.get(message.channel)
    if target is None:
        _unreachable(engine, message, worker, now, "no reachable route", result)
        return None
    if channel is None:
        with session_scope(engine) as session:
            _set(session, message.id, worker, status="pending", next_attempt_at=now + UNCONFIGURED_WAIT,
                 error=f"channel {message.channel} is not configured")
        return None
    text, buttons = compose(message)
    try:
        if hasattr(channel, "send_message"):  # a channel that reads the row itself (the WeCom app's cards)
            channel.send_message(target, message, text, buttons)
        else:
            channel.send(target, text, buttons)
    except DeliveryError as exc:
        _failed(engine, message, worker, now, exc, result)
        return None
    metrics.DELIVERIES.labels(message.channel, "sent").inc()
    return message.id


def _failed(engine: Engine, message: OutboxMessage, worker: str, now: dt.datetime, exc: DeliveryError,
            result: TickResult) -> None:
    if exc.unreachable:
        _unreachable(engine, message, worker, now, exc.detail, result)
        return
    attempts = message.attempts
    with session_scope(engine) as session:
        if exc.permanent or attempts >= MAX_ATTEMPTS:
            _set(session, message.id, worker, status="failed", error=exc.detail[:500])
            metrics.DELIVERIES.labels(message.channel, "failed").inc()
            result.failed += 1
            log.error("outbox: message %s (%s) failed for good: %s", message.id, message.key, exc.detail)
            return
        wait = dt.timedelta(seconds=exc.retry_after if exc.retry_after is not None
                            else min(5 * 2 ** (attempts - 1), 3600))
        _set(session, message.id, worker, status="pending", next_attempt_at=now + wait, error=exc.detail[:500])
    metrics.DELIVERIES.labels(message.channel, "retry").inc()
    result.retried += 1


def _unreachable(engine: Engine, message: OutboxMessage, worker: str, now: dt.datetime, detail: str,
                 result: TickResult) -> None:
    """Mark the route dead, the message unreachable, and forward it to the next level up."""
    with session_scope(engine) as session:
        if not _set(session, message.id, worker, status="unreachable", error=detail[:500]):
            return
        if message.recipient.startswith("w"):  # a WeCom conversation's reply: nobody to forward it to
            result.unreachable += 1
            return
        ident = int(message.recipient[1:])
        if message.recipient.startswith("u") and message.channel == WECOM_APP:
            session.execute(update(WeComIdentity).where(WeComIdentity.user_id == ident).values(reachable=False))
        elif message.recipient.startswith("u"):
            session.execute(update(TelegramIdentity).where(TelegramIdentity.user_id == ident)
                            .values(reachable=False))
        else:
            session.execute(update(ChannelRoute).where(ChannelRoute.id == ident).values(reachable=False))
        result.unreachable += 1
        result.forwarded += _forward(session, message, now)
    metrics.DELIVERIES.labels(message.channel, "unreachable").inc()
    log.warning("outbox: %s unreachable through %s (%s); message %s forwarded up the chain",
                message.recipient, message.channel, detail, message.id)


def _scope_unit(session: Session, message: OutboxMessage) -> tuple[OrgUnit | None, str]:
    county = session.get(OrgUnit, message.county_id)
    if message.scope == department_code(county):
        return county, "department"
    if message.scope.startswith("#"):
        unit = session.get(OrgUnit, int(message.scope[1:]))
    else:
        unit = session.exec(select(OrgUnit).where(OrgUnit.code == message.scope)).first()
    return unit, unit.level if unit else ""


def _forward(session: Session, message: OutboxMessage, now: dt.datetime) -> int:
    unit, level = _scope_unit(session, message)
    if unit is None or level not in NEXT_UP:
        return 0
    role, up_level = NEXT_UP[level]
    head = unit
    while head is not None and head.level != up_level:
        head = session.get(OrgUnit, head.parent_id) if head.parent_id else None
    if head is None:
        return 0
    users = session.exec(select(User).where(User.role == role, User.active.is_(True),
                                            User.org_unit_id == head.id)).all()
    chats = telegram_chats(session, [u.id for u in users])
    people = [(f"u{u.id}", "telegram", u.name, u.locale) for u in users if u.id in chats]
    in_wecom = members(session, [u.id for u in users])
    people += [(f"u{u.id}", WECOM_APP, u.name, u.locale) for u in users if u.id in in_wecom]
    if role == "township_leader":
        routes = session.exec(select(ChannelRoute).where(ChannelRoute.org_unit_id == head.id,
                                                         ChannelRoute.reachable.is_(True))).all()
        people += [(f"r{r.id}", r.kind, r.name, "zh_CN") for r in routes]
    body = [[FORWARDED, {"name": message.recipient_name or message.recipient}], *message.body]
    rows = [{
        "key": message_key(f"{message.key}>{person}/{channel}"), "county_id": message.county_id,
        "kind": message.kind, "step": message.step, "subject": message.subject, "item": message.item,
        "period": message.period, "role": role, "scope": scope_code(head), "channel": channel,
        "recipient": person, "recipient_name": name[:100], "locale": locale, "send_at": now,
        "urgent": message.urgent, "body": body, "collapsed": message.collapsed,
        "actions": [a for a in message.actions if a.partition(":")[0] in FORWARDABLE],
        "status": "pending", "attempts": 0, "next_attempt_at": now, "recovered": 0, "created_at": now,
    } for person, channel, name, locale in people]
    return _insert_ignore(session, OutboxMessage, rows, ["key"])


def tick(engine: Engine, channels: dict, *, now: dt.datetime | None = None, worker: str | None = None,
         batch: int = 100) -> TickResult:
    """Plan every county with a profile up to ``now``, then deliver what is due.

    Each county is planned in its own transaction: whatever goes wrong in one county (a broken
    profile, a bad row, a bug) is logged with the county, kept on its ``schedule_state`` for
    ``/healthz``, and leaves its watermark where it was (the next tick tries again and catches up);
    the other counties are planned and every county's messages are delivered all the same.
    """
    now = as_utc(now) if now else utcnow()
    result = TickResult()
    with Session(engine) as session:
        counties = [(c.id, c.name) for c in counties_with_profile(session)]
    for county_id, name in counties:
        try:
            with session_scope(engine) as session:
                result.add(plan_county(session, session.get(OrgUnit, county_id), now))
        except Exception as exc:  # noqa: BLE001 - one county's failure must not stop the others
            detail = exc.describe("en") if isinstance(exc, ProfileError) else f"{type(exc).__name__}: {exc}"
            log.exception("schedule: planning county %s (%s) failed: %s", county_id, name, detail)
            _record_error(engine, county_id, detail, now)
            result.county_errors += 1
    result.add(deliver(engine, channels, now=now, worker=worker, batch=batch))
    return result


def _record_error(engine: Engine, county_id: int, detail: str, now: dt.datetime) -> None:
    """Keep the county's last planning error on its schedule_state row (created if need be)."""
    try:
        with session_scope(engine) as session:
            _insert_ignore(session, ScheduleState, [{"county_id": county_id, "watermark": now - FIRST_LOOKBACK,
                                                     "updated_at": now}], ["county_id"])
            session.execute(update(ScheduleState).where(ScheduleState.county_id == county_id)
                            .values(error=detail[:500], error_at=utcnow()))
    except Exception:  # noqa: BLE001 - the log above already has the error
        log.exception("schedule: could not record the planning error of county %s", county_id)


def planning_errors(session: Session) -> list[dict]:
    """Return the counties whose last tick failed to plan: id, name, error and when (for /healthz)."""
    rows = session.exec(select(ScheduleState, OrgUnit.name).join(OrgUnit, OrgUnit.id == ScheduleState.county_id)
                        .where(ScheduleState.error.is_not(None)).order_by(ScheduleState.county_id)).all()
    return [{"county_id": state.county_id, "county": name, "error": state.error,
             "at": as_utc(state.error_at).isoformat() if state.error_at else None} for state, name in rows]


# ---------------------------------------------------------------------------------------------- event notices
# (queued through bot.services.outbox_queue, re-exported above)

class Courier:
    """Deliver the outbox from a running event loop: at once when nudged, else every ``every`` seconds.

    ``deliver`` runs in a worker thread (it is blocking HTTP and database work), one at a time.
    The scheduler's tick delivers too, so a lost nudge or a stopped courier only delays messages.
    """

    def __init__(self, engine: Engine, channels: dict, *, worker: str | None = None,
                 every: float | None = None) -> None:
        self.engine = engine
        self.channels = channels
        self.worker = worker or worker_id()
        self.every = every
        self.runs = 0
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> Courier:
        """Start waiting for nudges in the running loop; deliver once at start."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._event.set()
        listen(self.poke)
        self._task = self._loop.create_task(self._run(), name="villagebot-courier")
        return self

    def poke(self) -> None:
        """Wake the courier (thread-safe)."""
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop closed meanwhile
            pass

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._event.wait(), timeout=self.every)
            except TimeoutError:
                pass
            if self._stopping:
                return
            self._event.clear()
            await asyncio.to_thread(self._deliver)

    def _deliver(self) -> None:
        try:
            result = deliver(self.engine, self.channels, worker=self.worker)
        except Exception:
            log.exception("outbox: delivery failed")
            return
        self.runs += 1
        if result.sent or result.failed or result.recovered or result.unreachable:
            log.info("outbox: %s", result)

    async def stop(self) -> None:
        """Stop after the delivery in progress, if any."""
        unlisten(self.poke)
        self._stopping = True
        if self._event is not None:
            self._event.set()
        if self._task is not None:
            await self._task


def pending_notices(session: Session, until: dt.datetime, scope: OrgUnit | None = None) -> list[OutboxMessage]:
    """Return the event notices not yet sent that are due by ``until`` (for ``schedule preview``),
    only those about ``scope`` if given: the problem's or report's unit lies at or below ``scope``,
    or above it."""
    rows = session.exec(select(OutboxMessage).where(
        OutboxMessage.key.startswith(NOTICE_PREFIX), OutboxMessage.status.in_(("pending", "claimed", "sending")),
        OutboxMessage.send_at <= until).order_by(OutboxMessage.send_at, OutboxMessage.id)).all()
    if scope is None:
        return list(rows)
    found = []
    for row in rows:
        unit = _about(session, row)
        if unit is not None and (unit.path.startswith(scope.path) or scope.path.startswith(unit.path)):
            found.append(row)
    return found


def _about(session: Session, row: OutboxMessage) -> OrgUnit | None:
    """The unit a notice is about: its problem's or report's village (or unit), else its scope."""
    from bot.storage.models import Asset, Problem, Report

    kind, _, ident = row.subject.partition("/")
    thing = None
    if ident.isdigit():
        thing = session.get(Problem if kind == "problem" else Report, int(ident)) if kind in ("problem",
                                                                                             "report") else None
    asset_id = getattr(thing, "asset_id", None)
    if asset_id is not None:
        return session.get(OrgUnit, session.get(Asset, asset_id).village_id)
    if getattr(thing, "org_unit_id", None) is not None:
        return session.get(OrgUnit, thing.org_unit_id)
    return _scope_unit(session, row)[0]
