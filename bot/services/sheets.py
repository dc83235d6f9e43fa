"""Read spreadsheets (.xlsx, .xls, .ods via calamine; .csv in UTF-8 or GBK) into rows of cells, and write
cells safely: every export (xlsx and CSV) goes through ``xlsx_row`` / ``xlsx_cell`` or ``write_csv``.

Formula injection (CWE-1236): a text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is taken as a formula by Excel, WPS and LibreOffice (``=HYPERLINK("http://…","点击查看")`` typed
into the villager form would become a live link in the problem list). So:

- in .xlsx every ``str`` is written as a text cell (openpyxl ``data_type = "s"``, an inline string):
  the text is kept exactly and is never a formula; numbers (negative ones too) stay numbers, so a
  ledger export still re-imports unchanged;
- in CSV, which has no cell types, such a text is prefixed with a single quote ``'`` (the OWASP
  "CSV Injection" advice): spreadsheets show it as text. ``read_rows`` strips that one quote again
  from a CSV cell that starts with ``'`` followed by one of those characters, so our CSV exports
  re-import unchanged too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.i18n import N_

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"


@dataclass
class Issue:
    """One problem in a file: sheet row (1-based), column header, translatable message."""

    row: int | None
    column: str | None
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)


class SheetError(ValueError):
    """The file cannot be read as a table; ``msgid`` and ``params`` are translatable."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params


def _decode_csv(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetError(N_("The file is neither UTF-8 nor GBK text; save it again as CSV or .xlsx."))


def _looks_binary(raw: bytes) -> bool:
    head = raw[:4096]
    return b"\x00" in head


def read_rows(path: Path) -> list[list[Any]]:
    """Return the first sheet as a list of rows; cells are str, float, int, date or None."""
    path = Path(path)
    if not path.exists():
        raise SheetError(N_("File not found: {path}"), path=str(path))
    raw = path.read_bytes()
    if not raw.strip():
        raise SheetError(N_("The file {path} is empty."), path=path.name)
    if raw.startswith(XLSX_MAGIC) or raw.startswith(OLE_MAGIC):
        return _read_workbook(raw, path.name)
    if _looks_binary(raw):
        raise SheetError(N_("{path} is not a spreadsheet: use an .xlsx file or a CSV file."), path=path.name)
    text = _decode_csv(raw)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [[unguard(cell) for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _read_workbook(raw: bytes, name: str) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        if not workbook.sheet_names:
            raise SheetError(N_("The file {path} is empty."), path=name)
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except SheetError:
        raise
    except Exception:  # noqa: BLE001 - calamine raises several unrelated types for a broken file
        raise SheetError(N_("{path} is not a spreadsheet that can be read: open it in Excel and save it again as .xlsx."),
                         path=name) from None
    return [list(row) for row in rows]


def cell_text(value: Any) -> str:
    """Return a cell as trimmed text (numbers without a trailing .0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()[:10]
    return str(value).strip()


def norm_header(value: Any) -> str:
    """Return a header cell normalised: no spaces, full-width brackets made plain."""
    text = cell_text(value)
    for a, b in (("（", "("), ("）", ")"), (" ", ""), ("\u3000", ""), ("\n", ""), ("\t", "")):
        text = text.replace(a, b)
    return text


# --- writing ------------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_GUARD = "'"
CSV_MEDIA = "text/csv; charset=utf-8"


def formula_like(value: Any) -> bool:
    """Whether a spreadsheet would take this value, written as it is, for a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def xlsx_cell(ws: Any, value: Any, *, font: Any = None, alignment: Any = None) -> Any:
    """Return an openpyxl cell for ``ws.append``: a ``str`` is always a text cell, never a formula."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


def xlsx_row(ws: Any, values: Iterable[Any]) -> list[Any]:
    """Return a row for ``ws.append`` with every text written as text (cells already made are kept)."""
    from openpyxl.cell import Cell

    row = []
    for value in values:
        if isinstance(value, Cell):
            if isinstance(value.value, str):
                value.data_type = "s"
            row.append(value)
        elif isinstance(value, str):
            row.append(xlsx_cell(ws, value))
        else:
            row.append(value)
    return row


def csv_text(value: Any) -> str:
    """Return a value as a CSV field: formula-like text gets a leading single quote."""
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        return CSV_GUARD + value if formula_like(value) else value
    return str(value)


def unguard(text: str) -> str:
    """Undo ``csv_text``'s quote: ``'=1`` reads back as ``=1`` (other text is returned as it is)."""
    if text.startswith(CSV_GUARD) and formula_like(text[1:]):
        return text[1:]
    return text


def write_csv(rows: Iterable[Iterable[Any]], out: Any) -> None:
    """Write rows as CSV (UTF-8 with a BOM, which Excel needs to read Chinese) to a path or a binary file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_text(v.value if hasattr(v, "data_type") else v) for v in row])
    data = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    if isinstance(out, (str, Path)):
        Path(out).write_bytes(data)
    else:
        out.write(data)
