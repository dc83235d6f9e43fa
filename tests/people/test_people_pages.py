"""The people pages: who has joined, filters, channels, scope of inviting and managing, audit."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.services import audit, users
from bot.services.access import AccessDenied
from bot.services.channels import register_route
from bot.storage.models import AuditEntry, TelegramIdentity, User
from tests.factories import make_user
from tests.people.conftest import browser, csrf_of, invite_on_the_web, link_of, signed_in


def test_a_township_leader_invites_cadres_of_their_own_villages_only(app, engine, office):
    leader = signed_in(app, engine, office.leader)
    form = leader.get("/people/invite").text
    assert "新桥村" in form and "王庄村" in form
    assert "梨树村" not in form and "北坡乡" not in form, "another township's units are not offered"
    roles = form.split('id="role"')[1].split("</select>")[0]
    assert "village_cadre" in roles and "village_supervisor" in roles
    assert "county_officer" not in roles and "township_leader" not in roles

    status, page = invite_on_the_web(leader, name="孙书记", role="village_cadre", unit_id=office.tree.village_a2.id)
    assert status == 200 and "/join/" in link_of(page)

    status, page = invite_on_the_web(leader, name="外乡人", role="village_cadre", unit_id=office.tree.village_b1.id)
    assert status == 403 and "范围" in page
    status, page = invite_on_the_web(leader, name="假科长", role="county_officer", unit_id=office.tree.county.id)
    assert status == 403
    status, page = invite_on_the_web(leader, name="假科长", role="county_officer", unit_id=office.tree.township_a.id)
    assert status == 403 and "您的角色不能授予这个角色" in page
    status, page = invite_on_the_web(leader, name="", role="village_cadre", unit_id=office.tree.village_a2.id)
    assert status == 422 and "请填写姓名" in page
    with Session(engine) as session:
        names = set(session.exec(select(User.name)).all())
    assert "孙书记" in names and not {"外乡人", "假科长"} & names


def test_scope_is_checked_by_the_service_not_only_the_page(engine, office):
    with Session(engine) as session:
        leader = session.get(User, office.leader.id)
        with pytest.raises(AccessDenied):
            users.create_invite(session, leader, scope=office.tree.village_b1, role="village_cadre", name="x")
        with pytest.raises(AccessDenied) as exc:
            users.create_invite(session, leader, scope=office.tree.township_a, role="township_leader", name="x")
        assert exc.value.msgid == users.MSG_ROLE_NOT_YOURS
        with pytest.raises(AccessDenied) as exc:
            users.create_invite(session, session.get(User, office.officer.id), scope=office.tree.village_a1,
                                role="township_leader", name="x")
        assert exc.value.msgid == users.MSG_LEVEL
        with pytest.raises(AccessDenied):
            users.create_invite(session, session.get(User, office.officer.id), scope=office.tree.county,
                                role="admin", name="x")
        cadre_b = make_user(session, "village_cadre", office.tree.village_b1, name="梨树村书记")
        with pytest.raises(AccessDenied):
            users.deactivate(session, leader, cadre_b)
        with pytest.raises(AccessDenied):
            users.deactivate(session, leader, session.get(User, office.officer.id))
        with pytest.raises(AccessDenied):
            users.change_role(session, leader, cadre_b, role="village_cadre", scope=office.tree.village_a1)
        own = make_user(session, "village_cadre", office.tree.village_a1, name="本村书记")
        with pytest.raises(AccessDenied):
            users.change_role(session, leader, own, role="township_leader", scope=office.tree.township_a)
        with pytest.raises(AccessDenied):
            users.change_role(session, leader, own, role="village_cadre", scope=office.tree.village_b1)
        session.rollback()


def test_a_township_leader_sees_only_their_township_and_cannot_open_someone_elsewhere(app, engine, office):
    with Session(engine, expire_on_commit=False) as session:
        ours = make_user(session, "village_cadre", office.tree.village_a1, name="本乡书记")
        theirs = make_user(session, "village_cadre", office.tree.village_b1, name="外乡书记")
        session.commit()
    leader = signed_in(app, engine, office.leader)
    page = leader.get("/people").text
    assert "本乡书记" in page and "外乡书记" not in page and "周科长" not in page
    assert leader.get(f"/people/{theirs.id}").status_code == 403
    assert leader.get(f"/people/{office.officer.id}").status_code == 403
    mine = leader.get(f"/people/{ours.id}")
    assert mine.status_code == 200 and "停用账号" in mine.text
    refused = leader.post(f"/people/{theirs.id}/deactivate", data={"csrf": csrf_of(mine.text)})
    assert refused.status_code == 403
    with Session(engine) as session:
        assert session.get(User, theirs.id).active
    cadre = signed_in(app, engine, ours)
    assert cadre.get("/people").status_code == 403
    assert cadre.get("/people/invite").status_code == 403


def test_the_list_tells_who_joined_with_filters_and_each_persons_channels(app, engine, office):
    with Session(engine, expire_on_commit=False) as session:
        bound = make_user(session, "village_cadre", office.tree.village_a1, name="电报书记")
        session.add(TelegramIdentity(telegram_user_id=777001, chat_id=777001, user_id=bound.id))
        register_route(session, audit.Actor(None, "test"), office.tree.township_a, "wecom",
                       "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", "新桥镇资产群")
        session.commit()
    county = signed_in(app, engine, office.officer)
    invite_on_the_web(county, name="未来书记", role="village_cadre", unit_id=office.tree.village_a2.id)
    everyone = county.get("/people").text
    assert "电报书记" in everyone and "未来书记" in everyone and "张镇长" in everyone
    waiting = county.get("/people?status=invited").text
    assert "未来书记" in waiting and "电报书记" not in waiting
    joined = county.get("/people?status=joined").text
    assert "电报书记" in joined and "未来书记" not in joined
    by_unit = county.get(f"/people?unit={office.tree.township_b.id}").text
    assert "刘乡长" in by_unit and "电报书记" not in by_unit
    by_name = county.get("/people?q=电报").text
    assert "电报书记" in by_name and "张镇长" not in by_name
    by_role = county.get("/people?role=township_leader").text
    assert "张镇长" in by_role and "电报书记" not in by_role
    person = county.get(f"/people/{bound.id}").text
    assert "已绑定" in person and "企业微信群" in person and "新桥镇资产群" in person


def test_changing_role_or_unit_is_audited(app, engine, office):
    with Session(engine, expire_on_commit=False) as session:
        cadre = make_user(session, "village_cadre", office.tree.village_a1, name="调动书记")
        session.commit()
    county = signed_in(app, engine, office.officer)
    page = county.get(f"/people/{cadre.id}")
    moved = county.post(f"/people/{cadre.id}/change", data={
        "csrf": csrf_of(page.text), "role": "township_leader", "unit": str(office.tree.township_b.id)})
    assert moved.status_code == 303 and "done=changed" in moved.headers["location"]
    assert "角色或单位已更改" in county.get(moved.headers["location"]).text
    wrong = county.post(f"/people/{cadre.id}/change", data={
        "csrf": csrf_of(page.text), "role": "village_cadre", "unit": str(office.tree.township_b.id)})
    assert wrong.status_code == 403 and "该角色属于其他层级" in wrong.text
    with Session(engine) as session:
        user = session.get(User, cadre.id)
        assert (user.role, user.org_unit_id) == ("township_leader", office.tree.township_b.id)
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "user.change")).one()
        assert entry.before == {"role": "village_cadre", "org_unit_id": office.tree.village_a1.id}
        assert entry.actor_user_id == office.officer.id
        assert audit.verify(session).ok
    reloaded = county.get(f"/people/{cadre.id}/change")
    assert reloaded.status_code == 303, "the button's address reloaded goes back to the person"


def test_the_people_pages_are_in_the_office_menu(app, engine, office):
    county = signed_in(app, engine, office.officer).get("/home").text
    assert 'href="/people?' in county and 'href="/people/invite?' in county
    leader = signed_in(app, engine, office.leader).get("/home").text
    assert 'href="/people?' in leader and 'href="/people/invite?' in leader
    with Session(engine, expire_on_commit=False) as session:
        cadre = make_user(session, "village_cadre", office.tree.village_a1)
        session.commit()
    home = signed_in(app, engine, cadre).get("/home").text
    assert 'href="/people?' not in home and 'href="/me/devices?' in home
    assert browser(app).get("/people").status_code == 401
