"""Turning what a person typed or tapped into a stored answer, and a stored answer back into words.

Stored answers are plain JSON: option keys ('yes'), lists of option keys, numbers, ISO dates
('2026-03-05'), text, ``{'lat', 'lon'}`` and lists of photo refs ``{'sha256', 'photo_id'}``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.flows.form import Question
from bot.i18n import N_, normalise_locale, translate

MSG_CHOOSE = N_("Please choose one of the buttons.")
MSG_YESNO = N_("Please answer yes or no.")
MSG_NUMBER = N_("Please enter a number, for example 12 or 3.5.")
MSG_WHOLE = N_("Please enter a whole number.")
MSG_WHOLE_NUMBER = N_("Please enter a whole number, for example 12.")  # not "3.5" where halves are refused
MSG_RANGE = N_("Please enter a number from {min} to {max}.")
MSG_AT_LEAST = N_("Please enter a number of at least {min}.")
MSG_AT_MOST = N_("Please enter a number of at most {max}.")
MSG_DATE = N_("Please enter a date such as 2026-03-05.")
MSG_NO_SUCH_DATE = N_("There is no such date: {value}.")
MSG_TEXT = N_("Please write your answer as text.")
MSG_TOO_LONG = N_("Please keep it to {max} characters (this has {length}).")
MSG_LOCATION = N_("Please share a location.")
MSG_PHOTO = N_("Please send a photo.")
MSG_CHOOSE_AT_LEAST = N_("Please choose at least {min}.")
MSG_CHOOSE_AT_MOST = N_("Please choose at most {max}.")
MSG_SKIPPED = N_("Skipped")
MSG_PHOTOS = N_("{count} photo(s)")

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class AnswerError(ValueError):
    """An answer that cannot be accepted; ``msgid`` + ``params`` say what to fix, in any language."""

    def __init__(self, msgid: str, params: dict[str, Any] | None = None, key: str | None = None) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params or {}
        self.key = key

    def message(self, locale: str | None) -> str:
        """Return the explanation in the user's language."""
        return translate(locale, self.msgid, **self.params)


def _fail(question: Question, msgid: str, **params: Any) -> AnswerError:
    """Return the error for ``question``: its own ``error`` msgid when the form sets one."""
    return AnswerError(question.error or msgid, params, question.key)


def _plain(number: float | None) -> str:
    """Return a limit for messages: 100 not 100.0."""
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


def parse_number(question: Question, raw: Any) -> int | float:
    """Return a number from 12, '1,234.5', '１２', ' 3.5 '; check whole-ness and range."""
    not_a_number = MSG_WHOLE_NUMBER if question.integer else MSG_NUMBER
    if isinstance(raw, bool) or raw is None:
        raise _fail(question, not_a_number)
    if isinstance(raw, (int, float, Decimal)):
        text = str(raw)
    elif isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip().replace(" ", "")
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
    else:
        raise _fail(question, not_a_number)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _fail(question, not_a_number) from None
    if not number.is_finite():
        raise _fail(question, not_a_number)
    if question.integer and number != number.to_integral_value():
        raise _fail(question, MSG_WHOLE)
    low, high = question.min, question.max
    if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
        if low is not None and high is not None:
            raise _fail(question, MSG_RANGE, min=_plain(low), max=_plain(high))
        if low is not None:
            raise _fail(question, MSG_AT_LEAST, min=_plain(low))
        raise _fail(question, MSG_AT_MOST, max=_plain(high))
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def parse_date(question: Question, raw: Any) -> str:
    """Return an ISO date from '2026-03-05', '2026/3/5', '2026年3月5日' (or a date object)."""
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if not isinstance(raw, str):
        raise _fail(question, MSG_DATE)
    text = unicodedata.normalize("NFKC", raw).strip()
    match = _DATE.match(text)
    if not match:
        raise _fail(question, MSG_DATE)
    try:
        return dt.date(*(int(g) for g in match.groups())).isoformat()
    except ValueError:
        raise _fail(question, MSG_NO_SUCH_DATE, value=text) from None


def parse_text(question: Question, raw: Any) -> str:
    """Return trimmed text within ``max_length``."""
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(question, MSG_TEXT)
    text = raw.strip()
    if len(text) > question.max_length:
        raise _fail(question, MSG_TOO_LONG, max=question.max_length, length=len(text))
    return text


