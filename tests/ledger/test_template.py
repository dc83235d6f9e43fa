"""Issue 16 item 8: a ledger in the exact template of seed 000 附件1 imports, and the export round-trips.

The template's header spans three rows with merged cells (资金总额 over 合计 | 财政专项扶贫资金 over
中央/省/市/县 | 其他资金), a 合计 row and the 填报说明 close it, and a cross-year project is on each year's
ledger with that year's funds (填报说明2). The export is read back with openpyxl, a reader not written here.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
from sqlmodel import Session, select

from bot.services.ledger import export_ledger, import_ledger, ledger_years
from bot.storage.models import Asset, OrgUnit
from bot.storage.models_ledger import AssetFundsYear
from tests.ledger.template import LEDGER_2020, LEDGER_2021, write_template

CODES_2020 = ["TY-2020-0003", "TY-2020-0001", "TY-2020-0002"]  # the file's order, not the codes'


def _asset(session: Session, code: str) -> Asset:
    return session.exec(select(Asset).where(Asset.project_code == code)).one()


def _money(asset) -> tuple:
    return tuple(getattr(asset, f) for f in ("funds_total", "funds_central", "funds_province", "funds_city",
                                             "funds_county", "funds_other"))


def test_a_file_in_the_exact_template_imports(engine, world, tmp_path):
    path = write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020)
    with Session(engine) as s:
        result = import_ledger(s, None, path)
        s.commit()
        assert result.errors == [], result.errors
        assert (result.rows, result.created, result.year) == (3, 3, 2020)
        assert [w.column for w in result.warnings] == ["备注"]
        workshop = _asset(s, "TY-2020-0001")
        assert workshop.name == "王庄村扶贫车间" and workshop.industry_category == "加工业"
        assert _money(workshop) == tuple(Decimal(x) for x in ("200", "100", "50", "20", "20", "10"))
        assert (workshop.year_completed, workshop.year_in_production) == (2020, 2021)
        assert s.get(OrgUnit, workshop.village_id).name == "王庄村"
        road = _asset(s, "TY-2020-0002")
        assert road.asset_type == "公益性" and road.funds_county == Decimal("50")
        years = s.exec(select(AssetFundsYear).order_by(AssetFundsYear.position)).all()
        assert [(y.year, s.get(Asset, y.asset_id).project_code) for y in years] == [(2020, c) for c in CODES_2020]


def test_the_export_round_trips_in_the_template(engine, world, tmp_path):
    path = write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020)
    out = tmp_path / "export.xlsx"
    with Session(engine) as s:
        assert import_ledger(s, None, path).ok
        s.commit()
        assert export_ledger(s, None, out, year=2020) == 3  # no county given: the title still names it

        wb = openpyxl.load_workbook(out)
        ws = wb.active
        assert ws["A1"].value == "桃源县2020年度产业扶贫项目管理台账"
        assert ws["A2"].value == "填报单位：桃源县" and ws["D2"].value == "单位：万元"
        assert [ws.cell(3, c).value for c in range(1, 17)] == [
            "县市区", "项目名称", "产业类别", "资金总额（万元）", None, None, None, None, None, "建设性质", "建成年度",
            "投产年度", "责任单位", "建设内容", "受益对象", "绩效目标"]
        assert [ws.cell(4, c).value for c in range(4, 10)] == ["合计", "财政专项扶贫资金", None, None, None, "其他资金"]
        assert [ws.cell(5, c).value for c in range(4, 10)] == [None, "中央", "省", "市", "县", None]
        merged = {str(r) for r in ws.merged_cells.ranges}
        assert {"A1:Z1", "D3:I3", "D4:D5", "E4:H4", "I4:I5", "A3:A5", "B3:B5", "P3:P5", "Q3:Q5"} <= merged
        body = [[c.value for c in row] for row in ws.iter_rows(min_row=6)]
        assert [r[16] for r in body[:3]] == CODES_2020
        assert body[1][:9] == ["桃源县", "王庄村扶贫车间", "加工业", 200, 100, 50, 20, 20, 10]
        assert body[3][0] == "合计" and body[3][3:9] == [370.5, 180, 80, 20, 80.5, 10]
        assert len(body) == 4
        assert ws.column_dimensions["B"].width >= 20 and ws.column_dimensions["N"].width >= 20
        for cell in ("A3", "E5", "B6", "D9"):
            assert ws[cell].border.left.style == "thin" and ws[cell].border.bottom.style == "thin"

        again = import_ledger(s, None, out)
        assert again.errors == [] and again.year == 2020
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

        as_csv = tmp_path / "export.csv"
        assert export_ledger(s, None, as_csv, year=2020) == 3
        rows = list(csv.reader(io.StringIO(as_csv.read_bytes().decode("utf-8-sig"))))
        assert rows[0][0] == "桃源县2020年度产业扶贫项目管理台账" and rows[-1][0] == "合计"
        again = import_ledger(s, None, as_csv)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_a_cross_year_project_is_split_by_year(engine, world, tmp_path):
    with Session(engine) as s:
        assert import_ledger(s, None, write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020)).ok
        second = import_ledger(s, None, write_template(tmp_path / "2021.xlsx", 2021, LEDGER_2021))
        s.commit()
        assert second.errors == [] and (second.created, second.updated) == (0, 1)
        road = _asset(s, "TY-2020-0002")
        assert (road.funds_total, road.funds_county) == (Decimal("80"), Decimal("80"))
        assert road.year_completed == 2021
        assert ledger_years(s, None) == [2021, 2020]

        out = tmp_path / "2021-out.xlsx"
        assert export_ledger(s, None, out, year=2021) == 1
        ws = openpyxl.load_workbook(out).active
        assert ws["A1"].value == "桃源县2021年度产业扶贫项目管理台账"
        assert ws["B6"].value == "梨树村产业路" and ws["D6"].value == 30 and ws["A7"].value == "合计"

        out = tmp_path / "2020-out.xlsx"
        export_ledger(s, None, out, year=2020)
        ws = openpyxl.load_workbook(out).active
        assert [ws.cell(r, 4).value for r in range(6, 10)] == [120.5, 200, 50, 370.5]

        out = tmp_path / "all.xlsx"
        export_ledger(s, None, out)
        ws = openpyxl.load_workbook(out).active
        assert ws["A1"].value == "桃源县产业扶贫项目管理台账"
        assert {ws.cell(r, 17).value: ws.cell(r, 4).value for r in range(6, 9)}["TY-2020-0002"] == 80

        # Importing the 2020 ledger again leaves the 2021 funds where they are.
        again = import_ledger(s, None, tmp_path / "2020.xlsx")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        # The export of all years re-imports unchanged; a sum that differs from the years is refused.
        assert import_ledger(s, None, out).unchanged == 3
        wb = openpyxl.load_workbook(out)
        wb.active["D8"] = 90
        wb.active["H8"] = 90
        wb.save(out)
        refused = import_ledger(s, None, out)
        assert [(e.row, e.column) for e in refused.errors] == [(8, "合计")]
        assert "2020、2021" in str(refused.errors[0].params)


def test_the_simplified_two_row_files_still_import(engine, samples):
    from bot.services import audit
    from bot.services.orgs import import_org

    with Session(engine) as s:
        assert import_org(s, audit.Actor(None, "test"), samples / "org-sample.xlsx").errors == []
        for name in ("ledger-sample.xlsx", "ledger-sample-gbk.csv"):
            result = import_ledger(s, None, samples / name)
            assert result.errors == [] and result.rows == 25 and result.year is None
        assert s.exec(select(AssetFundsYear)).all() == []


def test_a_row_of_the_template_is_explained_by_row_and_column(engine, world, tmp_path):
    rows = [list(r) for r in LEDGER_2020]
    rows[0][3] = "八十"        # 中央 in words
    rows[1][2] = "200.5"       # 合计 no longer the sum of its split
    rows[2][17] = "不存在村"    # an unknown village
    path = write_template(tmp_path / "bad.xlsx", 2020, rows)
    with Session(engine) as s:
        result = import_ledger(s, None, path)
        assert sorted((e.row, e.column) for e in result.errors) == [(6, "中央"), (7, "合计"), (8, "村")]
        assert s.exec(select(Asset)).all() == []


def test_a_file_of_the_template_columns_alone_says_which_columns_it_lacks(engine, world, tmp_path):
    wb = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", 2020, LEDGER_2020))
    wb.active.delete_cols(17, 5)  # 项目编号, 乡镇, 村, 资产类型, 备注
    wb.save(tmp_path / "t.xlsx")
    with Session(engine) as s:
        result = import_ledger(s, None, tmp_path / "t.xlsx")
    assert sorted(e.params["name"] for e in result.errors) == sorted(["项目编号", "乡镇", "村", "资产类型"])
