"""The monthly checklist as a Telegram conversation (python-telegram-bot 22).

The adapter holds no state of its own: who is who lives in ``TelegramIdentity``, the checklist in
progress in ``Report`` (saved after every answer by ``bot.services.reports``), so a restart, a
second process or a redelivered update changes nothing. Every update passes a dedup gate first
(``ProcessedUpdate``): the same ``update_id`` is handled once, in polling and in webhook mode.

Buttons carry stable keys (see ``telegram_views``) and every one is checked again against the
pressing user's scope by the services, so forged callback data gets the same refusal as an
unknown id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.adapters import telegram_views as views
from bot.clock import period_of, utcnow
from bot.config import Settings
from bot.flows import AnswerError
from bot.i18n import N_, normalise_locale, translate
from bot.services import problem_list, reports, review, users
from bot.services.access import PERMISSIONS, AccessDenied, require_asset
from bot.services.assessment import classes as four_way
from bot.services.assessment.common import AssessmentError
from bot.services.evidence import EvidenceError, EvidenceStore, flag_label
from bot.storage.models import Asset, OrgUnit, Problem, ProblemEvent, ProcessedUpdate, Report, TelegramIdentity, User

log = logging.getLogger(__name__)

COMMANDS = (("report", N_("Monthly check of my village's assets")),
            ("review", N_("Township: review this month's reports")),
            ("classes", N_("Township: four-way classification of assets")),
            ("problems", N_("Township and county: the open problem list")),
            ("form", N_("Open the checklist as a web page")), ("help", N_("How to use this bot")),
            ("lang", N_("Language / 语言")), ("cancel", N_("Pause the current check")))
DEDUP_KEEP = dt.timedelta(days=7)
SERIOUS = "serious"


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
    """What the handlers need, kept in ``application.bot_data['deps']``."""

    settings: Settings
    engine: Any
    store: EvidenceStore

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def _deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    return context.application.bot_data["deps"]


def build_application(settings: Settings, engine, *, rate_limit: bool = True, builder: ApplicationBuilder | None
                      = None) -> Application:
    """Return a python-telegram-bot Application wired to our services.

    The Bot API server is ``settings.telegram_api_url`` (Telegram's, or a self-hosted one): methods go
    to ``<root>/bot<token>/<method>``, files come from ``<root>/file/bot<token>/<path>``. With
    ``rate_limit`` outgoing calls respect Telegram's flood limits and retry after a 429's retry_after.
    """
    root = settings.telegram_api_url.rstrip("/")
    builder = builder or ApplicationBuilder()
    builder = (builder.token(settings.telegram_token).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
               .connect_timeout(10).read_timeout(30).write_timeout(60).pool_timeout(10)
               .get_updates_read_timeout(40).concurrent_updates(PerChatUpdateProcessor()))
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=30, overall_time_period=1,
                                                      group_max_rate=20, group_time_period=60, max_retries=5))
    application = builder.build()
    application.bot_data["deps"] = Deps(settings, engine, EvidenceStore.from_settings(settings))
    install_handlers(application)
    return application


def install_handlers(application: Application) -> None:
    """Register the dedup gate and every handler."""
    application.add_handler(TypeHandler(Update, dedup_gate), group=-1)
    application.add_handler(CommandHandler("start", on_start))
    application.add_handler(CommandHandler("report", on_report))
    application.add_handler(CommandHandler("help", on_help))
    application.add_handler(CommandHandler("cancel", on_cancel))
    application.add_handler(CommandHandler("lang", on_lang))
    application.add_handler(CommandHandler("review", on_review))
    application.add_handler(CommandHandler("form", on_form))
    application.add_handler(CommandHandler("classes", on_classes))
    application.add_handler(CommandHandler("problems", on_problems))
    application.add_handler(CallbackQueryHandler(on_callback))
    application.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, on_photo))
    application.add_handler(MessageHandler(filters.LOCATION, on_location))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(MessageHandler(filters.COMMAND, on_unknown_command))
    application.add_error_handler(on_error)


async def set_commands(application: Application, locale: str = "zh_CN") -> None:
    """Publish the command menu (Chinese by default, English for English clients)."""
    for lang in ("zh_CN", "en"):
        commands = [(name, translate(lang, desc)) for name, desc in COMMANDS]
        await application.bot.set_my_commands(commands, language_code=None if lang == locale else "en")


# ---------------------------------------------------------------------------------------------- plumbing

async def dedup_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Let each update_id through once; a redelivered update stops here."""
    deps = _deps(context)
    with deps.session() as session:
        session.add(ProcessedUpdate(update_id=update.update_id))
        try:
            session.commit()
        except IntegrityError:
            log.info("update %s already processed: ignored", update.update_id)
            raise ApplicationHandlerStop from None
        if update.update_id % 500 == 0:
            session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < utcnow() - DEDUP_KEEP))
            session.commit()


