"""The ledger pages over HTTP with the real app: upload, check, confirm; the list; an asset; edits; exports."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import openpyxl
from sqlmodel import Session, func, select

from bot.services import audit
from bot.services.ledger import import_ledger
from bot.storage.models import Asset, AuditEntry
from tests.factories import make_asset
from tests.ledger.conftest import csrf_of
from tests.ledger.template import LEDGER_2020, LEDGER_2021, write_template

ENGLISH = re.compile(r"\b[A-Za-z]{3,}\b")


def visible_text(html: str) -> str:
    """The text a person reads on a page (no tags, no attributes)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def english_words(html: str) -> set[str]:
    return set(ENGLISH.findall(visible_text(html))) - {"xlsx", "csv", "English", "Excel"}  # the language switch, a product


def _count(engine, model=Asset) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _upload(client, path, name=None):
    page = client.get("/ledger/import")
    assert page.status_code == 200
    with open(path, "rb") as fh:
        return client.post("/ledger/import", data={"csrf": csrf_of(page.text)},
                           files={"file": (name or path.name, fh, "application/octet-stream")})


def _import(engine, path) -> None:
    with Session(engine) as s:
        assert import_ledger(s, None, path).ok
        s.commit()


def _asset(engine, code: str) -> Asset:
    with Session(engine) as s:
        return s.exec(select(Asset).where(Asset.project_code == code)).one()


def test_an_upload_is_checked_then_applied_on_confirm(engine, world, sign_in, tmp_path):
    client = sign_in(world.county)
    sent = _upload(client, write_template(tmp_path / "2020年度台账.xlsx", 2020, LEDGER_2020))
    assert sent.status_code == 303
    check_url = sent.headers["location"]
    assert re.fullmatch(r"/ledger/import/[A-Za-z0-9_-]{20,}", check_url)
    page = client.get(check_url)
    assert page.status_code == 200
    assert "检查了 3 行：新增 3 项，修改 0 项，不变 0 项" in page.text
    assert "2020年度台账：资金为该年度的资金" in page.text
    for code in ("TY-2020-0001", "TY-2020-0002", "TY-2020-0003"):
        assert code in page.text
    assert "无法识别“备注”列，已忽略" in page.text
    assert not english_words(page.text)
    assert _count(engine) == 0  # a check writes nothing
    assert client.get(check_url).text == page.text  # the check is kept: reloading shows it again

    done = client.post(f"{check_url}/confirm", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == check_url
    assert _count(engine) == 3
    shown = client.get(check_url)
    assert "已导入：新增 3 项，修改 0 项，不变 0 项" in shown.text
    with Session(engine) as s:
        created = s.exec(select(AuditEntry).where(AuditEntry.action == "asset.create")).all()
        assert len(created) == 3 and {e.actor_user_id for e in created} == {world.county.id}
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "ledger.import")).one().entity_id == \
            "2020年度台账.xlsx"
    # Confirming again (a reload of the post, a second tab) writes nothing more.
    again = client.post(f"{check_url}/confirm", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 303 and _count(engine, AuditEntry) == len(created) + 1 + _org_entries(engine)


def _org_entries(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity != "asset",
                                                                        AuditEntry.action != "ledger.import")).one()


