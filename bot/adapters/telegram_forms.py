"""Telegram entry points of the calendars' forms: ``/forms`` and the village supervisor's sign-off.

``/forms`` lists the forms due for the user's role and scope (``bot.services.cycle.due_forms``), one
button each with callback data ``fm:<form_id>:<subject_id>:<period>``; pressing one starts or resumes
that report and hands over to the checklist UI of ``bot.adapters.telegram``. A village supervisor's
``/forms`` also lists the reports waiting for their sign-off, as buttons ``so:<report_id>``: the
answers are shown with a confirm button ``so:<report_id>:ok``, which signs the report off, and
``so:<report_id>:back``, which asks for a reason and sends the report back to the village (its
cadre is told, with a button to reopen it); the supervisors are told by ``tell_supervisors`` when
such a report is submitted. A cadre's ``/forms``
lists the signed-off reports the village still has to report to the township: a button
``ru:<report_id>`` once their public posting is over, the posting's end until then.

Wiring: ``telegram_app.install_handlers`` adds ``BUTTONS`` (prefix → handler) to ``telegram.BUTTONS`` and
``COMMANDS`` beside the other commands, before the catch-all handlers.
"""

from __future__ import annotations

import logging

from sqlmodel import Session
from telegram import InlineKeyboardMarkup

from bot.adapters import telegram as tg
from bot.adapters import telegram_views as views
from bot.clock import utcnow
from bot.flows import format_answer, load_form
from bot.i18n import N_, translate
from bot.services import cycle, reports
from bot.services.access import PERMISSIONS
from bot.storage.models import Report, User

log = logging.getLogger(__name__)


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
    now = utcnow()
    for item in cycle.to_report_up(session, user):
        form = _form_title(locale, item.report.form_id)
        if item.ready(now):
            label = translate(locale, N_("Report to the township: {form} · {subject} · {period}"),
                              form=form, subject=item.subject_name, period=item.report.period)
            rows.append([views._button(views._short(label), f"ru:{item.report.id}")])
        else:
            lines.append(translate(locale, N_("• {form}: {subject}, {period}, posted publicly until {until}"),
                                   form=form, subject=item.subject_name, period=item.report.period,
                                   until=item.posted_until.astimezone(tz).strftime("%Y-%m-%d %H:%M")))
    rows += _review_buttons(session, user, locale)
    if not rows and len(lines) == 0:
        return views.escape(translate(locale, N_("Nothing is due for you now."))), None
    text = "\n".join([translate(locale, N_("Forms for you:")), *lines])
    return views.escape(text), InlineKeyboardMarkup(rows) if rows else None


def _review_buttons(session: Session, user: User, locale: str) -> list:
    """A township leader's villages ready to be scored for the year-end review (``ye:<village_id>:<year>``)."""
    from bot.services import duties

    found = []
    if user.role != "township_leader":
        return found
    for state in duties.for_user(session, user):
        if state.done_by != "review" or state.state not in (duties.DUE, duties.LATE):
            continue
        for row in cycle.reviews(session, user, user.org_unit_id, int(state.period[:4])):
            if row.ready:
                label = translate(locale, N_("Score the year-end self-evaluation: {village} · {year}"),
                                  village=row.village.name, year=state.period[:4])
                found.append([views._button(views._short(label), f"ye:{row.village.id}:{state.period[:4]}")])
    return found


async def on_review_button(turn: tg.Turn, query, rest: str) -> None:
    """``ye:<village_id>:<year>``: a single-use link to the village's score sheet on the web (``cycle.review``)."""
    from urllib.parse import quote

    from bot.services import weblinks

    village_id, _, year = rest.partition(":")
    await query.answer()
    village = reports.require_unit(turn.session, turn.user, "report.review", int(village_id))
    settings = turn.deps.settings
    link = weblinks.create_link(turn.session, turn.user, secret=settings.secret_key, public_url=settings.public_url)
    turn.session.commit()
    target = quote(f"/duties/review/{village.id}?year={int(year)}", safe="")
    await turn.say(turn.t(N_("Score {village} on the web with this personal link (it works once; do not forward "
                             "it): {link}"), village=village.name, link=f"{link}?next={target}"))


async def _forms(turn: tg.Turn) -> None:
    """``/forms``: the forms due for the user, and the reports waiting for their sign-off."""
    text, markup = forms_menu(turn.session, turn.user, turn.locale, turn.deps.settings.tz)
    await turn.say(text, markup, escape=False)


on_forms = tg.signed_in(_forms)


