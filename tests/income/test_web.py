"""The income pages: the village enters the due and drafts the plan, confirms before submitting; the township
approves from its list; the department files from its list; the village records a payment; refusals flash."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.storage.models_income import DistributionPlan


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def follow(client: TestClient, response) -> str:
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    return page.text


def test_a_plan_from_draft_to_payment_on_the_web(engine, world, client_for):
    village = client_for(world.cadre)
    home = village.get("/home?lang=zh_CN").text
    assert 'href="/income?' in home
    # The village's list: its assets' income, no tabs for the township's or department's steps.
    listed = village.get("/income?lang=zh_CN").text
    assert "新桥村蔬菜大棚" in listed and "show=approve" not in listed and "show=file" not in listed
    assert "待审核的方案" not in village.get("/income?lang=zh_CN&show=approve").text
    page = village.get(f"/income/assets/{world.greenhouse}?lang=zh_CN&year=2026")
    assert page.status_code == 200
    token = csrf(page.text)
    text = follow(village, village.post(f"/income/assets/{world.greenhouse}/due?lang=zh_CN",
                                        data={"csrf": token, "period": "2026", "amount": "8", "year": "2026"}))
    assert "2026年" in text and "8" in text and 'id="flash"' in text

    plan_url = f"/income/assets/{world.greenhouse}/plan?lang=zh_CN&year=2026"
    token = csrf(village.get(plan_url).text)
    refused = follow(village, village.post(plan_url, data={"csrf": token, "year": "2026", "total": "8",
                                                           "percent_households": "50", "percent_reinvest": "20"}))
    assert "70%" in refused and "100%" in refused and 'class="error"' in refused
    text = follow(village, village.post(plan_url, data={"csrf": token, "year": "2026", "total": "8",
                                                        "percent_households": "70", "households_households": "45",
                                                        "percent_reinvest": "30"}))
    with Session(engine) as session:
        plan_id = session.exec(select(DistributionPlan)).one().id
    assert f"/income/plans/{plan_id}/submit" in text
    confirm = village.get(f"/income/plans/{plan_id}/submit?lang=zh_CN")
    assert confirm.status_code == 200 and "5.6" in confirm.text  # 70 % of 8
    follow(village, village.post(f"/income/plans/{plan_id}/submit?lang=zh_CN", data={"csrf": csrf(confirm.text)}))

    township = client_for(world.leader)
    waiting = township.get("/income?show=approve&lang=zh_CN").text
    assert "新桥村蔬菜大棚" in waiting
    assert client_for(world.other_leader).get("/income?show=approve&lang=zh_CN").text.count("新桥村蔬菜大棚") == 0
    assert client_for(world.other_leader).get(plan_url).status_code == 403
    confirm = township.get(f"/income/plans/{plan_id}/approve?lang=zh_CN")
    follow(township, township.post(f"/income/plans/{plan_id}/approve?lang=zh_CN", data={"csrf": csrf(confirm.text)}))
    # approving twice is a step out of order: refused with a line, not an error page
    again = follow(township, township.post(f"/income/plans/{plan_id}/approve?lang=zh_CN",
                                           data={"csrf": csrf(confirm.text)}))
    assert 'class="error"' in again

    department = client_for(world.department)
    assert "新桥村蔬菜大棚" in department.get("/income?show=file&lang=zh_CN").text
    assert "新桥村蔬菜大棚" not in client_for(world.tourism).get("/income?show=file&lang=zh_CN").text
    tourism = client_for(world.tourism)
    token = csrf(tourism.get(f"/income/plans/{plan_id}/file?lang=zh_CN").text)
    assert tourism.post(f"/income/plans/{plan_id}/file?lang=zh_CN", data={"csrf": token}).status_code == 403
    confirm = department.get(f"/income/plans/{plan_id}/file?lang=zh_CN")
    follow(department, department.post(f"/income/plans/{plan_id}/file?lang=zh_CN", data={"csrf": csrf(confirm.text)}))

    page = village.get(plan_url).text
    token = csrf(page)
    unconfirmed = follow(village, village.post(f"/income/plans/{plan_id}/record?lang=zh_CN", data={
        "csrf": token, "category": "households", "date": "2026-01-05", "amount": "5.6"}))
    assert 'class="error"' in unconfirmed
    done = follow(village, village.post(f"/income/plans/{plan_id}/record?lang=zh_CN", data={
        "csrf": token, "category": "households", "date": "2026-01-05", "amount": "5.6", "confirm": "1"}))
    assert 'id="flash"' in done and "2026-01-05" in done
    with Session(engine) as session:
        assert session.get(DistributionPlan, plan_id).status == "distributed"


def test_the_ledger_page_links_to_the_income_page(engine, world, client_for):
    page = client_for(world.leader).get(f"/ledger/assets/{world.greenhouse}?lang=zh_CN").text
    assert f'href="/income/assets/{world.greenhouse}?' in page