def _guess_locale(update: Update) -> str:
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return "en" if code.lower().startswith("en") else "zh_CN"


def _identity(session: Session, update: Update) -> tuple[User | None, TelegramIdentity | None]:
    if update.effective_user is None:
        return None, None
    identity = session.exec(select(TelegramIdentity).where(
        TelegramIdentity.telegram_user_id == update.effective_user.id)).first()
    if identity is None:
        return None, None
    user = session.get(User, identity.user_id)
    if user is None or not user.active:
        return None, identity
    return user, identity


def _locale(user: User | None, update: Update) -> str:
    return normalise_locale(user.locale) if user else _guess_locale(update)


async def _say(update: Update, text: str, markup=None) -> Message | None:
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, reply_markup=markup, parse_mode=ParseMode.HTML,
                                   disable_web_page_preview=True)


def _error_text(locale: str, exc: Exception) -> str:
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
    with deps.session() as session:
        user, _ = _identity(session, update)
        if code:
            try:
                user = users.redeem_invite(session, code, telegram_user_id=tg_user.id,
                                           chat_id=update.effective_chat.id, username=tg_user.username)
                session.commit()
            except users.InviteError as exc:
                session.rollback()
                await _say(update, views.escape(_error_text(_locale(user, update), exc)))
                return
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        unit = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None
        greeting = translate(locale, N_("Hello {name}! You are signed in for {unit}."), name=user.name,
                             unit=unit.name if unit else translate(locale, N_("the whole installation")))
        waiting = _waiting_drafts(session, user, deps.settings)
    lines = [views.escape(greeting)]
    if waiting:
        lines.append(views.escape(translate(locale, N_("{count} unfinished check(s) are waiting for you."),
                                            count=waiting)))
    lines.append(views.escape(translate(locale, N_("Send /report to do this month's checks, /help for help."))))
    await _say(update, "\n".join(lines), views.report_button(locale) if user.role == "village_cadre" else None)


def _waiting_drafts(session: Session, user: User, settings: Settings) -> int:
    try:
        items = reports.month_overview(session, user, period_of(utcnow(), settings.tz))
    except AccessDenied:
        return 0
    return sum(1 for item in items if item.state == "draft")


async def on_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the village's assets with this month's state as buttons."""
    await _show_overview(update, context)


async def _show_overview(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = _deps(context)
    with deps.session() as session:
        user, _ = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        period = period_of(utcnow(), deps.settings.tz)
        try:
            items = reports.month_overview(session, user, period)
        except AccessDenied as exc:
            await _say(update, views.escape(_error_text(locale, exc)))
            return
        text, markup = views.overview(locale, period, items)
    await _say(update, views.escape(text), markup)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain the commands in the user's language."""
    deps = _deps(context)
    with deps.session() as session:
        user, _ = _identity(session, update)
    locale = _locale(user, update)
    lines = [translate(locale, N_("VillageBot helps you do the monthly check of your village's assets."))]
    lines += [f"/{name} — {translate(locale, desc)}" for name, desc in COMMANDS]
    lines.append(translate(locale, N_("Every answer is saved at once: if the signal drops, just continue later.")))
    await _say(update, views.escape("\n".join(lines)))


