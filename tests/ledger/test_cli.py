"""``villagebot import assets`` / ``export ledger`` with the 附件1 template: the same service as the web pages."""

from __future__ import annotations

import openpyxl
from click.testing import CliRunner
from sqlmodel import Session

from bot.cli import cli
from tests.factories import make_tree
from tests.ledger.template import LEDGER_2020, LEDGER_2021, write_template


def test_the_command_line_imports_the_template_and_exports_a_year(sqlite_url, sqlite_engine, tmp_path):
    with Session(sqlite_engine) as session:
        make_tree(session)
        session.commit()
    env = {"VILLAGEBOT_DATA_DIR": str(tmp_path / "data"), "VILLAGEBOT_DATABASE_URL": sqlite_url}

    def run(*args: str):
        return CliRunner().invoke(cli, list(args), env=env)

    for year, rows in ((2020, LEDGER_2020), (2021, LEDGER_2021)):
        result = run("import", "assets", str(write_template(tmp_path / f"{year}.xlsx", year, rows)))
        assert result.exit_code == 0, result.output
    assert "已导入 1 行：新增 0 个、变更 1 个、无变化 0 个" in result.output
    out = tmp_path / "2021-export.xlsx"
    result = run("export", "ledger", "--year", "2021", "-o", str(out))
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(out).active
    assert ws["A1"].value == "桃源县2021年度产业扶贫项目管理台账" and ws["A2"].value == "填报单位：桃源县"
    assert (ws["B6"].value, ws["D6"].value, ws["A7"].value) == ("梨树村产业路", 30, "合计")
    again = run("import", "assets", str(out), "--dry-run")
    assert again.exit_code == 0 and "已检查 1 行：新增 0 个、变更 0 个、无变化 1 个" in again.output