def test_confirm_applies_what_was_checked_or_nothing(engine, world, sign_in, tmp_path):
    client = sign_in(world.county)
    path = write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020)
    check_url = _upload(client, path).headers["location"]
    page = client.get(check_url)
    # Meanwhile the ledger changes (another officer imports the same file): the check no longer holds.
    _import(engine, path)
    before = _count(engine, AuditEntry)
    done = client.post(f"{check_url}/confirm", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == check_url
    assert _count(engine, AuditEntry) == before
    shown = client.get(check_url)
    assert "台账在文件检查之后有变化，因此没有写入" in shown.text
    assert "检查了 3 行：新增 0 项，修改 0 项，不变 3 项" in shown.text
    assert "确认导入" not in shown.text


def test_a_malformed_file_is_explained_row_by_row_in_chinese(engine, world, sign_in, tmp_path):
    rows = [list(r) for r in LEDGER_2020]
    rows[0][3] = "八十"
    rows[1][2] = "200.5"
    rows[2][17] = "不存在村"
    client = sign_in(world.county)
    check_url = _upload(client, write_template(tmp_path / "有误的台账.xlsx", 2020, rows)).headers["location"]
    page = client.get(check_url)
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", visible_text(page.text))
    assert "发现 3 个问题，不会写入任何内容" in text
    assert "6 中央 “八十”不是数字" in text
    assert "7 合计 合计 200.50 与分项之和 200.00" in text
    assert "8 村 乡镇“北坡乡”的“不存在村”不在行政区划中" in text
    assert "确认导入" not in page.text and not english_words(page.text)
    assert _count(engine) == 0


def test_files_that_are_no_ledger_are_refused_in_words(engine, world, sign_in, tmp_path):
    client = sign_in(world.county)
    picture = tmp_path / "照片.xlsx"
    picture.write_bytes(b"PK\x03\x04 not really a workbook")
    page = client.get(_upload(client, picture).headers["location"])
    assert "无法读取电子表格 照片.xlsx" in page.text and not english_words(page.text)
    wrong = tmp_path / "notes.txt"
    wrong.write_text("项目名称")
    refused = _upload(client, wrong)
    assert refused.status_code == 303 and refused.headers["location"] == "/ledger/import?refused=type"
    assert "请选择 .xlsx 或 .csv 文件" in client.get(refused.headers["location"]).text


def test_nobody_imports_or_sees_outside_their_role_and_area(engine, world, sign_in, tmp_path):
    _import(engine, write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020))
    road = _asset(engine, "TY-2020-0002")      # 北坡乡
    workshop = _asset(engine, "TY-2020-0001")  # 新桥镇
    leader = sign_in(world.leader_a)
    assert leader.get("/ledger/import").status_code == 403
    home = leader.get("/ledger")
    assert home.status_code == 200
    assert "王庄村扶贫车间" in home.text and "梨树村产业路" not in home.text
    assert leader.get(f"/ledger/assets/{workshop.id}").status_code == 200
    assert "修改此资产" not in leader.get(f"/ledger/assets/{workshop.id}").text
    assert leader.get(f"/ledger/assets/{road.id}").status_code == 404
    assert leader.get(f"/ledger/assets/{workshop.id}/edit").status_code == 403
    token = csrf_of(leader.get("/me/sessions").text)
    posted = leader.post(f"/ledger/assets/{workshop.id}/edit", data={"csrf": token, "name": "改名"})
    assert posted.status_code == 403 and _asset(engine, "TY-2020-0001").name == "王庄村扶贫车间"
    with open(tmp_path / "2020.xlsx", "rb") as fh:
        upload = leader.post("/ledger/import", data={"csrf": token}, files={"file": ("a.xlsx", fh)})
    assert upload.status_code == 403
    # The township's export holds its own assets only.
    sheet = openpyxl.load_workbook(io.BytesIO(leader.get("/ledger/export?fmt=xlsx").content)).active
    assert [sheet.cell(r, 17).value for r in range(6, sheet.max_row)] == ["TY-2020-0003", "TY-2020-0001"]
    assert sheet["A2"].value == "填报单位：新桥镇" and sheet["A1"].value == "桃源县产业扶贫项目管理台账"
    assert leader.get(f"/ledger/export?fmt=xlsx&township={world.tree.township_b.id}").status_code == 403

    foreign = sign_in(world.foreign)
    assert foreign.get(f"/ledger/assets/{workshop.id}").status_code == 404
    assert "王庄村" not in foreign.get("/ledger").text
    cadre = sign_in(world.cadre)
    assert cadre.get("/ledger").status_code == 403
    assert cadre.get(f"/ledger/assets/{workshop.id}").status_code == 404
    # Another officer's upload is not theirs to see or confirm.
    county = sign_in(world.county)
    check_url = _upload(county, tmp_path / "2020.xlsx").headers["location"]
    other = sign_in(world.foreign)
    assert other.get(check_url).status_code == 404
    assert other.post(f"{check_url}/confirm", data={"csrf": csrf_of(other.get("/me/sessions").text)}).status_code == 404