async def on_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Pause the current checklist; the draft stays saved."""
    deps = _deps(context)
    with deps.session() as session:
        user, identity = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        identity.active_report_id = None
        session.add(identity)
        session.commit()
    context.user_data.pop("resolving", None)
    context.user_data.pop("returning", None)
    context.user_data.pop("classing", None)
    context.user_data.pop("problem_step", None)
    await _say(update, views.escape(translate(_locale(user, update), N_(
        "Paused. Your answers are saved; send /report to continue."))))


async def on_lang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer the two interface languages."""
    await _say(update, "请选择语言 / Choose your language", views.languages())


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a command we do not know with the help text."""
    await on_help(update, context)


# ---------------------------------------------------------------------------------------------- checklist

async def _ask(update: Update, deps: Deps, session: Session, user: User, report: Report,
               note: str | None = None) -> None:
    """Show the report's current question (or its review)."""
    locale = normalise_locale(user.locale)
    asset = session.get(Asset, report.asset_id)
    walker = reports.walker_for(report)
    text, markup = views.question(locale, report.id, asset.name, walker, note)
    await _say(update, text, markup)


def _activate(session: Session, identity: TelegramIdentity, report_id: int | None) -> None:
    if identity.active_report_id != report_id:
        identity.active_report_id = report_id
        session.add(identity)
        session.commit()


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Route a button press by its stable key."""
    query = update.callback_query
    data = query.data or ""
    deps = _deps(context)
    with deps.session() as session:
        user, identity = _identity(session, update)
        if user is None:
            await query.answer()
            await _need_account(update)
            return
        locale = _locale(user, update)
        head, _, rest = data.partition(":")
        try:
            if head == "a":
                await query.answer()
                report = reports.start_or_resume(session, user, int(rest), channel="telegram")
                _activate(session, identity, report.id)
                await _ask(update, deps, session, user, report)
            elif head in ("v", "t"):
                await query.answer()
                rid, key, option = rest.split(":", 2)
                if head == "v":
                    report, _ = reports.answer(session, user, int(rid), key, option)
                else:
                    report, _ = reports.toggle(session, user, int(rid), key, option)
                _activate(session, identity, report.id)
                await _ask(update, deps, session, user, report)
            elif head == "n":
                await _navigate(update, query, deps, session, user, identity, rest)
            elif head == "l":
                await query.answer()
                users.set_locale(session, user, normalise_locale(rest))
                session.commit()
                await _say(update, views.escape(translate(user.locale, N_("Language changed."))))
            elif head == "go" and rest == "report":
                await query.answer()
                await _show_overview(update, context)
            elif head == "pb":
                await _problem_button(update, context, query, deps, session, user, rest)
            elif head == "rv":
                await _review_button(update, context, query, deps, session, user, rest)
            elif head == "pl":
                await _problem_list_button(update, context, query, deps, session, user, rest)
            elif head == "cl":
                await _class_button(update, context, query, deps, session, user, rest)
            else:
                await query.answer(translate(locale, N_("This button is no longer valid.")), show_alert=True)
        except (AccessDenied, AnswerError, reports.ReportError, review.ReviewError, AssessmentError,
                ValueError) as exc:
            session.rollback()
            if isinstance(exc, ValueError) and not hasattr(exc, "msgid"):
                exc = AccessDenied(N_("This is outside your area."))  # malformed or forged callback data
            text = _error_text(locale, exc)
            try:
                await query.answer(text[:190], show_alert=True)
            except BadRequest:
                pass
            await _say(update, views.escape(text))


async def _navigate(update: Update, query, deps: Deps, session: Session, user: User, identity: TelegramIdentity,
                    rest: str) -> None:
    rid_text, _, tail = rest.partition(":")
    action, _, key = tail.partition(":")
    rid = int(rid_text)
    locale = normalise_locale(user.locale)
    if action == "back":
        report, _ = reports.back(session, user, rid)
    elif action == "skip":
        report, _ = reports.skip(session, user, rid, key)
    elif action == "done":
        report, _ = reports.done(session, user, rid, key)
    elif action == "edit":
        report, _ = reports.goto(session, user, rid, key)
    elif action == "resume":
        report = _own_report(session, user, rid)
    elif action == "review":
        report = _own_report(session, user, rid)
        await query.answer()
        asset = session.get(Asset, report.asset_id)
        text, markup = views.review(locale, report.id, asset.name, reports.walker_for(report))
        await _say(update, text, markup)
        return
    elif action == "pick":
        report = _own_report(session, user, rid)
        await query.answer()
        text, markup = views.pick(locale, report.id, reports.walker_for(report))
        await _say(update, views.escape(text), markup)
        return
    elif action == "submit":
        report = _own_report(session, user, rid)
        await query.answer()
        asset = session.get(Asset, report.asset_id)
        text, markup = views.confirm(locale, report.id, asset.name, report.period)
        await _say(update, text, markup)
        return
    elif action == "confirm":
        await query.answer()
        await _submit(update, deps, session, user, identity, rid)
        return
    elif action == "later":
        await query.answer()
        _activate(session, identity, None)
        await _say(update, views.escape(translate(locale, N_(
            "Saved. Your draft waits until the end of the month; send /report to continue."))))
        return
    else:
        raise AccessDenied()
    await query.answer()
    _activate(session, identity, report.id)
    await _ask(update, deps, session, user, report)


def _own_report(session: Session, user: User, report_id: int) -> Report:
    """Return a report the user may see, or refuse like an unknown id."""
    report = session.get(Report, report_id)
    require_asset(session, user, "report.view", report.asset_id if report else -1)
    return report


async def _submit(update: Update, deps: Deps, session: Session, user: User, identity: TelegramIdentity,
                  report_id: int) -> None:
    locale = normalise_locale(user.locale)
    result = reports.submit(session, user, report_id)
    _activate(session, identity, None)
    asset = session.get(Asset, result.report.asset_id)
    lines = [translate(locale, N_("Submitted: the {period} check of {asset}. Thank you!"),
                       period=result.report.period, asset=asset.name)]
    if result.problems:
        lines.append(translate(locale, N_("{count} problem(s) recorded; your township has been told."),
                               count=len(result.problems)))
    for flag in result.report.flags or []:
        if isinstance(flag, dict) and flag.get("question_key"):
            lines.append("⚠ " + flag_label(locale, flag))
    await _say(update, views.escape("\n".join(lines)), views.report_button(locale))
    if result.serious:
        await alert_township(update.get_bot(), session, asset, result.serious, reporter=user)


async def alert_township(bot, session: Session, asset: Asset, problems: list, *, reporter: User | None) -> int:
    """Tell the village's township leader(s) at once of serious problems, with Acknowledge/Resolve buttons.

    Each alert sent is recorded as ``ProblemEvent(action='alerted')`` so the scheduler never repeats it.
    Returns the number of messages sent.
    """
    village = session.get(OrgUnit, asset.village_id)
    leaders = users.leaders_of(session, village)
    chats = users.telegram_chats(session, [u.id for u in leaders])
    sent = 0
    for problem in problems:
        for leader in leaders:
            chat_id = chats.get(leader.id)
            if chat_id is None:
                continue
            locale = normalise_locale(leader.locale)
            text = translate(locale, N_("⚠ Serious problem at {asset} ({village}): {problem}. Reported by {who}."),
                             asset=asset.name, village=village.name, problem=problem_label(locale, problem),
                             who=reporter.name if reporter else "-")
            try:
                await bot.send_message(chat_id, text, reply_markup=views.problem_buttons(locale, problem.id))
                sent += 1
                session.add(ProblemEvent(problem_id=problem.id, action="alerted", actor_user_id=None,
                                         note=f"telegram:{leader.id}"))
            except Forbidden:
                _mark_unreachable(session, chat_id)
            except TelegramError:
                log.exception("alert for problem %s to user %s failed", problem.id, leader.id)
        session.commit()
    return sent


def problem_label(locale: str, problem) -> str:
    """A readable name for a problem: its description, or its kind."""
    return translate(locale, problem.description) if problem.description else problem.kind


def _mark_unreachable(session: Session, chat_id: int) -> None:
    for identity in session.exec(select(TelegramIdentity).where(TelegramIdentity.chat_id == chat_id)).all():
        identity.reachable = False
        session.add(identity)


async def _problem_button(update: Update, context, query, deps: Deps, session: Session, user: User,
                          rest: str) -> None:
    from bot.services import problems  # the scheduler's problem service

    action, _, pid = rest.partition(":")
    locale = normalise_locale(user.locale)
    problem = session.get(Problem, int(pid))
    # Unknown and foreign problems get the same refusal.
    require_asset(session, user, "problem.handle", problem.asset_id if problem else -1)
    if action == "ack":
        problems.acknowledge(session, user, int(pid))
        session.commit()
        await query.answer(translate(locale, N_("Acknowledged.")))
        await _say(update, views.escape(translate(locale, N_(
            "Acknowledged. You will be reminded to act; press Resolve when it is dealt with."))),
            views.problem_buttons(locale, int(pid)))
    elif action == "res":
        context.user_data["resolving"] = int(pid)
        await query.answer()
        await _say(update, views.escape(translate(locale, N_(
            "Reply with a short note: how was the problem resolved?"))))
    else:
        raise AccessDenied()


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A free answer: text, number or date for the current question (or a resolution note)."""
    deps = _deps(context)
    with deps.session() as session:
        user, identity = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        resolving = context.user_data.get("resolving")
        if resolving:
            await _resolve(update, context, session, user, resolving)
            return
        returning = context.user_data.get("returning")
        if returning:
            await _send_back(update, context, session, user, returning)
            return
        pending = context.user_data.get("problem_step")
        if pending:
            await _problem_step(update, context, session, user, *pending)
            return
        classing = context.user_data.get("classing")
        if classing:
            await _confirm_class(update, context, session, user, *classing)
            return
        report = _active_report(session, user, identity)
        if report is None:
            await _say(update, views.escape(translate(locale, N_("Send /report to choose an asset to check."))))
            return
        walker = reports.walker_for(report)
        q = walker.current()
        if q is None or q.type not in ("number", "text", "date"):
            await _ask(update, deps, session, user, report, note=views.escape(_expected(locale, q)))
            return
        try:
            report, _ = reports.answer(session, user, report.id, q.key, update.message.text)
        except (AnswerError, reports.ReportError, AccessDenied) as exc:
            session.rollback()
            await _ask(update, deps, session, user, _reload(session, report.id),
                       note="❗ " + views.escape(_error_text(locale, exc)))
            return
        await _ask(update, deps, session, user, report)


