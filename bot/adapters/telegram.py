"""The monthly checklist as a Telegram conversation (python-telegram-bot 22).

The adapter holds no state of its own: who is who lives in ``TelegramIdentity``, the checklist in
progress in ``Report`` (saved after every answer by ``bot.services.reports``), so a restart, a
second process or a redelivered update changes nothing. Every update passes a dedup gate first
(``ProcessedUpdate``): the same ``update_id`` is handled once, in polling and in webhook mode.

Buttons carry stable keys (see ``telegram_views``) and every one is checked again against the
pressing user's scope by the services, so forged callback data gets the same refusal as an
unknown id. Township and county actions live in ``telegram_township``; they register their button
prefixes in ``BUTTONS`` and their follow-up texts (a reason, a note) in ``FOLLOW_UPS``; a pending
follow-up is a ``TelegramFollowUp`` row, consumed in the transaction of the change its text makes.

No database connection is held across a network call. A handler works on a ``Turn``: its database
work runs in one session while ``turn.say`` and the pressed button's answer are only collected;
the session is committed and closed, and then the messages go out. Work that must wait on the
network in the middle (downloading a photo) leaves the database first (``Turn.network``). At most
``db_sections(engine)`` turns use the database at once; a burst larger than that queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, insert
from sqlalchemy import select as core_select
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, select
from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    ContextTypes,
)

from bot.adapters import telegram_views as views
from bot.clock import period_of, utcnow
from bot.config import Settings
from bot.flows import AnswerError
from bot.i18n import N_, normalise_locale, translate
from bot.services import cycle, reports, review, users
from bot.services.access import AccessDenied
from bot.services.evidence import EvidenceError, EvidenceStore, flag_label
from bot.storage.db import db_sections
from bot.storage.models import OrgUnit, ProcessedUpdate, Report, TelegramIdentity, User
from bot.storage.models_telegram import TelegramFollowUp
from bot.storage.rows import adopt, columns, first, prefixed

log = logging.getLogger(__name__)

COMMANDS = (("report", N_("Monthly check of my village's assets")),
            ("review", N_("Township: review this month's reports")),
            ("classes", N_("Township: four-way classification of assets")),
            ("problems", N_("Township and county: the open problem list")),
            ("forms", N_("Quarterly and yearly forms, sign-offs")),
            ("inventory", N_("Yearly inventory of the assets and income settlement (web page)")),
            ("income", N_("Income of the assets and the distribution plans")),
            ("disposals", N_("Disposals of assets (web page)")),
            ("form", N_("Open the checklist as a web page")), ("help", N_("How to use this bot")),
            ("lang", N_("Language / 语言")), ("cancel", N_("Pause the current check")))
DEDUP_KEEP = dt.timedelta(days=7)
# How long the bot waits for the text a button asked for (a reason, a note); later text is an answer again.
FOLLOW_UP_TTL = dt.timedelta(hours=24)
TYPED = ("number", "text", "date")
# Errors whose message is meant for the user (they carry a msgid); anything else is a bug, logged.
USER_ERRORS = (AccessDenied, AnswerError, EvidenceError, reports.ReportError, review.ReviewError, ValueError)
OUTSIDE = N_("This is outside your area.")
# Failures a later retry of the same update can get past: the database unreachable, or no connection free in time.
RETRYABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
_RETRY: contextvars.ContextVar[list | None] = contextvars.ContextVar("telegram_retry", default=None)
# Statements that run on every update are built once (building one costs more than running it).
DEDUP_INSERT = insert(ProcessedUpdate.__table__)
IDENTITY = (core_select(*columns(TelegramIdentity, "i_"), *columns(User, "u_"))
            .join_from(TelegramIdentity.__table__, User.__table__,
                       User.__table__.c.id == TelegramIdentity.__table__.c.user_id)
            .where(TelegramIdentity.__table__.c.telegram_user_id == bindparam("telegram_user_id")))


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Process updates of different chats concurrently, and each chat's updates one at a time, in order.

    A cadre's answers must apply in the order given (and a redelivered update must meet the dedup
    gate after the first copy), while thirty cadres answering at once should not wait for each
    other's network round trips.
    """

    def __init__(self, max_concurrent_updates: int = 32):
        super().__init__(max_concurrent_updates)
        self._locks: dict[object, list] = {}

    async def do_process_update(self, update: object, coroutine) -> None:
        key = _chat_key(update)
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                await coroutine
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_key(update: object) -> object:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return ("user", update.effective_user.id)
    return None


