"""The asset ledger (台账) in the official layout of seed 000 附件1: validate, import, export.

Import validates every row first and reports every problem at once; with any error nothing
is written. Rows update assets by project code, so a re-import of the same file changes
nothing and an export re-imports unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, select
from sqlmodel import col as column_of

from bot.clock import utcnow
from bot.i18n import N_
from bot.services import audit
from bot.services.access import may, require, require_asset
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
from bot.storage.models_ledger import AssetFundsYear


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
# An optional column naming the ledger year of each row (a file holding several years' ledgers).
YEAR_COLUMN = Column("年度", "ledger_year", "year", aliases=("资金年度", "台账年度", "项目年度"))
# Header cells that group the fund columns (seed 000 附件1: 资金总额 over 合计 | 财政专项扶贫资金 over
# 中央/省/市/县 | 其他资金); they name no column themselves.
FUND_GROUPS = frozenset({"资金总额", "资金总额(万元)", "财政专项扶贫资金", "财政专项扶贫资金(万元)", "财政资金",
                         "财政衔接资金", "财政衔接推进乡村振兴补助资金"})
FINANCE_GROUP = "财政专项扶贫资金"
TITLE_SUFFIX = "产业扶贫项目管理台账"
MONEY_FIELDS = ("funds_total", "funds_central", "funds_province", "funds_city", "funds_county", "funds_other")
SPLIT_FIELDS = MONEY_FIELDS[1:]
ASSET_FIELDS = tuple(c.field for c in COLUMNS if c.field not in ("county", "township", "village")) + ("village_id",)
CATEGORY_ALIASES = {"加工业(含扶贫车间及加工厂房)": "加工业", "扶贫车间": "加工业", "光伏": "光伏扶贫", "电商": "电子商务"}
FIELD_HEADER = {c.field: c.header for c in COLUMNS}


@dataclass
class Change:
    """What an import does to one asset: ``kind`` "create" or "update"; ``fields`` (header, before, after)."""

    line: int
    code: str
    name: str
    kind: str
    village: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    dry_run: bool = False
    year: int | None = None
    changes: list[Change] = field(default_factory=list)
    fingerprint: str = ""
    columns: set[str] = field(default_factory=set)  # the fields the file has a column for

    @property
    def ok(self) -> bool:
        return not self.errors


# --- header -----------------------------------------------------------------------------------

def _lookup() -> dict[str, Column]:
    table: dict[str, Column] = {}
    for col in (*COLUMNS, YEAR_COLUMN):
        for name in (col.header, *col.aliases):
            table.setdefault(norm_header(name), col)
    return table


HEADER_LOOKUP = _lookup()


def _header_below(row: list[Any]) -> bool:
    """Whether a row under the 项目名称 row continues the header (the fund group's lower rows)."""
    names = [norm_header(c) for c in row]
    if "项目名称" in names or any(isinstance(c, (int, float)) and not isinstance(c, bool) for c in row):
        return False
    return any(n in FUND_SUBHEADERS or n in FUND_GROUPS for n in names)
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


# --- optional columns of the contract and the owners (issue 17; bot.services.contracts) --------------------------
# Read when a file has them and written on export. With an operator (经营主体) and any of these, a row creates or
# changes the asset's current contract (合同到期日 too, once the asset has one); 占股比例 sets its owners and shares.

CONTRACT_COLUMNS: tuple[Column, ...] = (
    Column("合同起始日", "contract_start", "date", aliases=("合同开始日期", "合同起始日期", "合同开始日", "合同签订日期")),
    Column("经营方式", "mode", "mode", aliases=("经营模式",)),
    Column("年收益（万元）", "income_amount", "amount", aliases=("年收益", "年租金（万元）", "年租金", "年收益金额（万元）")),
    Column("收益约定", "income_terms", aliases=("收益分配约定", "租金约定", "收益约定（租金）")),
    Column("带贫机制", "poverty_mechanism", aliases=("带贫减贫机制", "联农带农机制")),
    Column("风险防控", "risk_terms", aliases=("风险防控措施",)),
    Column("占股比例", "ownership_shares", "shares", aliases=("各产权主体占股比例", "产权占股比例", "股权比例")),
)
CONTRACT_FACTS = ("contract_end", "contract_start", "mode", "income_amount", "income_terms", "poverty_mechanism",
                  "risk_terms")
for _col in CONTRACT_COLUMNS:
    for _name in (_col.header, *_col.aliases):
        HEADER_LOOKUP.setdefault(norm_header(_name), _col)
    FIELD_HEADER[_col.field] = _col.header


EXPORT_COLUMNS = COLUMNS + CONTRACT_COLUMNS  # what the export writes


def parse_contract_cell(column: Column, value: Any) -> Any:
    """Parse an optional contract column: a date, a 经营方式 (its key), a yearly amount, shares (checked to sum
    to 100 %), or text; blank is None."""
    from bot.services import contracts

    if column.kind == "date":
        return parse_date(value)
    if column.kind == "text":
        return cell_text(value) or None
    try:
        if column.kind == "mode":
            return contracts.parse_mode(cell_text(value))
        if column.kind == "amount":
            return contracts.parse_amount(value if isinstance(value, (int, float)) else cell_text(value))
        return contracts.parse_shares(cell_text(value)) or None
    except contracts.ContractError as exc:
        raise CellError(exc.msgid, **exc.params) from None


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

    Title and 填报单位 rows above are skipped. The header may span one, two or three rows: seed 000
    附件1 puts 资金总额 over 合计 | 财政专项扶贫资金 | 其他资金, and 财政专项扶贫资金 over 中央/省/市/县, in
    merged cells (a merged cell's text is in its first cell only). Each column is named by the lowest
    header cell with text; a group's own cell names no column.
    """
    for idx, row in enumerate(rows[:scan]):
        names = [norm_header(c) for c in row]
        if "项目名称" not in names:
            continue
        header = [names]
        while len(header) < 3 and idx + len(header) < len(rows) and _header_below(rows[idx + len(header)]):
            header.append([norm_header(c) for c in rows[idx + len(header)]])
        mapping: dict[int, Column] = {}
        unknown: list[str] = []
        width = max(len(r) for r in header)
        for col in range(width):
            cells = [r[col] for r in header if col < len(r) and r[col]]
            name = cells[-1] if cells else ""
            if not name:
                continue
            column = HEADER_LOOKUP.get(name)
            if column is None:
                if name not in FUND_GROUPS:
                    unknown.append(name)
            elif column not in mapping.values():
                mapping[col] = column
        return idx + len(header) - 1, mapping, unknown, len(header)
    raise SheetError(N_("No header row with 项目名称 was found in the first {n} rows: is this the asset ledger?"), n=scan)


# The title of a year's project ledger (seed 000 附件1: "**县（市、区）**年度产业扶贫项目管理台账"). A cumulative
# asset ledger ("桃源县2026年度帮扶项目资产管理台账") lists every asset with all its funds: it names no fund year.
_TITLE_YEAR = re.compile(r"((?:19|20)\d{2})\s*年度\S*?项目管理台账")


def title_year(rows: list[list[Any]], header_start: int) -> int | None:
    """Return the year of a year's project ledger from its title ("**县2020年度产业扶贫项目管理台账"), or None."""
    for row in rows[:header_start]:
        for cell in row:
            match = _TITLE_YEAR.search(cell_text(cell))
            if match:
                return int(match.group(1))
    return None


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
    if column in CONTRACT_COLUMNS:
        return parse_contract_cell(column, value)
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
    header_end, mapping, unknown, depth = find_header(rows)
    result.year = title_year(rows, header_end - depth + 1)
    for name in unknown:
        result.warnings.append(Issue(header_end + 1, name, N_("Unknown column '{name}' was ignored."), {"name": name}))
    present = set(mapping.values())
    result.columns = {c.field for c in present}
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
        if cell_text(row[0] if row else "").startswith("填报说明"):
            break  # the template's notes (填报说明：1.… 2.… 3.…) close the table
        if _is_blank(row) or _is_total_or_note(row):
            continue
        record, issues = _parse_row(row, line, mapping)
        if record.get("ledger_year") is None:
            record["ledger_year"] = result.year
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
            "Village '{village}' of township '{township}' is not in the organisation tree: correct the name, or add "
            "the village to the tree first."),
            {"village": record["village"], "township": record["township"]}))
    else:
        record["village_id"] = village.id
        if record.get("county") and county_names.get(village.id) not in (None, record["county"]):
            result.errors.append(Issue(line, "县市区", N_("'{value}' is not the county of village '{village}' ({county})."),
                                       {"value": record["county"], "village": record["village"],
                                        "county": county_names[village.id]}))
    # A cross-year project may be on one row per year (seed 000 附件1, 填报说明2), never twice in one year.
    key = (record["project_code"], record.get("ledger_year"))
    if key in seen_codes:
        result.errors.append(Issue(line, "项目编号", N_("Project code {code} is used twice (also on row {other})."),
                                   {"code": key[0], "other": seen_codes[key]}))
    else:
        seen_codes[key] = line


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