async def _resolve(update: Update, context, session: Session, user: User, problem_id: int) -> None:
    from bot.services import problems

    locale = normalise_locale(user.locale)
    note = (update.message.text or "").strip()
    try:
        problems.resolve(session, user, problem_id, note)
        session.commit()
    except Exception as exc:  # the service's own errors carry a translatable message
        session.rollback()
        if not hasattr(exc, "msgid"):
            raise
        await _say(update, views.escape(_error_text(locale, exc)))
        return
    context.user_data.pop("resolving", None)
    await _say(update, views.escape(translate(locale, N_("Resolved and recorded. Thank you."))))


def _expected(locale: str, q) -> str:
    if q is None:
        return "❗ " + translate(locale, N_("All questions are answered: please review and submit."))
    if q.type == "photo":
        return "❗ " + translate(locale, N_("A photo is due here: please send a photo, not text."))
    if q.type == "location":
        return "❗ " + translate(locale, N_("Your location is due here: tap 📎 and choose Location, or Skip."))
    return "❗ " + translate(locale, N_("Please answer with the buttons below."))


def _reload(session: Session, report_id: int) -> Report:
    session.expire_all()
    return session.get(Report, report_id)


def _active_report(session: Session, user: User, identity: TelegramIdentity) -> Report | None:
    if not identity.active_report_id:
        return None
    report = session.get(Report, identity.active_report_id)
    if report is None or report.status != "draft" or not report.current:
        _activate(session, identity, None)
        return None
    return report


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo for the current question: a compressed photo or an image sent as a file (EXIF kept)."""
    deps = _deps(context)
    message = update.message
    with deps.session() as session:
        user, identity = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        report = _active_report(session, user, identity)
        if report is None:
            await _say(update, views.escape(translate(locale, N_("Send /report to choose an asset to check."))))
            return
        q = reports.walker_for(report).current()
        if q is None or q.type != "photo":
            await _ask(update, deps, session, user, report, note=views.escape(translate(
                locale, N_("❗ No photo is due at this question."))))
            return
        if message.photo:
            source = message.photo[-1]
        else:
            source = message.document
        try:
            deps.store.check_size(source.file_size or 0)
            tg_file = await source.get_file()
            deps.store.check_size(tg_file.file_size or 0)
            data = bytes(await tg_file.download_as_bytearray())
            report, _, flags = reports.add_photo(session, user, report.id, q.key, data, deps.store)
        except (EvidenceError, AnswerError, reports.ReportError, AccessDenied) as exc:
            session.rollback()
            await _ask(update, deps, session, user, _reload(session, report.id),
                       note="❗ " + views.escape(_error_text(locale, exc)))
            return
        except BadRequest as exc:  # the Bot API refuses to hand out the file (e.g. over its 20 MB limit)
            log.info("getFile refused: %s", exc)
            await _ask(update, deps, session, user, _reload(session, report.id), note="❗ " + views.escape(
                translate(locale, N_("This file is too big to receive. Please send a smaller photo."))))
            return
        note = "\n".join("⚠ " + views.escape(flag_label(locale, f)) for f in flags) or None
        await _ask(update, deps, session, user, report, note=note)


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A Telegram location for the current location question."""
    deps = _deps(context)
    with deps.session() as session:
        user, identity = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        report = _active_report(session, user, identity)
        if report is None:
            await _say(update, views.escape(translate(locale, N_("Send /report to choose an asset to check."))))
            return
        q = reports.walker_for(report).current()
        if q is None or q.type != "location":
            await _ask(update, deps, session, user, report, note=views.escape(_expected(locale, q)))
            return
        loc = update.message.location
        try:
            report, _ = reports.answer(session, user, report.id, q.key,
                                       {"lat": loc.latitude, "lon": loc.longitude})
        except (AnswerError, reports.ReportError, AccessDenied) as exc:
            session.rollback()
            await _ask(update, deps, session, user, _reload(session, report.id),
                       note="❗ " + views.escape(_error_text(locale, exc)))
            return
        await _ask(update, deps, session, user, report)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the user something went wrong (nothing saved is lost)."""
    log.error("update %s failed", getattr(update, "update_id", "?"), exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat:
        try:
            await _say(update, views.escape(translate(_guess_locale(update), N_(
                "Something went wrong. Your saved answers are safe; please try again."))))
        except TelegramError:
            pass


# ---------------------------------------------------------------------------------------------- review

async def on_review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A township leader's list of this month's submitted reports awaiting review."""
    deps = _deps(context)
    with deps.session() as session:
        user, _ = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        period = period_of(utcnow(), deps.settings.tz)
        try:
            items = review.to_review(session, user, period)
        except AccessDenied as exc:
            await _say(update, views.escape(_error_text(locale, exc)))
            return
    text, markup = views.review_list(locale, period, items)
    await _say(update, views.escape(text), markup)


