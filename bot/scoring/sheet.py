"""Lay a ScoreSheet out in the published form (一级指标, 二级指标, 三级指标, 分值, 得分, 评分过程).

One layout feeds every output: text table, JSON and .xlsx all come from ``sheet_lines``/``sheet_json``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from bot.i18n import N_, translate
from bot.scoring.engine import Row, ScoreSheet
from bot.scoring.rubric import Node

HEADERS = (N_("First-level indicator"), N_("Second-level indicator"), N_("Third-level indicator"),
           N_("Weight"), N_("Score"), N_("Scoring process"))


@dataclass(frozen=True)
class Line:
    """One line of the sheet: ``kind`` is indicator, subtotal, total or grade."""

    kind: str
    cells: tuple[str, str, str, str, str]
    steps: tuple[str, ...] = ()


def points(value: Decimal) -> str:
    """Format points with the two decimals of the published sheets."""
    return format(value, ".2f")


def name(node: Node, locale: str | None) -> str:
    """Return 'A101 立项依据充分性' for a node."""
    return f"{node.code} {translate(locale, node.label)}"


def sheet_lines(sheet: ScoreSheet, locale: str | None) -> list[Line]:
    """Return indicator lines with second- and first-level subtotals after each group, then total and grade."""
    lines: list[Line] = []
    rows = sheet.rows
    for index, row in enumerate(rows):
        lines.append(indicator_line(row, index == 0 or rows[index - 1].second is not row.second,
                                    index == 0 or rows[index - 1].first is not row.first, locale))
        last_of_second = index + 1 == len(rows) or rows[index + 1].second is not row.second
        last_of_first = index + 1 == len(rows) or rows[index + 1].first is not row.first
        if last_of_second:
            lines.append(subtotal_line(row.second, sheet, 2, locale))
        if last_of_first:
            lines.append(subtotal_line(row.first, sheet, 1, locale))
    lines.append(Line("total", (translate(locale, N_("Total")), "", "", points(sheet.rubric.weight),
                                points(sheet.total))))
    grade = translate(locale, sheet.grade.label)
    lines.append(Line("grade", (translate(locale, N_("Grade")), "", "", "", grade)))
    return lines


def indicator_line(row: Row, new_second: bool, new_first: bool, locale: str | None) -> Line:
    """Return a third-level indicator's line; parent names only where the group starts."""
    cells = (name(row.first, locale) if new_first else "", name(row.second, locale) if new_second else "",
             name(row.third, locale), points(row.third.weight), points(row.score))
    return Line("indicator", cells, tuple(step.render(locale) for step in row.steps))


def subtotal_line(node: Node, sheet: ScoreSheet, level: int, locale: str | None) -> Line:
    """Return the subtotal line of a first- or second-level indicator."""
    label = translate(locale, N_("Subtotal {indicator}"), indicator=name(node, locale))
    cells = (label, "", "", points(node.weight), points(sheet.subtotals[node.code]))
    if level == 2:
        cells = ("", label, "", points(node.weight), points(sheet.subtotals[node.code]))
    return Line("subtotal", cells)


def width(text: str) -> int:
    """Return the display width of ``text``: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, size: int) -> str:
    """Pad ``text`` to ``size`` display columns."""
    return text + " " * (size - width(text))


def render_text(sheet: ScoreSheet, locale: str | None) -> str:
    """Return the score sheet as a plain-text table; trace steps continue under the last column."""
    lines = sheet_lines(sheet, locale)
    headers = tuple(translate(locale, h) for h in HEADERS)
    sizes = [max(width(headers[i]), *(width(line.cells[i]) for line in lines)) for i in range(5)]
    out = [title_line(sheet, locale), " | ".join(pad(headers[i], sizes[i]) for i in range(5)) + " | " + headers[5]]
    out.append("-+-".join("-" * s for s in sizes) + "-+-" + "-" * max(8, width(headers[5])))
    for line in lines:
        left = " | ".join(pad(line.cells[i], sizes[i]) for i in range(5)) + " | "
        out.append((left + (line.steps[0] if line.steps else "")).rstrip())
        blank = " | ".join(pad("", sizes[i]) for i in range(5)) + " | "
        out.extend(blank + step for step in line.steps[1:])
    return "\n".join(out) + "\n"


def title_line(sheet: ScoreSheet, locale: str | None) -> str:
    """Return the heading: rubric title and, when given, the project's name."""
    title = translate(locale, sheet.rubric.title)
    project = sheet.project.get("name")
    return f"{title}: {project}" if project else title


def sheet_json(sheet: ScoreSheet, locale: str | None) -> dict[str, object]:
    """Return the score sheet as JSON-ready data, with msgids and rendered text for every step."""
    return {
        "rubric": sheet.rubric.id,
        "title": translate(locale, sheet.rubric.title),
        "project": {k: str(v) for k, v in sheet.project.items()},
        "indicators": [row_json(row, locale) for row in sheet.rows],
        "subtotals": {code: points(value) for code, value in sheet.subtotals.items()},
        "total": points(sheet.total),
        "weight": points(sheet.rubric.weight),
        "grade": {"label": translate(locale, sheet.grade.label), "msgid": sheet.grade.label,
                  "published": sheet.grade.published},
    }


def row_json(row: Row, locale: str | None) -> dict[str, object]:
    """Return one indicator's JSON entry."""
    return {
        "code": row.third.code, "first": name(row.first, locale), "second": name(row.second, locale),
        "third": name(row.third, locale), "weight": points(row.third.weight), "score": points(row.score),
        "trace": [step.as_json(locale) for step in row.steps],
    }
