"""What the WeCom app shows: message/send payloads (text, template cards) built from the forms.

The button keys carry stable keys only, like Telegram's callback data (``telegram_views``):

======================  =====================================================
``a:<asset>``           start or resume this asset's checklist
``v:<report>:<q>:<o>``  answer question ``q`` with option ``o`` (button card)
``m:<report>:<q>``      submit the options ticked in a vote card (multi, or a long choice)
``n:<report>:<act>[:<q>]``  back, skip, done, later, confirm (submit), resume
``pb:ack:<id>`` / ``pb:res:<id>``  acknowledge / resolve a problem (alert cards, ``channels.WeComAppChannel``)
======================  =====================================================

A question is one template card: yes/no and short choices as a button card (按钮交互型, at most six
buttons); multi-select and choices too long for buttons as a vote card (投票选择型: ``mode`` 1 for
several, 0 for one) whose submit button sends the ticked options; typed answers, photos and locations
as a button card with Skip / Back / Later whose text says what to send.
"""

from __future__ import annotations

import secrets
from typing import Any

from bot.flows import Question, Walker, format_answer
from bot.i18n import N_, translate

MAX_BUTTONS = 6
MAX_VOTE_OPTIONS = 20
STATE_ICONS = {"done": "✅", "draft": "📝", "todo": "⬜"}


def t(locale: str, msgid: str, **params: Any) -> str:
    return translate(locale, msgid, **params)


def text(content: str) -> dict:
    """A plain text message."""
    return {"msgtype": "text", "text": {"content": content[:2000]}}


def _task(prefix: str) -> str:
    """A card's task id: unique within the app (WeCom refuses a reused one), at most 128 characters."""
    return f"{prefix}-{secrets.token_hex(8)}"[:128]


