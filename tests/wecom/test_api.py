"""The WeCom API client against the double: the token cached, renewed before it expires and when WeCom
refuses it, busy answers retried with growing pauses, files and OAuth codes."""

from __future__ import annotations

import pytest

from bot.services.wecom_api import RENEW_BEFORE, TRIES, WeComApi, WeComError
from tests.wecom.double import WeComDouble


@pytest.fixture
def api():
    with WeComDouble(expires_in=7200) as double:
        double.members.add("LiSi")
        now = [1000.0]
        pauses: list[float] = []
        client = WeComApi(double.corp_id, double.secret, double.agent_id, double.url, clock=lambda: now[0],
                          sleep=pauses.append, backoff=0.5)
        yield client, double, now, pauses
        client.close()


def test_the_token_is_cached_and_renewed_before_it_expires(api):
    client, double, now, _ = api
    text = {"msgtype": "text", "text": {"content": "你好"}}
    client.send("LiSi", text)
    client.send("LiSi", text)
    assert double.count("/cgi-bin/gettoken") == 1
    now[0] += 7200 - RENEW_BEFORE - 1  # still comfortably valid
    client.send("LiSi", text)
    assert double.count("/cgi-bin/gettoken") == 1
    now[0] += 2  # within five minutes of the expiry: renewed before WeCom would refuse it
    client.send("LiSi", text)
    assert double.count("/cgi-bin/gettoken") == 2
    assert double.count("/cgi-bin/message/send", 42001) == 0 and len(double.sent) == 4


def test_a_refused_token_is_renewed_once_and_the_call_repeated(api):
    client, double, _, _ = api
    client.send("LiSi", {"msgtype": "text", "text": {"content": "一"}})
    double.expire_tokens()
    client.send("LiSi", {"msgtype": "text", "text": {"content": "二"}})
    assert double.count("/cgi-bin/message/send", 42001) == 1 and double.count("/cgi-bin/gettoken") == 2
    assert [p["text"]["content"] for _, p in double.sent] == ["一", "二"]


def test_busy_answers_are_retried_with_growing_pauses_then_reported_busy(api):
    client, double, _, pauses = api
    double.busy(2)
    client.send("LiSi", {"msgtype": "text", "text": {"content": "一"}})
    assert pauses == [0.5, 1.0] and len(double.sent) == 1
    double.busy(TRIES)
    with pytest.raises(WeComError) as caught:
        client.send("LiSi", {"msgtype": "text", "text": {"content": "二"}})
    assert caught.value.busy and caught.value.code == 45009 and len(double.sent) == 1


def test_an_unknown_member_is_reported_dead(api):
    client, _, _, _ = api
    with pytest.raises(WeComError) as caught:
        client.send("Nobody", {"msgtype": "text", "text": {"content": "一"}})
    assert caught.value.dead


def test_files_and_oauth_codes(api):
    client, double, _, _ = api
    double.media["M1"] = b"\xff\xd8\xff\xe0jpeg"
    assert client.media("M1") == b"\xff\xd8\xff\xe0jpeg"
    with pytest.raises(WeComError) as caught:
        client.media("M2")
    assert caught.value.code == 40007
    double.codes["c"] = "LiSi"
    assert client.user_of_code("c") == "LiSi"
    with pytest.raises(WeComError):
        client.user_of_code("c")  # a code works once


def test_a_wrong_secret_is_refused_in_words():
    with WeComDouble() as double:
        client = WeComApi(double.corp_id, "wrong", double.agent_id, double.url)
        with pytest.raises(WeComError) as caught:
            client.token()
        assert caught.value.code == 40001 and not caught.value.busy
        client.close()
