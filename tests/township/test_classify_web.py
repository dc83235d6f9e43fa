"""四个一批 on the web: the suggested class with its reasons in words, the leader confirms or changes it with a
note (audited), an asset without reports classified with a note; the dashboards' "未分类" leads here; scope."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from bot.storage.models import AssetClass, AuditEntry
from tests.factories import make_asset
from tests.township.conftest import CHINESE_CODES, csrf, submit_report, text_of, token


def _idle_asset(town):
    with Session(town.engine, expire_on_commit=False) as session:
        from bot.storage.models import OrgUnit

        village = session.exec(select(OrgUnit).where(OrgUnit.name == "王庄村")).one()
        asset = make_asset(session, village, name="王庄村光伏电站")
        session.commit()
        return asset


def _audits(town, action: str) -> list[AuditEntry]:
    with Session(town.engine) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)
                                 .order_by(AuditEntry.id)).all())


def test_confirm_and_change_the_suggested_class(town):
    submit_report(town)
    idle = _idle_asset(town)
    leader = town.client(town.leader)
    home = leader.get("/home")
    assert 'href="/classify' in home.text
    listed = leader.get("/classify")
    assert listed.status_code == 200
    assert "新桥村蔬菜大棚" in listed.text and "王庄村光伏电站" in listed.text
    assert "建议分类：提升一批" in listed.text  # a serious problem is still open
    unclassified = leader.get("/classify?show=unclassified")
    assert "王庄村光伏电站" in unclassified.text and "新桥村蔬菜大棚" not in unclassified.text
    assert not CHINESE_CODES.search(text_of(listed.text))
    assert not re.findall(r"[A-Za-z_]{3,}", text_of(listed.text) + text_of(leader.get(f"/classify/{town.asset.id}").text))

    page = leader.get(f"/classify/{town.asset.id}")
    words = text_of(page.text)
    assert "建议分类：提升一批" in words and "理由 尚有1个严重问题未解决。" in words
    done = leader.post(f"/classify/{town.asset.id}?lang=zh_CN", data={"csrf": csrf(page), "chosen": "upgrade",
                                                                      "month": "", "note": ""})
    assert done.status_code == 200 and done.url.path == "/classify"
    assert "已记录：新桥村蔬菜大棚 — 提升一批。" in done.text
    with Session(town.engine) as session:
        row = session.exec(select(AssetClass).where(AssetClass.asset_id == town.asset.id)).one()
        assert (row.suggested, row.confirmed, row.confirmed_by) == ("提升", "提升", town.leader.id)
    assert _audits(town, "asset.classify")[-1].after["confirmed"] == "提升"

    # Another class without a note: refused on the asset's page (a GET address), the choice kept.
    refused = leader.post(f"/classify/{town.asset.id}", data={"csrf": csrf(page), "chosen": "dispose", "note": ""})
    assert refused.url.path == f"/classify/{town.asset.id}" and 'role="alert"' in refused.text
    assert 'value="dispose" checked' in refused.text
    assert leader.get(str(refused.url)).status_code == 200
    done = leader.post(f"/classify/{town.asset.id}", data={"csrf": csrf(page), "chosen": "dispose",
                                                           "note": "大棚已到使用年限，村里决定拆除"})
    assert "处置一批" in done.text
    entry = _audits(town, "asset.classify")[-1]
    assert entry.before["confirmed"] == "提升" and entry.after["confirmed"] == "处置"
    assert entry.after["note"] == "大棚已到使用年限，村里决定拆除" and entry.actor_user_id == town.leader.id

    # An asset without any report: classified with a note only.
    refused = leader.post(f"/classify/{idle.id}", data={"csrf": csrf(page), "chosen": "revitalise", "note": ""})
    assert refused.url.path == f"/classify/{idle.id}" and "无法给出建议分类" in refused.text
    done = leader.post(f"/classify/{idle.id}", data={"csrf": csrf(page), "chosen": "revitalise",
                                                     "note": "电站停用两年，计划招租"})
    assert "已记录：王庄村光伏电站 — 盘活一批。" in done.text
    with Session(town.engine) as session:
        row = session.exec(select(AssetClass).where(AssetClass.asset_id == idle.id)).one()
        assert (row.suggested, row.confirmed) == (None, "盘活")
    assert "王庄村光伏电站" not in leader.get("/classify?show=unclassified").text
    assert "王庄村光伏电站" not in leader.get("/classify?show=todo").text


def test_the_dashboards_unclassified_count_leads_to_the_filtered_page(town):
    _idle_asset(town)
    leader = town.client(town.leader)
    dashboard = leader.get(f"/oversight/{town.leader.org_unit_id}")
    link = re.search(r'href="(/classify\?[^"]*show=unclassified)" id="unclassified-link"', dashboard.text)
    assert link
    page = leader.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and "王庄村光伏电站" in page.text

    county = town.client(town.officer)
    dashboard = county.get(f"/oversight/{town.officer.org_unit_id}")
    assert f'href="/problems?lang=zh_CN&amp;unit={town.officer.org_unit_id}"' in dashboard.text
    assert county.get(f"/problems?unit={town.officer.org_unit_id}").status_code == 200
    link = re.search(r'href="(/classify\?[^"]*show=unclassified)" id="unclassified-link"', dashboard.text)
    page = county.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and "王庄村光伏电站" in page.text
    assert 'method="post"' not in county.get(f"/classify/{town.asset.id}").text  # the county looks, does not choose
    assert 'href="/classify' not in county.get("/home").text


def test_scope_refusals(town):
    submit_report(town)
    outsider = town.client(town.outsider)
    assert "新桥村蔬菜大棚" not in outsider.get("/classify").text
    assert outsider.get(f"/classify/{town.asset.id}").status_code == 403
    assert outsider.post(f"/classify/{town.asset.id}", data={"csrf": token(outsider, town), "chosen": "upgrade",
                                                             "note": "x"}).status_code == 403
    assert outsider.get(f"/classify?unit={town.leader.org_unit_id}").status_code == 403
    county = town.client(town.officer)
    assert county.post(f"/classify/{town.asset.id}", data={"csrf": token(county, town), "chosen": "upgrade",
                                                           "note": "x"}).status_code == 403
    cadre = town.client(town.cadre)
    assert cadre.post(f"/classify/{town.asset.id}", data={"csrf": token(cadre, town), "chosen": "upgrade",
                                                          "note": "x"}).status_code == 403
    assert _audits(town, "asset.classify") == []


def test_reasons_name_answers_in_words_not_keys():
    from bot.scoring.trace import Step
    from bot.web.classify import _reason

    step = Step("Unauthorised acts reported ({acts}): refer to the county at once.", {"acts": "sublease, transfer"})
    shown = _reason("zh_CN", step)
    assert "sublease" not in shown and "transfer" not in shown and "、" in shown
    assert "Sublet, Transferred" in _reason("en", step)