async def _review_button(update: Update, context, query, deps: Deps, session: Session, user: User,
                         rest: str) -> None:
    locale = normalise_locale(user.locale)
    action, _, rid = rest.rpartition(":")
    report_id = int(rid)
    if action == "":  # show one report
        report = session.get(Report, report_id)
        require_asset(session, user, "report.review", report.asset_id if report else -1)
        await query.answer()
        asset = session.get(Asset, report.asset_id)
        village = session.get(OrgUnit, asset.village_id)
        text, markup = views.report_detail(locale, report, asset, village, reports.walker_for(report),
                                           [flag_label(locale, f) if f.get("question_key") else None
                                            for f in report.flags or []])
        await _say(update, text, markup)
        for ref in _photo_refs(report):
            path = deps.store.display_path(ref["sha256"])
            if path.exists():
                await update.effective_chat.send_photo(path.read_bytes())
    elif action == "ok":
        report = review.approve(session, user, report_id)
        await query.answer(translate(locale, N_("Approved.")))
        asset = session.get(Asset, report.asset_id)
        await _say(update, views.escape(translate(locale, N_("Approved: {asset}, {period}."), asset=asset.name,
                                                  period=report.period)))
    elif action == "back":
        report = session.get(Report, report_id)
        require_asset(session, user, "report.review", report.asset_id if report else -1)
        context.user_data["returning"] = report_id
        await query.answer()
        await _say(update, views.escape(translate(locale, N_(
            "Reply with the reason: what should the village correct?"))))
    else:
        raise AccessDenied()