@dataclass
class Deps:
    """What the handlers need, kept in ``application.bot_data['deps']``.

    ``slots`` admits ``db_sections(engine)`` database sections at once (no more than the pool's
    steady size); a burst of updates waits for a slot instead of for a connection.
    """

    settings: Settings
    engine: Any
    store: EvidenceStore
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(db_sections(self.engine))

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def period(self) -> str:
        """This month, as the county sees it."""
        return period_of(utcnow(), self.settings.tz)


class PressedButton:
    """The callback query of a pressed button; ``answer`` is kept and sent after the database work.

    A later answer replaces an earlier one not yet sent, so a refusal's alert wins over the plain
    acknowledgement a handler gave before the service refused.
    """

    def __init__(self, query) -> None:
        self.query = query
        self.answer_args: tuple[str | None, bool] | None = None

    @property
    def data(self) -> str | None:
        return self.query.data

    async def answer(self, text: str | None = None, show_alert: bool = False) -> None:
        self.answer_args = (text, show_alert)

    async def send(self) -> None:
        if self.answer_args is None:
            return
        text, show_alert = self.answer_args
        try:
            await self.query.answer(text, show_alert=show_alert)
        except BadRequest as exc:  # answered already, or too old (a long queue): the messages still go
            log.info("callback query %s not answered: %s", self.query.id, exc)


@dataclass
class Turn:
    """One update of a signed-in user: the database session, who they are, their language.

    What the turn says (``say``, ``send_photo``, the button's answer) is collected in ``outgoing``
    and sent by ``deliver`` once the session is closed.
    """

    update: Update
    context: ContextTypes.DEFAULT_TYPE
    deps: Deps
    session: Session
    user: User
    identity: TelegramIdentity
    locale: str
    outgoing: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    button: PressedButton | None = None

    async def say(self, text: str, markup=None, *, escape: bool = True) -> None:
        """Send ``text`` (escaped for HTML unless it is markup already) to the chat, after the database work."""
        self.outgoing.append(functools.partial(_say, self.update, views.escape(text) if escape else text, markup))

    async def send_photo(self, data: bytes) -> None:
        """Send a photo to the chat, after the database work."""
        chat = self.update.effective_chat
        if chat is not None:
            self.outgoing.append(functools.partial(chat.send_photo, data))

    @contextlib.asynccontextmanager
    async def network(self):
        """Leave the database for a network call in the middle of a turn: commit, free the slot, come back.

        The session stays usable afterwards (a new transaction on a connection taken again).
        """
        self.session.commit()
        self.deps.slots.release()
        try:
            yield
        finally:
            await self.deps.slots.acquire()

    async def deliver(self) -> None:
        """Send what the turn collected: the messages in order, the button's answer beside them."""
        outgoing, self.outgoing = self.outgoing, []

        async def in_order() -> None:
            for send in outgoing:
                await send()

        if self.button is not None and self.button.answer_args is not None:
            await asyncio.gather(self.button.send(), in_order())
        else:
            await in_order()

    def t(self, msgid: str, **params: object) -> str:
        return translate(self.locale, msgid, **params)

    def error(self, exc: Exception) -> str:
        return error_text(self.locale, exc)


Handler = Callable[[Turn], Awaitable[None]]
ButtonHandler = Callable[[Turn, Any, str], Awaitable[None]]
FollowUp = Callable[[Turn, Any, str], Awaitable[bool]]
BUTTONS: dict[str, ButtonHandler] = {}  # callback-data prefix -> handler(turn, query, rest)
FOLLOW_UPS: dict[str, FollowUp] = {}  # pending kind -> handler(turn, argument, text); True when done


def _deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    return context.application.bot_data["deps"]


