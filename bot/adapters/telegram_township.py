"""Telegram for the township and the county: serious alerts, review, the four-way class, the problem list,
and the link to the web form.

Each action is a button (prefix registered in ``telegram.BUTTONS``) and, where a reason or a note is
needed, a follow-up text (``telegram.FOLLOW_UPS``). The services check every id against the user's
scope; a forged button gets the same refusal as an unknown id.
"""

from __future__ import annotations

import logging

from bot.adapters import telegram_views as views
from bot.adapters.telegram import BUTTONS, FOLLOW_UPS, OUTSIDE, Turn, expect, signed_in
from bot.clock import utcnow
from bot.i18n import N_
from bot.services import problem_list, problems, reports, review, villager_reports, weblinks
from bot.services.access import PERMISSIONS, AccessDenied, require_asset
from bot.services.assessment import classes as four_way
from bot.services.assessment.common import AssessmentError
from bot.storage.models import Asset, OrgUnit, Problem, Report

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- problems
# The township's alert of a serious problem is an outbox row written by ``reports.submit``
# (``bot.services.notices``); its Acknowledge / Resolve buttons come here.

def _problem(turn: Turn, problem_id: int, action: str) -> Problem:
    """The problem if the user may do ``action`` on it; unknown and foreign ids get the same refusal."""
    problem = turn.session.get(Problem, problem_id)
    require_asset(turn.session, turn.user, action, problem.asset_id if problem else -1)
    return problem


async def _problem_button(turn: Turn, query, rest: str) -> None:
    action, _, pid = rest.partition(":")
    problem = _problem(turn, int(pid), "problem.handle")
    if action == "ack":
        problems.acknowledge(turn.session, turn.user, problem.id)
        turn.session.commit()
        await query.answer(turn.t(N_("Acknowledged.")))
        await turn.say(turn.t(N_("Acknowledged. You will be reminded to act; press Resolve when it is dealt with.")),
                       views.problem_buttons(turn.locale, problem.id))
    elif action == "res":
        expect(turn, "resolve", problem.id)
        await query.answer()
        await turn.say(turn.t(N_("Reply with a short note: how was the problem resolved?")))
    else:
        raise AccessDenied(OUTSIDE)


async def _resolve(turn: Turn, problem_id: int, note: str) -> bool:
    problems.resolve(turn.session, turn.user, problem_id, note)
    turn.session.commit()
    await turn.say(turn.t(N_("Resolved and recorded. Thank you.")))
    return True


# ---------------------------------------------------------------------------------------------- review

@signed_in
async def on_review(turn: Turn) -> None:
    """A township leader's list of this month's submitted reports awaiting review."""
    period = turn.deps.period()
    try:
        items = review.to_review(turn.session, turn.user, period)
    except AccessDenied as exc:
        await turn.say(turn.error(exc))
        return
    await turn.say(*views.review_list(turn.locale, period, items))


async def _review_button(turn: Turn, query, rest: str) -> None:
    action, _, rid = rest.rpartition(":")
    report = turn.session.get(Report, int(rid))
    reports.require_subject(turn.session, turn.user, "report.review", report)
    if action == "":
        await query.answer()
        await _show_report(turn, report)
    elif action == "ok":
        report = review.approve(turn.session, turn.user, report.id)
        await query.answer(turn.t(N_("Approved.")))
        await turn.say(turn.t(N_("Approved: {asset}, {period}."),
                              asset=reports.subject_name(turn.session, report), period=report.period))
    elif action == "back":
        expect(turn, "send_back", report.id)
        await query.answer()
        await turn.say(turn.t(N_("Reply with the reason: what should the village correct?")))
    else:
        raise AccessDenied(OUTSIDE)


