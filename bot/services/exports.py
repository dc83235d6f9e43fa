"""The spreadsheets and the printable report officials hand on, written from the dashboard's figures.

- ``write_monitoring``: 产业扶贫项目运行监测表 (seed 000 附件2), one row per operating project of the
  quarter, the form's 监测名称 as the upper header and its 运行监测内容 below.
- ``write_benefit``: 产业扶贫项目效益评估表 (seed 000 附件3), one row per operating project, the form's
  一级/二级/三级指标 as a three-row header.
- ``write_problems``: the month's 问题清单, every problem open at some time in the month.
- ``write_summary``: the month's 月度报告汇总 by village (the dashboard's village table).
- ``write_half_year``: the county's half-year report as a PDF (reportlab, WenQuanYi Micro Hei).
The ledger (附件1) is ``bot.services.ledger.export_ledger``.

Where the township (or the responsible unit) filed the quarter's own forms — ``quarterly-monitoring``
(附件2) and ``benefit-self-evaluation`` (附件3), seed 000 四(二)1 "运行监测情况报送", 四(三)1 — their answers
fill the row; otherwise the row is made from the quarter's monthly checks, and cells the monthly
checklist does not collect (产值, 满意度, 整体市场行情…) are left empty for the township to fill in by hand;
docs/oversight.md says which. Money is in 万元.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bot import periods
from bot.clock import as_utc, utcnow
from bot.flows import all_forms, risk_labels
from bot.flows.risks import CONSECUTIVE_LOSSES, CONSECUTIVE_LOSSES_LABEL
from bot.i18n import N_, translate
from bot.policy.timing import local_to_utc
from bot.services import audit, duties, income, oversight, sheets
from bot.services.assessment.common import choices, deadline_for, number, yes
from bot.services.oversight import (
    AGE_BUCKETS,
    CLASSES,
    NO_CATEGORY,
    OPERATING,
    SEVERITIES,
    SEVERITY_LABELS,
    UNCLASSIFIED,
    Figures,
    OversightError,
    VillageRow,
)
from bot.services.public import CATEGORIES as VILLAGER_CATEGORIES
from bot.services.reports import CLOSED_PROBLEM_STATUSES
from bot.storage.models import ASSET_TYPES, Asset, OrgUnit, PhotoUse, Problem, Report, User

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_NAME = "WenQuanYiMicroHei"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PLANTING = ("种植业", "养殖业")
STATUS_LABELS = {
    "open": N_("Open"),
    "acknowledged": N_("Acknowledged"),
    "in_hand": N_("In hand"),
    "escalated": N_("Escalated"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}
SOURCE_LABELS = {"report": N_("Monthly report"), "villager": N_("Villager"), "inspection": N_("Inspection"),
                 income.PROBLEM_SOURCE: N_("Income records")}
LEVEL_LABELS = {"village": N_("Village"), "township": N_("Township"), "county": N_("County")}
ZH = "zh_CN"

Target = Path | IO[bytes]


# --- rows -----------------------------------------------------------------------------------------


MONITORING_FORM, BENEFIT_FORM = "quarterly-monitoring", "benefit-self-evaluation"


@dataclass(frozen=True)
class ProjectQuarter:
    """One operating project with its current submitted monthly reports of a quarter (oldest first), and the
    quarter's submitted monitoring (附件2) and benefit self-evaluation (附件3) forms, when filed."""

    township: str
    village: str
    asset: Asset
    reports: list[Report]
    board_photos: int
    monitoring: Report | None = None
    benefit: Report | None = None
    # The quarter's income (万元) as bot.services.income reads it: received (the monthly checks) and due.
    received: Decimal | None = None
    due: Decimal | None = None


@dataclass(frozen=True)
class ProblemRow:
    """One line of the problem list."""

    township: str
    village: str
    asset: str
    project_code: str
    kind: str
    description: str
    severity: str
    source: str
    status: str
    owner_level: str
    created: dt.date
    due: dt.date | None
    days_open: int
    resolution: str


def _where(session: Session, unit: OrgUnit) -> dict[int, tuple[str, str]]:
    """Return {village id: (township name, village name)} below ``unit``."""
    units = session.exec(select(OrgUnit).where(col(OrgUnit.path).startswith(unit.path))).all()
    names = {u.id: u.name for u in units}
    return {u.id: (names.get(u.parent_id, ""), u.name) for u in units if u.level == "village"}


