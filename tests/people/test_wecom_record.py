"""An officer records a person's WeCom account id on the person's page (the web's way to what
`villagebot wecom record` does): audited, checked, within the officer's area, shown among the channels."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.storage.models import AuditEntry, User
from bot.storage.models_wecom import WeComIdentity
from bot.web.app import create_app
from tests.factories import make_user
from tests.people.conftest import csrf_of, signed_in


@pytest.fixture
def wecom_app(people_settings, engine):
    settings = people_settings.model_copy(update={
        "wecom_corp_id": "ww0123456789abcdef", "wecom_agent_id": "1000002", "wecom_secret": "s" * 43,
        "wecom_token": "tok", "wecom_encoding_aes_key": "a" * 43})
    return create_app(settings, engine)


def test_an_officer_records_a_wecom_account_on_the_persons_page(wecom_app, engine, office):
    with Session(engine, expire_on_commit=False) as session:
        cadre = make_user(session, "village_cadre", office.tree.village_a1, name="刘书记")
        session.commit()
    leader = signed_in(wecom_app, engine, office.leader)
    page = leader.get(f"/people/{cadre.id}")
    assert page.status_code == 200 and "企业微信应用：未绑定" in page.text and 'name="userid"' in page.text
    refused = leader.post(f"/people/{cadre.id}/wecom", data={"csrf": csrf_of(page.text), "userid": "刘 书记!"})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    done = leader.post(f"/people/{cadre.id}/wecom", data={"csrf": csrf_of(page.text), "userid": "LiuShuJi"})
    assert done.status_code == 303 and done.headers["location"] == f"/people/{cadre.id}?done=wecom"
    shown = leader.get(done.headers["location"]).text
    assert "企业微信应用：LiuShuJi" in shown and "已记录，尚未使用" in shown
    with Session(engine) as session:
        identity = session.exec(select(WeComIdentity).where(WeComIdentity.user_id == cadre.id)).one()
        assert identity.userid == "LiuShuJi" and identity.bound_at is None
        assert session.get(User, cadre.id).active  # the officer vouches for the person, as with an invite
        assert session.exec(select(AuditEntry).where(AuditEntry.entity_id == str(cadre.id))).all()
    # another township's leader may not
    other = signed_in(wecom_app, engine, office.other_leader)
    page = other.get("/people/invite")
    assert other.post(f"/people/{cadre.id}/wecom",
                      data={"csrf": csrf_of(page.text), "userid": "Someone"}).status_code in (403, 404)


def test_without_the_wecom_app_the_form_is_not_offered(app, engine, office):
    leader = signed_in(app, engine, office.leader)
    with Session(engine, expire_on_commit=False) as session:
        cadre = make_user(session, "village_cadre", office.tree.village_a1, name="王委员")
        session.commit()
    page = leader.get(f"/people/{cadre.id}").text
    assert 'name="userid"' not in page
