"""The asset ledger (台账) in the official layout of seed 000 附件1: validate, import, export.

Import validates every row first and reports every problem at once; with any error nothing
is written. Rows update assets by project code, so a re-import of the same file changes
nothing and an export re-imports unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.i18n import N_
from bot.services import audit
from bot.services.access import require
from bot.services.orgs import county_of, villages_by_name
from bot.services.sheets import (
    Issue,
    SheetError,
    cell_text,
    norm_header,
    read_rows,
    write_csv,
    xlsx_cell,
    xlsx_row,
)
from bot.storage.models import ASSET_TYPES, INDUSTRY_CATEGORIES, Asset, OrgUnit, User


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()


FUND_GROUP = "资金总额（万元）"
FUND_SUBHEADERS = ("合计", "中央", "省", "市", "县", "其他资金")
COLUMNS: tuple[Column, ...] = (
    Column("县市区", "county", aliases=("县(市、区)", "县区", "县(市区)")),
    Column("项目名称", "name", required=True),
    Column("产业类别", "industry_category", "category"),
    Column("合计", "funds_total", "money", True, ("资金总额", "资金总额(万元)", "总投资")),
    Column("中央", "funds_central", "money", True, ("中央资金", "中央财政")),
    Column("省", "funds_province", "money", True, ("省级", "省级资金")),
    Column("市", "funds_city", "money", True, ("市级", "市级资金")),
    Column("县", "funds_county", "money", True, ("县级", "县级资金")),
    Column("其他资金", "funds_other", "money", True, ("其他",)),
    Column("建设性质", "construction_type"),
    Column("建成年度", "year_completed", "year"),
    Column("投产年度", "year_in_production", "year"),
    Column("责任单位", "responsible_unit"),
    Column("建设内容", "construction_content"),
    Column("受益对象", "beneficiaries"),
    Column("绩效目标", "performance_targets"),
    Column("项目编号", "project_code", "code", True),
    Column("乡镇", "township", required=True, aliases=("乡(镇)", "乡镇(街道)")),
    Column("村", "village", required=True, aliases=("村(社区)", "行政村")),
    Column("资产类型", "asset_type", "asset_type", True, ("资产类别",)),
    Column("产权归属", "owner"),
    Column("管护责任人", "custodian", aliases=("管护主体",)),
    Column("经营主体", "operator"),
    Column("合同到期日", "contract_end", "date"),
    Column("经度", "longitude", "lon"),
    Column("纬度", "latitude", "lat"),
)
MONEY_FIELDS = ("funds_total", "funds_central", "funds_province", "funds_city", "funds_county", "funds_other")
SPLIT_FIELDS = MONEY_FIELDS[1:]
ASSET_FIELDS = tuple(c.field for c in COLUMNS if c.field not in ("county", "township", "village")) + ("village_id",)
CATEGORY_ALIASES = {"加工业(含扶贫车间及加工厂房)": "加工业", "扶贫车间": "加工业", "光伏": "光伏扶贫", "电商": "电子商务"}
FIELD_HEADER = {c.field: c.header for c in COLUMNS}


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


# --- header -----------------------------------------------------------------------------------

def _lookup() -> dict[str, Column]:
    table: dict[str, Column] = {}
    for col in COLUMNS:
        for name in (col.header, *col.aliases):
            table.setdefault(norm_header(name), col)
    return table


HEADER_LOOKUP = _lookup()


# --- optional columns for seed 000 三(二)'s thresholds (issue 16) --------------------------------------
# Read when a file has them, written only then (an older file without them changes nothing); not exported.

THRESHOLD_COLUMNS: tuple[Column, ...] = (
    Column("生产区域面积（平方米）", "workshop_area_m2", "area", aliases=("车间面积", "生产区域面积", "车间面积（平方米）")),
    Column("就业人数", "workers", "count", aliases=("吸纳就业人数",)),
    Column("其中脱贫户人数", "poor_workers", "count", aliases=("其中贫困户人数", "带贫人数", "其中贫困人口")),
    Column("投用日期", "in_use_since", "date", aliases=("建成投用日期", "投产日期")),
    Column("光伏收益（万元）", "pv_income", "amount", aliases=("光伏发电收益", "光伏发电收益（万元）")),
    Column("用于公益岗位（万元）", "pv_income_public_jobs", "amount",
           aliases=("用于公益岗位工资", "公益岗位支出（万元）")),
)
for _col in THRESHOLD_COLUMNS:
    for _name in (_col.header, *_col.aliases):
        HEADER_LOOKUP.setdefault(norm_header(_name), _col)


def parse_threshold_cell(column: Column, value: Any) -> Any:
    """Parse an optional threshold column: blank is None; an area or amount is a number ≥ 0, a count whole."""
    text = cell_text(value).replace(",", "").replace("，", "")
    if not text:
        return None
    if column.kind == "date":
        return parse_date(value)
    if not _NUM_RE.match(text) or Decimal(text) < 0 or (column.kind == "count" and "." in text):
        raise CellError(N_("'{value}' is not a number: write digits, e.g. 12.5."), value=text)
    return int(text) if column.kind == "count" else Decimal(text)


def threshold_values(record: dict) -> dict[str, Any]:
    """Return the threshold fields a row of the file gave (only the columns the file has)."""
    return {c.field: record[c.field] for c in THRESHOLD_COLUMNS if c.field in record}


def find_header(rows: list[list[Any]], scan: int = 20) -> tuple[int, dict[int, Column], list[str], int]:
    """Locate the header; return (last header row index, {col index: Column}, unknown headers, header rows).

    Title and 填报单位 rows above are skipped. A two-row header (the fund split merged
    under 资金总额) is read as one: the lower cell names the column where it has text.
    """
    for idx, row in enumerate(rows[:scan]):
        names = [norm_header(c) for c in row]
        if "项目名称" not in names:
            continue
        below = [norm_header(c) for c in rows[idx + 1]] if idx + 1 < len(rows) else []
        two_rows = any(n in FUND_SUBHEADERS for n in below) and "项目名称" not in below
        mapping: dict[int, Column] = {}
        unknown: list[str] = []
        width = max(len(names), len(below))
        for col in range(width):
            top = names[col] if col < len(names) else ""
            low = below[col] if two_rows and col < len(below) else ""
            name = low or top
            if not name:
                continue
            column = HEADER_LOOKUP.get(name)
            if column is None:
                unknown.append(name)
            elif column not in mapping.values():
                mapping[col] = column
        return idx + (1 if two_rows else 0), mapping, unknown, 2 if two_rows else 1
    raise SheetError(N_("No header row with 项目名称 was found in the first {n} rows: is this the asset ledger?"), n=scan)


# --- cell parsing -------------------------------------------------------------------------------

_NUM_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
_DATE_PATTERNS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


class CellError(ValueError):
    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params


def parse_money(value: Any) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal("0")
    if isinstance(value, (int, float)):
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    text = str(value).strip().replace(",", "").replace("，", "")
    if not _NUM_RE.match(text):
        raise CellError(N_("'{value}' is not a number: write the amount in 万元 with digits, e.g. 12.5."), value=text)
    return Decimal(text).quantize(Decimal("0.0001"))


def parse_year(value: Any) -> int | None:
    text = cell_text(value)
    if not text:
        return None
    if not re.fullmatch(r"\d{4}", text) or not 1949 <= int(text) <= 2100:
        raise CellError(N_("'{value}' is not a year: write four digits, e.g. 2022."), value=text)
    return int(text)


def parse_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and 20000 < value < 80000:  # an Excel serial day number
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    text = cell_text(value)
    for pattern in _DATE_PATTERNS:
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise CellError(N_("'{value}' is not a date: write it as 2027-12-31."), value=text)


def parse_coordinate(value: Any, limit: float) -> float | None:
    text = cell_text(value)
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise CellError(N_("'{value}' is not a coordinate: write decimal degrees, e.g. 117.24."), value=text) from None
    if not -limit <= number <= limit:
        raise CellError(N_("{value} is out of range for a coordinate (±{limit})."), value=text, limit=int(limit))
    return round(number, 6)


def parse_cell(column: Column, value: Any) -> Any:
    if column in THRESHOLD_COLUMNS:
        return parse_threshold_cell(column, value)
    if column.kind == "money":
        return parse_money(value)
    if column.kind == "year":
        return parse_year(value)
    if column.kind == "date":
        return parse_date(value)
    if column.kind == "lon":
        return parse_coordinate(value, 180)
    if column.kind == "lat":
        return parse_coordinate(value, 90)
    text = cell_text(value)
    if column.kind == "asset_type":
        if text not in ASSET_TYPES:
            raise CellError(N_("'{value}' is not an asset type: use 公益性, 经营性 or 到户类."), value=text)
        return text
    if column.kind == "category":
        text = CATEGORY_ALIASES.get(norm_header(text), text)
        if text and text not in INDUSTRY_CATEGORIES:
            raise CellError(N_("'{value}' is not an industry category: use one of {choices}."),
                            value=text, choices="、".join(INDUSTRY_CATEGORIES))
        return text or None
    return text or None


# --- validation -----------------------------------------------------------------------------------

def _is_blank(row: list[Any]) -> bool:
    return all(cell_text(c) == "" for c in row)


def _is_total_or_note(row: list[Any]) -> bool:
    first = [cell_text(c) for c in row[:3]]
    return any(t in ("合计", "总计", "小计") for t in first) or (first[0].startswith(("填报说明", "说明", "备注")))


def parse_ledger(rows: list[list[Any]], session: Session, *,
                 progress: Callable[[int, int], None] | None = None) -> tuple[list[dict], ImportResult]:
    """Validate all rows; return the parsed records and a result holding every issue."""
    result = ImportResult()
    header_end, mapping, unknown, _ = find_header(rows)
    for name in unknown:
        result.warnings.append(Issue(header_end + 1, name, N_("Unknown column '{name}' was ignored."), {"name": name}))
    present = set(mapping.values())
    for col in COLUMNS:
        if col.required and col not in present:
            result.errors.append(Issue(header_end + 1, col.header,
                                       N_("Column '{name}' is missing from the header."), {"name": col.header}))
    if result.errors:
        return [], result
    villages = villages_by_name(session)
    county_names = {v.id: county_of(session, v).name for v in villages.values()} if villages else {}
    records: list[dict] = []
    seen_codes: dict[str, int] = {}
    body = rows[header_end + 1:]
    for offset, row in enumerate(body):
        line = header_end + 2 + offset
        if progress and offset % 1000 == 0:
            progress(offset, len(body))
        if _is_blank(row) or _is_total_or_note(row):
            continue
        record, issues = _parse_row(row, line, mapping)
        result.rows += 1
        result.errors.extend(issues)
        if issues:
            continue
        _check_row(record, line, villages, county_names, seen_codes, result)
        records.append(record)
    if progress:
        progress(len(body), len(body))
    if result.rows == 0 and not result.errors:
        result.errors.append(Issue(None, None, N_("The file has a header but no asset rows."), {}))
    return records, result


def _parse_row(row: list[Any], line: int, mapping: dict[int, Column]) -> tuple[dict, list[Issue]]:
    record: dict[str, Any] = {"_line": line}
    issues = []
    for idx, column in mapping.items():
        value = row[idx] if idx < len(row) else None
        try:
            record[column.field] = parse_cell(column, value)
        except CellError as exc:
            issues.append(Issue(line, column.header, exc.msgid, exc.params))
    for column in COLUMNS:
        record.setdefault(column.field, Decimal("0") if column.kind == "money" else None)
        if column.required and column.kind in ("text", "code") and not record[column.field]:
            issues.append(Issue(line, column.header, N_("'{name}' is empty: every asset needs it."),
                                {"name": column.header}))
    return record, issues


def _check_row(record: dict, line: int, villages: dict, county_names: dict, seen_codes: dict,
               result: ImportResult) -> None:
    split = sum((record[f] for f in SPLIT_FIELDS), Decimal("0"))
    if abs(split - record["funds_total"]) > Decimal("0.011"):
        result.errors.append(Issue(line, "合计", N_(
            "The total {total} does not equal the sum of the split {split} (中央+省+市+县+其他资金)."),
            {"total": _fmt(record["funds_total"]), "split": _fmt(split)}))
    village = villages.get((record["township"], record["village"]))
    if village is None:
        result.errors.append(Issue(line, "村", N_(
            "Village '{village}' of township '{township}' is not in the organisation tree: import it first "
            "(villagebot import org) or correct the name."),
            {"village": record["village"], "township": record["township"]}))
    else:
        record["village_id"] = village.id
        if record.get("county") and county_names.get(village.id) not in (None, record["county"]):
            result.errors.append(Issue(line, "县市区", N_("'{value}' is not the county of village '{village}' ({county})."),
                                       {"value": record["county"], "village": record["village"],
                                        "county": county_names[village.id]}))
    code = record["project_code"]
    if code in seen_codes:
        result.errors.append(Issue(line, "项目编号", N_("Project code {code} is used twice (also on row {other})."),
                                   {"code": code, "other": seen_codes[code]}))
    else:
        seen_codes[code] = line


def _fmt(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


# --- writing ----------------------------------------------------------------------------------------

def _asset_values(record: dict) -> dict[str, Any]:
    return {f: record.get(f) for f in ASSET_FIELDS}


def _normalised(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.0001"))
    if isinstance(value, float):
        return round(value, 6)
    return value


def import_ledger(session: Session, actor_user: User | None, path: Path, *, dry_run: bool = False,
                  actor: audit.Actor | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Validate the ledger file and, if it has no error and this is no dry run, write it."""
    if actor_user is not None:
        require(session, actor_user, "asset.import")
    actor = actor or audit.Actor(actor_user.id if actor_user else None,
                                 f"user:{actor_user.id}" if actor_user else "cli")
    records, result = parse_ledger(read_rows(path), session, progress=progress)
    result.dry_run = dry_run
    if actor_user is not None and actor_user.org_unit_id is not None:
        _check_scope(session, actor_user, records, result)
    if result.errors:
        return result
    existing = _existing_by_code(session, [r["project_code"] for r in records])
    inserts, updates, audits = [], [], []
    now = utcnow()
    for record in records:
        values = {**_asset_values(record), **threshold_values(record)}
        current = existing.get(record["project_code"])
        if current is None:
            values.update(public_token=secrets.token_urlsafe(16), created_at=now, updated_at=now, status="active")
            inserts.append(values)
            continue
        before = {k: getattr(current, k) for k in values if _normalised(getattr(current, k)) != _normalised(values[k])}
        if not before:
            result.unchanged += 1
            continue
        after = {k: values[k] for k in before}
        updates.append({"id": current.id, **after, "updated_at": now})
        audits.append(("asset.update", "asset", current.id, before, after))
    result.created, result.updated = len(inserts), len(updates)
    if dry_run:
        return result
    for chunk in _chunks(inserts, 2000):
        session.execute(insert(Asset), chunk)
    if updates:
        session.execute(update(Asset), updates)
    session.flush()
    if inserts:
        created = _ids_by_code(session, [v["project_code"] for v in inserts])
        audits = [("asset.create", "asset", created[v["project_code"]], None, v) for v in inserts] + audits
    if audits:
        audits.append(("ledger.import", "file", Path(path).name, None,
                       {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}))
        audit.record_many(session, actor, audits)
    return result


