"""Every export opens in a reader not written here (python-calamine, pypdf) and carries the dashboard's
figures."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook
from sqlmodel import Session

from bot.services import exports, oversight
from bot.services.access import AccessDenied
from tests.oversight.conftest import NOW, PERIOD


def read(path) -> list[list]:
    """Return the first sheet's rows as read by python-calamine."""
    book = CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_index(0).to_python()


def body(rows: list[list], header_rows: int) -> list[list]:
    """Return the rows below the title, the unit line and the header."""
    return rows[2 + header_rows :]


def figures(engine, world, unit="county", period=PERIOD):
    with Session(engine) as session:
        return oversight.dashboard(session, None, getattr(world.tree, unit), period, now=NOW)


def test_the_summary_carries_the_dashboards_village_figures(engine, world, tmp_path):
    out = tmp_path / "summary.xlsx"
    with Session(engine) as session:
        exports.write_summary(session, world.users["county"], world.tree.county, PERIOD, out)
    rows = read(out)
    assert rows[0][0] == "村级资产月度监管报告汇总表"
    assert rows[2][:9] == ["序号", "乡镇", "村", "应报", "已报", "按时", "逾期", "未报", "按时率（%）"]
    lines = body(rows, 1)
    fig = figures(engine, world)
    expected = [
        [i, r.township, r.village, r.expected, r.done, r.on_time, r.late, r.missing, r.on_time_percent]
        for i, r in enumerate(fig.villages, start=1)
    ]
    assert [[int(c) if isinstance(c, float) else c for c in line[:9]] for line in lines[:-1]] == expected
    total = fig.totals
    assert lines[-1][0] == "合计" and [int(c) for c in lines[-1][3:9]] == [
        total.expected,
        total.done,
        total.on_time,
        total.late,
        total.missing,
        total.on_time_percent,
    ]
    assert "远山村" not in str(rows)


def test_the_problem_list_counts_as_the_dashboard(engine, world, tmp_path):
    out = tmp_path / "problems.xlsx"
    with Session(engine) as session:
        exports.write_problems(
            session, world.users["leader_a"], world.tree.township_a, "2026-11", out, now=NOW
        )
    rows = read(out)
    assert rows[2][:8] == ["序号", "乡镇", "村", "项目名称", "项目编号", "问题类型", "问题描述", "严重程度"]
    lines = body(rows, 1)
    fig = figures(engine, world, "township_a")
    open_lines = [line for line in lines if line[9] not in ("已解决", "已关闭")]
    by_severity = {
        label: sum(1 for line in open_lines if line[7] == label) for label in ("严重", "较重", "一般")
    }
    assert (
        by_severity
        == {
            "严重": fig.open_by_severity()["serious"],
            "较重": fig.open_by_severity()["major"],
            "一般": fig.open_by_severity()["minor"],
        }
        == {"严重": 1, "较重": 1, "一般": 0}
    )
    assert {line[3] for line in lines} == {"新桥村扶贫车间", "王庄村光伏电站"}
    transfer = next(line for line in lines if line[6] == "擅自转租")
    assert transfer[5] == "擅自转让" and int(transfer[13]) == 3
    assert "远山县的秘密问题" not in str(rows) and "梨树村" not in str(rows)


def test_a_problem_resolved_before_the_month_is_left_out(engine, world, tmp_path):
    with Session(engine) as session:
        september = exports.problem_rows(session, None, world.tree.county, "2026-09", now=NOW)
        november = exports.problem_rows(session, None, world.tree.county, "2026-11", now=NOW)
    assert "resolved" in {r.status for r in september} and "resolved" not in {r.status for r in november}