def test_an_edit_is_audited_and_a_refused_edit_comes_back_with_its_problems(engine, world, sign_in):
    with Session(engine, expire_on_commit=False) as s:
        asset = make_asset(s, world.tree.village_a1, name="新桥村冷库", project_code="TY-2019-0009",
                           operator=None, funds_total=Decimal("100"), funds_central=Decimal("60"),
                           funds_county=Decimal("40"))
        audit.record(s, audit.Actor(None, "cli"), "asset.create", "asset", asset.id, None, {"name": asset.name})
        s.commit()
    client = sign_in(world.county)
    form = client.get(f"/ledger/assets/{asset.id}/edit")
    assert form.status_code == 200 and not english_words(form.text)
    values = dict(re.findall(r'<input type="(?:text|date)" id="f-\w+" name="(\w+)" value="([^"]*)"', form.text))
    assert values["funds_total"] == "100" and values["operator"] == ""
    data = {**values, "csrf": csrf_of(form.text), "asset_type": "经营性", "industry_category": "加工业",
            "status": "active", "construction_content": "", "beneficiaries": "", "performance_targets": "",
            "operator": "桃源县冷链物流有限公司", "funds_county": "30", "funds_other": "10"}
    saved = client.post(f"/ledger/assets/{asset.id}/edit", data=data)
    assert saved.status_code == 303 and saved.headers["location"] == f"/ledger/assets/{asset.id}?saved=1"
    changed = _asset(engine, "TY-2019-0009")
    assert changed.operator == "桃源县冷链物流有限公司" and changed.funds_other == Decimal("10")
    with Session(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "asset.update")).one()
    assert entry.actor_user_id == world.county.id and entry.entity_id == str(asset.id)
    assert entry.before["operator"] is None and set(entry.before) == {"operator", "funds_county", "funds_other"}
    assert (Decimal(entry.before["funds_county"]), Decimal(entry.after["funds_county"])) == (40, 30)
    assert entry.after["operator"] == "桃源县冷链物流有限公司"
    page = client.get(saved.headers["location"])
    text = re.sub(r"\s+", " ", visible_text(page.text))
    assert "已保存" in text and "县乡村振兴局张科长 · 修改" in text
    assert "经营主体：— → 桃源县冷链物流有限公司" in text and "县：40 → 30" in text
    assert "命令行 · 登记入台账" in text
    assert not english_words(page.text)

    refused = client.post(f"/ledger/assets/{asset.id}/edit",
                          data={**data, "funds_county": "35", "year_completed": "二〇二〇", "name": ""})
    assert refused.status_code == 303
    draft = refused.headers["location"]
    assert draft.startswith(f"/ledger/assets/{asset.id}/edit?draft=")
    shown = client.get(draft)
    assert shown.status_code == 200 and client.get(draft).text == shown.text  # reload works
    assert "没有保存" in shown.text and "“二〇二〇”不是年度" in shown.text and "合计 100.00 与分项之和 105.00" in shown.text
    assert "“项目名称”未填写" in shown.text and 'value="35"' in shown.text
    assert _asset(engine, "TY-2019-0009").funds_county == Decimal("30")
    assert sign_in(world.foreign).get(draft).status_code == 404


