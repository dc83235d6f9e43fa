"""Ledger import and export in the official layout, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from sqlmodel import Session, func, select

from bot.services import audit
from bot.services.ledger import COLUMNS, export_ledger, import_ledger
from bot.services.orgs import import_org
from bot.services.sheets import SheetError, read_rows
from bot.storage.models import Asset, AuditEntry, OrgUnit
from tests.factories import make_tree, make_user

ACTOR = audit.Actor(None, "test")


def _load_org(session: Session, samples: Path) -> None:
    result = import_org(session, ACTOR, samples / "org-sample.xlsx")
    assert result.errors == []


def _assets(session: Session) -> dict[str, dict]:
    fields = [c.field for c in COLUMNS if c.field not in ("county", "township", "village")]
    return {a.project_code: {**{f: getattr(a, f) for f in fields}, "village": session.get(OrgUnit, a.village_id).path}
            for a in session.exec(select(Asset)).all()}


def _count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _flat_rows(samples: Path) -> list[list]:
    return [list(r) for r in csv.reader((samples / "ledger-sample-gbk.csv").read_text("gbk").splitlines())]


def test_it_imports_the_official_xlsx_layout(engine, samples):
    with Session(engine) as s:
        _load_org(s, samples)
        result = import_ledger(s, None, samples / "ledger-sample.xlsx")
        s.commit()
        assert result.ok and (result.rows, result.created) == (25, 25)
        asset = s.exec(select(Asset).where(Asset.project_code == "TY-2022-0001")).one()
        village = s.get(OrgUnit, asset.village_id)
    assert asset.name == "2022年枫林村扶贫车间项目" and village.name == "枫林村"
    assert asset.funds_total == Decimal("286.97") and asset.funds_county == Decimal("102.82")
    assert asset.asset_type == "经营性" and asset.industry_category == "加工业"
    assert (asset.year_completed, asset.year_in_production) == (2022, 2023)
    assert asset.contract_end == dt.date(2027, 12, 31)
    assert (asset.longitude, asset.latitude) == (117.243412, 31.474601)
    assert asset.operator is None and asset.custodian == "枫林村村委会"
    assert len(asset.public_token) >= 20


def test_it_reads_gbk_csv_the_same_as_xlsx(engine, samples, tmp_path):
    with Session(engine) as s:
        _load_org(s, samples)
        import_ledger(s, None, samples / "ledger-sample.xlsx")
        from_xlsx = _assets(s)
        s.exec(Asset.__table__.delete())
        result = import_ledger(s, None, samples / "ledger-sample-gbk.csv")
        assert result.ok, result.errors
        assert _assets(s) == from_xlsx


def test_it_accepts_reordered_columns_and_real_world_noise(sqlite_engine, samples, tmp_path):
    rows = _flat_rows(samples)
    order = list(range(len(rows[0])))
    random.Random(3).shuffle(order)
    shuffled = [[row[i] for i in order] for row in rows]
    shuffled[0] = [f" {h} " for h in shuffled[0]]  # trailing spaces in headers
    noisy = [["桃源县帮扶项目资产台账"], ["填报单位：桃源县乡村振兴局"], shuffled[0], *shuffled[1:6], [""] * len(order),
             *shuffled[6:], ["合计"] + [""] * (len(order) - 1)]
    path = _write_csv(tmp_path / "shuffled.csv", noisy, "gbk")
    with Session(sqlite_engine) as s:
        _load_org(s, samples)
        result = import_ledger(s, None, path)
        assert result.ok, result.errors
        assert result.rows == 25


def test_it_reports_every_planted_error_and_writes_nothing(engine, samples):
    with Session(engine) as s:
        _load_org(s, samples)
        before = _count(s, AuditEntry)
        result = import_ledger(s, None, samples / "ledger-sample-broken.xlsx")
        assert [(e.row, e.column) for e in result.errors] == [(7, "中央"), (14, "合计"), (20, "村"), (27, "项目编号")]
        assert "五十" in result.errors[0].params["value"]
        assert result.errors[1].params == {"total": "271.91", "split": "221.91"}
        assert result.errors[3].params == {"code": "TY-2022-0002", "other": 6}
        assert _count(s, Asset) == 0 and _count(s, AuditEntry) == before


@pytest.mark.parametrize("edit,row,column,fragment", [
    (lambda r: r.__setitem__(10, "二〇二二"), 2, "建成年度", "not a year"),
    (lambda r: r.__setitem__(23, "2027-13-45"), 2, "合同到期日", "not a date"),
    (lambda r: r.__setitem__(1, ""), 2, "项目名称", "empty"),
    (lambda r: r.__setitem__(17, "不存在镇"), 2, "村", "not in the organisation tree"),
    (lambda r: r.__setitem__(19, "商业性"), 2, "资产类型", "not an asset type"),
    (lambda r: r.__setitem__(24, "517.2"), 2, "经度", "out of range"),
])
def test_it_explains_each_bad_cell(sqlite_engine, samples, tmp_path, edit, row, column, fragment):
    rows = _flat_rows(samples)
    edit(rows[row - 1])
    path = _write_csv(tmp_path / "bad.csv", rows)
    with Session(sqlite_engine) as s:
        _load_org(s, samples)
        result = import_ledger(s, None, path)
        assert [(e.row, e.column) for e in result.errors] == [(row, column)]
        assert fragment in result.errors[0].msgid
        assert _count(s, Asset) == 0


def test_it_refuses_a_header_with_a_missing_column(sqlite_engine, samples, tmp_path):
    rows = [r[:16] + r[17:] for r in _flat_rows(samples)]  # drop 项目编号
    with Session(sqlite_engine) as s:
        _load_org(s, samples)
        result = import_ledger(s, None, _write_csv(tmp_path / "nocode.csv", rows))
        assert [(e.column, e.msgid) for e in result.errors] == [
            ("项目编号", "Column '{name}' is missing from the header.")]


def test_it_reports_unknown_columns_and_ignores_them(sqlite_engine, samples, tmp_path):
    rows = _flat_rows(samples)
    for i, row in enumerate(rows):
        row.append("备注" if i == 0 else "随便写的")
    with Session(sqlite_engine) as s:
        _load_org(s, samples)
        result = import_ledger(s, None, _write_csv(tmp_path / "extra.csv", rows))
        assert result.ok and [w.column for w in result.warnings] == ["备注"]


@pytest.mark.parametrize("content,fragment", [
    (b"", "empty"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\x00\x00", "not a spreadsheet"),
    (b"PK\x03\x04garbage-that-is-no-zip", "not a spreadsheet"),
    ("名称,金额\n甲,1\n".encode(), "No header row"),
])
def test_it_refuses_files_that_are_not_ledgers(sqlite_engine, tmp_path, content, fragment):
    path = tmp_path / "file.xlsx"
    path.write_bytes(content)
    with Session(sqlite_engine) as s, pytest.raises(SheetError) as exc:
        import_ledger(s, None, path)
    assert fragment in exc.value.msgid


def test_it_changes_nothing_on_reimport_and_updates_by_code(engine, samples, tmp_path):
    with Session(engine) as s:
        _load_org(s, samples)
        import_ledger(s, None, samples / "ledger-sample-gbk.csv")
        s.commit()
        entries = _count(s, AuditEntry)
        again = import_ledger(s, None, samples / "ledger-sample-gbk.csv")
        assert (again.created, again.updated, again.unchanged) == (0, 0, 25)
        assert _count(s, AuditEntry) == entries
        rows = _flat_rows(samples)
        rows[1][14] = "脱贫户80户"
        result = import_ledger(s, None, _write_csv(tmp_path / "edited.csv", rows, "gbk"))
        s.commit()
        assert (result.created, result.updated, result.unchanged) == (0, 1, 24)
        asset = s.exec(select(Asset).where(Asset.project_code == rows[1][16])).one()
        assert asset.beneficiaries == "脱贫户80户"
        change = s.exec(select(AuditEntry).where(AuditEntry.action == "asset.update")).one()
        assert change.before == {"beneficiaries": "脱贫户79户"} and change.after == {"beneficiaries": "脱贫户80户"}
        assert audit.verify(s).ok


def test_it_writes_nothing_on_a_dry_run(sqlite_engine, samples):
    with Session(sqlite_engine) as s:
        _load_org(s, samples)
        result = import_ledger(s, None, samples / "ledger-sample.xlsx", dry_run=True)
        assert result.ok and result.created == 25 and _count(s, Asset) == 0


def test_it_refuses_rows_outside_the_importers_scope(sqlite_engine, samples):
    with Session(sqlite_engine) as s:
        _load_org(s, samples)
        tree = make_tree(s)
        officer = make_user(s, "county_officer", tree.other_county)
        result = import_ledger(s, officer, samples / "ledger-sample.xlsx")
        assert len(result.errors) == 25 and {e.column for e in result.errors} == {"村"}


def test_it_exports_the_same_layout_and_round_trips(engine, samples, tmp_path):
    out = tmp_path / "ledger.xlsx"
    with Session(engine) as s:
        _load_org(s, samples)
        import_ledger(s, None, samples / "ledger-sample.xlsx")
        s.commit()
        county = s.exec(select(OrgUnit).where(OrgUnit.name == "桃源县")).one()
        assert export_ledger(s, None, out, county=county) == 25
        original = _assets(s)
        sheet = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
        assert sheet[0][0] == "桃源县产业扶贫项目管理台账"
        assert sheet[2][:4] == ["县市区", "项目名称", "产业类别", "资金总额（万元）"]
        assert sheet[3][3:9] == ["合计", "财政专项扶贫资金", "", "", "", "其他资金"]
        assert sheet[4][3:9] == ["", "中央", "省", "市", "县", ""]
        first = next(r for r in sheet[5:] if r[16] == "TY-2022-0001")
        assert first[:4] == ["桃源县", "2022年枫林村扶贫车间项目", "加工业", 286.97]
        again = import_ledger(s, None, out)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 25)
        assert _assets(s) == original
        assert read_rows(out)[5][0] == "桃源县"


@pytest.mark.slow
def test_it_imports_fifty_thousand_rows(sqlite_engine, samples, tmp_path):
    rows = _flat_rows(samples)
    header, template = rows[0], rows[1]
    body = []
    for i in range(50_000):
        row = list(template)
        row[16] = f"BIG-{i:06d}"
        body.append(row)
    path = _write_csv(tmp_path / "big.csv", [header, *body], "gbk")
    seen = []
    with Session(sqlite_engine) as s:
        _load_org(s, samples)
        result = import_ledger(s, None, path, progress=lambda done, total: seen.append((done, total)))
        s.commit()
        assert result.ok and result.created == 50_000
        assert _count(s, Asset) == 50_000
    assert seen[0] == (0, 50_000) and seen[-1] == (50_000, 50_000) and len(seen) > 10
