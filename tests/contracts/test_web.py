"""The contract and owners pages over HTTP with the real app: the county office and the township's leader change
them (audited, confirmed, validated); another township's leader and a village cadre cannot; the village's cadres and
supervisors read their own assets' contracts, without a form; a fake file is refused."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from PIL import Image
from sqlmodel import Session, select

from bot.services import contracts
from bot.storage.models import AuditEntry
from bot.storage.models_contract import AssetContract, ContractAttachment
from tests.contracts.conftest import csrf_of
from tests.factories import make_asset

FORM = {"operator": "桃源县农业发展有限公司", "mode": "lease", "start": "2024-07-01", "end": "2027-06-30",
        "income_amount": "8", "income_terms": "每年7月1日前付租金8万元", "poverty_mechanism": "优先吸纳脱贫户务工",
        "risk_terms": "租金逾期30日可解除合同"}


def _asset(engine, world):
    with Session(engine) as s:
        asset = make_asset(s, world.tree.village_a1, name="新桥村扶贫车间")
        s.commit()
        return asset.id


def _flash(html: str) -> str:
    found = re.search(r'id="flash">([^<]*)<', html)
    return found.group(1) if found else ""


def _pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] "
            b"/Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 60)).save(out, "PNG")
    return out.getvalue()


def test_the_township_leader_registers_changes_and_replaces_the_contract(engine, world, sign_in):
    asset_id = _asset(engine, world)
    client = sign_in(world.leader_a)
    page = client.get(f"/ledger/assets/{asset_id}/contract")
    assert page.status_code == 200 and "登记经营合同" in page.text
    done = client.post(f"/ledger/assets/{asset_id}/contract", data={"csrf": csrf_of(page.text), "new": "1", **FORM})
    assert done.status_code == 303
    shown = client.get(done.headers["location"])
    assert "合同已登记" in _flash(shown.text)
    with Session(engine) as s:
        contract = contracts.current_contract(s, asset_id)
        assert contract.mode == "lease" and contract.income_amount == Decimal("8")
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "contract.create")).one().actor_user_id == \
            world.leader_a.id

    # A change of the current contract.
    client.post(f"/ledger/assets/{asset_id}/contract", data={"csrf": csrf_of(shown.text), **FORM, "end": "2028-06-30"})
    # A new operator without the confirmation: refused, nothing written, what was typed is kept.
    refused = client.post(f"/ledger/assets/{asset_id}/contract", data={
        "csrf": csrf_of(shown.text), "new": "1", **FORM, "operator": "新桥村农旅公司"})
    again = client.get(refused.headers["location"])
    assert "请勾选确认" in _flash(again.text) and "新桥村农旅公司" in again.text
    confirmed = client.post(f"/ledger/assets/{asset_id}/contract", data={
        "csrf": csrf_of(shown.text), "new": "1", "confirm": "1", **FORM, "operator": "新桥村农旅公司", "mode": "承包"})
    assert "新合同已登记" in _flash(client.get(confirmed.headers["location"]).text)
    with Session(engine) as s:
        rows = s.exec(select(AssetContract).order_by(AssetContract.id)).all()
        assert [(c.operator, c.end.isoformat(), c.current) for c in rows] == [
            ("桃源县农业发展有限公司", "2028-06-30", False), ("新桥村农旅公司", "2027-06-30", True)]
    # A bad date is refused in words.
    bad = client.post(f"/ledger/assets/{asset_id}/contract", data={"csrf": csrf_of(shown.text), **FORM,
                                                                    "operator": "新桥村农旅公司", "start": "2028-01-01"})
    assert "早于起始日" in _flash(client.get(bad.headers["location"]).text)

    # The asset page: the contract in words, the earlier one, the history.
    view = client.get(f"/ledger/assets/{asset_id}")
    assert view.status_code == 200
    assert "承包" in view.text and "新桥村农旅公司" in view.text and "以往合同" in view.text
    assert "新签经营合同（原合同终止）" in view.text and "lease" not in view.text


def test_owners_and_shares_are_validated_to_100(engine, world, sign_in):
    asset_id = _asset(engine, world)
    client = sign_in(world.county)
    page = client.get(f"/ledger/assets/{asset_id}/owners")
    assert page.status_code == 200
    sent = client.post(f"/ledger/assets/{asset_id}/owners", data={
        "csrf": csrf_of(page.text), "owner0": "新桥村股份经济合作社", "share0": "60", "owner1": "王庄村股份经济合作社",
        "share1": "30"})
    again = client.get(sent.headers["location"])
    assert "合计为90%，不是100%" in _flash(again.text) and "王庄村股份经济合作社" in again.text
    with Session(engine) as s:
        assert contracts.owner_shares(s, asset_id) == []
    saved = client.post(f"/ledger/assets/{asset_id}/owners", data={
        "csrf": csrf_of(page.text), "owner0": "新桥村股份经济合作社", "share0": "60", "owner1": "王庄村股份经济合作社",
        "share1": "40％"})
    assert saved.headers["location"].startswith(f"/ledger/assets/{asset_id}?")
    view = client.get(saved.headers["location"])
    assert "产权主体及占股比例已保存" in _flash(view.text) and "王庄村股份经济合作社：40 %" in view.text
    with Session(engine) as s:
        assert [(o.owner, o.share) for o in contracts.owner_shares(s, asset_id)] == [
            ("新桥村股份经济合作社", Decimal("60")), ("王庄村股份经济合作社", Decimal("40"))]
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "owners.set")).one().after == {
            "ownership_shares": "新桥村股份经济合作社 60%；王庄村股份经济合作社 40%"}


def _csrf(client, settings) -> str:
    from bot.services import weblinks
    from bot.web.common import DEVICE_COOKIE, csrf_token

    device = weblinks.unsign(settings.secret_key, "device", client.cookies.get(DEVICE_COOKIE))
    return csrf_token(settings.secret_key, device)


def test_another_township_and_a_village_cadre_cannot_see_or_change_them(engine, world, sign_in, settings):
    asset_id = _asset(engine, world)
    for user in (world.leader_b, world.foreign, world.cadre):
        client = sign_in(user)
        # The asset's own village cadre reads the contract (test_the_village_reads_...); the others see nothing.
        paths = ("/owners",) if user is world.cadre else ("/contract", "/owners")
        for path in paths:
            assert client.get(f"/ledger/assets/{asset_id}{path}").status_code == 404
        other_token = _csrf(client, settings)  # this browser's own token: the refusal is the scope's, not the form's
        assert client.post(f"/ledger/assets/{asset_id}/contract",
                           data={"csrf": other_token, "new": "1", **FORM}).status_code == 404
        assert client.post(f"/ledger/assets/{asset_id}/owners",
                           data={"csrf": other_token, "owner0": "某合作社", "share0": "100"}).status_code == 404
    with Session(engine) as s:
        assert s.exec(select(AssetContract)).all() == [] and contracts.owner_shares(s, asset_id) == []


def test_a_fake_attachment_is_refused_and_a_real_one_kept(engine, world, sign_in):
    asset_id = _asset(engine, world)
    client = sign_in(world.county)
    page = client.get(f"/ledger/assets/{asset_id}/contract")
    client.post(f"/ledger/assets/{asset_id}/contract", data={"csrf": csrf_of(page.text), "new": "1", **FORM})
    page = client.get(f"/ledger/assets/{asset_id}/contract")
    with Session(engine) as s:
        contract_id = contracts.current_contract(s, asset_id).id

    def upload(name: str, data: bytes):
        sent = client.post(f"/ledger/assets/{asset_id}/contract/files",
                           data={"csrf": csrf_of(page.text), "contract": str(contract_id)},
                           files={"file": (name, data, "application/pdf")})
        assert sent.status_code == 303
        return _flash(client.get(sent.headers["location"]).text)

    assert "这不是可保存的PDF文件或照片" in upload("合同.pdf", b"MZ\x90\x00 this is an executable, not a contract")
    assert "这不是可保存的PDF文件或照片" in upload("合同.pdf", _pdf()[:60])  # cut off: no end marker
    broken = upload("合同.jpg", b"\xff\xd8\xff" + b"\x00" * 100)  # a photo's header on nothing: the evidence store
    assert broken and "已保存" not in broken
    with Session(engine) as s:
        assert s.exec(select(ContractAttachment)).all() == []
    assert "已保存签订合同的文件" in upload("租赁合同.pdf", _pdf())
    assert "已保存签订合同的文件" in upload("合同首页.png", _png())
    with Session(engine) as s:
        kept = s.exec(select(ContractAttachment).order_by(ContractAttachment.id)).all()
        assert [(k.mime, k.filename) for k in kept] == [("application/pdf", "租赁合同.pdf"), ("image/png", "合同首页.png")]
    got = client.get(f"/ledger/assets/{asset_id}/contract/files/{kept[0].id}")
    assert got.status_code == 200 and got.content == _pdf() and got.headers["content-type"] == "application/pdf"
    assert client.get(f"/ledger/assets/{asset_id}/contract/files/{kept[1].id}").headers["content-type"] == "image/jpeg"
    assert sign_in(world.leader_b).get(f"/ledger/assets/{asset_id}/contract/files/{kept[0].id}").status_code == 404


def test_the_import_check_shows_the_contract_and_owners_changes(engine, world, sign_in, tmp_path):
    from tests.contracts.test_ledger import WORKSHOP, _write

    client = sign_in(world.county)

    def check(path) -> str:
        page = client.get("/ledger/import")
        with open(path, "rb") as fh:
            sent = client.post("/ledger/import", data={"csrf": csrf_of(page.text)},
                               files={"file": (path.name, fh, "application/octet-stream")})
        url = sent.headers["location"]
        shown = client.get(url)
        assert client.post(f"{url}/confirm", data={"csrf": csrf_of(shown.text)}).status_code == 303
        return shown.text

    check(_write(tmp_path / "first.xlsx", WORKSHOP))
    changed = list(WORKSHOP)
    changed[15], changed[-1] = "承包", "新桥村股份经济合作社 100%"
    text = check(_write(tmp_path / "second.xlsx", changed))
    assert "经营方式：租赁 → 承包" in text
    assert "占股比例：新桥村股份经济合作社 60%；王庄村股份经济合作社 40% → 新桥村股份经济合作社 100%" in text
    with Session(engine) as s:
        asset_id = s.exec(select(AssetContract)).one().asset_id
        assert contracts.current_contract(s, asset_id).mode == "contracting"
        assert [(o.owner, o.share) for o in contracts.owner_shares(s, asset_id)] == [
            ("新桥村股份经济合作社", Decimal("100"))]


def test_the_village_reads_its_assets_contract_and_owners_and_cannot_change_them(engine, world, sign_in, settings):
    from tests.factories import make_user

    asset_id = _asset(engine, world)
    office = sign_in(world.county)
    page = office.get(f"/ledger/assets/{asset_id}/contract")
    office.post(f"/ledger/assets/{asset_id}/contract", data={"csrf": csrf_of(page.text), "new": "1", **FORM})
    office.post(f"/ledger/assets/{asset_id}/owners", data={"csrf": csrf_of(page.text), "owner0": "新桥村股份经济合作社",
                                                           "share0": "70", "owner1": "桃源县农业发展有限公司",
                                                           "share1": "30"})
    with Session(engine, expire_on_commit=False) as s:
        contract_id = contracts.current_contract(s, asset_id).id
        supervisor = make_user(s, "village_supervisor", world.tree.village_a1, "新桥村监委会主任")
        neighbour = make_user(s, "village_cadre", world.tree.village_a2, "王庄村支书")  # same township
        s.commit()
    office.post(f"/ledger/assets/{asset_id}/contract/files",
                data={"csrf": csrf_of(page.text), "contract": str(contract_id)},
                files={"file": ("租赁合同.pdf", _pdf(), "application/pdf")})
    with Session(engine) as s:
        (kept,) = s.exec(select(ContractAttachment)).all()
        audited = len(s.exec(select(AuditEntry).where(AuditEntry.entity == "asset")).all())

    for reader in (world.cadre, supervisor):
        client = sign_in(reader)
        # From the asset's income page (the village's page of its asset) to its contract.
        income = client.get(f"/income/assets/{asset_id}")
        assert income.status_code == 200 and f'href="/ledger/assets/{asset_id}/contract?' in income.text
        read = client.get(f"/ledger/assets/{asset_id}/contract")
        assert read.status_code == 200
        text = re.sub(r"<[^>]+>", " ", read.text)
        for words in ("桃源县农业发展有限公司", "租赁", "2024-07-01 – 2027-06-30", "每年7月1日前付租金8万元",
                      "优先吸纳脱贫户务工", "租金逾期30日可解除合同", "新桥村股份经济合作社：70 %", "租赁合同.pdf"):
            assert words in text, words
        assert "lease" not in text and "<form" not in read.text and 'name="csrf"' not in read.text
        assert f'href="/income/assets/{asset_id}?' in read.text  # back to where the village sees the asset
        assert client.get(f"/ledger/assets/{asset_id}/contract/files/{kept.id}").content == _pdf()
        # Reading is all: every change is refused, nothing is written.
        token = _csrf(client, settings)
        assert client.post(f"/ledger/assets/{asset_id}/contract",
                           data={"csrf": token, **FORM, "operator": "某某"}).status_code == 404
        assert client.post(f"/ledger/assets/{asset_id}/contract",
                           data={"csrf": token, "new": "1", "confirm": "1", **FORM}).status_code == 404
        assert client.post(f"/ledger/assets/{asset_id}/owners",
                           data={"csrf": token, "owner0": "某合作社", "share0": "100"}).status_code == 404
        assert client.post(f"/ledger/assets/{asset_id}/contract/files",
                           data={"csrf": token, "contract": str(contract_id)}, files={"file": ("x.pdf", _pdf(), "application/pdf")}).status_code == 404
        assert client.get(f"/ledger/assets/{asset_id}/owners").status_code == 404
    with Session(engine) as s:
        assert [c.operator for c in s.exec(select(AssetContract)).all()] == ["桃源县农业发展有限公司"]
        assert [o.owner for o in contracts.owner_shares(s, asset_id)] == ["新桥村股份经济合作社", "桃源县农业发展有限公司"]
        assert len(s.exec(select(ContractAttachment)).all()) == 1 and len(s.exec(select(AuditEntry).where(
            AuditEntry.entity == "asset")).all()) == audited

    # Another village's cadre, even of the same township: as an unknown asset.
    other = sign_in(neighbour)
    assert other.get(f"/ledger/assets/{asset_id}/contract").status_code == 404
    assert other.get(f"/ledger/assets/{asset_id}/contract/files/{kept.id}").status_code == 404
