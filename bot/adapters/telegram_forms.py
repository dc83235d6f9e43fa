"""Telegram entry points of the calendars' forms: ``/forms`` and the village supervisor's sign-off.

``/forms`` lists the forms due for the user's role and scope (``bot.services.cycle.due_forms``), one
button each with callback data ``fm:<form_id>:<subject_id>:<period>``; pressing one starts or resumes
that report and hands over to the checklist UI of ``bot.adapters.telegram``. A village supervisor's
``/forms`` also lists the reports waiting for their sign-off, as buttons ``so:<report_id>``: the
answers are shown with a confirm button ``so:<report_id>:ok``, which signs the report off.

``install(application)`` registers ``/forms`` and a callback handler for the prefixes ``fm`` and
``so``; call it before the catch-all handlers of ``install_handlers`` (or route those prefixes from
``telegram.on_callback`` to ``on_forms_callback``).
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes
from sqlmodel import Session

from bot.adapters import telegram as tg
from bot.adapters import telegram_views as views
from bot.flows import AnswerError, format_answer, load_form
from bot.i18n import N_, normalise_locale, translate
from bot.services import cycle, reports
from bot.services.access import PERMISSIONS, AccessDenied
from bot.storage.models import Report, User

PREFIXES = ("fm", "so")


def _form_title(locale: str, form_id: str) -> str:
    return translate(locale, load_form(form_id).title)


def forms_menu(session: Session, user: User, locale: str, tz) -> tuple[str, InlineKeyboardMarkup | None]:
    """Return the text and buttons of ``/forms``: the forms due, and the reports awaiting sign-off."""
    rows, lines = [], []
    for item in cycle.due_forms(session, user):
        due = item.due_at.astimezone(tz).strftime("%Y-%m-%d")
        label = f"{translate(locale, item.title)} · {item.subject_name} · {item.period}"
        lines.append(translate(locale, N_("• {form}: {subject}, {period}, due {due}"), form=translate(
            locale, item.title), subject=item.subject_name, period=item.period, due=due))
        rows.append([views._button(views._short(label), f"fm:{item.form_id}:{item.subject_id}:{item.period}")])
    if "report.sign_off" in PERMISSIONS.get(user.role, ()):
        for report in cycle.awaiting_sign_off(session, user):
            label = translate(locale, N_("Sign off: {form} · {subject} · {period}"),
                              form=_form_title(locale, report.form_id),
                              subject=reports.subject_name(session, report), period=report.period)
            rows.append([views._button(views._short(label), f"so:{report.id}")])
    if not rows:
        return views.escape(translate(locale, N_("Nothing is due for you now."))), None
    text = "\n".join([translate(locale, N_("Forms for you:")), *lines])
    return views.escape(text), InlineKeyboardMarkup(rows)


async def on_forms(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/forms``: the forms due for the user, and the reports waiting for their sign-off."""
    deps = tg._deps(context)
    with deps.session() as session:
        user, _ = tg._identity(session, update)
        if user is None:
            await tg._need_account(update)
            return
        text, markup = forms_menu(session, user, tg._locale(user, update), deps.settings.tz)
    await tg._say(update, text, markup)


def _sign_off_view(session: Session, user: User, report: Report, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The answers of a report for the supervisor, with the button that signs it off."""
    title = translate(locale, N_("Sign off {form} of {subject} for {period}?"),
                      form=_form_title(locale, report.form_id), subject=reports.subject_name(session, report),
                      period=report.period)
    lines = [f"<b>{views.escape(title)}</b>"]
    for number, (question, value) in enumerate(reports.walker_for(report).review(), start=1):
        lines.append(f"{number}. {views.escape(translate(locale, question.prompt))}\n"
                     f"    → {views.escape(format_answer(question, value, locale))}")
    button = views._button(translate(locale, N_("✅ Sign off")), f"so:{report.id}:ok")
    return "\n".join(lines), InlineKeyboardMarkup([[button]])


async def on_forms_callback(update: Update, context, query, deps, session: Session, user: User, head: str,
                            rest: str) -> None:
    """Handle a button of this module (``fm:…`` or ``so:…``); CycleError is answered here."""
    locale = normalise_locale(user.locale)
    try:
        if head == "fm":
            form_id, subject_id, period = rest.split(":")
            await query.answer()
            report = cycle.start(session, user, form_id, int(subject_id), period, channel="telegram")
            _, identity = tg._identity(session, update)
            tg._activate(session, identity, report.id)
            await tg._ask(update, deps, session, user, report)
        elif head == "so":
            report_id, _, confirmed = rest.partition(":")
            await query.answer()
            if confirmed != "ok":
                report = session.get(Report, int(report_id))
                reports.require_subject(session, user, "report.sign_off", report)
                text, markup = _sign_off_view(session, user, report, locale)
                await tg._say(update, text, markup)
                return
            report = cycle.sign_off(session, user, int(report_id))
            lines = [translate(locale, N_("Signed off: {form} of {subject} for {period}."),
                               form=_form_title(locale, report.form_id),
                               subject=reports.subject_name(session, report), period=report.period)]
            posting = [s for s in cycle.steps(session, user, report.id) if s.step == "post"]
            if posting:
                until = posting[0].until.astimezone(deps.settings.tz).strftime("%Y-%m-%d %H:%M")
                lines.append(translate(locale, N_("It is posted on the QR pages of the village's assets until "
                                                  "{until}; then the village can report it to the township."),
                                       until=until))
            await tg._say(update, views.escape("\n".join(lines)))
    except cycle.CycleError as exc:
        session.rollback()
        text = exc.message(locale)
        try:
            await query.answer(text[:190], show_alert=True)
        except BadRequest:
            pass
        await tg._say(update, views.escape(text))


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A callback handler of its own for the prefixes ``fm`` and ``so`` (see ``install``)."""
    query = update.callback_query
    deps = tg._deps(context)
    with deps.session() as session:
        user, _ = tg._identity(session, update)
        if user is None:
            await query.answer()
            await tg._need_account(update)
            return
        head, _, rest = (query.data or "").partition(":")
        try:
            await on_forms_callback(update, context, query, deps, session, user, head, rest)
        except (AccessDenied, AnswerError, reports.ReportError, ValueError) as exc:
            session.rollback()
            if isinstance(exc, ValueError) and not hasattr(exc, "msgid"):
                exc = AccessDenied(N_("This is outside your area."))  # malformed or forged callback data
            await tg._say(update, views.escape(tg._error_text(tg._locale(user, update), exc)))


def install(application: Application) -> None:
    """Register ``/forms`` and the ``fm``/``so`` buttons; call before the catch-all handlers."""
    application.add_handler(CommandHandler("forms", on_forms))
    application.add_handler(CallbackQueryHandler(on_callback, pattern=r"^(fm|so):"))
