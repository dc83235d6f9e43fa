"""A county's ledger file in the exact template of seed 000 附件1, written with openpyxl.

"**县（市、区）**年度产业扶贫项目管理台账": a title with the county and the year, a 填报单位/单位/填报时间 line,
a header of three rows — 资金总额（万元） over 合计 | 财政专项扶贫资金 | 其他资金, and 财政专项扶贫资金 over
中央/省/市/县, every other header cell merged over the three rows — then the projects, a 合计 row and the
template's 填报说明. After the template's 16 columns come the columns that say which asset a row is and
where (项目编号, 乡镇, 村, 资产类型) and a 备注 column, as counties add them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side

TEMPLATE_HEADERS = ("县市区", "项目名称", "产业类别", "资金总额（万元）", None, None, None, None, None, "建设性质",
                    "建成年度", "投产年度", "责任单位", "建设内容", "受益对象", "绩效目标")
EXTRA_HEADERS = ("项目编号", "乡镇", "村", "资产类型", "备注")
NOTES = (
    "填报说明：",
    "1.产业类别分为种植业、养殖业、加工业（含扶贫车间及加工厂房等）、旅游业、电子商务、光伏扶贫、其他等，以往年度实施的"
    "科技扶贫、到户增收等项目，按照项目建设内容对应的产业类型进行分类，不包含金融扶贫、雨露计划等项目。",
    "2.跨年度实施项目，若第一年已使用当年资金需在登记在当年度台账中，第二年建成使用资金数在第二年台账中登记，并对有关情况进行备注说明。",
    "3.建设内容、受益对象、绩效目标填报按照最新的脱贫攻坚项目库填报要求进行完善填报。",
)

# Rows of the 2020 ledger of 桃源县 (tests.factories.make_tree), deliberately not in project-code order.
# (名称, 产业类别, 合计, 中央, 省, 市, 县, 其他资金, 建设性质, 建成, 投产, 责任单位, 建设内容, 受益对象, 绩效目标,
#  项目编号, 乡镇, 村, 资产类型, 备注)
LEDGER_2020 = (
    ("新桥村光伏电站", "光伏扶贫", "120.5", "80", "30", "0", "10.5", "0", "新建", 2020, 2020, "新桥镇人民政府",
     "建设村级光伏电站100千瓦", "脱贫户45户", "年收益8万元，80%用于公益岗位", "TY-2020-0003", "新桥镇", "新桥村",
     "经营性", None),
    ("王庄村扶贫车间", "加工业（含扶贫车间及加工厂房）", "200", "100", "50", "20", "20", "10", "新建", 2020, 2021,
     "新桥镇人民政府", "建设扶贫车间600平方米", "脱贫户30户", "吸纳务工40人", "TY-2020-0001", "新桥镇", "王庄村",
     "经营性", None),
    ("梨树村产业路", "其他", "50", "0", "0", "0", "50", "0", "新建", None, None, "北坡乡人民政府",
     "硬化产业路2公里", "梨树村村民", "方便农产品运输", "TY-2020-0002", "北坡乡", "梨树村", "公益性",
     "跨年度项目，2021年续建"),
)
# The cross-year project's second year (填报说明2): only the funds used in 2021.
LEDGER_2021 = (
    ("梨树村产业路", "其他", "30", "0", "0", "0", "30", "0", "新建", 2021, 2021, "北坡乡人民政府",
     "硬化产业路2公里", "梨树村村民", "方便农产品运输", "TY-2020-0002", "北坡乡", "梨树村", "公益性",
     "跨年度项目，2020年已登记50万元"),
)


def write_template(path: Path, year: int, rows, *, county: str = "桃源县", unit: str = "桃源县乡村振兴局") -> Path:
    """Write ``rows`` as the ledger of ``year`` in the template of seed 000 附件1; return the path."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"{year}年度"
    headers = TEMPLATE_HEADERS + EXTRA_HEADERS
    width = len(headers)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)

    ws.cell(1, 1, f"{county}{year}年度产业扶贫项目管理台账").font = Font(bold=True, size=16)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(2, 1, f"填报单位：{unit}")
    ws.cell(2, 6, "单位：万元")
    ws.cell(2, 11, f"填报时间：{year + 1}年1月10日")
    for col, name in enumerate(headers, start=1):
        if name is not None:
            ws.cell(3, col, name)
    ws.cell(4, 4, "合计")
    ws.cell(4, 5, "财政专项扶贫资金")
    ws.cell(4, 9, "其他资金")
    for col, name in zip(range(5, 9), ("中央", "省", "市", "县"), strict=True):
        ws.cell(5, col, name)
    ws.merge_cells(start_row=3, start_column=4, end_row=3, end_column=9)    # 资金总额（万元）
    ws.merge_cells(start_row=4, start_column=4, end_row=5, end_column=4)    # 合计
    ws.merge_cells(start_row=4, start_column=5, end_row=4, end_column=8)    # 财政专项扶贫资金
    ws.merge_cells(start_row=4, start_column=9, end_row=5, end_column=9)    # 其他资金
    for col, name in enumerate(headers, start=1):
        if name is not None and not 4 <= col <= 9:
            ws.merge_cells(start_row=3, start_column=col, end_row=5, end_column=col)
    for row in ws.iter_rows(min_row=3, max_row=5, max_col=width):
        for cell in row:
            cell.alignment, cell.border, cell.font = center, box, Font(bold=True)

    line = 6
    totals = [Decimal("0")] * 6
    for values in rows:
        name, category, *money_and_rest = values
        money, rest = money_and_rest[:6], money_and_rest[6:]
        cells = [county, name, category, *[_number(m) for m in money], *rest]
        for col, value in enumerate(cells, start=1):
            ws.cell(line, col, value).border = box
        totals = [t + (Decimal(m) if _number(m) != m else 0) for t, m in zip(totals, money, strict=True)]
        line += 1
    ws.cell(line, 1, "合计")
    ws.merge_cells(start_row=line, start_column=1, end_row=line, end_column=3)
    for col, total in enumerate(totals, start=4):
        ws.cell(line, col, float(total))
    for note in NOTES:
        line += 1
        ws.cell(line, 1, note)
        ws.merge_cells(start_row=line, start_column=1, end_row=line, end_column=width)
    wb.save(path)
    return path


def _number(text: str):
    """An amount as the number Excel holds, or the text itself when it is none (a planted error)."""
    try:
        return float(text)
    except ValueError:
        return text