def signed_in(func: Handler):
    """Run ``func(turn)`` for a bound, active user in one database session; tell strangers how to get in.

    The session is committed and closed (and the slot freed) before anything is sent.
    """

    @functools.wraps(func)
    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        deps = _deps(context)
        turn = None
        async with deps.slots:
            with deps.session() as session:
                user, identity = _identity(session, update)
                if user is not None:
                    turn = Turn(update, context, deps, session, user, identity, _locale(user, update))
                    if update.callback_query:
                        turn.button = PressedButton(update.callback_query)
                    await func(turn)
                    session.commit()
        if turn is None:
            if update.callback_query:
                with contextlib.suppress(BadRequest):
                    await update.callback_query.answer()
            await _need_account(update)
            return
        await turn.deliver()

    return handler


# ---------------------------------------------------------------------------------------------- plumbing

async def dedup_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Let each update_id through once; a redelivered update stops here."""
    deps = _deps(context)
    # Core, not the ORM: this runs before every update, and a unit of work costs several times more.
    try:
        with deps.engine.begin() as conn:
            conn.execute(DEDUP_INSERT, {"update_id": update.update_id, "processed_at": utcnow()})
    except IntegrityError:
        log.info("update %s already processed: ignored", update.update_id)
        raise ApplicationHandlerStop from None
    if update.update_id % 500 == 0:
        with deps.engine.begin() as conn:
            conn.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < utcnow() - DEDUP_KEEP))
            conn.execute(delete(TelegramFollowUp).where(TelegramFollowUp.expires_at < utcnow()))


def _guess_locale(update: Update) -> str:
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return "en" if code.lower().startswith("en") else "zh_CN"


def _identity(session: Session, update: Update) -> tuple[User | None, TelegramIdentity | None]:
    if update.effective_user is None:
        return None, None
    row = first(session, IDENTITY, {"telegram_user_id": update.effective_user.id})
    if row is None:
        return None, None
    identity = adopt(session, TelegramIdentity, prefixed(row, "i_"))
    user = adopt(session, User, prefixed(row, "u_"))
    return (user if user.active else None), identity


def _locale(user: User | None, update: Update) -> str:
    return normalise_locale(user.locale) if user else _guess_locale(update)


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def _say(update: Update, text: str, markup=None) -> None:
    """Send an HTML message to the update's chat.

    Bot.send_message would turn Telegram's answer into a Message object (about 0.2 ms, as much
    as saving the answer); nothing here reads it, so the call goes through the bot's own request
    path (defaults, rate limiter, retries and errors as for any method) and the answer is dropped.
    """
    chat = update.effective_chat
    if chat is None:
        return
    await update.get_bot()._post("sendMessage", {  # noqa: SLF001 - see above
        "chat_id": chat.id, "text": text, "reply_markup": markup, "parse_mode": ParseMode.HTML,
        "link_preview_options": NO_PREVIEW})


def error_text(locale: str, exc: Exception) -> str:
    """The user's message of a service error (its msgid translated), or a generic apology."""
    message = getattr(exc, "message", None)
    if callable(message):
        return message(locale)
    msgid = getattr(exc, "msgid", None)
    if msgid:
        return translate(locale, msgid, **(getattr(exc, "params", None) or {}))
    return translate(locale, N_("Something went wrong. Please try again."))


async def _need_account(update: Update) -> None:
    locale = _guess_locale(update)
    await _say(update, views.escape(translate(locale, N_(
        "This bot is for village cadres and township leaders. Open the invite link your township sent you, "
        "or send /start followed by your invite code."))))


# ---------------------------------------------------------------------------------------------- commands

