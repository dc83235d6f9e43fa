"""``villagebot report …`` writes the same files as the web downloads."""

from __future__ import annotations

import pytest
import time_machine
from click.testing import CliRunner
from pypdf import PdfReader
from python_calamine import CalamineWorkbook

from bot.cli import cli
from tests.oversight.conftest import NOW, PERIOD


@pytest.fixture
def run(sqlite_url, tmp_path):
    env = {"VILLAGEBOT_DATA_DIR": str(tmp_path / "data"), "VILLAGEBOT_DATABASE_URL": sqlite_url}

    def invoke(*args: str):
        with time_machine.travel(NOW, tick=False):
            return CliRunner().invoke(cli, ["--lang", "en", "report", *args], env=env)

    return invoke


@pytest.fixture
def world_db(sqlite_engine):
    from sqlmodel import Session

    from tests.oversight.conftest import populate

    with Session(sqlite_engine, expire_on_commit=False) as session:
        return populate(session)


def sheet(path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


@pytest.mark.parametrize(
    "kind, option, value, first",
    [
        ("summary", "--month", PERIOD, "村级资产月度监管报告汇总表"),
        ("problems", "--month", PERIOD, "问题清单"),
        ("monitoring", "--quarter", "2026Q4", "产业扶贫项目运行监测表"),
        ("benefit", "--quarter", "2026Q4", "产业扶贫项目效益评估表"),
    ],
)
def test_it_writes_each_spreadsheet(run, world_db, tmp_path, kind, option, value, first):
    out = tmp_path / f"{kind}.xlsx"
    result = run(kind, "--county", "桃源县", option, value, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    rows = sheet(out)
    assert rows[0][0] == first and "远山" not in str(rows)


def test_a_township_narrows_the_file(run, world_db, tmp_path):
    out = tmp_path / "summary.xlsx"
    assert (
        run(
            "summary", "--county", "桃源县", "--township", "北坡乡", "--month", PERIOD, "-o", str(out)
        ).exit_code
        == 0
    )
    villages = [row[2] for row in sheet(out)[3:-1]]
    assert villages == ["梨树村"]


def test_it_writes_the_half_year_pdf(run, world_db, tmp_path):
    out = tmp_path / "half.pdf"
    result = run("halfyear", "--county", "430525000000", "--half", "2026H2", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "桃源县" in PdfReader(str(out)).pages[0].extract_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (("summary", "--county", "桃源县", "--month", "2026/10"), "is not a month"),
        (("monitoring", "--county", "桃源县", "--quarter", "2026Q5"), "is not a quarter"),
        (("summary", "--county", "无此县", "--month", PERIOD), "No county, township or village is called"),
        (("summary", "--month", PERIOD), "Name the county with --county"),
        (
            ("summary", "--county", "桃源县", "--township", "远山镇", "--month", PERIOD),
            "has no township called",
        ),
        (("halfyear", "--county", "桃源县", "--township", "新桥镇", "--half", "2026H2"), "is not a county"),
    ],
)
def test_it_explains_what_is_wrong(run, world_db, args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output