def project_quarters(
    session: Session, user: User | None, unit: OrgUnit, quarter: str
) -> list[ProjectQuarter]:
    """Return every active operating project below ``unit`` with its reports of ``quarter`` ('2026Q3')."""
    oversight.check_access(session, user, unit, "report.view")
    label, months = oversight.quarter_months(quarter)
    where = _where(session, unit)
    assets = session.exec(
        select(Asset).where(
            col(Asset.village_id).in_(list(where)), Asset.status == "active", Asset.asset_type == OPERATING
        )
    ).all()
    assets = sorted(assets, key=lambda a: (*where[a.village_id], a.name, a.id))
    reports: dict[int, list[Report]] = {a.id: [] for a in assets}
    photos: dict[int, int] = {}
    quarterly: dict[tuple[int, str], Report] = {}
    ids = list(reports)
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        for report in session.exec(
            select(Report)
            .where(
                col(Report.asset_id).in_(chunk),
                col(Report.period).in_(months),
                duties.report_done(),
            )
            .order_by(Report.period)
        ).all():
            reports[report.asset_id].append(report)
        for use in session.exec(
            select(PhotoUse.asset_id)
            .join(Report, Report.id == PhotoUse.report_id)
            .where(
                col(PhotoUse.asset_id).in_(chunk),
                PhotoUse.question_key == "board_photo",
                col(Report.period).in_(months),
                col(Report.current).is_(True),
            )
        ).all():
            photos[use] = photos.get(use, 0) + 1
        for report in session.exec(
            select(Report).where(
                col(Report.asset_id).in_(chunk),
                Report.period == label,
                col(Report.form_id).in_((MONITORING_FORM, BENEFIT_FORM)),
                duties.report_done(),
            )
        ).all():
            quarterly[(report.asset_id, report.form_id)] = report
    # the quarter's income (万元) from bot.services.income, the one reading, for all the assets at once
    periods = income.periods_many(session, [a.id for a in assets], months)
    return [
        ProjectQuarter(
            *where[a.village_id],
            a,
            reports[a.id],
            photos.get(a.id, 0),
            quarterly.get((a.id, MONITORING_FORM)),
            quarterly.get((a.id, BENEFIT_FORM)),
            income.total_of(p.received for p in periods[a.id]),
            income.total_of(p.due for p in periods[a.id]),
        )
        for a in assets
    ]


def _latest_number(reports: list[Report], key: str) -> Decimal | None:
    values = [number(r.answers, key) for r in reports if number(r.answers, key) is not None]
    return values[-1] if values else None