async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Bind an account with an invite code, or greet a known user."""
    deps = _deps(context)
    code = context.args[0] if context.args else None
    tg_user = update.effective_user
    refused = None
    async with deps.slots:
        with deps.session() as session:
            user, _ = _identity(session, update)
            if code:
                try:
                    user = users.redeem_invite(session, code, telegram_user_id=tg_user.id,
                                               chat_id=update.effective_chat.id, username=tg_user.username)
                    session.commit()
                except users.InviteError as exc:
                    session.rollback()
                    refused = error_text(_locale(user, update), exc)
            if refused is None and user is not None:
                locale = _locale(user, update)
                unit = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None
                lines = [translate(locale, N_("Hello {name}! You are signed in for {unit}."), name=user.name,
                                   unit=unit.name if unit else translate(locale, N_("the whole installation")))]
                waiting = _waiting_drafts(session, user, deps)
                if waiting:
                    lines.append(translate(locale, N_("{count} unfinished check(s) are waiting for you."),
                                           count=waiting))
    if refused is not None:
        await _say(update, views.escape(refused))
        return
    if user is None:
        await _need_account(update)
        return
    lines.append(translate(locale, N_("Send /report to do this month's checks, /help for help.")))
    await _say(update, views.escape("\n".join(lines)),
               views.report_button(locale) if user.role == "village_cadre" else None)


def _waiting_drafts(session: Session, user: User, deps: Deps) -> int:
    try:
        items = reports.month_overview(session, user, deps.period())
    except AccessDenied:
        return 0
    return sum(1 for item in items if item.state == "draft")


@signed_in
async def on_report(turn: Turn) -> None:
    """List the village's assets with this month's state as buttons."""
    await show_overview(turn)


async def show_overview(turn: Turn) -> None:
    """The village's assets this month, each a button: done, draft or to do."""
    period = turn.deps.period()
    try:
        items = reports.month_overview(turn.session, turn.user, period)
    except AccessDenied as exc:
        await turn.say(turn.error(exc))
        return
    if turn.user.role in ("village_cadre", "village_supervisor"):
        await turn.say(*views.overview(turn.locale, period, items))
        return
    # Above the village: where each village stands this month (what a reminder's "open" button shows).
    ids = {item.asset.village_id for item in items}
    names = {u.id: u.name for u in turn.session.exec(select(OrgUnit).where(OrgUnit.id.in_(ids)))} if ids else {}
    await turn.say(views.village_summary(turn.locale, period, items, names))


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain the commands in the user's language (also the answer to an unknown command)."""
    deps = _deps(context)
    async with deps.slots:
        with deps.session() as session:
            user, _ = _identity(session, update)
    locale = _locale(user, update)
    lines = [translate(locale, N_("VillageBot helps you do the monthly check of your village's assets."))]
    lines += [f"/{name} — {translate(locale, desc)}" for name, desc in COMMANDS]
    lines.append(translate(locale, N_("Every answer is saved at once: if the signal drops, just continue later.")))
    await _say(update, views.escape("\n".join(lines)))


@signed_in
async def on_cancel(turn: Turn) -> None:
    """Pause the current checklist (the draft stays saved) and forget any pending follow-up."""
    _activate(turn, None)
    take_follow_up(turn)
    await turn.say(turn.t(N_("Paused. Your answers are saved; send /report to continue.")))