def _sign_off_view(session: Session, report: Report, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The answers of a report for the supervisor, with the button that signs it off."""
    title = translate(locale, N_("Sign off {form} of {subject} for {period}?"),
                      form=_form_title(locale, report.form_id), subject=reports.subject_name(session, report),
                      period=report.period)
    lines = [f"<b>{views.escape(title)}</b>"]
    for number, (question, value) in enumerate(reports.walker_for(report).review(), start=1):
        lines.append(f"{number}. {views.escape(translate(locale, question.prompt))}\n"
                     f"    → {views.escape(format_answer(question, value, locale))}")
    masking = cycle.posting_warning(report, locale)
    if masking:
        lines.append(f"⚠️ {views.escape(masking)}")
    sign = views._button(translate(locale, N_("✅ Sign off")), f"so:{report.id}:ok")
    back = views._button(translate(locale, N_("↩ Send back")), f"so:{report.id}:back")
    return "\n".join(lines), InlineKeyboardMarkup([[sign], [back]])


async def on_form_button(turn: tg.Turn, query, rest: str) -> None:
    """``fm:<form_id>:<subject_id>:<period>``: start or resume the report and show its first open question."""
    form_id, subject_id, period = rest.split(":")
    await query.answer()
    report = cycle.start(turn.session, turn.user, form_id, int(subject_id), period, channel="telegram")
    tg._activate(turn, report.id)
    await tg.ask(turn, report)


async def on_sign_off_button(turn: tg.Turn, query, rest: str) -> None:
    """``so:<report_id>`` shows the answers; ``so:<report_id>:ok`` signs the report off."""
    report_id, _, confirmed = rest.partition(":")
    await query.answer()
    if confirmed not in ("", "ok", "back"):
        raise tg.AccessDenied(tg.OUTSIDE)
    if confirmed != "ok":
        report = turn.session.get(Report, int(report_id))
        reports.require_subject(turn.session, turn.user, "report.sign_off", report)
        if confirmed == "back":
            tg.expect(turn, "sign_off_back", report.id)
            await turn.say(turn.t(N_("Reply with the reason: what should the village correct?")))
            return
        text, markup = _sign_off_view(turn.session, report, turn.locale)
        await turn.say(text, markup, escape=False)
        return
    report = cycle.sign_off(turn.session, turn.user, int(report_id))
    lines = [turn.t(N_("Signed off: {form} of {subject} for {period}."), form=_form_title(turn.locale, report.form_id),
                    subject=reports.subject_name(turn.session, report), period=report.period)]
    posting = [s for s in cycle.steps(turn.session, turn.user, report.id) if s.step == "post"]
    signing = cycle.signing(turn.session, report)
    if report.status == cycle.SUBMITTED and signing.waiting:  # Qinbei: another post still signs (issue 16)
        lines = [turn.t(N_("Signed. It now waits for the signature of: {posts}."),
                        posts="、".join(turn.t(signing.labels[p]) for p in signing.waiting))]
    elif report.status == cycle.SIGNED_OFF and not posting and cycle.FORMS[report.form_id].posting_days:
        lines.append(turn.t(N_("Now the village posts it on its notice board and sends the photo of the posted "
                               "notice on the page “Posting on the notice board”.")))
    if posting:
        until = posting[0].until.astimezone(turn.deps.settings.tz).strftime("%Y-%m-%d %H:%M")
        lines.append(turn.t(N_("It is posted on the QR pages of the village's assets until {until}; then the "
                               "village can report it to the township."), until=until))
    await turn.say("\n".join(lines))


async def _send_back(turn: tg.Turn, report_id: int, reason: str) -> bool:
    """The supervisor's reason (follow-up of ``so:<id>:back``): send the report back; the service tells
    its cadre, with a button to reopen it."""
    new = cycle.send_back(turn.session, turn.user, report_id, reason)
    await turn.say(turn.t(N_("Sent back to the village: {asset}."), asset=reports.subject_name(turn.session, new)))
    return True


async def on_report_up_button(turn: tg.Turn, query, rest: str) -> None:
    """``ru:<report_id>``: report a signed-off report to the township (refused while it is still posted)."""
    await query.answer()
    report = cycle.report_up(turn.session, turn.user, int(rest))
    await turn.say(turn.t(N_("Reported to the township: {form} of {subject} for {period}."),
                          form=_form_title(turn.locale, report.form_id),
                          subject=reports.subject_name(turn.session, report), period=report.period))


COMMANDS = (("forms", on_forms),)
BUTTONS = {"fm": on_form_button, "so": on_sign_off_button, "ru": on_report_up_button, "ye": on_review_button}
FOLLOW_UPS = {"sign_off_back": _send_back}
