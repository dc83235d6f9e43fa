"""The ledger's contract and ownership columns: import, export, read back, re-import unchanged; shares that do not
sum to 100 % refused with row and column; a change of operator keeps the old contract as history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
from sqlmodel import Session, select

from bot.services import contracts
from bot.services.ledger import export_ledger, import_ledger
from bot.storage.models import Asset, AuditEntry
from bot.storage.models_contract import AssetContract, AssetOwnerShare
from tests.factories import make_tree

HEADER = ("项目名称", "合计", "中央", "省", "市", "县", "其他资金", "项目编号", "乡镇", "村", "资产类型", "产权归属",
          "经营主体", "合同起始日", "合同到期日", "经营方式", "年收益（万元）", "收益约定", "带贫机制", "风险防控",
          "占股比例")
WORKSHOP = ["新桥村扶贫车间", 100, 60, 0, 0, 40, 0, "TY-2024-0001", "新桥镇", "新桥村", "经营性", "新桥村股份经济合作社",
            "桃源县农业发展有限公司", "2024-07-01", "2027-06-30", "租赁", 8, "每年7月1日前一次付清租金8万元",
            "优先吸纳脱贫户务工20人", "租金逾期30日可解除合同", "新桥村股份经济合作社 60%；王庄村股份经济合作社 40％"]
ROAD = ["梨树村产业路", 50, 50, 0, 0, 0, 0, "TY-2024-0002", "北坡乡", "梨树村", "公益性", "梨树村村委会",
        None, None, None, None, None, None, None, None, "梨树村股份经济合作社100%"]


def _write(path, *rows, header=HEADER):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["桃源县帮扶项目资产管理台账"])
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def _read_back(path) -> dict[str, dict[str, object]]:
    """{project code: {header: value}} of an exported ledger (its header is the third row; 附件1 funds below)."""
    ws = openpyxl.load_workbook(path).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    header = rows[2]
    code = header.index("项目编号")
    return {r[code]: dict(zip(header, r, strict=False)) for r in rows[5:] if r[code]}


def test_the_contract_and_share_columns_round_trip(sqlite_engine, tmp_path):
    with Session(sqlite_engine) as s:
        tree = make_tree(s)
        s.commit()
        result = import_ledger(s, None, _write(tmp_path / "in.xlsx", WORKSHOP, ROAD))
        assert result.ok, result.errors
        s.commit()
        workshop = s.exec(select(Asset).where(Asset.project_code == "TY-2024-0001")).one()
        contract = contracts.current_contract(s, workshop.id)
        assert contract is not None and contract.operator == "桃源县农业发展有限公司" and contract.mode == "lease"
        assert (contract.start, contract.end) == (dt.date(2024, 7, 1), dt.date(2027, 6, 30))
        assert contract.income_amount == Decimal("8") and contract.risk_terms == "租金逾期30日可解除合同"
        assert [(o.owner, o.share) for o in contracts.owner_shares(s, workshop.id)] == [
            ("新桥村股份经济合作社", Decimal("60")), ("王庄村股份经济合作社", Decimal("40"))]
        # The asset's own fields mirror the contract and the owners (the older pages read them).
        assert (workshop.operator, workshop.contract_start, workshop.contract_end) == (
            "桃源县农业发展有限公司", dt.date(2024, 7, 1), dt.date(2027, 6, 30))
        assert workshop.ownership_shares == "新桥村股份经济合作社 60%；王庄村股份经济合作社 40%"
        road = s.exec(select(Asset).where(Asset.project_code == "TY-2024-0002")).one()
        assert contracts.current_contract(s, road.id) is None  # no operator: no contract
        assert contracts.owner_shares(s, road.id)[0].share == Decimal("100")
        assert {e.action for e in s.exec(select(AuditEntry)).all()} >= {"contract.create", "owners.set"}

        out = tmp_path / "out.xlsx"
        assert export_ledger(s, None, out, county=tree.county) == 2
        back = _read_back(out)
        row = back["TY-2024-0001"]
        assert (row["合同起始日"], row["合同到期日"], row["经营方式"], row["年收益（万元）"]) == (
            "2024-07-01", "2027-06-30", "租赁", 8)
        assert (row["收益约定"], row["带贫机制"], row["风险防控"]) == (
            "每年7月1日前一次付清租金8万元", "优先吸纳脱贫户务工20人", "租金逾期30日可解除合同")
        assert row["占股比例"] == "新桥村股份经济合作社 60%；王庄村股份经济合作社 40%"
        assert back["TY-2024-0002"]["占股比例"] == "梨树村股份经济合作社 100%"
        again = import_ledger(s, None, out)
        assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 2)
        assert len(s.exec(select(AssetContract)).all()) == 1


def test_a_new_operator_starts_a_new_contract_and_the_preview_shows_it(sqlite_engine, tmp_path):
    with Session(sqlite_engine) as s:
        make_tree(s)
        s.commit()
        assert import_ledger(s, None, _write(tmp_path / "in.xlsx", WORKSHOP)).ok
        s.commit()
        changed = list(WORKSHOP)
        changed[12], changed[13], changed[14], changed[15] = "新桥村农旅公司", "2025-01-01", "2029-12-31", "承包"
        path = _write(tmp_path / "changed.xlsx", changed)
        preview = import_ledger(s, None, path, dry_run=True)
        assert preview.ok and preview.updated == 1
        fields = {label: (before, after) for label, before, after in preview.changes[0].fields}
        assert fields["经营主体"] == ("桃源县农业发展有限公司", "新桥村农旅公司")
        assert fields["经营方式"] == ("租赁", "承包") and fields["合同起始日"] == ("2024-07-01", "2025-01-01")
        assert len(s.exec(select(AssetContract)).all()) == 1  # a dry run writes nothing
        applied = import_ledger(s, None, path, expect=preview.fingerprint)
        assert applied.ok
        s.commit()
        rows = s.exec(select(AssetContract).order_by(AssetContract.id)).all()
        assert [(c.operator, c.current) for c in rows] == [("桃源县农业发展有限公司", False), ("新桥村农旅公司", True)]
        assert rows[0].ended_at is not None


def test_shares_not_summing_to_100_are_refused_with_row_and_column(sqlite_engine, tmp_path):
    bad = list(WORKSHOP)
    bad[-1] = "新桥村股份经济合作社 60%，王庄村股份经济合作社 30%"
    unreadable = list(ROAD)
    unreadable[-1] = "梨树村股份经济合作社 六成"
    with Session(sqlite_engine) as s:
        make_tree(s)
        s.commit()
        result = import_ledger(s, None, _write(tmp_path / "bad.xlsx", bad, unreadable))
        assert not result.ok
        found = {(e.row, e.column): e for e in result.errors}
        assert set(found) == {(3, "占股比例"), (4, "占股比例")}
        assert found[(3, "占股比例")].params == {"total": "90"}
        assert "100 %" in found[(3, "占股比例")].msgid
        assert found[(4, "占股比例")].params == {"part": "梨树村股份经济合作社 六成"}
        assert s.exec(select(Asset)).all() == [] and s.exec(select(AssetOwnerShare)).all() == []


def test_an_older_file_with_only_the_end_date_keeps_to_the_assets_fields(sqlite_engine, tmp_path):
    header = HEADER[:15]
    row = WORKSHOP[:13] + [None, "2027-06-30"]
    with Session(sqlite_engine) as s:
        make_tree(s)
        s.commit()
        assert import_ledger(s, None, _write(tmp_path / "old.xlsx", row, header=header)).ok
        s.commit()
        asset = s.exec(select(Asset)).one()
        assert asset.contract_end == dt.date(2027, 6, 30) and contracts.current_contract(s, asset.id) is None
        # It counts as a contract to that day: no "operated without a contract" finding.
        kinds = {f.kind for f in contracts.contract_findings(s, _village(s, asset), dt.date(2026, 12, 1))}
        assert "no_contract" not in kinds and "owner_unsettled" in kinds
        assert "contract_expired" in {f.kind for f in contracts.contract_findings(s, _village(s, asset),
                                                                                 dt.date(2027, 7, 1))}


def _village(session, asset):
    from bot.storage.models import OrgUnit

    return session.get(OrgUnit, asset.village_id)
