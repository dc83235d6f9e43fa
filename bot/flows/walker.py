"""The form engine: walk a person through a form, one question at a time, any transport.

``Walker(form, answers, position)`` wraps the JSON stored on ``Report.answers`` and the key
stored on ``Report.position``. It is pure (no database, no clock): the caller saves
``walker.answers`` and ``walker.position`` after every step.

Conventions of the stored answers: a key maps to its value; a skipped optional question maps
to ``None``; multi and photo answers are lists filled step by step (``toggle``, photo refs)
and finished with ``done``. Answers of questions hidden by a changed earlier answer are dropped.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.flows import values
from bot.flows.form import Form, Question
from bot.flows.values import AnswerError
from bot.i18n import N_

REVIEW = "__review__"

MSG_UNKNOWN = N_("This question is not part of the form.")
MSG_HIDDEN = N_("This question does not apply with your earlier answers.")
MSG_REQUIRED = N_("This question must be answered; it cannot be skipped.")
MSG_NOT_LIST = N_("This question is not answered step by step.")
MSG_NOT_YET = N_("Please answer the questions before this one first.")
MSG_DUPLICATE_PHOTO = N_("This photo has already been added here.")


class Walker:
    """Where a person is in a form and what they have answered so far."""

    def __init__(self, form: Form, answers: dict | None = None, position: str | None = None) -> None:
        self.form = form
        self.answers: dict[str, Any] = copy.deepcopy(answers or {})
        self._position = position

    # --- reading ------------------------------------------------------------------------------

    def visible(self) -> list[Question]:
        """Return the questions that apply, given the answers (hidden ones count as unanswered)."""
        shown: list[Question] = []
        seen: dict[str, Any] = {}
        for question in self.form.questions:
            if question.show_if is None or question.show_if.holds(seen):
                shown.append(question)
                if question.key in self.answers:
                    seen[question.key] = self.answers[question.key]
        return shown

    def is_answered(self, question: Question) -> bool:
        """Return whether a question is settled: answered (lists: enough items) or skipped."""
        if question.key not in self.answers:
            return False
        value = self.answers[question.key]
        if value is None:
            return True
        return not question.is_list or len(value) >= max(1, question.min_count)

    def _first_open(self) -> Question | None:
        return next((q for q in self.visible() if not self.is_answered(q)), None)

    def current(self) -> Question | None:
        """Return the question to show now; None means every visible question is settled (review)."""
        if self._position not in (None, REVIEW):
            question = self.form.question(self._position)
            if question is not None and question in self.visible():
                return question
        return self._first_open()

    @property
    def position(self) -> str | None:
        """Return the key to store on ``Report.position`` ('__review__' at the review stage)."""
        question = self.current()
        return question.key if question else REVIEW

    def review(self) -> list[tuple[Question, Any]]:
        """Return (question, answer) for every visible question (None when skipped or unanswered)."""
        return [(q, self.answers.get(q.key)) for q in self.visible()]

    def missing(self) -> list[str]:
        """Return the keys of visible required questions not yet answered."""
        return [q.key for q in self.visible() if q.required
                and (self.answers.get(q.key) is None or not self.is_answered(q))]

    @property
    def complete(self) -> bool:
        """Whether every required visible question is answered (the report can be submitted)."""
        return not self.missing()

    # --- changing -----------------------------------------------------------------------------

    def _visible_question(self, key: str) -> Question:
        question = self.form.question(key)
        if question is None:
            raise AnswerError(MSG_UNKNOWN, key=key)
        if question not in self.visible():
            raise AnswerError(MSG_HIDDEN, key=key)
        return question

    def _store(self, question: Question, value: Any) -> None:
        """Store a value and drop the answers of questions it hides."""
        self.answers[question.key] = value
        self._prune()

    def _prune(self) -> None:
        keep = {q.key for q in self.visible()}
        for key in [k for k in self.answers if k not in keep]:
            del self.answers[key]

    def _advance(self) -> None:
        nxt = self._first_open()
        self._position = nxt.key if nxt else REVIEW

    def answer(self, key: str, raw: Any) -> Any:
        """Validate and store an answer, then move on; return the stored value.

        For a photo question ``raw`` is one photo ref, appended to the list: the walker stays on
        the question until ``max_count`` is reached or ``done`` is called.
        """
        question = self._visible_question(key)
        if question.type == "photo":
            ref = values.parse_photo_ref(question, raw)
            photos = list(self.answers.get(key) or [])
            if any(p["sha256"] == ref["sha256"] for p in photos):
                raise AnswerError(question.error or MSG_DUPLICATE_PHOTO, key=key)
            if len(photos) >= question.max_count:
                values.check_count(question, photos + [ref])
            photos.append(ref)
            self._store(question, photos)
            if len(photos) >= question.max_count:
                self._advance()
            else:
                self._position = key
            return photos
        value = values.parse(question, raw)
        self._store(question, value)
        self._advance()
        return value

    def toggle(self, key: str, option_key: str) -> list[str]:
        """Add or remove one option of a multi-choice answer; stay on the question; return the list."""
        question = self._visible_question(key)
        if question.type != "multi":
            raise AnswerError(MSG_NOT_LIST, key=key)
        chosen = set(self.answers.get(key) or [])
        chosen.symmetric_difference_update({values.parse_option(question, option_key)})
        keys = [o.key for o in question.options if o.key in chosen]
        if len(keys) > question.max_count:
            values.check_count(question, keys)
        self._store(question, keys)
        self._position = key
        return keys

    def done(self, key: str) -> Any:
        """Finish a multi or photo question (checks min_count); an optional empty one counts as skipped."""
        question = self._visible_question(key)
        if not question.is_list:
            raise AnswerError(MSG_NOT_LIST, key=key)
        items = list(self.answers.get(key) or [])
        if not items and not question.required:
            self._store(question, None)
        else:
            values.check_count(question, items)
            self._store(question, items)
        self._advance()
        return self.answers[key]

    def skip(self, key: str) -> None:
        """Skip an optional question (stored as None) and move on."""
        question = self._visible_question(key)
        if question.required:
            raise AnswerError(MSG_REQUIRED, key=key)
        self._store(question, None)
        self._advance()

    def clear(self, key: str) -> None:
        """Remove the answer to a question (to start a photo or multi answer again) and stay on it."""
        self._visible_question(key)
        self.answers.pop(key, None)
        self._prune()
        self._position = key

    def back(self) -> Question | None:
        """Move to the visible question before the current one and return it (None at the first)."""
        shown = self.visible()
        current = self.current()
        index = shown.index(current) if current in shown else len(shown)
        if index == 0:
            return None
        self._position = shown[index - 1].key
        return shown[index - 1]

    def goto(self, key: str) -> Question:
        """Jump to a visible question to change it: an answered one, or the first unanswered one."""
        question = self._visible_question(key)
        first_open = self._first_open()
        if not self.is_answered(question) and question != first_open:
            raise AnswerError(MSG_NOT_YET, key=key)
        self._position = key
        return question
