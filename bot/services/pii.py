"""Find and mask personal numbers in free text before it is published (pure: text in, text out).

Three kinds are recognised, in half-width or full-width digits, written together or in groups
separated by single spaces or hyphens (``138 1234 5678``, ``6222-0212-3456-7890``):

- ``id_number``: a resident identity number (居民身份证号码) — 18 characters whose last one is the
  GB 11643-1999 check character (a digit or X), or a first-generation 15-digit number whose
  birth date (YYMMDD, 19xx) is a real date; the first digit (the province's region) is 1–8;
- ``mobile``: a mainland mobile number ``1[3-9]`` + 9 digits, optionally after 86 / 0086 / +86;
- ``bank_card``: 16 to 19 digits passing the Luhn check.

A number is only taken whole: digits glued to more digits (a 20-digit code) are left alone, and so
is a number that fits none of the rules (an 18-digit ID number with a wrong check character, a
Luhn-failing card). Masking keeps the text's length and separators and replaces the middle digits
with ``*``: ``410***********1234``, ``138****5678``, ``6222 **** **** 7890``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bot.i18n import N_, translate

ID_NUMBER, MOBILE, BANK_CARD = "id_number", "mobile", "bank_card"
KIND_LABELS = {
    ID_NUMBER: N_("ID number"),
    MOBILE: N_("mobile number"),
    BANK_CARD: N_("bank card number"),
}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")
# Runs of digits, possibly in groups joined by one space or hyphen, possibly ending in X (ID numbers).
_RUN = re.compile(r"(?<![0-9])[0-9]+(?:[ \-][0-9]+)*[Xx]?")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
MAX_DIGITS = 23  # 0086 + an 11-digit mobile is 15; a card 19; longer joined runs are split into groups


@dataclass(frozen=True)
class Finding:
    """One personal number in a text: its kind, where it is (``text[start:end]``) and its masked form."""

    kind: str
    start: int
    end: int
    original: str
    masked: str


def id_check_char(first17: str) -> str:
    """Return the GB 11643 check character (0–9 or X) of the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def _date_ok(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def is_id_number(value: str) -> bool:
    """Whether ``value`` (digits, last maybe X) is an 18-digit ID number with a valid check character,
    or a 15-digit first-generation one with a valid birth date."""
    value = value.upper()
    if len(value) == 18 and value[:17].isdigit() and (value[17].isdigit() or value[17] == "X"):
        return value[0] in "12345678" and id_check_char(value[:17]) == value[17]
    if len(value) == 15 and value.isdigit():
        return value[0] in "12345678" and _date_ok(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    return False


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (bank card numbers do)."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def classify(value: str) -> tuple[str, int, int] | None:
    """Return (kind, shown at the start, shown at the end) for a bare number, or None if it is none of them."""
    if is_id_number(value):
        return ID_NUMBER, 3, 4
    if not value.isdigit():
        return None
    for prefix in ("", "86", "0086"):
        if value.startswith(prefix) and _MOBILE.fullmatch(value[len(prefix):]):
            return MOBILE, len(prefix) + 3, 4
    if 16 <= len(value) <= 19 and luhn_ok(value):
        return BANK_CARD, 4, 4
    return None


def _mask_span(span: str, head: int, tail: int) -> str:
    """Replace every digit of ``span`` but the first ``head`` and the last ``tail`` with ``*``."""
    positions = [i for i, c in enumerate(span) if c.isalnum()]
    hidden = set(positions[head:len(positions) - tail])
    return "".join("*" if i in hidden else c for i, c in enumerate(span))


def find(text: str) -> list[Finding]:
    """Return the personal numbers in ``text``, in order."""
    if not text:
        return []
    plain = text.translate(_FULL_WIDTH)  # same length: positions stay the same
    found: list[Finding] = []
    for run in _RUN.finditer(plain):
        groups = [(m.start() + run.start(), m.end() + run.start())
                  for m in re.finditer(r"[0-9]+[Xx]?", run.group())]
        i = 0
        while i < len(groups):
            hit = None
            # The longest run of consecutive groups, from group i, that is a personal number.
            for k in range(len(groups) - 1, i - 1, -1):
                start, end = groups[i][0], groups[k][1]
                bare = re.sub(r"[ \-]", "", plain[start:end])
                if len(bare) > MAX_DIGITS:
                    continue
                kind = classify(bare)
                if kind is None and bare[-1] in "Xx":  # an X that begins a word, not a check character
                    end, kind = end - 1, classify(bare[:-1])
                if kind is not None:
                    hit = (k, start, end, kind)
                    break
            if hit is None:
                i += 1
                continue
            k, start, end, (kind, head, tail) = hit
            found.append(Finding(kind, start, end, text[start:end], _mask_span(text[start:end], head, tail)))
            i = k + 1
    return found


def mask(text: str | None) -> str | None:
    """Return ``text`` with every personal number masked (None stays None)."""
    if not text:
        return text
    findings = find(text)
    if not findings:
        return text
    out, last = [], 0
    for f in findings:
        out.append(text[last:f.start])
        out.append(f.masked)
        last = f.end
    out.append(text[last:])
    return "".join(out)


def describe(findings: list[Finding], locale: str | None) -> str:
    """Return the findings as the reader's words: ``身份证号 410***********1234、手机号 138****5678``."""
    joiner = "、" if (locale or "zh_CN").startswith("zh") else ", "
    return joiner.join(f"{translate(locale, KIND_LABELS[f.kind])} {f.masked}" for f in findings)