def _money(source: Any) -> dict[str, Decimal]:
    """The six amounts of a record (dict) or a row (object), quantised to 0.0001 万元."""
    get = source.get if isinstance(source, dict) else (lambda f: getattr(source, f))
    return {f: _normalised(Decimal(str(get(f) or 0))) for f in MONEY_FIELDS}


def _sum(amounts: Iterable[dict[str, Decimal]]) -> dict[str, Decimal]:
    total = {f: Decimal("0.0000") for f in MONEY_FIELDS}
    for row in amounts:
        for f in MONEY_FIELDS:
            total[f] += row[f]
    return total


def words(value: Any) -> str:
    """A stored value as people read it: amounts without trailing zeros, dates as 2027-12-31, empty as —."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict) and "funds_total" in value:
        value = value["funds_total"]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (Decimal, str)) and _NUM_RE.match(str(value)) and "." in str(value):
        text = format(Decimal(str(value)).normalize(), "f")
        return text
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


def funds_by_year(session: Session, asset_ids: list[int]) -> dict[int, dict[int, AssetFundsYear]]:
    """Return {asset id: {year: its funds that year}} for the assets that have ledger years."""
    found: dict[int, dict[int, AssetFundsYear]] = {}
    for chunk in _chunks(asset_ids, 900):
        for row in session.exec(select(AssetFundsYear).where(column_of(AssetFundsYear.asset_id).in_(chunk))).all():
            found.setdefault(row.asset_id, {})[row.year] = row
    return found


def _group(records: list[dict], result: ImportResult) -> list[tuple[dict, list[dict]]]:
    """Records by project code in file order: (the row whose other fields count, the rows with a year)."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["project_code"], []).append(record)
    out = []
    for rows in groups.values():
        dated = [r for r in rows if r.get("ledger_year") is not None]
        if dated and len(dated) != len(rows):
            for r in rows:
                if r.get("ledger_year") is None:
                    result.errors.append(Issue(r["_line"], YEAR_COLUMN.header, N_(
                        "The year is empty, but other rows of project {code} name theirs: write the year of "
                        "this row's funds."), {"code": r["project_code"]}))
        base = max(rows, key=lambda r: (r.get("ledger_year") or 0, r["_line"]))
        out.append((base, dated))
    return out


