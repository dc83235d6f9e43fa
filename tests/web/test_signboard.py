"""`villagebot qr`: QR PNGs and A4 signboards whose QR codes decode (zxing-cpp) to the public URL."""

from __future__ import annotations

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image
from sqlmodel import Session

from bot.cli import cli
from bot.services import signboard
from bot.services.signboard import SignboardError, find_cjk_font
from tests.factories import make_asset
from tests.web.conftest import SECRETS, populate

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture
def village_world(sqlite_url, sqlite_engine, store, monkeypatch, web_settings):
    monkeypatch.setenv("VILLAGEBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(web_settings.data_dir))
    monkeypatch.setenv("VILLAGEBOT_PUBLIC_URL", "https://zc.example.cn/")
    with Session(sqlite_engine, expire_on_commit=False) as session:
        world = populate(session, store)
        second = make_asset(session, world.tree.village_a1, name="新桥村灌溉水渠", asset_type="公益性",
                            project_code="XQ/2020:渠 01")
        session.commit()
    return world, second


def _decode(path) -> list[str]:
    with Image.open(path) as image:
        return [code.text for code in zxingcpp.read_barcodes(image)]


def test_qr_command_writes_decodable_codes_and_signboards(village_world, tmp_path):
    world, second = village_world
    out = tmp_path / "signs"
    result = CliRunner().invoke(cli, ["qr", "--village", "新桥村", "-o", str(out)])
    assert result.exit_code == 0, result.output
    expected = {
        world.asset.project_code: f"https://zc.example.cn/p/{world.asset.public_token}",
        second.project_code: f"https://zc.example.cn/p/{second.public_token}",
    }
    assert "2" in result.output
    for code, url in expected.items():
        stem = signboard.safe_name(code)
        assert "/" not in stem and ":" not in stem
        assert _decode(out / f"{stem}.png") == [url]
        board = out / f"{stem}-signboard.png"
        with Image.open(board) as image:
            assert image.size == (1240, 1754)  # A4 at 150 dpi
        assert _decode(board) == [url]
        pdf = (out / f"{stem}-signboard.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf  # the CJK font is embedded
    # only the village's assets: nothing for the other village's asset
    assert len(list(out.glob("*-signboard.pdf"))) == 2


def test_signboard_lines_are_chinese_and_disclosed_only(village_world, sqlite_engine, web_settings):
    world, _ = village_world
    from bot.services import public

    with Session(sqlite_engine) as session:
        d = public.disclosure(session, session.get(type(world.asset), world.asset.id), tz=web_settings.tz)
    lines = dict(signboard.facts(d))
    assert lines["资产名称"] == "新桥村光伏电站"
    assert lines["投入资金"].startswith("共120.5万元（中央资金 80，省级资金 40.5）")
    text = repr(lines)
    for secret in SECRETS:
        assert secret not in text


def test_missing_font_is_a_clear_error(tmp_path):
    with pytest.raises(SignboardError) as info:
        find_cjk_font(candidates=[str(tmp_path / "none.ttc"), DEJAVU])
    assert "fonts-wqy-microhei" in str(info.value)


def test_font_without_chinese_is_refused_by_the_command(village_world, tmp_path):
    args = ["qr", "--village", "新桥村", "-o", str(tmp_path / "o"), "--font", DEJAVU]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "fonts-wqy-microhei" in result.output
    assert not (tmp_path / "o").exists()


def test_unknown_village(village_world, tmp_path):
    result = CliRunner().invoke(cli, ["qr", "--village", "不存在村", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "不存在村" in result.output


def test_wrap_keeps_every_character():
    text = "新桥村股份经济合作社" * 5
    lines = signboard.wrap(text, 50, lambda s: len(s) * 10)
    assert "".join(lines) == text and all(len(line) <= 5 for line in lines)