def _amount(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.0001")))


# The official wording of the quarterly forms' answers on 附件2 and 附件3.
RESULT_WORDS = {"profit": "盈利", "break_even": "持平", "loss": "亏损", "serious_loss": "严重亏损",
                "insolvent": "资不抵债"}
LEVEL_WORDS = {"good": "良好", "average": "一般", "difficult": "困难"}
INSURED_WORDS = {"yes": "已购买", "no": "未购买", "not_applicable": "不适用"}
SATISFACTION_WORDS = {"satisfied": "满意", "mostly": "基本满意", "dissatisfied": "不满意"}


def _word(answers: dict, key: str, words: dict[Any, str]) -> str:
    return words.get(answers.get(key), "")


def _yes_no(answers: dict, key: str, when_yes: str, when_no: str) -> str:
    return {"yes": when_yes, "no": when_no}.get(answers.get(key), "")


def _filed_monitoring(project: ProjectQuarter, answers: dict) -> list[Any]:
    """Return the 附件2 cells from the quarter's monitoring form (the township's or responsible unit's answers)."""
    disclosure = _yes_no(answers, "publicly_disclosed", "已公示，贫困群众参与监督", "未公示或贫困群众未参与监督")
    if answers.get("publicly_disclosed") == "yes" and project.board_photos:
        disclosure += f"（公示栏照片{project.board_photos}张）"
    return [
        _yes_no(answers, "operating_normally", "正常", "不正常"),
        _word(answers, "last_quarter_result", RESULT_WORDS),
        disclosure,
        _word(answers, "market", LEVEL_WORDS),
        _word(answers, "sales_link", LEVEL_WORDS),
        _yes_no(answers, "benefit_model_sound", "不存在一分了之、一股了之及大水漫灌情况",
                "存在一分了之、一股了之或大水漫灌情况"),
        _yes_no(answers, "employment_as_agreed", "达到合同约定", "未达到合同约定"),
        _word(answers, "insured", INSURED_WORDS) or _insurance(project.asset),
        _yes_no(answers, "loss_safeguards", "已明确", "未明确"),
    ]


def monitoring_values(project: ProjectQuarter) -> list[Any]:
    """Return the 附件2 cells of one project: 项目管理 ×4, 产销对接, 带贫情况 ×2, 风险防控 ×2 — from its
    quarterly monitoring form when filed, else from the quarter's monthly checks."""
    reports = project.reports
    if project.monitoring is not None:
        return _filed_monitoring(project, project.monitoring.answers or {})
    if not reports:
        return ["本季度未报告", "", "", "", "", "", "", _insurance(project.asset), ""]
    abnormal = [r for r in reports if yes(r.answers, "operating_normally") is False]
    running = "正常" if not abnormal else f"不正常（{len(abnormal)}个月）"
    losing = any(set(choices(r.answers, "abnormality_kind")) & {"losses", "serious_losses", "insolvent"}
                 for r in reports)
    received = project.received or Decimal("0")
    profit = "亏损" if losing else (f"分配收益{_fmt(received)}万元" if received else "本季度未分配收益")
    disclosure = f"已公示（公示栏照片{project.board_photos}张）" if project.board_photos else "未见公示栏照片"
    board = [r.answers.get("board_missing") for r in reports if r.answers.get("board_missing")]
    if board:  # the village answered that the board is missing or does not show the asset (issue 16)
        disclosure = "公示栏缺失" if "missing" in board else "公示栏未公示本项目"
    if any("sales" in choices(r.answers, "difficulties") for r in reports):
        sales = "困难"
    else:
        sales = "一般" if any(yes(r.answers, "has_difficulties") for r in reports) else "良好"
    poor = _latest_number(reports, "poor_households")
    if any(yes(r.answers, "farmers_linked") is False for r in reports[-1:]):
        linked = "未建立联农带农机制"
    else:
        linked = f"带贫{_fmt(poor)}户" if poor is not None else ""
    return [running, profit, disclosure, "", sales, "", linked, _insurance(project.asset), ""]


def _insurance(asset: Asset) -> str:
    return "" if asset.industry_category in PLANTING else "不适用"


def _number_cell(answers: dict, key: str) -> Any:
    value = number(answers, key)
    if value is None:
        return ""
    return int(value) if value == value.to_integral_value() else float(value)


def benefit_values(project: ProjectQuarter) -> list[Any]:
    """Return the 附件3 cells of one project, from 财政专项扶贫资金 to 评估结论: the funds from the ledger, the
    rest from the quarter's benefit self-evaluation when filed, else what the monthly checks say."""
    if project.benefit is not None:
        return _filed_benefit(project, project.benefit.answers or {})
    asset, reports = project.asset, project.reports
    fiscal = asset.funds_central + asset.funds_province + asset.funds_city + asset.funds_county
    undistributed = sum(1 for r in reports if yes(r.answers, "income_distributed") is False)
    short = project.due is not None and (project.received or Decimal("0")) < project.due
    if not reports and not short:
        honoured = ""
    elif short:
        honoured = f"未落实（应收{_fmt(project.due)}万元，实收{_fmt(project.received or Decimal('0'))}万元）"
    else:
        honoured = "已按约定落实" if not undistributed else f"未落实（{undistributed}个月未分配）"
    poor = _latest_number(reports, "poor_households")
    years = _agreement_years(asset)
    return [
        _amount(fiscal),
        _amount(asset.funds_other),
        asset.construction_content or "",
        "",
        _amount(project.received) if project.received is not None else "",
        "",
        int(poor) if poor is not None else "",
        honoured,
        "",
        years,
        "",
        "",
        "",
        "",
    ]


def _agreement_years(asset: Asset) -> Any:
    """Return 带贫协议年限 from the ledger's contract: its whole term in years (not the years left)."""
    if asset.contract_start and asset.contract_end:
        return round((asset.contract_end - asset.contract_start).days / 365.25)
    return ""


def _filed_benefit(project: ProjectQuarter, answers: dict) -> list[Any]:
    """Return the 附件3 cells from the quarter's benefit self-evaluation (funds and content from the ledger)."""
    asset = project.asset
    fiscal = asset.funds_central + asset.funds_province + asset.funds_city + asset.funds_county
    years = _number_cell(answers, "agreement_years")  # version 1 asked the years left: the ledger's term then
    return [
        _amount(fiscal),
        _amount(asset.funds_other),
        asset.construction_content or "",
        _number_cell(answers, "output_value"),
        _number_cell(answers, "net_income"),
        _number_cell(answers, "income_per_household"),
        _number_cell(answers, "households_benefiting"),
        _yes_no(answers, "benefit_as_agreed", "已按约定落实", "未按约定落实"),
        _number_cell(answers, "income_years"),
        years if years != "" else _agreement_years(asset),
        str(answers.get("after_agreement") or ""),
        _word(answers, "satisfaction", SATISFACTION_WORDS),
        _word(answers, "operator_satisfaction", SATISFACTION_WORDS),
        str(answers.get("conclusion") or ""),
    ]


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def problem_rows(
    session: Session, user: User | None, unit: OrgUnit, month: str, *, now: dt.datetime | None = None
) -> list[ProblemRow]:
    """Return every problem below ``unit`` open at some time in ``month``, oldest first."""
    oversight.check_access(session, user, unit, "problem.view")
    year, mon = oversight.parse_month(month)
    tz = deadline_for(session, unit).tz
    start = local_to_utc(dt.date(year, mon, 1), dt.time(0, 0), tz)
    end = local_to_utc(dt.date(year + mon // 12, mon % 12 + 1, 1), dt.time(0, 0), tz)
    now = now or utcnow()
    where = _where(session, unit)
    labels = _kind_labels()
    rows = session.exec(
        select(Problem, Asset)
        .join(Asset, Asset.id == Problem.asset_id)
        .where(
            col(Asset.village_id).in_(list(where)),
            Problem.created_at < end,
            or_(col(Problem.resolved_at).is_(None), Problem.resolved_at >= start),
        )
        .order_by(Problem.created_at, Problem.id)
    ).all()
    found = []
    for problem, asset in rows:
        closed = problem.resolved_at if problem.status in CLOSED_PROBLEM_STATUSES else None
        until = as_utc(closed) if closed else now
        township, village = where[asset.village_id]
        found.append(
            ProblemRow(
                township,
                village,
                asset.name,
                asset.project_code,
                labels.get(problem.kind, problem.kind),
                problem.description or "",
                problem.severity,
                problem.source,
                problem.status,
                problem.owner_level,
                as_utc(problem.created_at).astimezone(tz).date(),
                as_utc(problem.due_at).astimezone(tz).date() if problem.due_at else None,
                max(0, (until - as_utc(problem.created_at)).days),
                problem.resolution_note or "",
            )
        )
    return found


def _kind_labels() -> dict[str, str]:
    labels = {kind: translate(ZH, msgid) for kind, msgid in risk_labels(all_forms()).items()}
    labels[CONSECUTIVE_LOSSES] = translate(ZH, CONSECUTIVE_LOSSES_LABEL)  # raised across reports, not by a form
    labels[income.PROBLEM_KIND] = translate(ZH, income.PROBLEM_LABEL)  # raised by the income check (issue 17)
    labels.update({f"villager.{key}": translate(ZH, msgid) for key, msgid in VILLAGER_CATEGORIES.items()})
    return labels


# --- xlsx -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bold:
    """A bold, centred header cell (size in points, or the default)."""

    value: Any
    size: int | None = None


class _Sheet:
    """A sheet with a title row, a 填报单位 row and a (possibly multi-row) merged header.

    Rows are kept as values; ``save`` writes them as .xlsx (a write-only workbook, every row through
    ``sheets.xlsx_row``: text is written as text, never as a formula) or as CSV (``sheets.write_csv``).
    """

    def __init__(self, title: str, sheet: str, unit: OrgUnit, period: str) -> None:
        self.title, self.sheet, self.unit, self.period = title, sheet, unit, period
        self.merges: list[tuple[int, int, int, int]] = []
        self.rows: list[list[Any]] = []
        self.row = 0

    def cell(self, value: Any, *, bold: bool = False, size: int | None = None):
        return _Bold(value, size) if bold else value

    def append(self, values: Iterable[Any]) -> None:
        self.rows.append(list(values))
        self.row += 1

    def header(self, rows: list[list[str | None]]) -> None:
        """Write the title, the unit line and the header rows; merge empty cells into the one before."""
        width = len(rows[-1])
        stamp = utcnow().date()
        self.append([self.cell(self.title, bold=True, size=14)] + [None] * (width - 1))
        self.merges.append((1, 1, 1, width))
        self.append(
            [
                f"填报单位：{self.unit.name}",
                None,
                f"期间：{periods.words(self.period, ZH)}",
                None,
                f"填报时间：{stamp.year}年{stamp.month}月{stamp.day}日",
            ]
            + [None] * (width - 5)
        )
        top = self.row + 1
        for offset, values in enumerate(rows):
            self.append([self.cell(v, bold=True) if v else None for v in values])
            for index, value in enumerate(values):
                if not value:
                    continue
                right = index
                while (
                    right + 1 < width
                    and not values[right + 1]
                    and all(not r[right + 1] for r in rows[:offset])
                ):
                    right += 1
                bottom = offset
                while bottom + 1 < len(rows) and not rows[bottom + 1][index]:
                    bottom += 1
                if right > index or bottom > offset:
                    self.merges.append((top + offset, index + 1, top + bottom, right + 1))

    def save(self, out: Target, fmt: str = "xlsx") -> None:
        """Write the sheet to ``out`` as .xlsx or, with ``fmt="csv"``, as CSV."""
        if fmt == "csv":
            sheets.write_csv([[v.value if isinstance(v, _Bold) else v for v in row] for row in self.rows], out)
            return
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font
        from openpyxl.worksheet.cell_range import CellRange

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(self.sheet)
        center = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for row in self.rows:
            ws.append(sheets.xlsx_row(ws, [
                sheets.xlsx_cell(ws, v.value, font=Font(bold=True, size=v.size), alignment=center)
                if isinstance(v, _Bold) else v for v in row]))
        for min_row, min_col, max_row, max_col in self.merges:
            ws.merged_cells.ranges.add(CellRange(min_col=min_col, min_row=min_row, max_col=max_col, max_row=max_row))
        wb.save(out)


MONITORING_HEADER = [
    [
        "序号",
        "乡镇",
        "村",
        "项目名称",
        "产业类别",
        "项目管理",
        None,
        None,
        None,
        "产销对接",
        "带贫情况",
        None,
        "风险防控",
        None,
    ],
    [
        None,
        None,
        None,
        None,
        None,
        "项目运营是否正常（通过产、销、税等主要指标判断）",
        "上季度盈利情况",
        "公告公示及贫困群众参与监督情况",
        "整体市场行情",
        "产销对接情况（良好、一般、困难）",
        "带贫模式（是否存在一分了之、一股了之及大水漫灌情况）",
        "当前带贫人数是否达到合同约定",
        "种植、养殖业生产项目是否购买保险",
        "带贫企业（合作社）等出现亏损或资不抵债的情况下是否明确了扶贫资产防控措施",
    ],
]
BENEFIT_HEADER = [
    [
        "序号",
        "乡镇",
        "村",
        "项目名称",
        "投入指标",
        None,
        None,
        "效益指标",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "满意度指标",
        None,
        "评估结论",
    ],
    [
        None,
        None,
        None,
        None,
        "资金额度（万元）",
        None,
        "数量指标",
        "经济效益",
        None,
        None,
        "社会效益",
        None,
        "可持续性",
        None,
        None,
        "服务对象满意度",
        None,
        None,
    ],
    [
        None,
        None,
        None,
        None,
        "财政专项扶贫资金",
        "其他资金",
        "主要建设内容情况",
        "产值（万元）",
        "纯收入（万元）",
        "带动贫困户年户均增收（元）",
        "受益贫困户户数",
        "带贫增收按约定落实情况",
        "项目持续收益年限（年）",
        "带贫协议年限（年）",
        "协议到期后应对举措",
        "受益贫困人口满意度",
        "带贫企业/合作社满意度",
        None,
    ],
]
PROBLEM_HEADER = [
    [
        "序号",
        "乡镇",
        "村",
        "项目名称",
        "项目编号",
        "问题类型",
        "问题描述",
        "严重程度",
        "来源",
        "状态",
        "责任层级",
        "发现日期",
        "办结时限",
        "持续天数",
        "处理情况",
    ]
]
SUMMARY_HEADER = [["序号", "乡镇", "村", "应报", "已报", "按时", "逾期", "未报", "按时率（%）"]]


def _quarter_sheet(
    title: str,
    sheet: str,
    header: list[list[str | None]],
    unit: OrgUnit,
    quarter: str,
    projects: list[ProjectQuarter],
    values,
) -> _Sheet:
    """Return a sheet with one row per project: 序号, 乡镇, 村, 项目名称, then ``values(project)``."""
    label, _ = oversight.quarter_months(quarter)
    out = _Sheet(title, sheet, unit, label)
    out.header(header)
    for index, project in enumerate(projects, start=1):
        out.append([index, project.township, project.village, project.asset.name] + values(project))
    return out


def write_monitoring(
    session: Session, user: User | None, unit: OrgUnit, quarter: str, out: Target, fmt: str = "xlsx"
) -> list[ProjectQuarter]:
    """Write 附件2 产业扶贫项目运行监测表 for ``quarter``; return its projects."""
    projects = project_quarters(session, user, unit, quarter)
    _quarter_sheet(
        "产业扶贫项目运行监测表",
        "运行监测表",
        MONITORING_HEADER,
        unit,
        quarter,
        projects,
        lambda p: [p.asset.industry_category or "", *monitoring_values(p)],
    ).save(out, fmt)
    return projects


def write_benefit(
    session: Session, user: User | None, unit: OrgUnit, quarter: str, out: Target, fmt: str = "xlsx"
) -> list[ProjectQuarter]:
    """Write 附件3 产业扶贫项目效益评估表 for ``quarter``; return its projects."""
    projects = project_quarters(session, user, unit, quarter)
    sheet = _quarter_sheet(
        "产业扶贫项目效益评估表", "效益评估表", BENEFIT_HEADER, unit, quarter, projects, benefit_values
    )
    ids = sorted({p.benefit.submitted_by for p in projects if p.benefit is not None and p.benefit.submitted_by})
    names = [session.get(User, i).name for i in ids]
    sheet.append(["评估人：" + "、".join(names)])
    sheet.save(out, fmt)
    return projects


def write_problems(
    session: Session,
    user: User | None,
    unit: OrgUnit,
    month: str,
    out: Target,
    *,
    now: dt.datetime | None = None,
    fmt: str = "xlsx",
) -> list[ProblemRow]:
    """Write the month's 问题清单; return its rows."""
    rows = problem_rows(session, user, unit, month, now=now)
    sheet = _Sheet("问题清单", "问题清单", unit, month)
    sheet.header(PROBLEM_HEADER)
    for index, row in enumerate(rows, start=1):
        sheet.append(
            [
                index,
                row.township,
                row.village,
                row.asset,
                row.project_code,
                row.kind,
                row.description,
                translate(ZH, SEVERITY_LABELS.get(row.severity, row.severity)),
                translate(ZH, SOURCE_LABELS.get(row.source, row.source)),
                translate(ZH, STATUS_LABELS.get(row.status, row.status)),
                translate(ZH, LEVEL_LABELS.get(row.owner_level, row.owner_level)),
                row.created.isoformat(),
                row.due.isoformat() if row.due else "",
                row.days_open,
                row.resolution,
            ]
        )
    sheet.save(out, fmt)
    return rows


def write_summary(
    session: Session, user: User | None, unit: OrgUnit, month: str, out: Target, fmt: str = "xlsx"
) -> list[VillageRow]:
    """Write the month's 月度报告汇总 by village with a 合计 row; return the village rows."""
    oversight.check_access(session, user, unit, "report.view")
    oversight.parse_month(month)
    rows = oversight.reporting_by_village(session, unit, month)
    sheet = _Sheet("村级资产月度监管报告汇总表", "月度报告汇总", unit, month)
    sheet.header(SUMMARY_HEADER)
    for index, row in enumerate(rows, start=1):
        sheet.append(
            [
                index,
                row.township,
                row.village,
                row.expected,
                row.done,
                row.on_time,
                row.late,
                row.missing,
                row.on_time_percent,
            ]
        )
    total = oversight.total_row(rows)
    sheet.append(
        [
            "合计",
            "",
            "",
            total.expected,
            total.done,
            total.on_time,
            total.late,
            total.missing,
            total.on_time_percent,
        ]
    )
    sheet.save(out, fmt)
    return rows


# --- the half-year PDF ----------------------------------------------------------------------------


@dataclass
class HalfYear:
    """The figures of a county's half-year report."""

    label: str
    figures: Figures
    townships: list[VillageRow]


def half_year(
    session: Session, user: User | None, county: OrgUnit, half: str, *, now: dt.datetime | None = None
) -> HalfYear:
    """Return the half-year figures: the dashboard of its last month, its six months, townships summed."""
    if county.level != "county":
        raise OversightError(N_("{name} is not a county."), name=county.name)
    label, months = oversight.half_months(half)
    figures = oversight.dashboard(session, user, county, months[-1], now=now)
    grid = oversight.reporting_grid(session, county, months)
    figures.trend = grid.trend()
    sums: dict[str, list[VillageRow]] = {}
    for month in months:
        for row in oversight.by_township(grid.by_village(month)):
            sums.setdefault(row.township, []).append(row)
    return HalfYear(label, figures, [oversight.total_row(rows, name) for name, rows in sums.items()])


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return
    if not FONT_PATH.is_file():
        raise OversightError(
            N_("The Chinese font {path} is missing: install the package fonts-wqy-microhei."),
            path=str(FONT_PATH),
        )
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_PATH), subfontIndex=0))


