"""The one error raised for bad scoring input, carrying a translatable message."""

from __future__ import annotations

from bot.i18n import translate


class ScoringInputError(ValueError):
    """Refuse bad input; ``field`` names where it is, ``msgid``/``params`` explain it in any language."""

    def __init__(self, msgid: str, /, *, field: str, **params: object) -> None:
        self.msgid = msgid
        self.field = field
        self.params = {"field": field, **params}
        super().__init__(self.message("en"))

    def message(self, locale: str | None) -> str:
        """Return the message translated into ``locale``."""
        return translate(locale, self.msgid, **self.params)


class RubricError(ValueError):
    """Refuse a malformed rubric file: a defect of shipped data, reported to developers in English."""