def _check_scope(session: Session, user: User, records: list[dict], result: ImportResult) -> None:
    from bot.services.access import covers

    for record in records:
        village = session.get(OrgUnit, record.get("village_id")) if record.get("village_id") else None
        if village is not None and not covers(session, user, village):
            result.errors.append(Issue(record["_line"], "村", N_("Village '{village}' is outside your area."),
                                       {"village": record["village"]}))


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _ids_by_code(session: Session, codes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(codes, 900):
        found.update(session.exec(select(Asset.project_code, Asset.id).where(Asset.project_code.in_(chunk))).all())
    return found


def _existing_by_code(session: Session, codes: list[str]) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for chunk in _chunks(codes, 900):
        for asset in session.exec(select(Asset).where(Asset.project_code.in_(chunk))).all():
            found[asset.project_code] = asset
    return found


# --- export -----------------------------------------------------------------------------------------

def export_ledger(session: Session, user: User | None, out: Path, *, county: OrgUnit | None = None,
                  reporting_unit: str | None = None, fmt: str | None = None) -> int:
    """Write the ledger of the county (or the user's whole scope) in the official layout; return rows.

    ``fmt`` is "xlsx" or "csv" (default: from the suffix of a path ``out``, else "xlsx"). Text is always
    written as text, never as a formula (``bot.services.sheets``).
    """
    if fmt is None:
        fmt = "csv" if isinstance(out, (str, Path)) and str(out).lower().endswith(".csv") else "xlsx"
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.cell_range import CellRange

    from bot.services.access import scope_filter

    query = select(Asset, OrgUnit).join(OrgUnit, Asset.village_id == OrgUnit.id)
    if user is not None:
        require(session, user, "export.ledger", county)
        query = query.where(scope_filter(session, user))
    if county is not None:
        query = query.where(OrgUnit.path.like(county.path + "%"))
    query = query.order_by(Asset.project_code)
    townships = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.level == "township")).all()}
    counties = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.level == "county")).all()}

    width = len(COLUMNS)
    title = f"{county.name if county else ''}帮扶项目资产管理台账"
    stamp = utcnow().date()
    unit_line = [None] * width
    unit_line[0] = f"填报单位：{reporting_unit or (county.name if county else '')}"
    unit_line[3] = "单位：万元"
    unit_line[9] = f"填报时间：{stamp.year}年{stamp.month}月{stamp.day}日"
    top = [(FUND_GROUP if col.field == "funds_total" else None) if col.kind == "money" else col.header
           for col in COLUMNS]
    low = [col.header if col.kind == "money" else None for col in COLUMNS]
    count = 0

    def rows():
        nonlocal count
        for asset, village in session.exec(query):
            township = townships.get(village.parent_id)
            county_unit = counties.get(township.parent_id) if township else None
            count += 1
            yield _export_row(asset, village, township, county_unit)

    if fmt == "csv":
        write_csv([[title] + [None] * (width - 1), unit_line, top, low, *rows()], out)
        return count

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    bold = Font(bold=True)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.append([_styled(ws, title, Font(bold=True, size=14), center)] + [None] * (width - 1))
    ws.append(xlsx_row(ws, unit_line))
    ws.append([_styled(ws, value, bold, center) if value or col.kind == "money" else None
               for col, value in zip(COLUMNS, top, strict=True)])
    ws.append([_styled(ws, value, bold, center) if value else None for value in low])
    ws.merged_cells.ranges.add(CellRange(min_col=1, min_row=1, max_col=width, max_row=1))
    fund_cols = [i + 1 for i, c in enumerate(COLUMNS) if c.kind == "money"]
    ws.merged_cells.ranges.add(CellRange(min_col=fund_cols[0], min_row=3, max_col=fund_cols[-1], max_row=3))
    for i, col in enumerate(COLUMNS, start=1):
        if col.kind != "money":
            ws.merged_cells.ranges.add(CellRange(min_col=i, min_row=3, max_col=i, max_row=4))
    for row in rows():
        ws.append(xlsx_row(ws, row))
    wb.save(out)
    return count


def _styled(ws, value, font, alignment):
    return xlsx_cell(ws, value, font=font, alignment=alignment)


def _export_row(asset: Asset, village: OrgUnit, township: OrgUnit | None, county: OrgUnit | None) -> list[Any]:
    row = []
    for col in COLUMNS:
        if col.field == "county":
            row.append(county.name if county else "")
        elif col.field == "township":
            row.append(township.name if township else "")
        elif col.field == "village":
            row.append(village.name)
        else:
            value = getattr(asset, col.field)
            if isinstance(value, Decimal):
                value = float(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            row.append(value)
    return row
