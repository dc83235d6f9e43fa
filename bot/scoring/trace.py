"""Trace steps: every point awarded or deducted, as a translatable msgid with parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.i18n import translate
from bot.scoring.numbers import plain


@dataclass(frozen=True)
class Text:
    """A parameter that is itself a msgid (an indicator or sub-item label) and is translated too."""

    msgid: str


@dataclass(frozen=True)
class Step:
    """One explained step of a score: ``msgid`` filled with ``params``."""

    msgid: str
    params: dict[str, object] = field(default_factory=dict)

    def render(self, locale: str | None) -> str:
        """Return the step as text in ``locale``."""
        return translate(locale, self.msgid, **{k: render_param(v, locale) for k, v in self.params.items()})

    def as_json(self, locale: str | None) -> dict[str, object]:
        """Return the step as JSON-ready data: msgid, raw params and the rendered text."""
        params = {k: (v.msgid if isinstance(v, Text) else render_param(v, locale)) for k, v in self.params.items()}
        return {"msgid": self.msgid, "params": params, "text": self.render(locale)}


def render_param(value: object, locale: str | None) -> str:
    """Format one parameter: translate labels, print Decimals plainly."""
    if isinstance(value, Text):
        return translate(locale, value.msgid)
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)