def _photo_refs(report: Report) -> list[dict]:
    return [ref for value in (report.answers or {}).values() if isinstance(value, list)
            for ref in value if isinstance(ref, dict) and ref.get("sha256")]


async def _send_back(update: Update, context, session: Session, user: User, report_id: int) -> None:
    locale = normalise_locale(user.locale)
    reason = (update.message.text or "").strip()
    try:
        new = review.send_back(session, user, report_id, reason)
    except (review.ReviewError, AccessDenied) as exc:
        session.rollback()
        await _say(update, views.escape(_error_text(locale, exc)))
        return
    context.user_data.pop("returning", None)
    asset = session.get(Asset, new.asset_id)
    await _say(update, views.escape(translate(locale, N_("Sent back to the village: {asset}."), asset=asset.name)))
    await tell_sent_back(update.get_bot(), session, new, reason)


async def tell_sent_back(bot, session: Session, new: Report, reason: str) -> bool:
    """Tell the cadre who submitted a report that it was sent back, with a button to reopen it."""
    cadre = review.submitter(session, new)
    chat = users.telegram_chats(session, [cadre.id]).get(cadre.id) if cadre else None
    if chat is None:
        return False
    asset = session.get(Asset, new.asset_id)
    cadre_locale = normalise_locale(cadre.locale)
    text = translate(cadre_locale, N_("Your township sent back the {period} check of {asset}: {reason}\n"
                                      "Your answers are kept; correct them and submit again."),
                     period=new.period, asset=asset.name, reason=reason)
    try:
        await bot.send_message(chat, text, reply_markup=views.reopen_button(cadre_locale, asset.id))
    except Forbidden:
        _mark_unreachable(session, chat)
        session.commit()
        return False
    return True