async def on_lang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer the two interface languages."""
    await _say(update, "请选择语言 / Choose your language", views.languages())


FOLLOW_UP_TABLE = TelegramFollowUp.__table__
FOLLOW_UP_KEY = (FOLLOW_UP_TABLE.c.telegram_user_id == bindparam("telegram_user_id"),
                 FOLLOW_UP_TABLE.c.chat_id == bindparam("chat_id"))
FOLLOW_UP_TAKE = (delete(FOLLOW_UP_TABLE).where(*FOLLOW_UP_KEY)
                  .returning(FOLLOW_UP_TABLE.c.kind, FOLLOW_UP_TABLE.c.argument, FOLLOW_UP_TABLE.c.expires_at))


def _follow_up_key(turn: Turn) -> dict[str, int]:
    chat = turn.update.effective_chat
    return {"telegram_user_id": turn.update.effective_user.id, "chat_id": chat.id if chat else 0}


def expect(turn: Turn, kind: str, argument: Any) -> None:
    """Take the user's next text in this chat as the follow-up ``kind`` (a reason, a note) about ``argument``.

    Stored in the turn's transaction (``argument`` as JSON: a tuple comes back as a list), replacing
    any follow-up pending in the chat; it waits ``FOLLOW_UP_TTL``.
    """
    now = utcnow()
    values = {**_follow_up_key(turn), "kind": kind, "argument": argument, "created_at": now,
              "expires_at": now + FOLLOW_UP_TTL}
    if turn.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(FOLLOW_UP_TABLE).values(values)
    turn.session.execute(statement.on_conflict_do_update(
        index_elements=["telegram_user_id", "chat_id"],
        set_={name: statement.excluded[name] for name in ("kind", "argument", "created_at", "expires_at")}))


def take_follow_up(turn: Turn) -> tuple[str, Any] | None:
    """Remove and return the chat's pending follow-up (kind, argument), or None (none, expired or unknown).

    The row is deleted in the turn's transaction: committed with the change the text makes, back in
    place if that change is rolled back. On PostgreSQL the delete locks the row, so of two processes
    handling the same user's texts only one gets it.
    """
    row = turn.session.execute(FOLLOW_UP_TAKE, _follow_up_key(turn)).first()
    if row is None or row.expires_at <= utcnow() or row.kind not in FOLLOW_UPS:
        return None
    return row.kind, row.argument


# ---------------------------------------------------------------------------------------------- checklist

async def ask(turn: Turn, report: Report, note: str | None = None) -> None:
    """Show the report's current question to the user of ``turn`` (after the turn's database work)."""
    walker = reports.walker_for(report)
    text, markup = views.question(normalise_locale(turn.user.locale), report.id,
                                  reports.subject_name(turn.session, report), walker, note)
    await turn.say(text, markup, escape=False)


async def refuse(turn: Turn, report_id: int, exc: Exception) -> None:
    """Roll back, then show the same question again with the reason the answer was refused."""
    turn.session.rollback()
    turn.session.expire_all()
    report = turn.session.get(Report, report_id)
    await ask(turn, report, note="❗ " + views.escape(turn.error(exc)))


def _activate(turn: Turn, report_id: int | None) -> None:
    identity = turn.identity
    if identity.active_report_id != report_id:
        identity.active_report_id = report_id
        turn.session.add(identity)
        turn.session.commit()


@signed_in
async def on_callback(turn: Turn) -> None:
    """Route a button press by its stable key; refuse what the services refuse, with their reason."""
    query = turn.button
    head, _, rest = (query.data or "").partition(":")
    handler = BUTTONS.get(head)
    try:
        if handler is None:
            await query.answer(turn.t(N_("This button is no longer valid.")), show_alert=True)
            return
        await handler(turn, query, rest)
    except USER_ERRORS as exc:
        turn.session.rollback()
        if not hasattr(exc, "msgid"):
            exc = AccessDenied(OUTSIDE)  # malformed or forged callback data
        text = turn.error(exc)
        await query.answer(text[:190], show_alert=True)
        await turn.say(text)


async def _start_button(turn: Turn, query, rest: str) -> None:
    await query.answer()
    report = reports.start_or_resume(turn.session, turn.user, int(rest), channel="telegram")
    _activate(turn, report.id)
    await ask(turn, report)


async def _value_button(turn: Turn, query, rest: str, step=reports.answer) -> None:
    rid, key, option = rest.split(":", 2)
    report, _ = step(turn.session, turn.user, int(rid), key, option)
    _activate(turn, report.id)
    await _answered(query, ask(turn, report))


async def _answered(query, showing: Awaitable[None]) -> None:
    """Answer the button press and show what follows (``Turn.deliver`` sends the two at the same time).

    The answer is saved before this; a refused answer never gets here, so on_callback can still
    answer the press with the reason as an alert.
    """
    await query.answer()
    await showing


async def _toggle_button(turn: Turn, query, rest: str) -> None:
    await _value_button(turn, query, rest, step=reports.toggle)


async def _language_button(turn: Turn, query, rest: str) -> None:
    await query.answer()
    users.set_locale(turn.session, turn.user, normalise_locale(rest))
    turn.session.commit()
    turn.locale = turn.user.locale
    await turn.say(turn.t(N_("Language changed.")))


async def _go_button(turn: Turn, query, rest: str) -> None:
    if rest != "report":
        raise AccessDenied(OUTSIDE)
    await query.answer()
    await show_overview(turn)


# Steps that change the draft and then show the current question: action -> (service, takes a key).
_STEPS = {"back": (reports.back, False), "skip": (reports.skip, True), "done": (reports.done, True),
          "edit": (reports.goto, True)}


async def _navigate_button(turn: Turn, query, rest: str) -> None:
    rid_text, _, tail = rest.partition(":")
    action, _, key = tail.partition(":")
    rid = int(rid_text)
    if action in _STEPS:
        service, keyed = _STEPS[action]
        report, _ = service(turn.session, turn.user, rid, key) if keyed else service(turn.session, turn.user, rid)
        _activate(turn, report.id)
        await _answered(query, ask(turn, report))
        return
    report = _own_report(turn, rid)
    await query.answer()
    name = reports.subject_name(turn.session, report)
    if action == "resume":
        _activate(turn, report.id)
        await ask(turn, report)
    elif action == "review":
        await turn.say(*views.review(turn.locale, report.id, name, reports.walker_for(report)), escape=False)
    elif action == "pick":
        text, markup = views.pick(turn.locale, report.id, reports.walker_for(report))
        await turn.say(text, markup)
    elif action == "submit":
        text, markup = views.confirm(turn.locale, report.id, name, report.period)
        masking = cycle.posting_warning(report, turn.locale)  # what the public page will mask, told first
        await turn.say(text + (f"\n\n⚠️ {views.escape(masking)}" if masking else ""), markup, escape=False)
    elif action == "confirm":
        await _submit(turn, rid)
    elif action == "later":
        _activate(turn, None)
        await turn.say(turn.t(N_("Saved. Your draft waits until the end of the month; send /report to continue.")))
    else:
        raise AccessDenied(OUTSIDE)


def _own_report(turn: Turn, report_id: int) -> Report:
    """Return a report the user may see, or refuse like an unknown id."""
    report = turn.session.get(Report, report_id)
    reports.require_subject(turn.session, turn.user, "report.view", report)
    return report


async def _submit(turn: Turn, report_id: int) -> None:
    # The service writes the notices (township alerts, supervisors' sign-off) with the submission.
    result = reports.submit(turn.session, turn.user, report_id)
    _activate(turn, None)
    name = reports.subject_name(turn.session, result.report)
    lines = [turn.t(N_("Submitted: the {period} check of {asset}. Thank you!"), period=result.report.period,
                    asset=name)]
    if result.problems:
        lines.append(turn.t(N_("{count} problem(s) recorded; your township has been told."),
                            count=len(result.problems)))
    lines += ["⚠ " + flag_label(turn.locale, flag) for flag in result.report.flags or []
              if isinstance(flag, dict) and flag.get("question_key")]
    await turn.say("\n".join(lines), views.report_button(turn.locale))


BUTTONS.update({"a": _start_button, "v": _value_button, "t": _toggle_button, "n": _navigate_button,
                "l": _language_button, "go": _go_button})


def _expected(turn: Turn, q) -> str:
    """What the current question wants instead of what was sent."""
    if q is None:
        msgid = N_("All questions are answered: please review and submit.")
    elif q.type == "photo":
        msgid = N_("A photo is due here: please send a photo, not text.")
    elif q.type == "location":
        msgid = N_("Your location is due here: tap 📎 and choose Location, or Skip.")
    else:
        msgid = N_("Please answer with the buttons below.")
    return "❗ " + views.escape(turn.t(msgid))


def _active_report(turn: Turn) -> Report | None:
    """The draft this user is filling in Telegram, if it is still a draft."""
    if not turn.identity.active_report_id:
        return None
    report = turn.session.get(Report, turn.identity.active_report_id)
    if report is None or report.status != "draft" or not report.current:
        _activate(turn, None)
        return None
    return report


async def _current(turn: Turn, types: tuple[str, ...]):
    """Return (report, question) when the active draft's current question is of one of ``types``.

    Otherwise tell the user what is expected and return (None, None).
    """
    report = _active_report(turn)
    if report is None:
        await turn.say(turn.t(N_("Send /report to choose an asset to check.")))
        return None, None
    q = reports.walker_for(report).current()
    if q is None or q.type not in types:
        await ask(turn, report, note=_expected(turn, q))
        return None, None
    return report, q


async def _answer(turn: Turn, report: Report, key: str, raw: Any) -> None:
    try:
        report, _ = reports.answer(turn.session, turn.user, report.id, key, raw)
    except USER_ERRORS as exc:
        await refuse(turn, report.id, exc)
        return
    await ask(turn, report)


@signed_in
async def on_text(turn: Turn) -> None:
    """A free answer (text, number or date for the current question), or a pending follow-up."""
    pending = take_follow_up(turn)
    if pending:
        kind, argument = pending
        try:
            done = await FOLLOW_UPS[kind](turn, argument, (turn.update.message.text or "").strip())
        except USER_ERRORS as exc:
            turn.session.rollback()  # the follow-up is pending again: let them try again (or /cancel)
            await turn.say(turn.error(exc))
            return
        if not done:
            expect(turn, kind, argument)
        return
    report, q = await _current(turn, TYPED)
    if report is not None:
        await _answer(turn, report, q.key, turn.update.message.text)


@signed_in
async def on_location(turn: Turn) -> None:
    """A Telegram location for the current location question."""
    report, q = await _current(turn, ("location",))
    if report is not None:
        loc = turn.update.message.location
        await _answer(turn, report, q.key, {"lat": loc.latitude, "lon": loc.longitude})


@signed_in
async def on_photo(turn: Turn) -> None:
    """A photo for the current question: a compressed photo or an image sent as a file (EXIF kept)."""
    report, q = await _current(turn, ("photo",))
    if report is None:
        return
    message, store = turn.update.message, turn.deps.store
    source = message.photo[-1] if message.photo else message.document
    try:
        store.check_size(source.file_size or 0)  # before downloading anything
        async with turn.network():
            tg_file = await source.get_file()
            store.check_size(tg_file.file_size or 0)
            data = bytes(await tg_file.download_as_bytearray())
        # Checking and storing a photo is CPU work (decode, hashes, display copy): in a worker thread, so that
        # the event loop goes on answering others meanwhile. The session is used by that thread alone.
        report, _, flags = await asyncio.to_thread(reports.add_photo, turn.session, turn.user, report.id, q.key,
                                                   data, store)
    except USER_ERRORS as exc:
        await refuse(turn, report.id, exc)
        return
    except BadRequest as exc:  # the Bot API refuses to hand out the file (e.g. over its 20 MB limit)
        log.info("getFile refused: %s", exc)
        await refuse(turn, report.id, AccessDenied(N_("This file is too big to receive. Please send a smaller "
                                                       "photo.")))
        return
    note = "\n".join("⚠ " + views.escape(flag_label(turn.locale, f)) for f in flags) or None
    await ask(turn, report, note=note)


@contextlib.contextmanager
def retry_scope():
    """Within the block, an update that fails on the database is noted in the yielded list instead of
    apologised for: the caller (the webhook) has it sent again."""
    failed: list = []
    token = _RETRY.set(failed)
    try:
        yield failed
    finally:
        _RETRY.reset(token)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the user something went wrong (nothing saved is lost); stop the update there.

    In a ``retry_scope`` a database failure is noted for a retry instead, without a message.
    """
    update_id = getattr(update, "update_id", "?")
    failed = _RETRY.get()
    if failed is not None and isinstance(context.error, RETRYABLE):
        log.warning("update %s failed on the database (%s): to be retried", update_id, context.error)
        failed.append(update_id)
        raise ApplicationHandlerStop
    log.error("update %s failed", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat:
        try:
            await _say(update, views.escape(translate(_guess_locale(update), N_(
                "Something went wrong. Your saved answers are safe; please try again."))))
        except TelegramError:
            pass
    raise ApplicationHandlerStop  # a failed dedup gate must not let the handlers run (and apologise again)