def parse_location(question: Question, raw: Any) -> dict[str, float]:
    """Return ``{'lat', 'lon'}`` from a mapping with valid coordinates."""
    if not isinstance(raw, dict):
        raise _fail(question, MSG_LOCATION)
    try:
        lat, lon = float(raw["lat"]), float(raw["lon"])
    except (KeyError, TypeError, ValueError):
        raise _fail(question, MSG_LOCATION) from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise _fail(question, MSG_LOCATION)
    return {"lat": lat, "lon": lon}


def parse_photo_ref(question: Question, raw: Any) -> dict[str, Any]:
    """Return ``{'sha256', 'photo_id'}`` from a photo reference made by the evidence service."""
    if not isinstance(raw, dict):
        raise _fail(question, MSG_PHOTO)
    sha, photo_id = raw.get("sha256"), raw.get("photo_id")
    if not isinstance(sha, str) or not _SHA256.match(sha) or not isinstance(photo_id, int) \
            or isinstance(photo_id, bool):
        raise _fail(question, MSG_PHOTO)
    return {"sha256": sha, "photo_id": photo_id}


def parse_option(question: Question, raw: Any) -> str:
    """Return the option key of a yesno/choice answer."""
    if isinstance(raw, bool) and question.type == "yesno":
        raw = "yes" if raw else "no"
    if not isinstance(raw, str) or question.option(raw) is None:
        raise _fail(question, MSG_YESNO if question.type == "yesno" else MSG_CHOOSE)
    return raw


def parse_options(question: Question, raw: Any) -> list[str]:
    """Return a multi-choice answer as option keys in form order, within min/max count."""
    chosen = [raw] if isinstance(raw, str) else raw
    if not isinstance(chosen, (list, tuple)) or any(
            not isinstance(k, str) or question.option(k) is None for k in chosen):
        raise _fail(question, MSG_CHOOSE)
    keys = [o.key for o in question.options if o.key in chosen]
    check_count(question, keys)
    return keys


def check_count(question: Question, items: list) -> None:
    """Raise unless a multi/photo list holds between min_count and max_count items."""
    if len(items) > question.max_count:
        if question.type == "photo":
            raise _fail(question, N_("This question takes at most {max} photo(s)."), max=question.max_count)
        raise _fail(question, MSG_CHOOSE_AT_MOST, max=question.max_count)
    if len(items) < question.min_count:
        if question.type == "photo":
            raise _fail(question, N_("Please send at least {min} photo(s)."), min=question.min_count)
        raise _fail(question, MSG_CHOOSE_AT_LEAST, min=question.min_count)


def parse(question: Question, raw: Any) -> Any:
    """Return the stored value for a raw answer to a single-value question (not multi/photo)."""
    if question.type in ("yesno", "choice"):
        return parse_option(question, raw)
    if question.type == "number":
        return parse_number(question, raw)
    if question.type == "date":
        return parse_date(question, raw)
    if question.type == "text":
        return parse_text(question, raw)
    if question.type == "location":
        return parse_location(question, raw)
    if question.type == "multi":
        return parse_options(question, raw)
    raise ValueError(f"{question.type} answers are added one by one")


def format_answer(question: Question, value: Any, locale: str | None) -> str:
    """Return a stored answer in words for review screens and digests, in ``locale``."""
    locale = normalise_locale(locale)
    if value is None:
        return translate(locale, MSG_SKIPPED)
    if question.type in ("yesno", "choice"):
        option = question.option(value)
        return translate(locale, option.label) if option else str(value)
    if question.type == "multi":
        labels = [translate(locale, o.label) for o in question.options if o.key in value]
        return ("、" if locale == "zh_CN" else ", ").join(labels)
    if question.type == "number":
        shown = format_decimal(value, locale=locale)
        return f"{shown} {translate(locale, question.unit)}" if question.unit else shown
    if question.type == "date":
        return format_date(dt.date.fromisoformat(value), "long", locale=locale)
    if question.type == "photo":
        return translate(locale, MSG_PHOTOS, count=len(value))
    if question.type == "location":
        return f"{value['lat']:.5f}, {value['lon']:.5f}"
    return str(value)