# ---------------------------------------------------------------------------------------------- web form

async def on_form(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send a signed, single-use link to the web form (and the Mini App button where Telegram allows it)."""
    from bot.services import weblinks

    deps = _deps(context)
    with deps.session() as session:
        user, _ = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        link = weblinks.create_link(session, user, secret=deps.settings.secret_key,
                                    public_url=deps.settings.public_url)
        session.commit()
    hours = int(weblinks.LINK_TTL.total_seconds() // 3600)
    text = translate(locale, N_("Open the checklist in your browser with this personal link. It works once and "
                                "expires in {hours} hours; do not forward it."), hours=hours)
    await _say(update, views.escape(text), views.form_buttons(locale, link, deps.settings.public_url))


# ---------------------------------------------------------------------------------------------- 四个一批

async def on_classes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A township leader's operating assets with their suggested class (巩固/提升/盘活/处置)."""
    deps = _deps(context)
    with deps.session() as session:
        user, _ = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        township = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None
        period = period_of(utcnow(), deps.settings.tz)
        try:
            if township is None or township.level != "township":
                raise AccessDenied(N_("Your role cannot do this."))
            suggestions = four_way.suggest_classes(session, township, period, user=user)
            session.commit()
        except (AccessDenied, AssessmentError) as exc:
            session.rollback()
            await _say(update, views.escape(_error_text(locale, exc)))
            return
        text, markup = views.class_list(locale, period, suggestions, four_way.class_label)
    await _say(update, views.escape(text), markup)


async def _class_button(update: Update, context, query, deps: Deps, session: Session, user: User,
                        rest: str) -> None:
    locale = normalise_locale(user.locale)
    period = period_of(utcnow(), deps.settings.tz)
    parts = rest.split(":")
    if len(parts) == 1:  # show one asset's suggestion and the four choices
        asset = require_asset(session, user, "asset.classify", int(parts[0]))
        row = four_way.class_row(session, asset.id, period)
        if row is None:
            raise AssessmentError(N_("There is no suggested class for this asset and month yet."))
        await query.answer()
        reasons = [translate(locale, step.msgid, **step.params) for step in four_way.reason_steps(row)]
        text, markup = views.class_detail(locale, asset, row, reasons, four_way.class_label)
        await _say(update, text, markup)
    elif len(parts) == 3 and parts[0] == "set":
        asset = require_asset(session, user, "asset.classify", int(parts[1]))
        chosen = four_way.STORED.get(parts[2])
        row = four_way.class_row(session, asset.id, period)
        if chosen is None or row is None:
            raise AccessDenied()
        await query.answer()
        if chosen == row.suggested:
            await _confirm_class(update, context, session, user, asset.id, chosen, note="")
        else:
            context.user_data["classing"] = (asset.id, chosen)
            await _say(update, views.escape(translate(locale, N_(
                "You change the suggested class. Reply with a short note saying why."))))
    else:
        raise AccessDenied()


async def _confirm_class(update: Update, context, session: Session, user: User, asset_id: int, chosen: str,
                         note: str | None = None) -> None:
    locale = normalise_locale(user.locale)
    period = period_of(utcnow(), _deps(context).settings.tz)
    if note is None:
        note = (update.message.text or "").strip()
    try:
        row = four_way.confirm_class(session, user, asset_id, period, chosen, note)
        session.commit()
    except (AssessmentError, AccessDenied) as exc:
        session.rollback()
        await _say(update, views.escape(_error_text(locale, exc)))
        return
    context.user_data.pop("classing", None)
    asset = session.get(Asset, asset_id)
    await _say(update, views.escape(translate(locale, N_("Recorded: {asset} — {label}."), asset=asset.name,
                                              label=translate(locale, four_way.class_label(row.confirmed)))))


# ---------------------------------------------------------------------------------------------- problem list

async def on_problems(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The open problems of the user's area (the county sees what was escalated to it first)."""
    deps = _deps(context)
    with deps.session() as session:
        user, _ = _identity(session, update)
        if user is None:
            await _need_account(update)
            return
        locale = _locale(user, update)
        try:
            rows = problem_list.list_problems(session, user, open_only=True)
        except AccessDenied as exc:
            await _say(update, views.escape(_error_text(locale, exc)))
            return
        if user.role in ("county_officer", "admin"):
            rows.sort(key=lambda r: r.problem.status != "escalated")
        text, markup = views.problem_list(locale, rows[:30], len(rows), utcnow())
    await _say(update, views.escape(text), markup)


async def _problem_list_button(update: Update, context, query, deps: Deps, session: Session, user: User,
                               rest: str) -> None:
    locale = normalise_locale(user.locale)
    action, _, pid = rest.rpartition(":")
    problem_id = int(pid)
    if action == "":
        events = problem_list.history(session, user, problem_id)
        (row,) = problem_list.list_problems(session, user, problem_id=problem_id)
        await query.answer()
        can_handle = "problem.handle" in PERMISSIONS.get(user.role, ())
        can_decide = "problem.decide" in PERMISSIONS.get(user.role, ())
        text, markup = views.problem_detail(locale, row, events, can_handle=can_handle, can_decide=can_decide)
        await _say(update, text, markup)
    elif action == "hand":
        problem_list.take_in_hand(session, user, problem_id)
        session.commit()
        await query.answer(translate(locale, N_("Marked as in hand.")))
        await _say(update, views.escape(translate(locale, N_("Marked as in hand."))))
    elif action in ("esc", "dec"):
        problem = session.get(Problem, problem_id)
        require_asset(session, user, "problem.handle" if action == "esc" else "problem.decide",
                      problem.asset_id if problem else -1)
        context.user_data["problem_step"] = (action, problem_id)
        await query.answer()
        prompt = N_("Reply with the proposed disposal for the county.") if action == "esc" else \
            N_("Reply with the county's decision.")
        await _say(update, views.escape(translate(locale, prompt)))
    else:
        raise AccessDenied()


async def _problem_step(update: Update, context, session: Session, user: User, action: str, problem_id: int) -> None:
    locale = normalise_locale(user.locale)
    text = update.message.text or ""
    try:
        if action == "esc":
            problem_list.escalate(session, user, problem_id, text)
        else:
            problem_list.decide(session, user, problem_id, text)
        session.commit()
    except (problem_list.ProblemListError, AccessDenied) as exc:
        session.rollback()
        await _say(update, views.escape(_error_text(locale, exc)))
        return
    context.user_data.pop("problem_step", None)
    done = N_("Escalated to the county.") if action == "esc" else N_("Decision recorded; the township is told.")
    await _say(update, views.escape(translate(locale, done)))
