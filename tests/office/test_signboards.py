"""Signboards on the web and the command line: one PDF per village or township whose QR codes decode
(zxing-cpp) to the public pages; a local or non-https public address refused unless allowed for a test."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image
from pypdf import PdfReader

from bot.cli import cli
from bot.i18n import translate
from bot.services import signboard
from tests.office.conftest import PUBLIC


def _pages(pdf: bytes) -> list:
    assert pdf.startswith(b"%PDF")
    return PdfReader(io.BytesIO(pdf)).pages


def _codes(page) -> list[str]:
    found = []
    for image in page.images:
        with Image.open(io.BytesIO(image.data)) as picture:
            found += [code.text for code in zxingcpp.read_barcodes(picture.convert("L"))]
    return found


def test_county_officer_downloads_a_townships_signboards_as_one_pdf(office_sqlite, browser_sqlite):
    office = office_sqlite
    client = browser_sqlite(office.county_officer)
    page = client.get("/signboards")
    assert page.status_code == 200
    for unit in (office.tree.township_a, office.tree.township_b, office.tree.village_a1, office.tree.village_b1):
        assert f"/signboards/{unit.id}.pdf" in page.text
    assert office.tree.village_x.name not in page.text
    home = client.get("/home").text
    assert 'href="/signboards' in home

    response = client.get(f"/signboards/{office.tree.township_a.id}.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    pages = _pages(response.content)
    township = office.assets[:3]  # 新桥村 (two, by project code) then 王庄村
    assert len(pages) == 3
    for pdf_page, asset in zip(pages, township):
        assert _codes(pdf_page) == [f"{PUBLIC}/p/{asset.public_token}"]
        text = pdf_page.extract_text()
        assert asset.name in text
    first = pages[0].extract_text()
    # words, not stored codes: dates and years as people write them, types by name
    assert "2020年1月1日" in first and "2029年12月31日" in first and "2019年" in first
    assert "2020-01-01" not in first and "经营性资产" in first
    assert b"/FontFile2" in response.content  # the CJK font is embedded


def test_a_village_pdf_has_one_page_per_asset(office_sqlite, browser_sqlite):
    client = browser_sqlite(office_sqlite.county_officer)
    pages = _pages(client.get(f"/signboards/{office_sqlite.tree.village_a1.id}.pdf").content)
    assert len(pages) == 2
    assert _codes(pages[1]) == [f"{PUBLIC}/p/{office_sqlite.assets[1].public_token}"]


def test_township_leader_prints_only_their_township_and_a_cadre_not_at_all(office_sqlite, browser_sqlite):
    office = office_sqlite
    leader = browser_sqlite(office.township_leader)
    page = leader.get("/signboards").text
    assert f"/signboards/{office.tree.village_a2.id}.pdf" in page
    assert f"/signboards/{office.tree.township_b.id}.pdf" not in page
    assert leader.get(f"/signboards/{office.tree.township_b.id}.pdf").status_code == 403
    assert leader.get(f"/signboards/{office.tree.village_b1.id}.pdf").status_code == 403
    assert leader.get(f"/signboards/{office.tree.village_x.id}.pdf").status_code == 403
    assert leader.get("/signboards/999999.pdf").status_code == 403  # unknown like foreign
    assert leader.get(f"/signboards/{office.tree.village_a2.id}.pdf").status_code == 200

    cadre = browser_sqlite(office.cadre)
    assert cadre.get("/signboards").status_code == 403
    assert cadre.get(f"/signboards/{office.tree.village_a1.id}.pdf").status_code == 403
    assert 'href="/signboards' not in cadre.get("/home").text

    other = browser_sqlite(office.other_officer)
    assert other.get(f"/signboards/{office.tree.village_a1.id}.pdf").status_code == 403


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000", "https://192.168.1.20",
                                 "https://10.0.0.5:8443", "https://villagebot.local", "http://zc.example.cn"])
def test_the_web_page_refuses_a_local_or_plain_http_address(office_sqlite, browser_sqlite, url):
    office = office_sqlite
    client = browser_sqlite(office.county_officer, public_url=url)
    page = client.get("/signboards")
    assert page.status_code == 200
    assert "VILLAGEBOT_PUBLIC_URL" in page.text and "https" in page.text
    assert "不能打印" in page.text or "无法" in page.text
    assert ".pdf" not in page.text
    refused = client.get(f"/signboards/{office.tree.village_a1.id}.pdf")
    assert refused.status_code == 409
    assert "VILLAGEBOT_PUBLIC_URL" in refused.text and "application/pdf" not in refused.headers["content-type"]


def test_a_test_print_is_allowed_explicitly_and_says_so(office_sqlite, browser_sqlite):
    office = office_sqlite
    client = browser_sqlite(office.county_officer, public_url="http://127.0.0.1:8000", allow_local_public_url=True)
    page = client.get("/signboards").text
    assert f"/signboards/{office.tree.village_a1.id}.pdf" in page
    assert "测试" in page
    pages = _pages(client.get(f"/signboards/{office.tree.village_a1.id}.pdf").content)
    assert _codes(pages[0]) == [f"http://127.0.0.1:8000/p/{office.assets[0].public_token}"]


@pytest.mark.parametrize("url, problem", [
    ("http://127.0.0.1:8000", signboard.MSG_LOCAL_URL), ("http://[::1]:8000", signboard.MSG_LOCAL_URL),
    ("https://172.16.3.4", signboard.MSG_LOCAL_URL), ("https://169.254.1.1", signboard.MSG_LOCAL_URL),
    ("https://testserver", signboard.MSG_LOCAL_URL), ("https://box.internal", signboard.MSG_LOCAL_URL),
    ("http://zc.example.cn", signboard.MSG_NOT_HTTPS), ("http://8.8.8.8", signboard.MSG_NOT_HTTPS),
    ("https://zc.example.cn", None), ("https://8.8.8.8:8443/vb", None),
])
def test_which_addresses_can_go_on_a_sign(url, problem):
    assert signboard.url_problem(url) == problem


@pytest.fixture
def cli_env(sqlite_url, office_sqlite, monkeypatch, tmp_path):
    monkeypatch.setenv("VILLAGEBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VILLAGEBOT_ALLOW_LOCAL_PUBLIC_URL", raising=False)
    return office_sqlite


def test_the_command_refuses_a_loopback_address_in_chinese(cli_env, monkeypatch, tmp_path):
    monkeypatch.setenv("VILLAGEBOT_PUBLIC_URL", "http://127.0.0.1:8000")
    out = tmp_path / "signs"
    result = CliRunner().invoke(cli, ["qr", "--village", "新桥村", "-o", str(out)])
    assert result.exit_code == 2
    assert "VILLAGEBOT_PUBLIC_URL" in result.output and "--allow-local-url" in result.output
    assert translate("zh_CN", signboard.MSG_LOCAL_URL, url="http://127.0.0.1:8000/p/…") in result.output
    assert not out.exists()


def test_the_command_refuses_plain_http(cli_env, monkeypatch, tmp_path):
    monkeypatch.setenv("VILLAGEBOT_PUBLIC_URL", "http://zc.example.cn")
    result = CliRunner().invoke(cli, ["qr", "--village", "新桥村", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert translate("zh_CN", signboard.MSG_NOT_HTTPS, url="http://zc.example.cn/p/…") in result.output


@pytest.mark.parametrize("how", ["flag", "env"])
def test_the_command_prints_a_test_sign_when_allowed(cli_env, monkeypatch, tmp_path, how):
    monkeypatch.setenv("VILLAGEBOT_PUBLIC_URL", "http://127.0.0.1:8000")
    args = ["qr", "--village", "新桥村", "-o", str(tmp_path / "o")]
    if how == "flag":
        args.append("--allow-local-url")
    else:
        monkeypatch.setenv("VILLAGEBOT_ALLOW_LOCAL_PUBLIC_URL", "1")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:8000/p/{cli_env.assets[0].public_token}" in result.output
    assert len(list((tmp_path / "o").glob("*-signboard.pdf"))) == 2


def test_the_command_prints_a_whole_township(cli_env, monkeypatch, tmp_path):
    monkeypatch.setenv("VILLAGEBOT_PUBLIC_URL", PUBLIC)
    result = CliRunner().invoke(cli, ["qr", "--township", "新桥镇", "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "o").glob("*-signboard.pdf"))) == 3
    assert CliRunner().invoke(cli, ["qr", "-o", str(tmp_path / "p")]).exit_code == 2