async def _show_report(turn: Turn, report: Report) -> None:
    """Answers and flags of one report with Approve / Send back, then its photos (EXIF-free copies)."""
    asset = turn.session.get(Asset, report.asset_id) if report.asset_id else None
    unit = turn.session.get(OrgUnit, asset.village_id if asset else report.org_unit_id)
    flags = [review.flag_text(turn.locale, f) for f in report.flags or []]
    text, markup = views.report_detail(turn.locale, report, reports.subject_name(turn.session, report), unit,
                                       reports.walker_for(report), flags)
    await turn.say(text, markup, escape=False)
    for value in (report.answers or {}).values():
        for ref in value if isinstance(value, list) else ():
            data = turn.deps.store.display(ref["sha256"]) if isinstance(ref, dict) and "sha256" in ref else None
            if data is not None:
                await turn.send_photo(data)


async def _send_back(turn: Turn, report_id: int, reason: str) -> bool:
    """The leader's reason: send the report back (the service tells the cadre, with a reopen button)."""
    new = review.send_back(turn.session, turn.user, report_id, reason)
    await turn.say(turn.t(N_("Sent back to the village: {asset}."), asset=reports.subject_name(turn.session, new)))
    return True


# ---------------------------------------------------------------------------------------------- web form

@signed_in
async def on_form(turn: Turn) -> None:
    """Send a signed, single-use link to the web form (and the Mini App button where Telegram allows it)."""
    settings = turn.deps.settings
    link = weblinks.create_link(turn.session, turn.user, secret=settings.secret_key, public_url=settings.public_url)
    turn.session.commit()
    link += "?next=%2Ff"  # "/form" asks for the checklist: the link opens it, not the home page
    hours = int(weblinks.LINK_TTL.total_seconds() // 3600)
    await turn.say(turn.t(N_("Open the checklist in your browser with this personal link. It works once and "
                             "expires in {hours} hours; do not forward it."), hours=hours),
                   views.form_buttons(turn.locale, link, settings.public_url))


# ---------------------------------------------------------------------------------------------- 四个一批

@signed_in
async def on_classes(turn: Turn) -> None:
    """A township leader's operating assets with their suggested class (巩固/提升/盘活/处置)."""
    township = turn.session.get(OrgUnit, turn.user.org_unit_id) if turn.user.org_unit_id else None
    try:
        if township is None or township.level != "township":
            raise AccessDenied(N_("Your role cannot do this."))
        suggestions = four_way.suggest_classes(turn.session, township, turn.deps.period(), user=turn.user)
        turn.session.commit()
    except (AccessDenied, AssessmentError) as exc:
        turn.session.rollback()
        await turn.say(turn.error(exc))
        return
    await turn.say(*views.class_list(turn.locale, turn.deps.period(), suggestions))


async def _class_button(turn: Turn, query, rest: str) -> None:
    parts = rest.split(":")
    period = turn.deps.period()
    if len(parts) == 1:  # one asset's suggestion and the four choices
        asset = require_asset(turn.session, turn.user, "asset.classify", int(parts[0]))
        row = four_way.class_row(turn.session, asset.id, period)
        if row is None:
            raise AssessmentError(N_("There is no suggested class for this asset and month yet."))
        await query.answer()
        reasons = [turn.t(step.msgid, **step.params) for step in four_way.reason_steps(row)]
        await turn.say(*views.class_detail(turn.locale, asset, row, reasons), escape=False)
    elif len(parts) == 3 and parts[0] == "set":
        asset = require_asset(turn.session, turn.user, "asset.classify", int(parts[1]))
        chosen = four_way.STORED.get(parts[2])
        row = four_way.class_row(turn.session, asset.id, period)
        if chosen is None or row is None:
            raise AccessDenied(OUTSIDE)
        await query.answer()
        if chosen == row.suggested:
            await _confirm_class(turn, (asset.id, chosen), "")
        else:
            expect(turn, "classify", (asset.id, chosen))
            await turn.say(turn.t(N_("You change the suggested class. Reply with a short note saying why.")))
    else:
        raise AccessDenied(OUTSIDE)


async def _confirm_class(turn: Turn, argument: tuple[int, str], note: str) -> bool:
    asset_id, chosen = argument
    row = four_way.confirm_class(turn.session, turn.user, asset_id, turn.deps.period(), chosen, note)
    turn.session.commit()
    await turn.say(turn.t(N_("Recorded: {asset} — {label}."), asset=turn.session.get(Asset, asset_id).name,
                          label=turn.t(four_way.class_label(row.confirmed))))
    return True


# ---------------------------------------------------------------------------------------------- problem list

@signed_in
async def on_problems(turn: Turn) -> None:
    """The open problems of the user's area (the county sees what was escalated to it first)."""
    await _show_problems(turn)


async def _show_problems(turn: Turn) -> None:
    try:
        rows = problem_list.list_problems(turn.session, turn.user, open_only=True)
    except AccessDenied as exc:
        await turn.say(turn.error(exc))
        return
    if turn.user.role in ("county_officer", "admin"):
        rows.sort(key=lambda r: r.problem.status != "escalated")
    await turn.say(*views.problem_list(turn.locale, rows[:30], len(rows), utcnow()))


async def _problem_list_button(turn: Turn, query, rest: str) -> None:
    action, _, pid = rest.rpartition(":")
    problem_id = int(pid)
    if action == "":
        events = problem_list.history(turn.session, turn.user, problem_id)
        (row,) = problem_list.list_problems(turn.session, turn.user, problem_id=problem_id)
        await query.answer()
        allowed = PERMISSIONS.get(turn.user.role, frozenset())
        await turn.say(*views.problem_detail(turn.locale, row, events, can_handle="problem.handle" in allowed,
                                             can_decide="problem.decide" in allowed), escape=False)
    elif action == "list":  # a digest's button (several problems): the list
        await query.answer()
        await _show_problems(turn)
    elif action == "hand":
        problem_list.take_in_hand(turn.session, turn.user, problem_id)
        turn.session.commit()
        await query.answer(turn.t(N_("Marked as in hand.")))
        await turn.say(turn.t(N_("Marked as in hand.")))
    elif action == "spam" or action.startswith("spam:"):
        await _spam(turn, query, problem_id, action)
    elif action in ("esc", "dec"):
        _problem(turn, problem_id, "problem.handle" if action == "esc" else "problem.decide")
        expect(turn, action, problem_id)
        await query.answer()
        await turn.say(turn.t(N_("Reply with the proposed disposal for the county.") if action == "esc"
                              else N_("Reply with the county's decision.")))
    else:
        raise AccessDenied(OUTSIDE)


async def _spam(turn: Turn, query, problem_id: int, action: str) -> None:
    """Mark a villager problem as spam: first choose how long to mute its sender, then it is closed."""
    if action == "spam":
        _problem(turn, problem_id, "problem.handle")
        await query.answer()
        await turn.say(turn.t(N_("Mark this villager report as spam? It is closed, and whoever sent it cannot "
                                 "report for the days you choose.")),
                       views.spam_buttons(turn.locale, problem_id, villager_reports.MUTE_DAYS))
        return
    days = action.partition(":")[2]
    villager_reports.mark_problem_spam(turn.session, turn.user, problem_id, days=int(days) if days.isdigit() else 0)
    turn.session.commit()
    await query.answer(turn.t(N_("Marked as spam.")))
    await turn.say(turn.t(N_("Marked as spam; the sender is muted for {days} days."), days=int(days)))


async def _escalate(turn: Turn, problem_id: int, text: str) -> bool:
    problem_list.escalate(turn.session, turn.user, problem_id, text)
    turn.session.commit()
    await turn.say(turn.t(N_("Escalated to the county.")))
    return True


async def _decide(turn: Turn, problem_id: int, text: str) -> bool:
    problem_list.decide(turn.session, turn.user, problem_id, text)
    turn.session.commit()
    await turn.say(turn.t(N_("Decision recorded; the township is told.")))
    return True


COMMANDS = (("review", on_review), ("form", on_form), ("classes", on_classes), ("problems", on_problems))
BUTTONS.update({"pb": _problem_button, "rv": _review_button, "cl": _class_button, "pl": _problem_list_button})
FOLLOW_UPS.update({"resolve": _resolve, "send_back": _send_back, "classify": _confirm_class,
                   "esc": _escalate, "dec": _decide})
