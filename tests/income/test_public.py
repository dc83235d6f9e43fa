"""The public QR page shows the year's income received and how it was shared, in totals by category with a
number of households at most — no name of a person or household, no ID, no note typed by the village."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.config import Settings
from bot.services import income
from bot.services.income import ShareIn
from bot.storage.models import Asset, User
from bot.web.app import create_app
from tests.fidelity.conftest import MONTHLY, submit_monthly
from tests.income.conftest import NOW

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PERSONAL = ("张村干", "李镇长", "王主任", "农业农村局吴股长", "张三户", "410821199001011234", "13812345678")


def _year_of_income(engine, world):
    submit_monthly(engine, world.cadre, world.greenhouse, {**MONTHLY, "board_missing": "missing",
                                                           "sign_missing": "missing", "income_distributed": "yes",
                                                           "income_amount": "10"})
    with Session(engine) as session:
        cadre = session.get(User, world.cadre)
        plan = income.draft_plan(session, cadre, world.greenhouse, 2026, "10",
                                 [ShareIn("households", "60", "45"), ShareIn("public_jobs", "30", "6"),
                                  ShareIn("reinvest", "10")], note="张三户（410821199001011234）多分", now=NOW)
        income.submit_plan(session, cadre, plan.id, now=NOW)
        income.approve_plan(session, session.get(User, world.leader), plan.id, now=NOW)
        income.file_plan(session, session.get(User, world.department), plan.id, now=NOW)
        income.record_distribution(session, cadre, plan.id, date="2026-04-09", amount="6", category="households",
                                   note="张三户 13812345678 领取", now=NOW, tz=SHANGHAI)
        session.commit()
        return session.get(Asset, world.greenhouse).public_token


def test_the_public_page_shows_the_years_income_in_totals_and_nothing_personal(engine, world, tmp_path,
                                                                                time_machine):
    time_machine.move_to(NOW)
    token = _year_of_income(engine, world)
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    client = TestClient(create_app(settings, engine))
    page = client.get(f"/p/{token}?lang=zh_CN")
    assert page.status_code == 200
    section = page.text[page.text.index('id="income-shared"'):]
    section = section[:section.index("</section>")]
    assert "2026年收益及分配情况" in section
    assert "10万元" in section  # received
    assert "到户分红：计划6万元，已兑付6万元 · 45户" in section
    assert "公益岗位：计划3万元，已兑付0万元 · 6户" in section
    assert "已分配" in section
    body = client.get(f"/api/public/{token}").json()
    assert body["income_shared"] == {
        "year": 2026, "received": "10", "distributed": "6", "plan_status": "distributed",
        "shares": [{"category": "households", "planned": "6", "paid": "6", "households": 45},
                   {"category": "public_jobs", "planned": "3", "paid": "0", "households": 6},
                   {"category": "reinvest", "planned": "1", "paid": "0", "households": None}]}
    for text in PERSONAL:
        assert text not in page.text and text not in str(body)


def test_the_pages_income_line_reads_the_income_records_and_a_public_welfare_asset_has_none(engine, world, tmp_path,
                                                                                             time_machine):
    """The summary line "2026年收益" says what the income records hold (here a month entered on the web, no
    report), the same figure as the income section; a public-welfare asset (no income) has no such line."""
    from decimal import Decimal

    from bot.storage.models_income import AssetIncome

    time_machine.move_to(NOW)
    with Session(engine) as session:
        session.add(AssetIncome(asset_id=world.greenhouse, period="2026-03", received=Decimal("2.5")))
        session.commit()
        greenhouse = session.get(Asset, world.greenhouse).public_token
        road = session.get(Asset, world.road)
        assert road.asset_type == "公益性"
        road_token = road.public_token
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    client = TestClient(create_app(settings, engine))
    assert client.get(f"/api/public/{greenhouse}").json()["income_distributed"] == "2.5"
    page = client.get(f"/p/{greenhouse}?lang=zh_CN").text
    assert "2026年收益" in page and "已分配2.5万元" in page
    road_page = client.get(f"/p/{road_token}?lang=zh_CN").text
    assert "2026年收益" not in road_page and "尚未上报" not in road_page.split("最近一次月度检查")[0]
