"""Items 1 and 7: the township's quarterly monitoring (附件2) and benefit self-evaluation (附件3) reach the
official exports (seed 000 四(二)1 "运行监测情况报送", 四(三)1), and 附件3 asks every indicator of the seed's
form — 带动贫困户年户均增收, 项目持续收益年限, 带贫企业/合作社满意度 and the agreement's length (带贫协议年限).
Read back with openpyxl."""

from __future__ import annotations

import io

import openpyxl
from sqlmodel import Session

from bot.flows import load_form
from bot.services import exports
from bot.storage.models import User
from tests.fidelity.conftest import BENEFIT, MONITORING, submit_form


def _sheet(write, engine, world, quarter="2026Q1"):
    out = io.BytesIO()
    with Session(engine) as session:
        write(session, session.get(User, world.county), world.tree.county, quarter, out)
    rows = list(openpyxl.load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(values_only=True))
    return rows, {row[3]: row for row in rows if row and isinstance(row[0], int)}


def test_a_filed_monitoring_form_fills_its_row_of_annex_2(engine, world):
    submit_form(engine, world.leader, "quarterly-monitoring", "2026-Q1", world.greenhouse,
                {**MONITORING, "market": "difficult", "employment_as_agreed": "no", "insured": "no"})
    rows, by_name = _sheet(exports.write_monitoring, engine, world)
    assert rows[0][0] == "产业扶贫项目运行监测表"
    assert list(by_name["新桥村蔬菜大棚"][5:14]) == [
        "正常", "盈利", "已公示，贫困群众参与监督", "困难", "一般", "不存在一分了之、一股了之及大水漫灌情况",
        "未达到合同约定", "未购买", "已明确"]
    # A project whose form was not filed (and without monthly checks) is still "not reported".
    assert by_name["新桥村扶贫车间"][5] == "本季度未报告"


def test_a_filed_benefit_evaluation_fills_its_row_of_annex_3(engine, world):
    submit_form(engine, world.leader, "benefit-self-evaluation", "2026-Q1", world.greenhouse, BENEFIT)
    rows, by_name = _sheet(exports.write_benefit, engine, world)
    header = rows[4]
    assert header[9] == "带动贫困户年户均增收（元）" and header[12] == "项目持续收益年限（年）"
    assert header[13] == "带贫协议年限（年）" and header[16] == "带贫企业/合作社满意度"
    row = by_name["新桥村蔬菜大棚"]
    assert list(row[6:18]) == ["大棚20座", 86.5, 12.25, 1800, 45, "已按约定落实", 15, 10,
                               "到期后由村集体续签或公开发包", "满意", "基本满意", "效益良好，带贫作用明显"]
    assert rows[-1][0] == "评估人：李镇长"
    assert by_name["新桥村扶贫车间"][7] is None  # not evaluated: nothing invented


def test_the_benefit_form_asks_every_indicator_of_annex_3():
    keys = [q.key for q in load_form("benefit-self-evaluation").questions]
    assert {"income_per_household", "income_years", "agreement_years", "operator_satisfaction"} <= set(keys)
    assert "agreement_years_left" not in keys  # 带贫协议年限 is the agreement's length, not the years left
    assert load_form("benefit-self-evaluation", 1).question("agreement_years_left")  # old reports still load
