"""Small server-side SVG charts: horizontal bars and monthly columns, readable on a 360 px phone.

No script and no CSS: colours are SVG presentation attributes, so the pages' strict
Content-Security-Policy holds. Every bar is a ``<rect class="bar">`` carrying ``data-label`` and
``data-value`` (a column's inner part is ``class="part"``); each chart has a ``<title>`` for
screen readers and a table beside it on the page.
"""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

WIDTH = 360
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 110
VALUE_WIDTH = 54
COLUMN_AREA = 140
COLOURS = ("#1f5e3b", "#9a5b00", "#a3161b", "#3d6fb6", "#6b6b6b")

Number = int | float | Decimal


def _fmt(value: Number) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return str(value)


def text_width(text: str, size: int = 13) -> float:
    """Return a generous estimate of a label's width in px: wide characters (CJK) a full em, others 0.62 em."""
    return sum(size if ord(c) > 0x2E80 else size * 0.62 for c in text)


def _svg(height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label={quoteattr(title)} font-family="sans-serif" font-size="13">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _bar(
    x: float, y: float, width: float, height: float, label: str, value: Number, colour: str, kind: str = "bar"
) -> str:
    return (
        f'<rect class="{kind}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
        f'fill="{colour}" data-label={quoteattr(label)} data-value="{_fmt(value)}"/>'
    )


def bar_chart(
    title: str,
    rows: list[tuple[str, Number]],
    *,
    suffix: str = "",
    maximum: Number | None = None,
    colour: str = COLOURS[0],
) -> str:
    """Return an SVG of one horizontal bar per (label, value) row, the value written after each bar.

    Bars are scaled to ``maximum`` (default: the largest value); ``suffix`` follows each value ('%').
    """
    top = max([float(maximum or 0)] + [float(v) for _, v in rows]) or 1.0
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    body = []
    for index, (label, value) in enumerate(rows):
        y = GAP + index * (BAR_HEIGHT + GAP)
        width = span * float(value) / top
        short = label if len(label) <= 8 else label[:7] + "…"
        body.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end" '
            f'fill="#1b1b1b">{escape(short)}</text>'
        )
        body.append(_bar(LABEL_WIDTH, y, width, BAR_HEIGHT, label, value, colour))
        text = _fmt(value) + suffix
        if LABEL_WIDTH + width + 4 + text_width(text) <= WIDTH - 2:
            body.append(f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + 16}" fill="#1b1b1b">{escape(text)}</text>')
        else:  # no room after a long bar: the value goes inside its end, in white, never past the edge
            body.append(
                f'<text x="{LABEL_WIDTH + width - 4:.1f}" y="{y + 16}" text-anchor="end" fill="#fff">'
                f"{escape(text)}</text>"
            )
    height = GAP + max(len(rows), 1) * (BAR_HEIGHT + GAP)
    return _svg(height, title, body)


def column_chart(
    title: str,
    columns: list[tuple[str, Number, Number]],
    *,
    colours: tuple[str, str] = ("#b9d7c3", COLOURS[0]),
) -> str:
    """Return an SVG of one column per (label, total, part) entry: the total light, its part dark over it.

    Used for the year's trend: reports done per month, the on-time part drawn inside.
    """
    top = max([float(total) for _, total, _ in columns] + [1.0])
    slot = (WIDTH - 20) / max(len(columns), 1)
    width = slot * 0.7
    base = COLUMN_AREA + 20  # room above the tallest column for its value
    body = [f'<line x1="10" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="#999"/>']
    for index, (label, total, part) in enumerate(columns):
        x = 10 + index * slot + (slot - width) / 2
        for value, colour, kind in ((total, colours[0], "bar"), (part, colours[1], "part")):
            height = COLUMN_AREA * float(value) / top
            body.append(_bar(x, base - height, width, height, label, value, colour, kind))
        body.append(
            f'<text x="{x + width / 2:.1f}" y="{base - COLUMN_AREA * float(total) / top - 3:.1f}" '
            f'text-anchor="middle" font-size="11" fill="#1b1b1b">{escape(_fmt(total))}</text>'
        )
        body.append(
            f'<text x="{x + width / 2:.1f}" y="{base + 15}" text-anchor="middle" font-size="11" '
            f'fill="#1b1b1b">{escape(label)}</text>'
        )
    return _svg(base + 22, title, body)
