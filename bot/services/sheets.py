"""Read spreadsheets (.xlsx, .xls, .ods via calamine; .csv in UTF-8 or GBK) into rows of cells."""

from __future__ import annotations

import csv
import datetime as dt
import io
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
    return [[cell for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _read_workbook(raw: bytes, name: str) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        if not workbook.sheet_names:
            raise SheetError(N_("The file {path} is empty."), path=name)
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except SheetError:
        raise
    except Exception:  # calamine raises several unrelated types for a broken file
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
