"""What the bot shows: texts and inline keyboards for the checklist, built from the form definitions.

Callback data carries stable keys only (never label text) and always fits Telegram's 64 bytes:

====================  =========================================================
``a:<asset>``         start or resume this asset's checklist
``v:<report>:<q>:<o>``  answer question ``q`` with option ``o``
``t:<report>:<q>:<o>``  toggle option ``o`` of multiple-choice question ``q``
``n:<report>:<act>[:<q>]``  navigate: back, skip, done, review, edit, pick, submit, confirm, later
``l:<locale>``        switch the interface language
``go:report``         open the village's list of assets (from reminders)
``pb:ack:<id>`` / ``pb:res:<id>``  a township leader acknowledges / resolves a problem
====================  =========================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.flows import Question, Walker, format_answer, wording
from bot.i18n import N_, translate
from bot.services.problem_list import STATUS_LABELS

STATE_ICONS = {"done": "✅", "draft": "📝", "todo": "⬜"}
MAX_LABEL = 40


def t(locale: str, msgid: str, **params: Any) -> str:
    """Translate ``msgid`` into ``locale``."""
    return translate(locale, msgid, **params)


def _button(text: str, data: str) -> InlineKeyboardButton:
    if len(data.encode()) > 64:
        raise ValueError(f"callback data too long: {data!r}")
    return InlineKeyboardButton(text, callback_data=data)


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def overview(locale: str, period: str, items: Iterable[Any]) -> tuple[str, InlineKeyboardMarkup | None]:
    """The village's assets this month, one big button each, marked done / draft / to do."""
    items = list(items)
    if not items:
        return t(locale, N_("There are no assets to check in your area.")), None
    counts = {state: sum(1 for i in items if i.state == state) for state in STATE_ICONS}
    lines = [t(locale, N_("Monthly check for {period}: {done} done, {draft} started, {todo} to do."),
               period=period, done=counts["done"], draft=counts["draft"], todo=counts["todo"]),
             t(locale, N_("Choose an asset:"))]
    rows = [[_button(f"{STATE_ICONS[i.state]} {_short(i.asset.name)}", f"a:{i.asset.id}")] for i in items]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def village_summary(locale: str, period: str, items: Iterable[Any], names: dict[int, str]) -> str:
    """For township and county: each village's checks this month, done out of due, unfinished first."""
    by_village: dict[int, list] = {}
    for item in items:
        by_village.setdefault(item.asset.village_id, []).append(item.state)
    if not by_village:
        return t(locale, N_("There are no assets to check in your area."))
    rows = sorted(by_village.items(), key=lambda kv: (kv[1].count("done") == len(kv[1]), names.get(kv[0], "")))
    lines = [t(locale, N_("Monthly checks for {period}, by village (done / due):"), period=period)]
    for village_id, states in rows:
        mark = "✅" if states.count("done") == len(states) else "⏳"
        lines.append(f"{mark} {names.get(village_id, village_id)}: {states.count('done')}/{len(states)}")
    return "\n".join(lines)