def _change_fields(before: dict, after: dict) -> list[tuple[str, str, str]]:
    fields = []
    for key in after:
        if key.startswith("funds_year_"):
            label = f"{key.removeprefix('funds_year_')}年度资金"
        else:
            label = FIELD_HEADER.get(key, "村" if key == "village_id" else key)
        fields.append((label, words(before.get(key)), words(after.get(key))))
    return fields


def import_ledger(session: Session, actor_user: User | None, path: Path, *, dry_run: bool = False,
                  actor: audit.Actor | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  expect: str | None = None, source_name: str | None = None) -> ImportResult:
    """Validate the ledger file and, if it has no error and this is no dry run, write it.

    ``result.changes`` says what would be (or was) added and changed, ``result.fingerprint`` sums it up:
    with ``expect`` (the fingerprint of an earlier dry run) nothing is written unless the file would
    still do exactly that (the web's confirm applies what its preview showed, or nothing).
    """
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
    groups = _group(records, result)
    if result.errors:
        return result
    existing = _existing_by_code(session, [base["project_code"] for base, _ in groups])
    years = funds_by_year(session, [a.id for a in existing.values() if a.id is not None])
    held = _contracts_held(session, [a.id for a in existing.values() if a.id is not None])
    inserts, updates, audits = [], [], []
    year_writes: list[tuple[str, int, int, dict[str, Decimal]]] = []
    contract_writes: list[tuple[str, bool, dict[str, Any]]] = []
    share_writes: list[tuple[str, list[tuple[str, Decimal]]]] = []
    now = utcnow()
    for base, dated in groups:
        code = base["project_code"]
        values = {**_asset_values(base), **threshold_values(base)}
        current = existing.get(code)
        old_years = years.get(current.id, {}) if current is not None and current.id is not None else {}
        later_kept = bool(dated) and current is not None and max(old_years, default=0) > max(
            r["ledger_year"] for r in dated)
        contract_fields: list[tuple[str, str, str]] = []
        if not later_kept:
            contract_fields = _plan_contract(base, result, values, held.get(current.id) if current else None,
                                             contract_writes, share_writes)
        year_before: dict[str, Any] = {}
        year_after: dict[str, Any] = {}
        if dated:
            merged = {y: _money(row) for y, row in old_years.items()}
            for r in dated:
                merged[r["ledger_year"]] = _money(r)
                year_writes.append((code, r["ledger_year"], r["_line"], _money(r)))
                old = old_years.get(r["ledger_year"])
                if old is None or _money(old) != _money(r):
                    year_before[f"funds_year_{r['ledger_year']}"] = _money(old) if old is not None else None
                    year_after[f"funds_year_{r['ledger_year']}"] = _money(r)
            values.update(_sum(merged.values()))
            if current is not None and max(old_years, default=0) > max(r["ledger_year"] for r in dated):
                # An earlier year's ledger brings that year's funds; the later ledger's facts stay.
                values.update({k: getattr(current, k) for k in values if k not in MONEY_FIELDS})
        elif old_years and _money(values) != _sum(_money(r) for r in old_years.values()):
            result.errors.append(Issue(base["_line"], "合计", N_(
                "The funds of project {code} are kept by year ({years}): import the ledger of the year (its title "
                "says 2021年度, or a column 年度) instead of changing the sum."),
                {"code": code, "years": "、".join(str(y) for y in sorted(old_years))}))
            continue
        place = f"{base['township']} {base['village']}"
        if current is None:
            values.update(public_token=secrets.token_urlsafe(16), created_at=now, updated_at=now, status="active")
            inserts.append(values)
            result.changes.append(Change(base["_line"], code, values["name"], "create", place))
            continue
        before = {k: getattr(current, k) for k in values if _normalised(getattr(current, k)) != _normalised(values[k])}
        if not before and not year_after and not contract_fields:
            result.unchanged += 1
            continue
        after = {k: values[k] for k in before}
        if before:
            updates.append({"id": current.id, **after, "updated_at": now})
        audit_before, audit_after = {**before, **year_before}, {**after, **year_after}
        if audit_after:
            audits.append(("asset.update", "asset", current.id, audit_before, audit_after))
        shown = _change_fields(audit_before, audit_after)
        shown += [f for f in contract_fields if f[0] not in {label for label, _, _ in shown}]
        result.changes.append(Change(base["_line"], code, values["name"], "update", place, shown))
    if result.errors:
        return result
    result.created = len(inserts)
    result.updated = len(result.changes) - len(inserts)
    result.fingerprint = _fingerprint(inserts, updates, year_writes, contract_writes, share_writes)
    if expect is not None and expect != result.fingerprint:
        result.errors.append(Issue(None, None, N_(
            "The ledger has changed since this file was checked, so nothing was written: check the changes "
            "again before confirming."), {}))
        return result
    if dry_run:
        return result
    for chunk in _chunks(inserts, 2000):
        session.execute(insert(Asset), chunk)
    if updates:
        session.execute(update(Asset), updates)
    session.flush()
    created: dict[str, int] = {}
    if inserts:
        created = _ids_by_code(session, [v["project_code"] for v in inserts])
        audits = [("asset.create", "asset", created[v["project_code"]], None,
                   {**v, **{f"funds_year_{y}": m for c, y, _, m in year_writes if c == v["project_code"]}})
                  for v in inserts] + audits
    ids = {**{c: a.id for c, a in existing.items()}, **created}
    _write_years(session, year_writes, ids, years)
    audits += _write_contracts(session, actor, ids, contract_writes, share_writes, now)
    if audits:
        audits.append(("ledger.import", "file", source_name or Path(path).name, None,
                       {"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                        "year": result.year}))
        audit.record_many(session, actor, audits)
    return result


# --- the contract and the owners of a row (issue 17) ----------------------------------------------------------

@dataclass
class _Held:
    """An asset's current contract and owners' shares, as the import compares them."""

    contract: Any = None
    shares: list = field(default_factory=list)


def _contracts_held(session: Session, asset_ids: list[int]) -> dict[int, _Held]:
    from bot.storage.models_contract import AssetContract, AssetOwnerShare

    held: dict[int, _Held] = {}
    for chunk in _chunks(asset_ids, 900):
        for contract in session.exec(select(AssetContract).where(column_of(AssetContract.asset_id).in_(chunk),
                                                                 column_of(AssetContract.current).is_(True))
                                     .order_by(AssetContract.id)).all():
            held.setdefault(contract.asset_id, _Held()).contract = contract
        for share in session.exec(select(AssetOwnerShare).where(column_of(AssetOwnerShare.asset_id).in_(chunk))
                                  .order_by(AssetOwnerShare.position, AssetOwnerShare.id)).all():
            held.setdefault(share.asset_id, _Held()).shares.append((share.owner, _normalised(Decimal(share.share))))
    return held


def _contract_words(key: str, value: Any) -> str:
    from bot.services.contracts import MODE_WORDS

    return MODE_WORDS.get(value, words(value)) if key == "mode" else words(value)


def _plan_contract(record: dict, result: ImportResult, values: dict[str, Any], held: _Held | None,
                   contract_writes: list, share_writes: list) -> list[tuple[str, str, str]]:
    """What a row does to the asset's contract and owners; return the changes in words (header, before, after).

    A row that names an operator and any contract fact makes it the asset's contract: a new one when there was
    none or the operator changed (the old one stays as history), else the current one changed. A column the
    file lacks keeps the contract's value. A row without contract facts leaves a contract on record as it is
    (a blank never ends a contract; the asset's page does) and the asset's operator and dates stay the
    contract's. 占股比例, when given, replaces the owners; a blank cell keeps them.
    """
    from bot.services.contracts import AUDIT_NAMES, CONTRACT_FIELDS

    columns = result.columns
    code = record["project_code"]
    contract = held.contract if held is not None else None
    shown: list[tuple[str, str, str]] = []
    names = {v: k for k, v in AUDIT_NAMES.items()}  # ledger field → contract field
    # 合同到期日 alone (the older layout) keeps to the asset's own fields until the asset has a contract record:
    # so an older file, or the export of an asset without one, re-imports unchanged.
    new_facts = any(record.get(f) not in (None, "") for f in CONTRACT_FACTS[1:] if f in columns)
    has_facts = new_facts or (contract is not None and "contract_end" in columns and record.get("contract_end"))
    operator = (record.get("operator") or "").strip() if "operator" in columns else (
        contract.operator if contract is not None else "")
    if operator and has_facts:
        wanted: dict[str, Any] = {}
        for ledger_field, contract_field in names.items():
            if ledger_field == "operator":
                wanted["operator"] = operator
            elif ledger_field in columns:
                wanted[contract_field] = record.get(ledger_field)
            else:
                wanted[contract_field] = getattr(contract, contract_field) if contract is not None else None
        if wanted["start"] and wanted["end"] and wanted["end"] < wanted["start"]:
            result.errors.append(Issue(record["_line"], "合同到期日", N_(
                "The contract ends ({end}) before it starts ({start})."),
                {"end": wanted["end"].isoformat(), "start": wanted["start"].isoformat()}))
            return []
        new = contract is None or contract.operator != operator
        old = {f: (getattr(contract, f) if contract is not None else None) for f in CONTRACT_FIELDS}
        changed = [f for f in CONTRACT_FIELDS if _normalised(old[f]) != _normalised(wanted[f])]
        if new or changed:
            contract_writes.append((code, new, wanted))
            shown += [(FIELD_HEADER.get(AUDIT_NAMES[f], f), _contract_words(f, old[f]), _contract_words(f, wanted[f]))
                      for f in (CONTRACT_FIELDS if new else changed) if old[f] is not None or wanted[f] is not None]
    elif contract is not None:
        values.update(operator=contract.operator, contract_end=contract.end)
        if {"contract_end", "contract_start"} & columns or (operator and operator != contract.operator):
            result.warnings.append(Issue(record["_line"], "合同到期日", N_(
                "The row gives no contract, but the asset has one on record (with {operator}, to {end}): it stays. "
                "Change or end it on the asset's contract page."),
                {"operator": contract.operator, "end": words(contract.end)}))
    shares = record.get("ownership_shares") if "ownership_shares" in columns else None
    if shares:
        wanted_shares = [(owner, _normalised(share)) for owner, share in shares]
        if wanted_shares != (held.shares if held is not None else []):
            from bot.services.contracts import format_shares

            share_writes.append((code, wanted_shares))
            shown.append(("占股比例", format_shares(held.shares) if held is not None and held.shares else "—",
                          format_shares(wanted_shares)))
    return shown


def _write_contracts(session: Session, actor: audit.Actor, ids: dict[str, int | None], contract_writes: list,
                     share_writes: list, now: dt.datetime) -> list[tuple]:
    """Write the rows' contracts and owners (after the assets); return their audit entries."""
    from bot.services import contracts

    entries: list[tuple] = []
    for code, new, wanted in contract_writes:
        asset = session.get(Asset, ids[code])
        assert asset is not None
        contract, action, before, after = contracts.write_contract(
            session, asset, wanted, new=new, actor=actor, user_id=actor.user_id, now=now, record=False, settle=False)
        if action:
            entries.append((action, "asset", asset.id, before or None, {"contract_id": contract.id, **after}))
    for code, shares in share_writes:
        asset = session.get(Asset, ids[code])
        assert asset is not None
        before = asset.ownership_shares
        if contracts.write_shares(session, asset, shares, actor=actor, record=False):
            entries.append(("owners.set", "asset", asset.id, {"ownership_shares": before},
                            {"ownership_shares": asset.ownership_shares}))
    return entries


def _fingerprint(inserts: list[dict], updates: list[dict], year_writes: list, contract_writes: list,
                 share_writes: list) -> str:
    plain = [[{k: v for k, v in row.items() if k not in ("public_token", "created_at", "updated_at")}
              for row in inserts],
             [{k: v for k, v in row.items() if k != "updated_at"} for row in updates],
             year_writes, contract_writes, share_writes]
    text = json.dumps(audit.jsonable(plain), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_years(session: Session, writes: list, ids: dict[str, int | None],
                 old: dict[int, dict[int, AssetFundsYear]]) -> None:
    for code, year, position, money in writes:
        asset_id = ids[code]
        assert asset_id is not None
        row = old.get(asset_id, {}).get(year)
        if row is None:
            session.add(AssetFundsYear(asset_id=asset_id, year=year, position=position, **money))
        elif row.position != position or _money(row) != money:
            row.position = position
            for key, value in money.items():
                setattr(row, key, value)
            session.add(row)
    session.flush()


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


# --- editing one asset and its history -------------------------------------------------------------

ASSET_STATUSES = {"active": N_("In use (checked every month)"), "disposed": N_("Disposed (no more checks)")}
EDITABLE_FIELDS = ("name", "asset_type", "industry_category", "construction_type", "year_completed",
                   "year_in_production", "responsible_unit", "construction_content", "beneficiaries",
                   "performance_targets", "owner", "custodian", "operator", "contract_end", "longitude", "latitude",
                   *MONEY_FIELDS)
COLUMN_OF = {c.field: c for c in COLUMNS}
MAX_LENGTH = {"name": 200, "construction_type": 32, "responsible_unit": 200, "owner": 200, "custodian": 200,
              "operator": 200}


def edit_asset(session: Session, user: User, asset_id: int, form: dict[str, str]) -> tuple[dict, list[Issue]]:
    """Change the fields of one asset an officer may edit; return ({field: (before, after)}, issues).

    Fields missing from ``form`` stay as they are; the funds of an asset kept by year are changed by
    importing that year's ledger, not here. With any issue nothing changes; a change is audited
    (``asset.update`` with every field's value before and after).
    """
    asset = require_asset(session, user, "asset.edit", asset_id)
    by_year = bool(funds_by_year(session, [asset_id]))
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    for name in EDITABLE_FIELDS:
        if name not in form or (by_year and name in MONEY_FIELDS):
            continue
        column = COLUMN_OF[name]
        raw = str(form[name]).strip()
        if name in MAX_LENGTH and len(raw) > MAX_LENGTH[name]:
            issues.append(Issue(None, column.header, N_("'{name}' is too long: at most {n} characters."),
                                {"name": column.header, "n": MAX_LENGTH[name]}))
            continue
        try:
            values[name] = parse_cell(column, raw)
        except CellError as exc:
            issues.append(Issue(None, column.header, exc.msgid, exc.params))
            continue
        if column.required and column.kind == "text" and not values[name]:
            issues.append(Issue(None, column.header, N_("'{name}' is empty: every asset needs it."),
                                {"name": column.header}))
    if "status" in form:
        if form["status"] in ASSET_STATUSES:
            values["status"] = form["status"]
        else:
            issues.append(Issue(None, None, N_("Choose the asset's status from the list."), {}))
    if not by_year and any(f in values for f in MONEY_FIELDS):
        amounts = {f: values.get(f, getattr(asset, f)) for f in MONEY_FIELDS}
        split = sum((amounts[f] for f in SPLIT_FIELDS), Decimal("0"))
        if abs(split - amounts["funds_total"]) > Decimal("0.011"):
            issues.append(Issue(None, "合计", N_(
                "The total {total} does not equal the sum of the split {split} (中央+省+市+县+其他资金)."),
                {"total": _fmt(amounts["funds_total"]), "split": _fmt(split)}))
    if issues:
        return {}, issues
    changed = {k: (getattr(asset, k), v) for k, v in values.items() if _normalised(getattr(asset, k)) != _normalised(v)}
    if not changed:
        return {}, []
    for key, (_, after) in changed.items():
        setattr(asset, key, after)
    asset.updated_at = utcnow()
    session.add(asset)
    audit.record(session, audit.Actor(user.id, f"user:{user.id}"), "asset.update", "asset", asset.id,
                 {k: b for k, (b, _) in changed.items()}, {k: a for k, (_, a) in changed.items()})
    return changed, []


@dataclass
class HistoryEntry:
    """One audited change of an asset: when, who, what (a msgid), and each field (its key) from → to, in words."""

    at: dt.datetime
    who: str | None
    actor: str
    action: str
    fields: list[tuple[str, str, str]]


ACTION_LABELS = {"asset.create": N_("Entered in the ledger"), "asset.update": N_("Changed"),
                 "contract.create": N_("Contract registered"), "contract.update": N_("Contract changed"),
                 "contract.change": N_("New contract (the previous one ended)"),
                 "contract.attach": N_("File of the signed contract added"),
                 "owners.set": N_("Owners and shares set")}
# Actions whose entry lists the fields it changed (the others say what happened in their label).
FIELD_ACTIONS = ("asset.update", "contract.create", "contract.update", "contract.change", "owners.set")


def asset_history(session: Session, user: User, asset_id: int) -> list[HistoryEntry]:
    """The audit log of one asset, newest first (the user must see the asset)."""
    from bot.storage.models import AuditEntry

    require_asset(session, user, "asset.view", asset_id)
    rows = session.exec(select(AuditEntry).where(AuditEntry.entity == "asset", AuditEntry.entity_id == str(asset_id))
                        .order_by(column_of(AuditEntry.id).desc())).all()
    people = {u.id: u.name for u in session.exec(
        select(User).where(column_of(User.id).in_({r.actor_user_id for r in rows if r.actor_user_id}))).all()}
    entries = []
    for row in rows:
        changed = {k: v for k, v in (row.after or {}).items() if k != "contract_id"} \
            if row.action in FIELD_ACTIONS else {}
        fields = [(key, words((row.before or {}).get(key)), words(changed.get(key))) for key in changed]
        entries.append(HistoryEntry(row.at, people.get(row.actor_user_id) if row.actor_user_id else None,
                                    row.actor, ACTION_LABELS.get(row.action, N_("Other change")), fields))
    return entries


# --- export -----------------------------------------------------------------------------------------

WIDTHS = {"county": 10, "name": 28, "industry_category": 10, "construction_type": 10, "year_completed": 9,
          "year_in_production": 9, "responsible_unit": 16, "construction_content": 30, "beneficiaries": 24,
          "performance_targets": 30, "project_code": 16, "township": 10, "village": 10, "asset_type": 9,
          "owner": 18, "custodian": 16, "operator": 18, "contract_end": 12, "longitude": 12, "latitude": 12,
          "contract_start": 12, "mode": 10, "income_amount": 11, "income_terms": 24, "poverty_mechanism": 24,
          "risk_terms": 20, "ownership_shares": 28}


def ledger_years(session: Session, user: User | None, unit: OrgUnit | None = None) -> list[int]:
    """The ledger years held for the assets the user may export (newest first)."""
    from bot.services.access import scope_filter

    query = (select(AssetFundsYear.year).join(Asset, column_of(Asset.id) == AssetFundsYear.asset_id)
             .join(OrgUnit, column_of(Asset.village_id) == OrgUnit.id).distinct())
    if user is not None:
        query = query.where(scope_filter(session, user))
    if unit is not None:
        query = query.where(column_of(OrgUnit.path).like(unit.path + "%"))
    return sorted(session.exec(query).all(), reverse=True)


def _title_county(session: Session, user: User | None, unit: OrgUnit | None, query) -> OrgUnit | None:
    if unit is not None:
        return county_of(session, unit) if unit.level != "county" else unit
    if user is not None and user.org_unit_id is not None:
        own = session.get(OrgUnit, user.org_unit_id)
        return county_of(session, own) if own is not None and own.level != "county" else own
    townships = set(session.execute(query.with_only_columns(OrgUnit.parent_id).distinct().order_by(None))
                    .scalars().all())
    counties = set(session.exec(select(OrgUnit.parent_id).where(column_of(OrgUnit.id).in_(townships))).all()) \
        if townships else set()
    return session.get(OrgUnit, counties.pop()) if len(counties) == 1 else None


def export_ledger(session: Session, user: User | None, out: Path, *, county: OrgUnit | None = None,
                  reporting_unit: str | None = None, fmt: str | None = None, year: int | None = None) -> int:
    """Write the ledger of a unit (or the user's whole scope) in the layout of seed 000 附件1; return rows.

    The title names the county and, with ``year``, the year ("桃源县2020年度产业扶贫项目管理台账"); the
    header spans three rows (资金总额 over 合计 | 财政专项扶贫资金 over 中央/省/市/县 | 其他资金, merged);
    a 合计 row closes the table. With ``year`` the rows are the assets of that year's ledger with that
    year's funds, in the order of the imported file; without, every asset with its funds of all years.
    ``county`` may be any unit (a township exports its own). ``fmt`` is "xlsx" or "csv" (default: from the
    suffix of a path ``out``, else "xlsx"). Text is always written as text, never as a formula.
    """
    if fmt is None:
        fmt = "csv" if isinstance(out, (str, Path)) and str(out).lower().endswith(".csv") else "xlsx"
    from bot.services.access import scope_filter

    query = select(Asset, OrgUnit).join(OrgUnit, column_of(Asset.village_id) == OrgUnit.id)
    if user is not None:
        require(session, user, "export.ledger", county)
        query = query.where(scope_filter(session, user))
    if county is not None:
        query = query.where(column_of(OrgUnit.path).like(county.path + "%"))
    title_unit = _title_county(session, user, county, query)
    if year is not None:
        query = (query.add_columns(AssetFundsYear).join(AssetFundsYear, column_of(AssetFundsYear.asset_id) == Asset.id)
                 .where(AssetFundsYear.year == year).order_by(AssetFundsYear.position, Asset.id))
    else:
        query = query.order_by(Asset.id)
    townships = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.level == "township")).all()}
    held = _current_contracts(session)
    counties = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.level == "county")).all()}

    width = len(EXPORT_COLUMNS)
    county_name = title_unit.name if title_unit is not None else ""
    title = f"{county_name}{year}年度{TITLE_SUFFIX}" if year is not None else f"{county_name}{TITLE_SUFFIX}"
    stamp = utcnow().date()
    unit_line: list[Any] = [None] * width
    unit_line[0] = f"填报单位：{reporting_unit or (county.name if county is not None else county_name)}"
    unit_line[3] = "单位：万元"
    unit_line[9] = f"填报时间：{stamp.year}年{stamp.month}月{stamp.day}日"
    fund_cols = [i for i, c in enumerate(EXPORT_COLUMNS) if c.kind == "money"]
    first, last = fund_cols[0], fund_cols[-1]
    top = [FUND_GROUP if i == first else None if c.kind == "money" else c.header for i, c in enumerate(EXPORT_COLUMNS)]
    middle: list[Any] = [None] * width
    middle[first], middle[first + 1], middle[last] = "合计", FINANCE_GROUP, "其他资金"
    low: list[Any] = [None] * width
    for i in range(first + 1, last):
        low[i] = EXPORT_COLUMNS[i].header
    totals = {f: Decimal("0") for f in MONEY_FIELDS}
    count = 0

    def rows():
        nonlocal count
        for found in session.exec(query):
            asset, village = found[0], found[1]
            amounts = _money(found[2]) if year is not None else _money(asset)
            township = townships.get(village.parent_id)
            county_unit = counties.get(township.parent_id) if township else None
            count += 1
            for f in MONEY_FIELDS:
                totals[f] += amounts[f]
            yield _export_row(asset, village, township, county_unit, amounts, held.get(asset.id))

    def total_row() -> list[Any]:
        row: list[Any] = [None] * width
        row[0] = "合计"
        for i in fund_cols:
            row[i] = float(totals[EXPORT_COLUMNS[i].field])
        return row

    if fmt == "csv":
        def lines():
            yield from ([title] + [None] * (width - 1), unit_line, top, middle, low)
            yield from rows()
            yield total_row()  # after the rows: their sums

        write_csv(lines(), out)
        return count

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.cell_range import CellRange

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    for i, c in enumerate(EXPORT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = 11 if c.kind == "money" else WIDTHS.get(c.field, 12)
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    bold = Font(bold=True)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    wrap = Alignment(vertical="center", wrap_text=True)

    # Styles are set once on a prototype cell per kind and copied (setting a style on each cell looks it up
    # in the workbook's style table every time: ten times slower on a large ledger).
    prototypes: dict[tuple, Any] = {}

    def prototype(font: Any, alignment: Any, money: bool) -> Any:
        key = (id(font), id(alignment), money)
        if key not in prototypes:
            cell = xlsx_cell(ws, None, font=font, alignment=alignment)
            cell.border = border
            if money:
                cell.number_format = "0.00##"
            prototypes[key] = cell
        return prototypes[key]

    def boxed(values: list[Any], font: Any = None, alignment: Any = None) -> list[Any]:
        cells = []
        for i, value in enumerate(values):
            cell = xlsx_cell(ws, value)
            money = EXPORT_COLUMNS[i].kind == "money" and isinstance(value, (int, float))
            cell._style = copy(prototype(font, alignment, money)._style)
            cells.append(cell)
        return cells

    ws.append([_styled(ws, title, Font(bold=True, size=14), center)] + [None] * (width - 1))
    ws.append(xlsx_row(ws, unit_line))
    for values in (top, middle, low):
        ws.append(boxed(values, bold, center))
    # The title spans the columns of 附件1 (the contract columns follow them, unmerged).
    ws.merged_cells.ranges.add(CellRange(min_col=1, min_row=1, max_col=len(COLUMNS), max_row=1))
    ws.merged_cells.ranges.add(CellRange(min_col=first + 1, min_row=3, max_col=last + 1, max_row=3))
    ws.merged_cells.ranges.add(CellRange(min_col=first + 1, min_row=4, max_col=first + 1, max_row=5))
    ws.merged_cells.ranges.add(CellRange(min_col=first + 2, min_row=4, max_col=last, max_row=4))
    ws.merged_cells.ranges.add(CellRange(min_col=last + 1, min_row=4, max_col=last + 1, max_row=5))
    for i, c in enumerate(EXPORT_COLUMNS, start=1):
        if c.kind != "money":
            ws.merged_cells.ranges.add(CellRange(min_col=i, min_row=3, max_col=i, max_row=5))
    for row in rows():
        ws.append(boxed(row, alignment=wrap))
    ws.append(boxed(total_row(), bold))
    wb.save(out)
    return count


def _styled(ws, value, font, alignment):
    return xlsx_cell(ws, value, font=font, alignment=alignment)


def _current_contracts(session: Session) -> dict[int, Any]:
    """{asset id: its current contract} (the export's contract columns)."""
    from bot.storage.models_contract import AssetContract

    return {c.asset_id: c for c in session.exec(select(AssetContract).where(
        column_of(AssetContract.current).is_(True)).order_by(AssetContract.id)).all()}


def _contract_cell(asset: Asset, contract: Any, name: str) -> Any:
    """A contract column's cell: the asset's mirror of its contract, or the contract itself; the mode in words."""
    from bot.services.contracts import MODE_WORDS

    if name in ("contract_start", "income_terms", "ownership_shares"):
        return getattr(asset, name)
    if contract is None:
        return None
    if name == "mode":
        return MODE_WORDS.get(contract.mode) if contract.mode else None
    return getattr(contract, name)


def _export_row(asset: Asset, village: OrgUnit, township: OrgUnit | None, county: OrgUnit | None,
                amounts: dict[str, Decimal], contract: Any = None) -> list[Any]:
    row: list[Any] = []
    for c in EXPORT_COLUMNS:
        if c in CONTRACT_COLUMNS:
            value = _contract_cell(asset, contract, c.field)
            row.append(float(value) if isinstance(value, Decimal) else value.isoformat()
                       if isinstance(value, dt.date) else value)
        elif c.field == "county":
            row.append(county.name if county else "")
        elif c.field == "township":
            row.append(township.name if township else "")
        elif c.field == "village":
            row.append(village.name)
        elif c.kind == "money":
            row.append(float(amounts[c.field]))
        else:
            value = getattr(asset, c.field)
            if isinstance(value, Decimal):
                value = float(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            row.append(value)
    return row


# --- the ledger on the web: the list, one asset ------------------------------------------------------

PAGE_SIZE = 50


@dataclass
class AssetRow:
    asset: Asset
    village: OrgUnit
    township: OrgUnit | None


@dataclass
class AssetPage:
    """One asset as the office sees it: its place, funds by year, reports, open problems and history."""

    asset: Asset
    village: OrgUnit
    township: OrgUnit | None
    county: OrgUnit | None
    years: list[AssetFundsYear]
    reports: list[Any]
    open_problems: int
    problems: int
    history: list[HistoryEntry]


def scope_units(session: Session, user: User) -> tuple[list[OrgUnit], list[OrgUnit]]:
    """The townships and villages the user's ledger covers, by name (for the list's filters)."""
    from bot.services.access import scope_filter

    require(session, user, "export.ledger")
    units = session.exec(select(OrgUnit).where(scope_filter(session, user), column_of(OrgUnit.level)
                                               .in_(("township", "village"))).order_by(OrgUnit.name)).all()
    return [u for u in units if u.level == "township"], [u for u in units if u.level == "village"]


def list_assets(session: Session, user: User, *, q: str = "", township: int | None = None,
                village: int | None = None, asset_type: str = "", category: str = "", status: str = "",
                page: int = 1, size: int = PAGE_SIZE) -> tuple[list[AssetRow], int]:
    """One page of the assets the user may see in the ledger, filtered; and how many match in all."""
    from sqlalchemy import func, or_
    from sqlalchemy.orm import aliased

    from bot.services.access import scope_filter

    require(session, user, "export.ledger")
    parent = aliased(OrgUnit)
    query = (select(Asset, OrgUnit, parent).join(OrgUnit, column_of(Asset.village_id) == OrgUnit.id)
             .outerjoin(parent, column_of(OrgUnit.parent_id) == parent.id).where(scope_filter(session, user)))
    text = q.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(column_of(Asset.name).like(pattern, escape="\\"),
                                column_of(Asset.project_code).like(pattern, escape="\\")))
    if township is not None:
        query = query.where(OrgUnit.parent_id == township)
    if village is not None:
        query = query.where(OrgUnit.id == village)
    if asset_type:
        query = query.where(Asset.asset_type == asset_type)
    if category:
        query = query.where(Asset.industry_category == category)
    if status:
        query = query.where(Asset.status == status)
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    page = max(1, page)
    rows = session.exec(query.order_by(parent.name, OrgUnit.name, Asset.project_code)
                        .offset((page - 1) * size).limit(size)).all()
    return [AssetRow(a, v, t) for a, v, t in rows], int(total)


def require_asset_page(session: Session, user: User | None, asset_id: int) -> Asset:
    """Return the asset if the office's page of it opens for ``user``: ``asset.view`` over its village and the
    ledger (``export.ledger``); refused outside the user's area like an unknown id. Its contract's files ask the
    same (``contracts.attachment_bytes``)."""
    asset = require_asset(session, user, "asset.view", asset_id)
    require(session, user, "export.ledger")
    return asset


def may_open_asset_page(session: Session, user: User | None, village: OrgUnit) -> bool:
    """Return whether the office's page of an asset of ``village`` opens for ``user`` (what ``require_asset_page``
    requires), asked before another page links to it."""
    return may(session, user, "asset.view", village) and may(session, user, "export.ledger", village)


def asset_page(session: Session, user: User, asset_id: int) -> AssetPage:
    """Everything the office's page of one asset shows; refused outside the user's area (like an unknown id)."""
    from sqlalchemy import func

    from bot.services.reports import CLOSED_PROBLEM_STATUSES
    from bot.storage.models import Problem, Report

    asset = require_asset_page(session, user, asset_id)
    village = session.get(OrgUnit, asset.village_id)
    assert village is not None
    township = session.get(OrgUnit, village.parent_id) if village.parent_id else None
    county = session.get(OrgUnit, township.parent_id) if township is not None and township.parent_id else None
    years = sorted(funds_by_year(session, [asset_id]).get(asset_id, {}).values(), key=lambda r: r.year)
    reports = session.exec(select(Report).where(Report.asset_id == asset_id, column_of(Report.current).is_(True))
                           .order_by(column_of(Report.period).desc(), column_of(Report.id).desc()).limit(24)).all()
    problems = session.exec(select(func.count()).select_from(Problem).where(Problem.asset_id == asset_id)).one()
    open_problems = session.exec(select(func.count()).select_from(Problem).where(
        Problem.asset_id == asset_id, column_of(Problem.status).not_in(CLOSED_PROBLEM_STATUSES))).one()
    return AssetPage(asset, village, township, county, years, list(reports), int(open_problems), int(problems),
                     asset_history(session, user, asset_id))
