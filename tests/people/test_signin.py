"""Sign-in without Telegram: an invite made on the web opens in any browser, a second device, revocation,
a used link, an expired link, and deactivation."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re

import zxingcpp
from PIL import Image
from sqlalchemy import update
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.services import users
from bot.storage.models import AuditEntry, Invite, User, WebSession
from tests.people.conftest import BASE, LAPTOP, PHONE, browser, csrf_of, invite_on_the_web, link_of, signed_in

QR_RE = re.compile(r'<img class="qr" src="data:image/png;base64,([^"]+)"')


def _qr_text(html: str) -> str:
    match = QR_RE.search(html)
    assert match, "no QR code on the page"
    image = Image.open(io.BytesIO(base64.b64decode(match.group(1))))
    return [r.text for r in zxingcpp.read_barcodes(image)][0]


def _invite_cadre(app, engine, office, name: str = "李书记") -> tuple[str, int]:
    """The county officer invites a cadre on the web; return the invite's web link and the person's id."""
    county = signed_in(app, engine, office.officer)
    status, page = invite_on_the_web(county, name=name, role="village_cadre", unit_id=office.tree.village_a1.id)
    assert status == 200, page
    link = link_of(page)
    assert link.startswith(f"{BASE}/join/")
    assert _qr_text(page) == link, "the printed QR code opens the same link"
    assert "t.me/VillageTestBot?start=" in page and "复制链接" in page and "/static/people.js" in page
    with Session(engine) as session:
        person = session.exec(select(User).where(User.name == name)).one()
        assert not person.active
    return link, person.id


def _join(client, link: str):
    """Open an invite link and press "Join and sign in"; return the answer to the press."""
    page = client.get(link.removeprefix(BASE))
    assert page.status_code == 200, page.text
    assert "加入并登录" in page.text
    return client.post(link.removeprefix(BASE), data={"csrf": csrf_of(page.text)})


def test_an_invite_made_on_the_web_signs_a_fresh_browser_in_and_the_person_has_joined(app, engine, office):
    link, person_id = _invite_cadre(app, engine, office)
    phone = browser(app, PHONE)
    assert phone.get("/home").status_code == 401
    page = phone.get(link.removeprefix(BASE))
    assert "李书记" in page.text and "新桥村" in page.text
    with Session(engine) as session:  # only looking at the page uses nothing (link previews, scanners)
        assert session.exec(select(Invite).where(Invite.user_id == person_id)).one().used_at is None
    answer = phone.post(link.removeprefix(BASE), data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/home"
    home = phone.get("/home")
    assert home.status_code == 200 and "李书记" in home.text
    with Session(engine) as session:
        person = session.get(User, person_id)
        assert person.active
        row = session.exec(select(WebSession).where(WebSession.user_id == person_id)).one()
        assert row.via == "invite" and row.revoked_at is None
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "user.activate",
                                                     AuditEntry.entity_id == str(person_id))).one()
    county = signed_in(app, engine, office.officer)
    listed = county.get("/people?status=joined")
    assert "李书记" in listed.text
    assert "网页登录" in county.get(f"/people/{person_id}").text


def test_a_second_device_is_signed_in_by_a_short_single_use_link(app, engine, office):
    link, person_id = _invite_cadre(app, engine, office)
    phone = browser(app, PHONE)
    assert _join(phone, link).status_code == 303
    page = phone.get("/me/devices")
    assert page.status_code == 200 and "在另一台设备上登录" in page.text
    made = phone.post("/me/devices", data={"csrf": csrf_of(page.text)})
    device_link = link_of(made.text)
    assert _qr_text(made.text) == device_link
    laptop = browser(app, LAPTOP)
    assert laptop.get(device_link.removeprefix(BASE)).status_code == 303
    assert laptop.get("/home").status_code == 200
    listed = phone.get("/me/sessions").text
    assert "Windows" in listed or "电脑" in listed
    with Session(engine) as session:
        assert len(session.exec(select(WebSession).where(WebSession.user_id == person_id)).all()) == 2
    third = browser(app, LAPTOP)
    used = third.get(device_link.removeprefix(BASE))
    assert used.status_code == 403 and "已" in used.text
    assert third.get("/home").status_code == 401


def test_a_revoked_browser_is_signed_out_at_its_next_request(app, engine, office):
    link, person_id = _invite_cadre(app, engine, office)
    phone = browser(app, PHONE)
    _join(phone, link)
    page = phone.post("/me/devices", data={"csrf": csrf_of(phone.get("/me/devices").text)})
    laptop = browser(app, LAPTOP)
    laptop.get(link_of(page.text).removeprefix(BASE))
    with Session(engine) as session:
        laptop_session = session.exec(select(WebSession).where(WebSession.user_id == person_id,
                                                               WebSession.via == "link")).one()
    sessions_page = phone.get("/me/sessions")
    ended = phone.post(f"/me/sessions/{laptop_session.id}/revoke", data={"csrf": csrf_of(sessions_page.text)})
    assert ended.status_code == 303
    refused = laptop.get("/home")
    assert refused.status_code == 401
    assert "邀请链接" in refused.text and "乡镇" in refused.text, "the sign-in page says how to get back in"
    assert phone.get("/home").status_code == 200


def test_a_used_invite_link_is_refused_in_chinese(app, engine, office):
    link, _ = _invite_cadre(app, engine, office)
    assert _join(browser(app, PHONE), link).status_code == 303
    other = browser(app, LAPTOP)
    refused = other.get(link.removeprefix(BASE))
    assert refused.status_code == 410
    assert "此邀请链接已经用过" in refused.text
    assert other.get("/home").status_code == 401


def test_two_browsers_pressing_join_with_one_link_sign_in_once(app, engine, office):
    link, person_id = _invite_cadre(app, engine, office)
    first, second = browser(app, PHONE), browser(app, LAPTOP)
    pages = [c.get(link.removeprefix(BASE)) for c in (first, second)]
    answers = [c.post(link.removeprefix(BASE), data={"csrf": csrf_of(p.text)}) for c, p in zip((first, second), pages)]
    assert [a.status_code for a in answers] == [303, 410]
    assert "此邀请链接已经用过" in answers[1].text


def test_the_owner_opening_their_used_link_again_goes_home(app, engine, office):
    link, _ = _invite_cadre(app, engine, office)
    phone = browser(app, PHONE)
    _join(phone, link)
    again = phone.get(link.removeprefix(BASE))
    assert again.status_code == 303 and again.headers["location"] == "/home"


def test_an_expired_invite_link_is_refused_in_chinese(app, engine, office):
    link, person_id = _invite_cadre(app, engine, office)
    with Session(engine) as session:
        session.execute(update(Invite).where(Invite.user_id == person_id)
                        .values(expires_at=utcnow() - dt.timedelta(minutes=1)))
        session.commit()
    refused = browser(app, PHONE).get(link.removeprefix(BASE))
    assert refused.status_code == 410 and "此邀请链接已过期" in refused.text
    unknown = browser(app, PHONE).get("/join/not-a-real-code")
    assert unknown.status_code == 404 and "此邀请链接无效" in unknown.text


def test_an_expired_device_link_is_refused(app, engine, office):
    link, person_id = _invite_cadre(app, engine, office)
    phone = browser(app, PHONE)
    _join(phone, link)
    made = phone.post("/me/devices", data={"csrf": csrf_of(phone.get("/me/devices").text)})
    from bot.storage.models import LinkToken

    with Session(engine) as session:
        session.execute(update(LinkToken).where(LinkToken.user_id == person_id)
                        .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        session.commit()
    refused = browser(app, LAPTOP).get(link_of(made.text).removeprefix(BASE))
    assert refused.status_code == 403 and "过期" in refused.text


def test_deactivating_on_the_web_ends_every_session_and_the_officer_can_reissue(app, engine, office):
    link, person_id = _invite_cadre(app, engine, office)
    phone = browser(app, PHONE)
    _join(phone, link)
    county = signed_in(app, engine, office.officer)
    page = county.get(f"/people/{person_id}")
    assert "停用账号" in page.text
    done = county.post(f"/people/{person_id}/deactivate", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert "已停用" in county.get(done.headers["location"]).text
    assert phone.get("/home").status_code == 401
    with Session(engine) as session:
        assert not session.get(User, person_id).active
        assert all(r.revoked_at is not None for r in session.exec(
            select(WebSession).where(WebSession.user_id == person_id)).all())
    # a new invite brings the person back, on a new phone
    page = county.get(f"/people/{person_id}")
    again = county.post(f"/people/{person_id}/reinvite", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 200
    new_link = link_of(again.text)
    assert new_link != link
    new_phone = browser(app, PHONE)
    assert _join(new_phone, new_link).status_code == 303
    assert new_phone.get("/home").status_code == 200
    assert browser(app, PHONE).get(link.removeprefix(BASE)).status_code == 410


def test_the_signed_out_page_names_the_invite_and_the_bot_as_one_way(app, engine, office):
    link, _ = _invite_cadre(app, engine, office)
    phone = browser(app, PHONE)
    _join(phone, link)
    out = phone.post("/auth/logout", data={"csrf": csrf_of(phone.get("/me/sessions").text)})
    assert out.status_code == 200
    assert "邀请" in out.text and "/form" in out.text and "在另一台设备上登录" in out.text
    assert phone.get("/home").status_code == 401


def test_redeeming_on_the_web_is_a_service_any_channel_can_call(engine, office):
    with Session(engine, expire_on_commit=False) as session:
        created = users.create_invite(session, session.get(User, office.officer.id),
                                      scope=office.tree.village_a2, role="village_supervisor", name="赵主任")
        session.commit()
        user = users.redeem_on_web(session, created.code)
        session.commit()
        assert user.active and user.name == "赵主任"
        try:
            users.redeem_on_web(session, created.code)
        except users.InviteError as exc:
            assert exc.kind == "used"
        else:
            raise AssertionError("a used code was accepted")
