"""The audit log page: filters (who, kind, asset, unit, dates), pages, entries in words, the county officer's
county only, and the chain check of `villagebot audit verify` with a tampered entry found and named."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import text
from sqlmodel import Session, select

from bot.services import audit
from bot.storage.models import AuditEntry, User

ACTOR = audit.Actor(None, "cli")


def _entries(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"第(\d+)条 ·", page)]


def _seed(engine, office) -> dict:
    """Entries about the county's asset, the other county's asset, a village, and many by one person."""
    with Session(engine) as session:
        officer = audit.Actor(office.county_officer.id, f"user:{office.county_officer.id}")
        audit.record(session, ACTOR, "asset.update", "asset", office.assets[0].id, {"name": "旧名"}, {"name": "新名"})
        audit.record(session, ACTOR, "asset.update", "asset", office.foreign.id, None, {"name": "远山"})
        audit.record(session, ACTOR, "org.update", "org_unit", office.tree.village_b1.id, None, {"code": "1"})
        for n in range(35):
            audit.record(session, officer, "duty.done", "org_unit", office.tree.county.id, None,
                         {"period": "2026-Q1", "note": f"抽查记录{n}"})
        other = audit.Actor(office.other_officer.id, f"user:{office.other_officer.id}")
        audit.record(session, other, "duty.done", "org_unit", office.tree.other_county.id, None, {"period": "2026"})
        session.commit()
        return {e.action + ":" + (e.entity_id or ""): e.id for e in session.exec(select(AuditEntry)).all()}


def test_county_officer_browses_their_county_in_words_with_filters_and_pages(office, browser, engine):
    ids = _seed(engine, office)
    client = browser(office.county_officer)
    page = client.get("/audit")
    assert page.status_code == 200
    assert 'href="/audit' in client.get("/home").text
    body = re.split(r"<main[^>]*>", page.text, maxsplit=1)[1]
    assert "duty.done" not in body and "2026-Q1" not in body
    assert "登记工作已完成" in body and "2026年第1季度" in body and "周科长（县级主管部门）" in body
    assert "共" in body and "第1/2页" in body  # 35 + the county's other entries: two pages of 30
    first = _entries(page.text)
    assert len(first) == 30 and first == sorted(first, reverse=True)
    older = client.get("/audit?page=2")
    second = _entries(older.text)
    assert second and max(second) < min(first)
    everything = set(first) | set(second)
    # the other county's asset and the other county's officer are not shown
    assert ids[f"asset.update:{office.foreign.id}"] not in everything
    assert "远山" not in older.text + page.text.split("<select", 1)[0]
    assert "钱科长" not in page.text
    assert ids[f"asset.update:{office.assets[0].id}"] in everything

    # which asset: by project code or name
    by_asset = client.get("/audit", params={"asset": "XQ-2019"}).text
    assert _entries(by_asset) == [ids[f"asset.update:{office.assets[0].id}"]]
    assert "台账资产信息变更" in by_asset and "新桥村光伏电站" in by_asset
    assert "没有与“远山村茶厂”相符" in client.get("/audit", params={"asset": "远山村茶厂"}).text
    # which unit
    by_unit = client.get("/audit", params={"unit": office.tree.township_b.id}).text
    found = _entries(by_unit)
    assert ids[f"org.update:{office.tree.village_b1.id}"] in found
    assert ids[f"asset.update:{office.assets[0].id}"] not in found
    assert client.get("/audit", params={"unit": office.tree.village_x.id}).status_code == 403
    # who
    by_who = client.get("/audit", params={"who": office.county_officer.id}).text
    assert "共36条" in by_who or "共37条" in by_who  # 35 duties, the sign-in (and nothing else)
    system = _entries(client.get("/audit", params={"who": "system"}).text)
    assert ids[f"asset.update:{office.assets[0].id}"] in system
    # what kind
    kinds = _entries(client.get("/audit", params={"kind": "asset"}).text)
    assert kinds == [ids[f"asset.update:{office.assets[0].id}"]]
    # dates (county time)
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert "没有符合条件的记录" in client.get("/audit", params={"from": str(today + dt.timedelta(days=1))}).text
    assert _entries(client.get("/audit", params={"from": str(today), "to": str(today), "kind": "asset"}).text)
    assert client.get("/audit", params={"from": "2026-13-40"}).status_code == 400
    # a page link keeps the filters
    paged = client.get("/audit", params={"kind": "duty"}).text
    assert "kind=duty" in paged and "page=2" in paged


def test_admin_sees_every_county(office, browser, engine):
    ids = _seed(engine, office)
    admin = browser(office.admin)
    shown = _entries(admin.get("/audit", params={"kind": "asset"}).text)
    assert ids[f"asset.update:{office.foreign.id}"] in shown and ids[f"asset.update:{office.assets[0].id}"] in shown


def test_verify_finds_a_tampered_entry_and_names_it(office, browser, engine):
    ids = _seed(engine, office)
    client = browser(office.county_officer)
    page = client.get("/audit")
    assert 'action="/audit/verify"' in page.text
    ok = client.get("/audit/verify")
    assert ok.status_code == 200 and "审计日志完好" in ok.text
    target = ids[f"asset.update:{office.assets[0].id}"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = :id"), {"id": target})
    broken = client.get("/audit/verify").text
    assert "审计日志已被篡改" in broken
    assert f"第一条被改动的是第{target}条记录" in broken
    assert f"第{target}条：" in broken
    assert "edited" not in broken


def test_removed_entry_is_found(office, browser, engine):
    ids = _seed(engine, office)
    target = ids[f"org.update:{office.tree.village_b1.id}"]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": target})
    page = browser(office.admin).get("/audit/verify").text
    assert "审计日志已被篡改" in page and f"第{target + 1}条" in page


def test_scope_refusals(office, browser, engine):
    for person in (office.township_leader, office.cadre):
        client = browser(person)
        assert client.get("/audit").status_code == 403
        assert client.get("/audit/verify").status_code == 403
        assert 'href="/audit' not in client.get("/home").text
    with Session(engine) as session:
        assert session.get(User, office.cadre.id).role == "village_cadre"


def test_reports_and_problems_are_told_in_words(office, browser, engine):
    from bot.storage.models import Problem, Report

    with Session(engine) as session:
        report = Report(asset_id=office.assets[0].id, form_id="monthly-operating", period="2026-01",
                        status="submitted", answers={}, position="__review__", created_by=office.cadre.id)
        problem = Problem(asset_id=office.assets[2].id, source="report", kind="idle", severity="major",
                          description="闲置", status="resolved")
        session.add_all([report, problem])
        session.flush()
        cadre = audit.Actor(office.cadre.id, f"user:{office.cadre.id}")
        audit.record(session, cadre, "report.submit", "report", report.id, {"status": "draft"},
                     {"status": "submitted", "asset_id": office.assets[0].id})
        leader = audit.Actor(office.township_leader.id, f"user:{office.township_leader.id}")
        audit.record(session, leader, "problem.resolve", "problem", problem.id, {"status": "in_hand"},
                     {"status": "resolved", "note": "已重新承包"})
        audit.record(session, audit.Actor(None, "device:abc"), "problem.villager_report", "problem", problem.id)
        audit.record(session, ACTOR, "something.new", "thing", 1, None, {"status": "weird"})
        session.commit()
        report_id, problem_id = report.id, problem.id
    page = browser(office.admin).get("/audit").text
    body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.split(r"<main[^>]*>", page, maxsplit=1)[1]))
    assert "提交报告 · 新桥村光伏电站，2026年1月" in body
    assert "李书记（村干部）" in body
    assert "状态：草稿 → 已提交" in body
    assert f"王庄村扶贫车间的第{problem_id}号问题" in body and "状态：处理中 → 已解决" in body
    assert "说明：已重新承包" in body
    assert "村民（匿名）" in body and "其他变更" in body
    for code in ("report.submit", "in_hand", "2026-01", "device:", "something.new", "weird"):
        assert code not in body, code
    assert report_id
