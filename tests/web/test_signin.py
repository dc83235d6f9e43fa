"""Sign-in: single-use expiring links, the server-side session they open, and Telegram Mini App initData."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.services import sessions, weblinks
from bot.services.weblinks import LinkError
from bot.storage.models import LinkToken, TelegramIdentity, WebSession
from tests.web.conftest import BOT_TOKEN, csrf_of

SECRET = "test-secret-key-0123456789"


def telegram_init_data(bot_token: str, *, user_id: int = 4242, auth_date: int | None = None, **extra) -> str:
    """Build initData as Telegram does (written from the Bot API documentation, not from our code)."""
    fields = {"query_id": "AAHdF6IQAAAAAN0XohDhrOrc", "auth_date": str(auth_date or int(time.time())),
              "user": json.dumps({"id": user_id, "first_name": "李", "language_code": "zh-hans"},
                                 ensure_ascii=False, separators=(",", ":")), **extra}
    data_check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret_key = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret_key, data_check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


# --- Mini App initData ------------------------------------------------------------------------------

def test_valid_init_data():
    user = weblinks.validate_init_data(telegram_init_data(BOT_TOKEN), BOT_TOKEN)
    assert user["id"] == 4242 and user["first_name"] == "李"


def test_tampered_init_data():
    data = telegram_init_data(BOT_TOKEN, user_id=4242).replace("4242", "4243")
    with pytest.raises(LinkError) as info:
        weblinks.validate_init_data(data, BOT_TOKEN)
    assert info.value.code == "invalid"


def test_stale_init_data():
    old = int((utcnow() - dt.timedelta(days=1, minutes=1)).timestamp())
    with pytest.raises(LinkError) as info:
        weblinks.validate_init_data(telegram_init_data(BOT_TOKEN, auth_date=old), BOT_TOKEN)
    assert info.value.code == "stale"
    recent = int((utcnow() - dt.timedelta(hours=23)).timestamp())
    data = telegram_init_data(BOT_TOKEN, auth_date=recent)
    assert weblinks.validate_init_data(data, BOT_TOKEN)["id"] == 4242


def test_init_data_of_another_bot():
    with pytest.raises(LinkError) as info:
        weblinks.validate_init_data(telegram_init_data("999:OTHER-bot"), BOT_TOKEN)
    assert info.value.code == "invalid"


@pytest.mark.parametrize("data", ["", "garbage", "hash=abc", "auth_date=1&auth_date=2&hash=x",
                                  "user=%7B%7D&auth_date=1"])
def test_malformed_init_data(data):
    with pytest.raises(LinkError):
        weblinks.validate_init_data(data, BOT_TOKEN)


def test_no_bot_token_refuses_everything():
    with pytest.raises(LinkError):
        weblinks.validate_init_data(telegram_init_data(""), "")


# --- links ------------------------------------------------------------------------------------------

def _link(engine, user, **kwargs) -> str:
    with Session(engine) as session:
        url = weblinks.create_link(session, user, secret=SECRET, public_url="http://testserver", **kwargs)
        session.commit()
    return url.removeprefix("http://testserver")


def test_link_stores_only_a_hash(engine, world):
    path = _link(engine, world.cadre)
    token = path.rsplit("/", 1)[1]
    with Session(engine) as session:
        row = session.exec(select(LinkToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash


def test_link_signs_in_once(client, engine, world):
    path = _link(engine, world.cadre)
    first = client.get(path)
    assert first.status_code == 303 and first.headers["location"] == "/home"
    assert _signed_in_as(engine, client) == world.cadre.id
    again = type(client)(client.app, follow_redirects=False).get(path)
    assert again.status_code == 403 and "已使用过" in again.text and "vb_session" not in again.cookies


def test_expired_link(client, engine, world):
    path = _link(engine, world.cadre, now=utcnow() - dt.timedelta(hours=25))
    response = client.get(path)
    assert response.status_code == 403 and "已过期" in response.text
    assert "vb_session" not in client.cookies


def test_forged_and_unknown_links(client, engine, world):
    path = _link(engine, world.cadre)
    token = path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/auth/link/{forged}").status_code == 403
    # correctly signed by someone holding the secret, but never issued
    unknown = weblinks.sign(SECRET, "link", "never-issued")
    assert client.get(f"/auth/link/{unknown}").status_code == 403
    assert "vb_session" not in client.cookies


def test_service_link_errors(engine, world):
    path = _link(engine, world.cadre)
    token = path.rsplit("/", 1)[1]
    with Session(engine) as session:
        assert weblinks.redeem_link(session, token, secret=SECRET).user_id == world.cadre.id
        session.commit()
        with pytest.raises(LinkError) as info:
            weblinks.redeem_link(session, token, secret=SECRET)
        assert info.value.code == "used"
        with pytest.raises(LinkError) as info:
            weblinks.redeem_link(session, token, secret="another-secret")
        assert info.value.code == "forged"


def _signed_in_as(engine, client) -> int | None:
    with Session(engine) as session:
        user = sessions.user_for(session, client.cookies.get("vb_session"))
        return user.id if user is not None else None


def test_the_session_cookie_is_a_random_id_not_a_signed_user_id(client, engine, world):
    client.get(_link(engine, world.cadre))
    value = client.cookies.get("vb_session")
    assert str(world.cadre.id) not in value.split(".") and weblinks.unsign(SECRET, "session", value) is None
    with Session(engine) as session:
        row = session.exec(select(WebSession)).one()
    assert row.token_hash == hashlib.sha256(value.encode()).hexdigest() and value not in row.token_hash
    assert row.user_id == world.cadre.id and row.via == "link"


# --- Mini App sign-in route -------------------------------------------------------------------------

def _bind(engine, user, telegram_id=4242):
    with Session(engine) as session:
        session.add(TelegramIdentity(telegram_user_id=telegram_id, chat_id=telegram_id, user_id=user.id))
        session.commit()


def test_mini_app_sign_in(client, engine, world):
    _bind(engine, world.cadre)
    csrf = csrf_of(client.get("/app").text)
    response = client.post("/auth/telegram", data={"init_data": telegram_init_data(BOT_TOKEN), "csrf": csrf},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json()["redirect"] == "/f"
    assert _signed_in_as(engine, client) == world.cadre.id


@pytest.mark.parametrize("case", ["tampered", "stale", "wrong_bot", "unbound", "no_csrf"])
def test_mini_app_sign_in_refused(client, engine, world, case):
    _bind(engine, world.cadre)
    csrf = csrf_of(client.get("/app").text)
    data = telegram_init_data(BOT_TOKEN)
    if case == "tampered":
        data = data.replace("4242", "4243")
    elif case == "stale":
        data = telegram_init_data(BOT_TOKEN, auth_date=int(time.time()) - 2 * 86400)
    elif case == "wrong_bot":
        data = telegram_init_data("1:another")
    elif case == "unbound":
        data = telegram_init_data(BOT_TOKEN, user_id=777)
    elif case == "no_csrf":
        csrf = ""
    response = client.post("/auth/telegram", data={"init_data": data, "csrf": csrf},
                           headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.json()["detail"]
    assert "vb_session" not in client.cookies