def test_the_monitoring_form_lists_the_operating_projects(engine, world, tmp_path):
    out = tmp_path / "monitoring.xlsx"
    with Session(engine) as session:
        exports.write_monitoring(session, world.users["county"], world.tree.county, "2026Q4", out)
    rows = read(out)
    assert rows[0][0] == "产业扶贫项目运行监测表" and rows[1][2] == "期间：2026年第四季度"
    assert rows[2][5] == "项目管理" and rows[2][9] == "产销对接" and rows[2][10] == "带贫情况"
    assert rows[3][5] == "项目运营是否正常（通过产、销、税等主要指标判断）"
    lines = body(rows, 2)
    categories = {}
    for line in lines:
        categories[line[4]] = categories.get(line[4], 0) + 1
    fig = figures(engine, world)
    assert categories == {k: v for k, v in fig.industries.items() if v}
    by_name = {line[3]: line for line in lines}
    assert by_name["新桥村扶贫车间"][5:8] == ["正常", "分配收益2.5万元", "未见公示栏照片"]
    assert by_name["新桥村扶贫车间"][11] == "带贫12户"
    assert (
        by_name["新桥村蔬菜大棚"][5:7] == ["不正常（1个月）", "亏损"]
        and by_name["新桥村蔬菜大棚"][9] == "困难"
    )
    assert by_name["梨树村养牛场"][5] == "本季度未报告" and by_name["梨树村养牛场"][12] == ""
    assert by_name["新桥村扶贫车间"][12] == "不适用"
    assert "新桥村通组路" not in by_name and "远山村茶厂" not in by_name


def test_the_benefit_form_carries_the_operating_funds(engine, world, tmp_path):
    out = tmp_path / "benefit.xlsx"
    with Session(engine) as session:
        exports.write_benefit(session, world.users["department"], world.tree.county, "2026-Q4", out)
    rows = read(out)
    assert rows[2][4] == "投入指标" and rows[2][7] == "效益指标" and rows[2][15] == "满意度指标"
    assert rows[4][4:6] == ["财政专项扶贫资金", "其他资金"] and rows[2][17] == "评估结论"
    lines = body(rows, 3)
    assert lines[-1][0] == "评估人："
    projects = lines[:-1]
    fig = figures(engine, world)
    fiscal = sum(fig.funds[src]["经营性"] for src in ("central", "province", "city", "county"))
    assert Decimal(str(sum(line[4] for line in projects))) == fiscal
    assert Decimal(str(sum(line[5] for line in projects))) == fig.funds["other"]["经营性"]
    by_name = {line[3]: line for line in projects}
    assert by_name["新桥村扶贫车间"][8] == 2.5 and by_name["新桥村扶贫车间"][11] == "已按约定落实"
    assert by_name["新桥村蔬菜大棚"][11] == "未落实（1个月未分配）"


def test_the_half_year_report_prints_the_figures(engine, world, tmp_path):
    from pypdf import PdfReader

    out = tmp_path / "half.pdf"
    with Session(engine) as session:
        report = exports.write_half_year(
            session, world.users["county"], world.tree.county, "2026H2", out, now=NOW
        )
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(str(out)).pages)
    assert "桃源县" in text and "2026年下半年" in text and "2026-H2" not in text  # periods in words
    october = next(p for p in report.figures.trend if p.period == "2026-10")
    assert (october.expected, october.done, october.on_time) == (5, 4, 3)
    assert "2026年10月 5 4 3" in text
    xinqiao = next(r for r in report.townships if r.township == "新桥镇")
    assert (xinqiao.done, xinqiao.on_time) == (6, 4)  # September 2 (1 on time), October 4 (3 on time)
    assert f"新桥镇 {xinqiao.expected} {xinqiao.done} {xinqiao.on_time}" in text
    assert "远山" not in text


def test_a_missing_font_is_a_clear_error(engine, world, tmp_path, monkeypatch):
    from reportlab.pdfbase import pdfmetrics

    monkeypatch.setattr(exports, "FONT_PATH", tmp_path / "none.ttc")
    monkeypatch.setattr(exports, "FONT_NAME", "NotRegisteredYet")
    assert "NotRegisteredYet" not in pdfmetrics.getRegisteredFontNames()
    with Session(engine) as session, pytest.raises(oversight.OversightError, match="fonts-wqy-microhei"):
        exports.write_half_year(session, None, world.tree.county, "2026H2", io.BytesIO(), now=NOW)


@pytest.mark.parametrize(
    "write, period",
    [
        (exports.write_summary, PERIOD),
        (exports.write_problems, PERIOD),
        (exports.write_monitoring, "2026Q4"),
        (exports.write_benefit, "2026Q4"),
    ],
)
def test_exports_refuse_another_township(engine, world, write, period):
    buffer = io.BytesIO()
    with Session(engine) as session, pytest.raises(AccessDenied):
        write(session, world.users["leader_a"], world.tree.township_b, period, buffer)
    assert buffer.getvalue() == b""