def _short(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _card(kind: str, title: str, desc: str, body: str, **more: Any) -> dict:
    return {"msgtype": "template_card", "template_card": {
        "card_type": kind, "task_id": _task(kind[:6]), "main_title": {"title": _short(title, 36),
                                                                       "desc": _short(desc, 44)},
        "sub_title_text": _short(body, 500), **more}}


def buttons(kind_title: str, desc: str, body: str, pairs: list[tuple[str, str]]) -> dict:
    """A button card: ``pairs`` (label, key), the first highlighted."""
    return _card("button_interaction", kind_title, desc, body,
                 button_list=[{"text": _short(label, 10), "style": 1 if i == 0 else 2, "key": key}
                              for i, (label, key) in enumerate(pairs[:MAX_BUTTONS])])


def _hint(locale: str, q: Question, walker: Walker) -> str | None:
    if q.type == "number":
        unit = t(locale, q.unit) if q.unit else ""
        return t(locale, N_("Type a number {unit}."), unit=unit).replace(" .", ".")
    if q.type == "text":
        return t(locale, N_("Type your answer."))
    if q.type == "date":
        return t(locale, N_("Type a date, for example 2026-03-05."))
    if q.type == "photo":
        have = len(walker.answers.get(q.key) or [])
        return t(locale, N_("Send a photo with the + button (camera or album; the original is kept). "
                            "Received so far: {count}."), count=have)
    if q.type == "location":
        return t(locale, N_("Send your location with the + button, then Location."))
    if q.type == "multi":
        return t(locale, N_("Tick every option that applies, then press Done."))
    return None


def question(locale: str, report_id: int, subject: str, walker: Walker, note: str | None = None) -> dict:
    """The card of the report's current question (the review card when every question is settled)."""
    q = walker.current()
    if q is None:
        return review(locale, report_id, subject, walker, note)
    visible = walker.visible()
    index = next((i for i, v in enumerate(visible) if v.key == q.key), 0) + 1
    lines = [note] if note else []
    lines.append(t(locale, q.prompt))
    if q.help:
        lines.append(t(locale, q.help))
    hint = _hint(locale, q, walker)
    if hint:
        lines.append(hint)
    current = walker.answers.get(q.key)
    if current not in (None, [], "") and q.type not in ("photo", "multi"):
        lines.append(t(locale, N_("Current answer: {answer}"), answer=format_answer(q, current, locale)))
    desc = f"{index}/{len(visible)}"
    body = "\n".join(lines)
    nav: list[tuple[str, str]] = []
    if index > 1:
        nav.append((t(locale, N_("⬅ Back")), f"n:{report_id}:back"))
    if not q.required:
        nav.append((t(locale, N_("Skip")), f"n:{report_id}:skip:{q.key}"))
    nav.append((t(locale, N_("Later")), f"n:{report_id}:later"))
    if q.type == "multi" or (q.type == "choice" and len(q.options) + len(nav) > MAX_BUTTONS):
        chosen = set(current or []) if q.type == "multi" else {current}
        return _card("vote_interaction", subject, desc, body,
                     checkbox={"question_key": q.key, "mode": 1 if q.type == "multi" else 0,
                               "option_list": [{"id": o.key, "text": _short(t(locale, o.label), 11),
                                                "is_checked": o.key in chosen}
                                               for o in q.options[:MAX_VOTE_OPTIONS]]},
                     submit_button={"text": t(locale, N_("Done")), "key": f"m:{report_id}:{q.key}"})
    pairs: list[tuple[str, str]] = []
    if q.type in ("yesno", "choice"):
        pairs = [(t(locale, o.label), f"v:{report_id}:{q.key}:{o.key}") for o in q.options]
    elif q.type == "photo" and current and len(current) >= (q.min_count or 0):
        pairs = [(t(locale, N_("Done with photos")), f"n:{report_id}:done:{q.key}")]
    return buttons(subject, desc, body, (pairs + nav)[:MAX_BUTTONS])


def review(locale: str, report_id: int, subject: str, walker: Walker, note: str | None = None) -> dict:
    """Every answer, with Submit / Back / Later."""
    lines = [note] if note else []
    lines.append(t(locale, N_("All questions are answered. Check your answers, then submit:")))
    for number, (q, value) in enumerate(walker.review(), start=1):
        lines.append(f"{number}. {t(locale, q.prompt)} → {format_answer(q, value, locale)}")
    pairs = [(t(locale, N_("Submit")), f"n:{report_id}:confirm"), (t(locale, N_("⬅ Back")), f"n:{report_id}:back"),
             (t(locale, N_("Later")), f"n:{report_id}:later")]
    return buttons(subject, t(locale, N_("Review")), "\n".join(lines), pairs)


def overview(locale: str, period: str, items: list) -> list[dict]:
    """The assets to check this month: a numbered list (reply with a number) and a card with the
    first ones still to do."""
    if not items:
        return [text(t(locale, N_("There are no assets to check in your area.")))]
    counts = {state: sum(1 for i in items if i.state == state) for state in STATE_ICONS}
    lines = [t(locale, N_("Monthly check for {period}: {done} done, {draft} started, {todo} to do."),
               period=period, done=counts["done"], draft=counts["draft"], todo=counts["todo"])]
    lines += [f"{n}. {STATE_ICONS[i.state]} {i.asset.name}" for n, i in enumerate(items, start=1)]
    lines.append(t(locale, N_("Reply with an asset's number to check it.")))
    open_items = [i for i in items if i.state != "done"]
    found = [text("\n".join(lines))]
    if open_items:
        found.append(buttons(t(locale, N_("Choose an asset:")), period, t(locale, N_("Still to do this month:")),
                             [(f"{STATE_ICONS[i.state]}{i.asset.name}", f"a:{i.asset.id}") for i in open_items]))
    return found


def replace(label: str) -> dict:
    """The update of a pressed card: its buttons become one inactive button saying what was chosen."""
    return {"button": {"replace_name": _short(label, 10)}}
