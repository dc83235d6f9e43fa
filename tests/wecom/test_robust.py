"""Bad input at the callback URL and a misbehaving WeCom: each refused or handled, nothing lost,
nothing sent twice."""

from __future__ import annotations

import base64
import datetime as dt
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlmodel import Session, select

from bot.adapters.wecom_crypto import MsgCrypt, signature
from bot.clock import UTC, utcnow
from bot.i18n import translate
from bot.services import outbox
from bot.storage.models import OrgUnit
from bot.storage.models_schedule import OutboxMessage
from bot.storage.models_wecom import WeComCallback
from tests.factories import make_asset
from tests.wecom.conftest import AES_KEY, TOKEN, card_text

HELP = translate("zh_CN", "Send 填报 to check your assets, 继续 to see the current question again. Answer with the "
                          "card's buttons; type text, numbers and dates; send photos and your location with the + "
                          "button.")


def _rows(world) -> list[OutboxMessage]:
    with Session(world.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def _handled(world) -> int:
    with Session(world.engine) as session:
        return len(session.exec(select(WeComCallback)).all())


def test_the_url_check_answers_the_echostr_and_refuses_a_forged_one(world):
    echo = world.crypt.encrypt("8390752049385")
    stamp, nonce = "1796200000", "263014780"
    good = {"msg_signature": signature(TOKEN, stamp, nonce, echo), "timestamp": stamp, "nonce": nonce,
            "echostr": echo}
    answer = world.client.get("/wecom/callback?" + urlencode(good))
    assert answer.status_code == 200 and answer.text == "8390752049385"
    forged = world.client.get("/wecom/callback?" + urlencode({**good, "msg_signature": "0" * 40}))
    assert forged.status_code == 403 and forged.text == ""


def test_forged_misdirected_truncated_and_malformed_callbacks_are_refused_without_a_5xx(world):
    inner = world.inner("WangWu", "text", "<Content><![CDATA[帮助]]></Content>", msg_id=1)
    assert world.post_xml(inner, sign="0" * 40).status_code == 403  # forged signature
    other_corp = MsgCrypt(TOKEN, AES_KEY, "ww9999999999999999").encrypt(inner)
    assert world.post_xml(inner, encrypt=other_corp).status_code == 403  # another corp id inside
    wrong_to = world.inner("WangWu", "text", "<Content><![CDATA[帮助]]></Content>", msg_id=2, corp="wwOther")
    assert world.post_xml(wrong_to).status_code == 403
    cut = base64.b64encode(base64.b64decode(world.crypt.encrypt(inner))[:-5]).decode()
    assert world.post_xml(inner, encrypt=cut).status_code == 400  # truncated ciphertext, signed as sent
    not_xml = world.crypt.encrypt("this is not XML")
    assert world.post_xml(inner, encrypt=not_xml).status_code == 400
    stamp, nonce = str(int(time.time())), "1"
    for body in (b"", b"garbage", b"<xml><Encrypt></Encrypt></xml>", "<xml>未闭合".encode()):
        query = urlencode({"msg_signature": signature(TOKEN, stamp, nonce, ""), "timestamp": stamp, "nonce": nonce})
        answer = world.client.post("/wecom/callback?" + query, content=body)
        assert answer.status_code in (400, 403)
    assert _rows(world) == [] and _handled(world) == 0  # nothing handled, nothing queued


def test_a_replayed_message_or_card_press_is_handled_once(world):
    inner = world.inner("WangWu", "text", "<Content><![CDATA[帮助]]></Content>", msg_id=424242)
    assert world.post_xml(inner).status_code == 200
    assert world.post_xml(inner).status_code == 200  # WeCom repeats it: answered, dropped
    world.deliver()
    assert [card_text(p) for p in world.double.sent_to("WangWu")] == [HELP]
    press = world.inner("WangWu", "event", "<Event><![CDATA[template_card_event]]></Event>"
                        "<EventKey><![CDATA[n:999999:later]]></EventKey><TaskId><![CDATA[t1]]></TaskId>"
                        "<ResponseCode><![CDATA[rc1]]></ResponseCode>", created=1796200000)
    world.post_xml(press)
    world.post_xml(press)
    world.deliver()
    assert len(world.double.sent_to("WangWu")) == 2  # one refusal of the unknown report, not two
    assert _handled(world) == 2


def test_an_expired_access_token_mid_send_is_renewed_and_the_message_sent_once(world):
    double = world.double
    world.text("WangWu", "帮助")
    world.deliver()
    assert double.count("/cgi-bin/gettoken") == 1
    double.expire_tokens()  # WeCom expired the token before our cache thought it would
    world.text("WangWu", "继续")
    result = world.deliver()
    assert result.sent == 1 and result.retried == 0
    assert double.count("/cgi-bin/message/send", 42001) == 1 and double.count("/cgi-bin/gettoken") == 2
    assert len(double.sent_to("WangWu")) == 2
    assert {r.status for r in _rows(world)} == {"sent"}


def test_a_frequency_limit_burst_delays_messages_but_loses_and_repeats_none(world):
    double = world.double
    for word in ("帮助", "继续", "帮助", "继续", "帮助"):
        world.text("WangWu", word)
    double.busy(6)  # the first message meets four 45009 in a row, the second two
    first = world.deliver()
    assert first.sent == 4 and first.retried == 1
    later = utcnow() + dt.timedelta(seconds=61)
    second = outbox.deliver(world.engine, world.channels, now=later)
    assert second.sent == 1
    assert double.count("/cgi-bin/message/send", 45009) == 6
    assert len(double.sent_to("WangWu")) == 5
    assert {r.status for r in _rows(world)} == {"sent"}
    assert double.count("/cgi-bin/message/send", 0) == 5  # each message accepted exactly once


def test_a_reminder_reaches_a_cadre_who_has_only_wecom_with_a_link_that_signs_in(world):
    with Session(world.engine) as session:
        county = session.get(OrgUnit, world.units["county"])
        county.policy_profile = "yanshan-2024"
        wangzhuang = session.exec(select(OrgUnit).where(OrgUnit.name == "王庄村")).one()
        make_asset(session, wangzhuang, name="王庄村光伏电站", project_code="WZ-001",
                   created_at=dt.datetime(2025, 1, 1, tzinfo=UTC))  # in the ledger before March
        session.add(county)
        session.commit()
    moment = dt.datetime(2026, 3, 20, 1, 30, tzinfo=UTC)  # 09:30 in Asia/Shanghai, 5 days before the 25th
    outbox.tick(world.engine, world.channels, now=moment)
    (card,) = [p for p in world.double.sent_to("WangWu") if p["msgtype"] == "textcard"]
    url = urlsplit(card["textcard"]["url"])
    assert url.path == "/auth/wecom" and parse_qs(url.query)["next"] == ["/f"]
    assert "2026-03" in card["textcard"]["title"] + card["textcard"]["description"]
    with Session(world.engine) as session:
        mine = [r for r in session.exec(select(OutboxMessage)).all() if r.recipient == f"u{world.users['cadre2']}"]
    assert {(r.channel, r.status) for r in mine} == {("wecom_app", "sent")}  # WeCom only, sent


def test_a_member_who_left_wecom_is_marked_unreachable_and_the_reminder_goes_up_the_chain(world):
    with Session(world.engine) as session:
        county = session.get(OrgUnit, world.units["county"])
        county.policy_profile = "yanshan-2024"
        wangzhuang = session.exec(select(OrgUnit).where(OrgUnit.name == "王庄村")).one()
        make_asset(session, wangzhuang, name="王庄村光伏电站", project_code="WZ-001",
                   created_at=dt.datetime(2025, 1, 1, tzinfo=UTC))
        session.add(county)
        session.commit()
    world.double.members.discard("WangWu")  # left the organisation (or outside the app's visible range)
    moment = dt.datetime(2026, 3, 20, 1, 30, tzinfo=UTC)
    result = outbox.tick(world.engine, world.channels, now=moment)
    assert result.unreachable == 1 and result.forwarded == 1
    assert world.double.sent_to("WangWu") == []
    (forwarded,) = [p for p in world.double.sent_to("ZhaoLiu") if "cadre2" in card_text(p)]
    assert translate("zh_CN", "Forwarded to you because {name} could not be reached:", name="cadre2") in \
        card_text(forwarded)
    with Session(world.engine) as session:
        from bot.storage.models_wecom import WeComIdentity

        gone = session.exec(select(WeComIdentity).where(WeComIdentity.userid == "WangWu")).one()
        assert gone.reachable is False


def test_the_web_form_signs_in_inside_wecom_by_oauth(world):
    double = world.double
    first = world.client.get("/auth/wecom?next=/f", follow_redirects=False)
    assert first.status_code == 303
    target = urlsplit(first.headers["location"])
    query = parse_qs(target.query)
    assert target.netloc == "open.weixin.qq.com" and query["scope"] == ["snsapi_base"]
    assert query["appid"] == [double.corp_id] and query["agentid"] == [double.agent_id]
    assert query["redirect_uri"] == ["http://testserver/auth/wecom?next=%2Ff"]
    double.codes["code-1"] = "WangWu"
    signed = world.client.get("/auth/wecom?code=code-1&next=/f", follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/f"
    assert world.client.get("/home").status_code == 200
    assert world.client.get("/auth/wecom?code=code-1&next=/f", follow_redirects=False).status_code == 403  # used
    double.codes["code-2"] = "Stranger"  # a member of the organisation nobody bound
    assert world.client.get("/auth/wecom?code=code-2", follow_redirects=False).status_code == 403
    double.codes["code-3"] = "ZhaoLiu"
    away = world.client.get("/auth/wecom?code=code-3&next=//evil.example/x", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/home"


def test_an_invite_link_opened_in_wecom_binds_the_member_and_signs_them_in(world):
    from click.testing import CliRunner

    from bot.cli import cli
    from bot.storage.models_wecom import WeComIdentity

    double, code = world.double, world.codes["cadre"]
    env = {"VILLAGEBOT_DATABASE_URL": str(world.engine.url.render_as_string(hide_password=False)),
           "VILLAGEBOT_PUBLIC_URL": "http://testserver", "VILLAGEBOT_DATA_DIR": str(world.settings.data_dir)}
    printed = CliRunner().invoke(cli, ["wecom", "link", code], env=env, catch_exceptions=False)
    assert printed.output.strip() == f"http://testserver/wecom/join/{code}"
    opened = world.client.get(f"/wecom/join/{code}", follow_redirects=False)
    query = parse_qs(urlsplit(opened.headers["location"]).query)
    assert query["redirect_uri"] == [f"http://testserver/auth/wecom?next=%2Fhome&invite={code}"]
    double.codes["c-join"] = "LiSi"
    signed = world.client.get(f"/auth/wecom?code=c-join&next=/home&invite={code}", follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/home"
    with Session(world.engine) as session:
        identity = session.exec(select(WeComIdentity).where(WeComIdentity.userid == "LiSi")).one()
        assert identity.user_id == world.users["cadre"] and identity.bound_at is not None
    double.codes["c-again"] = "Someone"  # the invite is used up
    assert world.client.get(f"/auth/wecom?code=c-again&invite={code}", follow_redirects=False).status_code == 403

    # An officer records a cadre's WeCom account on the command line; a wrong id is refused in words.
    recorded = CliRunner().invoke(cli, ["--lang", "en", "wecom", "record", str(world.users["cadre"]), "li.si@xq"],
                                  env=env, catch_exceptions=False)
    assert recorded.exit_code == 0 and "li.si@xq" in recorded.output
    refused = CliRunner().invoke(cli, ["--lang", "en", "wecom", "record", str(world.users["cadre"]), "李 四"],
                                 env=env, catch_exceptions=False)
    assert refused.exit_code == 2 and "1 to 64 letters" in refused.output


def test_the_limit_of_messages_per_member_defers_the_rest_instead_of_losing_them(world):
    channel = world.channels["wecom_app"]
    clock = [5000.0]
    channel.per_minute, channel.clock = 2, lambda: clock[0]
    for word in ("帮助", "继续", "帮助"):
        world.text("WangWu", word)
    first = world.deliver()
    assert (first.sent, first.retried) == (2, 1) and len(world.double.sent_to("WangWu")) == 2
    clock[0] += 61
    later = outbox.deliver(world.engine, world.channels, now=utcnow() + dt.timedelta(seconds=61))
    assert later.sent == 1 and len(world.double.sent_to("WangWu")) == 3
    assert {r.status for r in _rows(world)} == {"sent"}


def test_handled_callbacks_are_forgotten_after_a_week(world):
    from bot.adapters import wecom_app

    with Session(world.engine) as session:
        session.add(WeComCallback(key="m|1", at=utcnow() - dt.timedelta(days=8)))
        session.add(WeComCallback(key="m|2", at=utcnow() - dt.timedelta(days=6)))
        session.commit()
    wecom_app._last_prune[0] = None
    world.text("WangWu", "帮助")
    with Session(world.engine) as session:
        keys = {row.key for row in session.exec(select(WeComCallback)).all()}
    assert "m|1" not in keys and "m|2" in keys and len(keys) == 2