def _hint(locale: str, q: Question, walker: Walker) -> str | None:
    if q.type == "number":
        unit = t(locale, q.unit) if q.unit else ""
        if q.min is not None and q.max is not None:
            return t(locale, N_("Type a number from {min} to {max} {unit}."), min=_num(q.min), max=_num(q.max),
                     unit=unit).replace(" .", ".")
        return t(locale, N_("Type a number {unit}."), unit=unit).replace(" .", ".")
    if q.type == "text":
        return t(locale, N_("Type your answer."))
    if q.type == "date":
        return t(locale, N_("Type a date, for example 2026-03-05."))
    if q.type == "photo":
        have = len(walker.answers.get(q.key) or [])
        return t(locale, N_("Send a photo (camera or gallery). Received so far: {count}."), count=have)
    fixed = wording.instruction(q, wording.TELEGRAM)  # location, multi: bot/flows/wording.py
    return t(locale, fixed) if fixed else None


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def question(locale: str, report_id: int, asset_name: str, walker: Walker,
             note: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """The current question of a checklist with its buttons (or the review, when all are answered)."""
    q = walker.current()
    if q is None:
        return review(locale, report_id, asset_name, walker, note)
    visible = walker.visible()
    index = next((i for i, v in enumerate(visible) if v.key == q.key), 0) + 1
    parts = [f"{_escape(asset_name)} · {index}/{len(visible)}"]
    if note:
        parts.append(note)
    parts.append(f"<b>{_escape(t(locale, q.prompt))}</b>")
    if q.help_for(wording.TELEGRAM):
        parts.append(_escape(t(locale, q.help_for(wording.TELEGRAM))))
    hint = _hint(locale, q, walker)
    if hint:
        parts.append(f"<i>{_escape(hint)}</i>")
    current = walker.answers.get(q.key)
    if current not in (None, [], "") and q.type not in ("photo", "multi"):
        parts.append(_escape(t(locale, N_("Current answer: {answer}"), answer=format_answer(q, current, locale))))

    rows: list[list[InlineKeyboardButton]] = []
    if q.type in ("yesno", "choice"):
        for option in q.options:
            rows.append([_button(t(locale, option.label), f"v:{report_id}:{q.key}:{option.key}")])
    elif q.type == "multi":
        chosen = set(current or [])
        for option in q.options:
            mark = "☑️ " if option.key in chosen else "▫️ "
            rows.append([_button(mark + t(locale, option.label), f"t:{report_id}:{q.key}:{option.key}")])
        rows.append([_button(t(locale, N_("Done")), f"n:{report_id}:done:{q.key}")])
    elif q.type == "photo":
        have = len(current or [])
        if have >= (q.min_count or 0) and have:
            rows.append([_button(t(locale, N_("Done with photos")), f"n:{report_id}:done:{q.key}")])
    nav = []
    if index > 1:
        nav.append(_button(t(locale, N_("⬅ Back")), f"n:{report_id}:back"))
    if not q.required:
        nav.append(_button(t(locale, N_("Skip")), f"n:{report_id}:skip:{q.key}"))
    nav.append(_button(t(locale, N_("Later")), f"n:{report_id}:later"))
    rows.append(nav)
    return "\n\n".join(parts), InlineKeyboardMarkup(rows)


def review(locale: str, report_id: int, asset_name: str, walker: Walker,
           note: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """All answers for a last look, with Submit and Change buttons."""
    lines = []
    if note:
        lines.append(note)
    title = t(locale, N_("Please check your answers for {asset}:"), asset=asset_name)
    lines.append(f"<b>{_escape(title)}</b>")
    for number, (q, value) in enumerate(walker.review(), start=1):
        lines.append(f"{number}. {_escape(t(locale, q.prompt))}\n    → {_escape(format_answer(q, value, locale))}")
    missing = walker.missing()
    rows = []
    if missing:
        lines.append(_escape(t(locale, N_("Still to answer: {count} question(s)."), count=len(missing))))
        rows.append([_button(t(locale, N_("Continue")), f"n:{report_id}:resume")])
    else:
        rows.append([_button(t(locale, N_("✅ Submit")), f"n:{report_id}:submit")])
    rows.append([_button(t(locale, N_("✏️ Change an answer")), f"n:{report_id}:pick")])
    rows.append([_button(t(locale, N_("Later")), f"n:{report_id}:later")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def pick(locale: str, report_id: int, walker: Walker) -> tuple[str, InlineKeyboardMarkup]:
    """One button per visible question, to change its answer."""
    rows = [[_button(f"{n}. {_short(t(locale, q.prompt))}", f"n:{report_id}:edit:{q.key}")]
            for n, q in enumerate(walker.visible(), start=1)]
    rows.append([_button(t(locale, N_("⬅ Back to review")), f"n:{report_id}:review")])
    return t(locale, N_("Which answer do you want to change?")), InlineKeyboardMarkup(rows)


def confirm(locale: str, report_id: int, asset_name: str, period: str) -> tuple[str, InlineKeyboardMarkup]:
    """Ask once more before anything is submitted."""
    text = t(locale, N_("Submit the {period} check of {asset}? After submitting, only your township can send it "
                        "back for changes."), period=period, asset=asset_name)
    rows = [[_button(t(locale, N_("Yes, submit")), f"n:{report_id}:confirm")],
            [_button(t(locale, N_("⬅ Back to review")), f"n:{report_id}:review")]]
    return _escape(text), InlineKeyboardMarkup(rows)


def languages() -> InlineKeyboardMarkup:
    """The language switch: each language named in itself."""
    return InlineKeyboardMarkup([[_button("中文", "l:zh_CN"), _button("English", "l:en")]])


def problem_buttons(locale: str, problem_id: int) -> InlineKeyboardMarkup:
    """Acknowledge / Resolve, for a township leader's alert."""
    return InlineKeyboardMarkup([[_button(t(locale, N_("Acknowledge")), f"pb:ack:{problem_id}"),
                                  _button(t(locale, N_("Resolve")), f"pb:res:{problem_id}")]])


def report_button(locale: str) -> InlineKeyboardMarkup:
    """A button that opens the list of assets to check."""
    return InlineKeyboardMarkup([[_button(t(locale, N_("Open my checklist")), "go:report")]])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


escape = _escape


def review_list(locale: str, period: str, items: list) -> tuple[str, InlineKeyboardMarkup | None]:
    """A township leader's reports to review: one button each, village and asset."""
    if not items:
        return t(locale, N_("No reports are waiting for review for {period}."), period=period), None
    rows = [[_button(_short(f"{i.village.name} · {i.asset.name}"), f"rv:{i.report.id}")] for i in items]
    return t(locale, N_("{count} report(s) for {period} are waiting for your review:"), count=len(items),
             period=period), InlineKeyboardMarkup(rows)


def report_detail(locale: str, report, name: str, unit, walker: Walker,
                  flag_texts: list[str]) -> tuple[str, InlineKeyboardMarkup]:
    """One submitted report for review: answers, flags, and Approve / Send back."""
    lines = [f"<b>{_escape(unit.name)} · {_escape(name)}</b> ({_escape(report.period)}, v{report.version})"]
    for number, (q, value) in enumerate(walker.review(), start=1):
        lines.append(f"{number}. {_escape(t(locale, q.prompt))}\n    → {_escape(format_answer(q, value, locale))}")
    lines += ["⚠ " + _escape(text) for text in flag_texts if text]
    rows = [[_button(t(locale, N_("✅ Approve")), f"rv:ok:{report.id}"),
             _button(t(locale, N_("↩ Send back")), f"rv:back:{report.id}")]]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def reopen_button(locale: str, asset_id: int) -> InlineKeyboardMarkup:
    """The cadre's button to reopen exactly the report that was sent back."""
    return InlineKeyboardMarkup([[_button(t(locale, N_("Open the report to correct it")), f"a:{asset_id}")]])


def form_buttons(locale: str, link: str, public_url: str) -> InlineKeyboardMarkup:
    """A button with the signed link, and one opening the Mini App (Telegram accepts only https for that)."""
    rows = [[InlineKeyboardButton(t(locale, N_("Open the web form")), url=link)]]
    if public_url.startswith("https://"):
        rows.append([InlineKeyboardButton(t(locale, N_("Open inside Telegram")),
                                          web_app=WebAppInfo(url=f"{public_url.rstrip('/')}/app"))])
    return InlineKeyboardMarkup(rows)


CLASS_KEYS = ("consolidate", "upgrade", "revitalise", "dispose")


def class_list(locale: str, period: str, suggestions: list) -> tuple[str, InlineKeyboardMarkup | None]:
    """Operating assets with their suggested (✓ confirmed) class, one button each."""
    rows = []
    for s in suggestions:
        if s.row is None:
            continue
        shown = s.row.confirmed or s.row.suggested
        mark = "✓ " if s.row.confirmed else ""
        rows.append([_button(_short(f"{mark}{s.asset.name} · {shown}"), f"cl:{s.asset.id}")])
    if not rows:
        return t(locale, N_("No operating asset has monthly reports to classify yet.")), None
    return t(locale, N_("Four-way classification for {period} (✓ confirmed). Choose an asset:"), period=period), \
        InlineKeyboardMarkup(rows)


def class_detail(locale: str, asset, row, reasons: list[str]) -> tuple[str, InlineKeyboardMarkup]:
    """One asset's suggested class with its reasons, and the four classes to confirm or change to."""
    from bot.services.assessment.classes import STORED
    from bot.services.assessment.classes import class_label as label

    lines = [f"<b>{_escape(asset.name)}</b>",
             _escape(t(locale, N_("Suggested: {label}"), label=t(locale, label(row.suggested))))]
    lines += ["• " + _escape(r) for r in reasons]
    if row.confirmed:
        lines.append(_escape(t(locale, N_("Confirmed: {label}"), label=t(locale, label(row.confirmed)))))
    rows = [[_button(t(locale, label(STORED[key])), f"cl:set:{asset.id}:{key}")] for key in CLASS_KEYS]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


SEVERITY_ICONS = {"serious": "🔴", "major": "🟠", "minor": "🟡"}


def problem_list(locale: str, rows: list, total: int, now) -> tuple[str, InlineKeyboardMarkup | None]:
    """Open problems, most urgent first, one button each."""
    if not rows:
        return t(locale, N_("There are no open problems in your area.")), None
    buttons = []
    for row in rows:
        late = "⏰ " if row.overdue(now) else ""
        label = f"{SEVERITY_ICONS.get(row.problem.severity, '')} {late}{row.village.name} · {row.asset.name}"
        buttons.append([_button(_short(label), f"pl:{row.problem.id}")])
    return t(locale, N_("{total} open problem(s); showing {shown}:"), total=total, shown=len(rows)), \
        InlineKeyboardMarkup(buttons)


def problem_detail(locale: str, row, events: list, *, can_handle: bool,
                   can_decide: bool) -> tuple[str, InlineKeyboardMarkup | None]:
    """One problem: what, where, status, due date and its history, with the steps the user may take."""
    p = row.problem
    lines = [f"<b>{SEVERITY_ICONS.get(p.severity, '')} {_escape(row.village.name)} · {_escape(row.asset.name)}</b>",
             _escape(t(locale, p.description) if p.description else p.kind),
             _escape(t(locale, N_("Status: {status}; due {due}; {age} day(s) old."),
                       status=t(locale, STATUS_LABELS.get(p.status, p.status)),
                       due=row.due_at.date().isoformat(), age=row.age_days))]
    for event in events:
        note = f": {event.note}" if event.note else ""
        lines.append(f"· {event.at.date().isoformat()} {_escape(event.action)}{_escape(note)}")
    rows = []
    if can_handle and p.status in ("open", "acknowledged", "in_hand"):
        rows.append([_button(t(locale, N_("Acknowledge")), f"pb:ack:{p.id}"),
                     _button(t(locale, N_("In hand")), f"pl:hand:{p.id}")])
        rows.append([_button(t(locale, N_("Escalate to county")), f"pl:esc:{p.id}"),
                     _button(t(locale, N_("Resolve")), f"pb:res:{p.id}")])
        if p.source == "villager":  # a villager's report may be spam (bot.services.villager_reports)
            rows.append([_button(t(locale, N_("Mark as spam")), f"pl:spam:{p.id}")])
    if can_decide and p.status == "escalated":
        rows.append([_button(t(locale, N_("Record the county's decision")), f"pl:dec:{p.id}")])
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


def spam_buttons(locale: str, problem_id: int, choices: Iterable[int]) -> InlineKeyboardMarkup:
    """How long to mute the sender of a villager report marked as spam: one button per choice of days."""
    return InlineKeyboardMarkup([[_button(t(locale, N_("{days} day(s)"), days=days), f"pl:spam:{days}:{problem_id}")
                                  for days in choices]])
