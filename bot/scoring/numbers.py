"""Decimal arithmetic with the rubric's rounding (ROUND_HALF_UP, as published evaluations round)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)
ZERO = Decimal(0)


def quantum(places: int) -> Decimal:
    """Return the Decimal step for ``places`` decimal places (0 → 1, 2 → 0.01)."""
    return Decimal(1).scaleb(-places)


def round_half_up(value: Decimal, places: int) -> Decimal:
    """Round ``value`` half-up to ``places`` decimals."""
    return value.quantize(quantum(places), rounding=ROUND_HALF_UP)


def as_decimal(value: int | float | str | Decimal) -> Decimal:
    """Convert a YAML number to Decimal through its text, so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def percent(numerator: Decimal, denominator: Decimal) -> Decimal:
    """Return numerator / denominator × 100 (denominator already checked to be positive)."""
    return numerator * HUNDRED / denominator


def plain(value: Decimal) -> str:
    """Format a Decimal for people: no exponent, no trailing zeros beyond the integer."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
