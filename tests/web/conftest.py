"""Fixtures for the web side: the real app (create_app) on a real database; an asset full of personal data."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.clock import utcnow
from bot.config import Settings
from bot.services import evidence
from bot.services.evidence import EvidenceStore
from bot.storage.models import Asset, AssetClass, Problem, Report, User
from bot.web.app import create_app
from tests.factories import make_asset, make_tree, make_user
from tests.services.images import make_jpeg

BOT_TOKEN = "123456:TEST-token-for-web"
# Personal data planted in fields the public page must never show.
SECRETS = (
    "13812345678", "410821199001011234", "张三户", "李四户", "13987654321", "赵六", "13700001111",
    "保底收益6%按户", "王主任", "13600002222", "村支书私人备注", "31.4567", "117.2345", "18900003333",
)


@dataclass
class World:
    """The populated database of one test."""

    tree: object
    asset: Asset
    other_asset: Asset
    cadre: User
    other_cadre: User
    board_sha: str
    sign_sha: str
    hidden_sha: str
    report: Report


@pytest.fixture
def web_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", telegram_token=BOT_TOKEN, public_url="http://testserver",
                    secret_key="test-secret-key-0123456789", supervision_phone="12317")


@pytest.fixture
def store(web_settings) -> EvidenceStore:
    return EvidenceStore.from_settings(web_settings)


def _submitted_report(session: Session, asset: Asset, period: str, answers: dict, user: User) -> Report:
    report = Report(asset_id=asset.id, form_id="monthly-operating", period=period, status="submitted",
                    answers=answers, position="__review__", created_by=user.id, submitted_by=user.id,
                    submitted_at=utcnow(), channel="web")
    session.add(report)
    session.flush()
    return report


def populate(session: Session, store: EvidenceStore) -> World:
    """Create the tree, an asset with personal data everywhere, a submitted report with photos, a problem."""
    tree = make_tree(session)
    tree.village_a1.supervision_phone = "0391-5551234"
    cadre = make_user(session, "village_cadre", tree.village_a1, name="王主任")
    cadre.phone = "13600002222"
    other_cadre = make_user(session, "village_cadre", tree.village_b1)
    other_cadre.phone = "18900003333"
    asset = make_asset(
        session, tree.village_a1, name="新桥村光伏电站", asset_type="经营性", industry_category="光伏扶贫",
        funds_total=Decimal("120.5"), funds_central=Decimal("80"), funds_province=Decimal("40.5"),
        funds_county=Decimal("0"), year_completed=2019, owner="新桥村股份经济合作社",
        custodian="新桥村村民委员会", operator="桃源县光伏运维有限公司",
        contract_start=dt.date(2020, 1, 1), contract_end=dt.date(2029, 12, 31),
        beneficiaries="张三户（身份证410821199001011234，电话13812345678）等45户",
        ownership_shares="李四户20%；电话13987654321", performance_targets="村支书私人备注",
        income_terms="保底收益6%按户", construction_content="赵六负责施工 13700001111",
        responsible_unit="王主任", latitude=31.4567, longitude=117.2345)
    other_asset = make_asset(session, tree.village_b1, name="梨树村冷库")
    board = store.ingest(make_jpeg(640, 480, seed=1, exif_gps=(31.4567, 117.2345)))
    sign = store.ingest(make_jpeg(640, 480, seed=2, exif_gps=(31.4567, 117.2345)))
    hidden = store.ingest(make_jpeg(640, 480, seed=3))
    year = utcnow().year
    report = _submitted_report(session, asset, f"{year}-01", {
        "income_distributed": "yes", "income_amount": "3.5", "households_benefited": 45,
        "poor_households": 12,
        "difficulty_note": "联系人赵六 13700001111"}, cadre)
    for key, photo in (("board_photo", board), ("sign_photo", sign), ("other_photo", hidden)):
        use = evidence.record_use(session, photo=photo, report=report, question_key=key,
                                  period_start=dt.date(year, 1, 1))
        report.answers = {**report.answers, key: [{"sha256": photo.sha256, "photo_id": use.photo_id}]}
    session.add(report)
    session.add(Problem(asset_id=asset.id, report_id=report.id, source="report", kind="idle",
                        severity="major", description="张三户反映 13812345678"))
    session.add(AssetClass(asset_id=asset.id, period=f"{year}-01", suggested="upgrade", confirmed="upgrade"))
    session.commit()
    return World(tree, asset, other_asset, cadre, other_cadre, board.sha256, sign.sha256, hidden.sha256,
                 report)


@pytest.fixture
def world(engine, store) -> World:
    with Session(engine, expire_on_commit=False) as session:
        return populate(session, store)


@pytest.fixture
def app(web_settings, engine):
    return create_app(web_settings, engine)


@pytest.fixture
def client(app) -> TestClient:
    """A client without the lifespan (no bot, no scheduler), following no redirects."""
    return TestClient(app, follow_redirects=False)


CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)
