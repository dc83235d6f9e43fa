"""Write a ScoreSheet to .xlsx (openpyxl) in the published layout, with subtotals, total and grade."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from bot.i18n import N_, translate
from bot.scoring.engine import ScoreSheet
from bot.scoring.sheet import HEADERS, sheet_lines, title_line
from bot.services.sheets import xlsx_row

COLUMN_WIDTHS = (22, 24, 30, 8, 8, 90)


def write_xlsx(sheet: ScoreSheet, path: str | Path, locale: str | None) -> None:
    """Save the score sheet to ``path``: a title row, the header row, then one row per sheet line."""
    book = Workbook()
    ws = book.active
    ws.title = translate(locale, N_("Score sheet"))[:31]
    ws.append(xlsx_row(ws, [title_line(sheet, locale)]))
    ws.append(xlsx_row(ws, [translate(locale, h) for h in HEADERS]))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for line in sheet_lines(sheet, locale):
        ws.append(xlsx_row(ws, [*(number_or_text(c) for c in line.cells), "\n".join(line.steps)]))
        if line.kind != "indicator":
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
        ws.cell(ws.max_row, 6).alignment = Alignment(wrap_text=True, vertical="top")
    for index, size in enumerate(COLUMN_WIDTHS):
        ws.column_dimensions[chr(ord("A") + index)].width = size
    book.save(str(path))


def number_or_text(cell: str) -> float | str:
    """Store weights and scores as numbers so spreadsheets can add them up."""
    try:
        return float(cell) if cell else cell
    except ValueError:
        return cell