def write_half_year(
    session: Session,
    user: User | None,
    county: OrgUnit,
    half: str,
    out: Target,
    *,
    locale: str = ZH,
    now: dt.datetime | None = None,
) -> HalfYear:
    """Write the county's printable half-year report (A4 PDF); return its figures."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    report = half_year(session, user, county, half, now=now)
    _register_font()
    t = lambda msgid, **p: translate(locale, msgid, **p)  # noqa: E731
    body = ParagraphStyle("body", fontName=FONT_NAME, fontSize=10, leading=15, wordWrap="CJK")
    heading = ParagraphStyle("h", parent=body, fontSize=13, leading=20, spaceBefore=8, spaceAfter=4)
    title = ParagraphStyle("t", parent=body, fontSize=16, leading=24, alignment=1)
    style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e4e7e1")),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ]
    )

    def table(rows: list[list[Any]]) -> Table:
        return Table([[str(c) for c in row] for row in rows], style=style, hAlign="LEFT", repeatRows=1)

    fig = report.figures
    stamp = (now or utcnow()).astimezone(deadline_for(session, county).tz).date()
    head = [t("Expected"), t("Reported"), t("On time"), t("Late"), t("Not in"), t("On time (%)")]
    story = [
        Paragraph(
            t(
                "{county}: half-year report on assistance-project assets, {half}",
                county=county.name,
                half=report.label,
            ),
            title,
        ),
        Paragraph(t("Made on {date}; open problems as of that day.", date=stamp.isoformat()), body),
        Paragraph(t("Monthly reports"), heading),
        table(
            [[t("Month"), t("Expected"), t("Reported"), t("On time")]]
            + [[periods.words(p.period, locale), p.expected, p.done, p.on_time] for p in fig.trend]
        ),
        Paragraph(t("Reports by township over the half-year"), heading),
        table(
            [[t("Township"), *head]]
            + [
                [r.township, r.expected, r.done, r.on_time, r.late, r.missing, r.on_time_percent]
                for r in report.townships
            ]
        ),
        Paragraph(t("Open problems by severity and age"), heading),
        table(
            [[t("Severity"), *[t(b[0]) for b in AGE_BUCKETS], t("Total")]]
            + [[t(SEVERITY_LABELS[s]), *fig.problems[s], sum(fig.problems[s])] for s in SEVERITIES]
        ),
        Paragraph(t("Operating assets by four-way class ({month})", month=fig.period), heading),
        table(
            [[t("Class"), t("Assets")]]
            + [[c, fig.classes[c]] for c in CLASSES]
            + [[t(UNCLASSIFIED), fig.classes[UNCLASSIFIED]]]
        ),
        Paragraph(t("Operating assets by industry category"), heading),
        table(
            [[t("Category"), t("Assets")]]
            + [[t(k) if k == NO_CATEGORY else k, v] for k, v in fig.industries.items()]
        ),
        Paragraph(t("Funds by source (万元)"), heading),
        table(
            [[t("Source"), *ASSET_TYPES, t("Total")]]
            + [
                [oversight.FUND_LABELS[src], *[_fmt(fig.funds[src][k]) for k in ASSET_TYPES], _fmt(total)]
                for src, total in fig.fund_totals().items()
            ]
        ),
        Spacer(1, 6 * mm),
        Paragraph(audit.document_line(session, t), body),  # a signed audit checkpoint, in words
    ]
    SimpleDocTemplate(
        out if not isinstance(out, Path) else str(out),
        pagesize=A4,
        title=county.name,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        invariant=True,
    ).build(story)
    return report
