"""Read untrusted YAML data field by field, failing with the file and the field's path."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from bot.i18n import N_, translate

_MISSING = object()
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ProfileError(ValueError):
    """A profile is invalid; ``file`` and ``field`` say where, the message says why (translatable)."""

    def __init__(self, file: str, field: str, message: str, /, **params: object) -> None:
        self.file, self.field, self.msgid, self.params = file, field, message, params
        super().__init__(self.describe("en"))

    def describe(self, locale: str | None) -> str:
        """Return 'file: field: message' in the given locale."""
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {translate(locale, self.msgid, **self.params)}"


class Reader:
    """A value inside a YAML document together with its path, with typed accessors."""

    def __init__(self, value: Any, file: str, path: str = "") -> None:
        self.value, self.file, self.path = value, file, path

    def fail(self, message: str, /, **params: object) -> ProfileError:
        """Return (for raising) an error about this value."""
        return ProfileError(self.file, self.path, message, **params)

    def _sub(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, allowed: Iterable[str]) -> Reader:
        """Check this value is a mapping whose keys are all in ``allowed``."""
        if not isinstance(self.value, dict):
            raise self.fail(N_("Expected a mapping (key: value)."))
        names = list(allowed)
        for key in self.value:
            if key not in names:
                raise Reader(None, self.file, self._sub(str(key))).fail(
                    N_("Unknown field; allowed fields are: {allowed}."), allowed=", ".join(names))
        return self

    def get(self, key: str, default: Any = _MISSING) -> Reader:
        """Return the child ``key``; a missing child takes ``default`` or is an error."""
        child = Reader(self.value.get(key, default), self.file, self._sub(key))
        if child.value is _MISSING or (child.value is None and default is _MISSING):
            raise child.fail(N_("This field is required."))
        return child

    def items(self) -> list[Reader]:
        """Return the elements of a list value."""
        if not isinstance(self.value, list):
            raise self.fail(N_("Expected a list."))
        return [Reader(v, self.file, self._sub(i)) for i, v in enumerate(self.value)]

    def text(self) -> str:
        """Return a non-empty string."""
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.fail(N_("Expected text."))
        return self.value.strip()

    def choice(self, choices: Iterable[str]) -> str:
        """Return a string that must be one of ``choices``."""
        options = list(choices)
        if self.value not in options:
            raise self.fail(N_("Must be one of: {choices}."), choices=", ".join(options))
        return str(self.value)

    def integer(self, low: int, high: int) -> int:
        """Return a whole number within [low, high]."""
        if isinstance(self.value, bool) or not isinstance(self.value, int) or not low <= self.value <= high:
            raise self.fail(N_("Expected a whole number between {low} and {high}."), low=low, high=high)
        return self.value

    def number(self) -> float:
        """Return an int or float."""
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise self.fail(N_("Expected a number."))
        return float(self.value)

    def hours(self) -> dt.timedelta:
        """Return a duration given as a number of hours (zero or more)."""
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or self.value < 0:
            raise self.fail(N_("Expected a number of hours of zero or more."))
        return dt.timedelta(hours=self.value)

    def flag(self) -> bool:
        """Return a boolean."""
        if not isinstance(self.value, bool):
            raise self.fail(N_("Expected true or false."))
        return self.value

    def time(self) -> dt.time:
        """Return a local time of day written HH:MM."""
        match = _TIME.match(str(self.value)) if isinstance(self.value, str) else None
        if not match:
            raise self.fail(N_("Expected a time of day as HH:MM."))
        return dt.time(int(match.group(1)), int(match.group(2)))

    def date(self) -> dt.date:
        """Return a date written YYYY-MM-DD (YAML may already have parsed it)."""
        if isinstance(self.value, dt.date) and not isinstance(self.value, dt.datetime):
            return self.value
        try:
            return dt.date.fromisoformat(str(self.value))
        except ValueError:
            raise self.fail(N_("Expected a date as YYYY-MM-DD.")) from None
