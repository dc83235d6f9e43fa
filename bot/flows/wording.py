"""What a question says on each channel: one definition of the question, per-channel words where they differ.

A question's ``prompt`` and ``help`` say what to answer, in words true on every channel ("Which risks?
Choose all that apply."). How to answer depends on what the person sees: Telegram has a "Done" button
and an attachment menu, the web page has "Next", "Upload photo", "Done with photos" and "Use my current
location". That instruction is chosen here by channel and question type (``instruction``), and a form
may word a question's help for one channel (``web_help``, ``telegram_help``; ``Question.help_for``).
Pure: returns msgids, translated where shown.
"""

from __future__ import annotations

from bot.flows.form import CHANNELS, Form, Question
from bot.i18n import N_

WEB, TELEGRAM = CHANNELS

# How to answer on the web page, by question type (the buttons named are the page's own).
WEB_INSTRUCTIONS = {
    "multi": N_("Tick every option that applies, then press “Next”."),
    "photo": N_("Take or choose a photo and press “Upload photo”; do it again for more. When all are "
                "uploaded, press “Done with photos”."),
    "location": N_("At the asset, press “Use my current location”, or type the latitude and longitude."),
    "date": N_("Choose the date, then press “Next”."),
}
# On Telegram the adapter words its hint with live numbers (photos received so far, the number's range):
# bot/adapters/telegram_views.py ``_hint``; these are its fixed ones.
TELEGRAM_INSTRUCTIONS = {
    "multi": N_("Tap every option that applies, then Done."),
    "location": N_("Send your location: tap 📎 and choose Location."),
}
INSTRUCTIONS = {WEB: WEB_INSTRUCTIONS, TELEGRAM: TELEGRAM_INSTRUCTIONS}


def instruction(question: Question, channel: str) -> str | None:
    """Return the msgid that says how to answer ``question`` on ``channel`` (None when the controls say it)."""
    return INSTRUCTIONS[channel].get(question.type)


# --- how many questions ------------------------------------------------------------------------------

def bounds(form: Form) -> tuple[int, int]:
    """Return (at least, at most) how many questions a person answers: the unconditional ones, and all."""
    return sum(1 for q in form.questions if q.show_if is None), len(form.questions)


def progress(form: Form, shown: list[Question], question: Question) -> tuple[str, dict[str, int]]:
    """Return the msgid and parameters of "question n of N" that do not jump while answering.

    ``n`` counts the questions shown so far (answers can add questions after this one, never before it);
    the total is fixed for the form: exact when no question depends on an answer, else "at most".
    """
    number = next((i for i, q in enumerate(shown) if q.key == question.key), len(shown)) + 1
    low, high = bounds(form)
    if low == high:
        return N_("Question {n} of {total}"), {"n": number, "total": high}
    return N_("Question {n} (at most {total})"), {"n": number, "total": high}