def test_the_list_searches_filters_and_pages(engine, world, sign_in, tmp_path):
    _import(engine, write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020))
    with Session(engine) as s:
        for i in range(55):
            make_asset(s, world.tree.village_a2, name=f"王庄村大棚{i:02d}", project_code=f"WZ-{i:03d}",
                       asset_type="经营性", industry_category="种植业")
        s.commit()
    client = sign_in(world.county)
    first = client.get("/ledger")
    assert "共 58 项资产" in first.text and "第 1 / 2 页" in first.text and '<div class="scroll">' in first.text
    assert not english_words(first.text)
    assert "下一页" in first.text and "WZ-054" not in first.text
    assert "WZ-054" in client.get("/ledger?page=2").text
    found = client.get("/ledger?q=光伏")
    assert "新桥村光伏电站" in found.text and "共 1 项资产" in found.text
    assert "共 1 项资产" in client.get("/ledger?q=TY-2020-0002").text
    township_b = client.get(f"/ledger?township={world.tree.township_b.id}")
    assert "梨树村产业路" in township_b.text and "共 1 项资产" in township_b.text
    assert "共 55 项资产" in client.get(f"/ledger?village={world.tree.village_a2.id}&category=种植业").text
    assert "共 1 项资产" in client.get("/ledger?type=公益性").text
    assert "共 58 项资产" in client.get("/ledger?status=active").text
    assert "共 0 项资产" in client.get("/ledger?status=disposed").text
    road = _asset(engine, "TY-2020-0002")
    assert f'href="/ledger/assets/{road.id}' in township_b.text
    asset_page = client.get(f"/ledger/assets/{road.id}")
    assert asset_page.status_code == 200 and f"/problems?asset={road.id}" in asset_page.text
    assert not english_words(asset_page.text)


def test_the_exports_open_in_openpyxl_in_the_official_layout(engine, world, sign_in, tmp_path):
    _import(engine, write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020))
    _import(engine, write_template(tmp_path / "2021.xlsx", 2021, LEDGER_2021))
    client = sign_in(world.county)
    listing = client.get("/ledger")
    for link in ("/ledger/export?fmt=xlsx", "/ledger/export?fmt=xlsx&amp;year=2021",
                 "/ledger/export?fmt=csv&amp;year=2020"):
        assert link in listing.text
    answer = client.get("/ledger/export?fmt=xlsx&year=2020")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/vnd.openxml")
    assert "filename*=UTF-8''" in answer.headers["content-disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert ws["A1"].value == "桃源县2020年度产业扶贫项目管理台账" and ws["A2"].value == "填报单位：桃源县"
    assert {"D3:I3", "E4:H4"} <= {str(r) for r in ws.merged_cells.ranges}
    assert [ws.cell(r, 17).value for r in range(6, 9)] == ["TY-2020-0003", "TY-2020-0001", "TY-2020-0002"]
    assert ws["A9"].value == "合计" and ws["D9"].value == 370.5
    as_csv = client.get("/ledger/export?fmt=csv&year=2021")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("桃源县2021年度产业扶贫项目管理台账") and lines[-1].startswith("合计")
    assert client.get("/ledger/export?fmt=pdf").status_code == 404


def test_the_menu_leads_to_the_ledger_pages(engine, world, sign_in):
    county = sign_in(world.county).get("/home").text
    assert 'href="/ledger?' in county and 'href="/ledger/import?' in county
    leader = sign_in(world.leader_a).get("/home").text
    assert 'href="/ledger?' in leader and 'href="/ledger/import?' not in leader
    assert 'href="/ledger?' not in sign_in(world.cadre).get("/home").text


def test_the_pages_speak_english_on_request_and_tell_the_county_time(engine, world, sign_in, tmp_path):
    import datetime as dt

    import time_machine

    from bot.clock import UTC
    with time_machine.travel(dt.datetime(2026, 12, 2, 16, 30, tzinfo=UTC), tick=False):
        _import(engine, write_template(tmp_path / "2020.xlsx", 2020, LEDGER_2020))
    client = sign_in(world.county)
    workshop = _asset(engine, "TY-2020-0001")
    page = client.get(f"/ledger/assets/{workshop.id}")
    assert "2026-12-03 00:30 · 命令行 · 登记入台账" in re.sub(r"\s+", " ", visible_text(page.text))
    english = client.get(f"/ledger/assets/{workshop.id}?lang=en")
    assert english.status_code == 200
    assert "Change history" in english.text and "Entered in the ledger" in english.text
    assert "Asset ledger" in client.get("/ledger?lang=en").text
    assert "Import the ledger" in client.get("/ledger/import?lang=en").text
