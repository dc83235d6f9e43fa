"""Sessions and secrets (issue 14, point 1): no forgeable session on a default install.

The attack: a default install signed its cookies with a published key, and a cookie was only
``<user id>.<expiry>.<signature>``, so anyone could open /api/me as user 1 (the county officer) and download
the ledger with ID numbers and phones. Now the key is random per installation, a session is a server-side
record behind a random id, and an invited user can do nothing before redeeming the invite.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.cli import cli
from bot.clock import utcnow
from bot.config import ConfigError, Settings, load_settings, resolve_secret_key
from bot.services import access, reports, sessions, users, weblinks
from bot.services.access import AccessDenied
from bot.storage.models import User, WebSession
from bot.web.app import create_app
from tests.factories import make_asset, make_tree, make_user
from tests.web.conftest import csrf_of

OLD_PUBLIC_KEY = "dev-insecure-secret-change-me"
BASE = "http://testserver"
ROOT = Path(__file__).resolve().parents[2]


def old_style_cookie(secret: str, user_id: int) -> str:
    """A session cookie as the old code made it: ``<user id>.<expiry>.<HMAC>`` (written out here on purpose)."""
    body = f"{user_id}.{int((utcnow() + dt.timedelta(hours=12)).timestamp())}"
    mac = hmac.new(secret.encode(), f"session|{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(mac[:18]).decode()}"


@pytest.fixture
def default_settings(tmp_path) -> Settings:
    """A default install: no VILLAGEBOT_SECRET_KEY (the key comes from the data directory)."""
    return Settings(data_dir=tmp_path / "data", public_url=BASE)


@pytest.fixture
def county(engine):
    """The county officer is user 1, with a ledger worth stealing; a cadre and a second cadre."""
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        officer = make_user(session, "county_officer", tree.county, name="周科长")
        cadre = make_user(session, "village_cadre", tree.village_a1, name="李书记")
        other = make_user(session, "village_cadre", tree.village_a1, name="王会计")
        asset = make_asset(session, tree.village_a1, beneficiaries="张三户（身份证410821199001011234）")
        session.commit()
        assert officer.id == 1
        return {"tree": tree, "officer": officer, "cadre": cadre, "other": other, "asset": asset}


@pytest.fixture
def app(default_settings, engine):
    return create_app(default_settings, engine)


def client_of(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def sign_in(app, engine, user: User, *, agent: str = "Mozilla/5.0 (Linux; Android 14) Chrome/130.0") -> TestClient:
    """A browser that opened a single-use sign-in link of ``user`` (as the bot's /form sends)."""
    client = client_of(app)
    client.headers["User-Agent"] = agent
    with Session(engine) as session:
        url = weblinks.create_link(session, session.get(User, user.id), secret=app.state.settings.secret_key,
                                   public_url=BASE)
        session.commit()
    response = client.get(url.removeprefix(BASE))
    assert response.status_code == 303, response.text
    return client


def ledger_url(county) -> str:
    return f"/oversight/{county['tree'].county.id}/export/ledger"


# --- forged cookies --------------------------------------------------------------------------------

def test_a_cookie_forged_with_the_old_public_key_for_user_1_is_refused(app, engine, county):
    forged = client_of(app)
    forged.cookies.set("vb_session", old_style_cookie(OLD_PUBLIC_KEY, 1))
    assert forged.get("/api/me").status_code == 401
    export = forged.get(ledger_url(county))
    assert export.status_code == 401 and "410821199001011234" not in export.text
    # The real officer can: the refusal is the forgery's, not the route's.
    officer = sign_in(app, engine, county["officer"])
    assert officer.get("/api/me").json()["id"] == 1
    assert officer.get(ledger_url(county)).status_code == 200


def test_even_a_cookie_signed_with_the_servers_own_key_is_not_a_session(app, engine, county):
    """A session is a record, not a signature: knowing the key does not make a session."""
    forged = client_of(app)
    forged.cookies.set("vb_session", old_style_cookie(app.state.settings.secret_key, 1))
    assert forged.get("/api/me").status_code == 401
    assert forged.get(ledger_url(county)).status_code == 401


@pytest.mark.parametrize("value", ["random", "hash", "empty", "long"])
def test_a_forged_random_session_id_is_refused(app, engine, county, value):
    real = sign_in(app, engine, county["officer"]).cookies.get("vb_session")
    with Session(engine) as session:
        stored = session.exec(select(WebSession.token_hash)).one()
    forged = {"random": sessions.secrets.token_urlsafe(32), "hash": stored, "empty": "",
              "long": real * 40}[value]
    client = client_of(app)
    client.cookies.set("vb_session", forged)
    assert client.get("/api/me").status_code == 401
    assert client.get("/me/sessions").status_code == 401


def test_the_cookie_is_random_and_only_its_hash_is_stored(app, engine, county):
    first = sign_in(app, engine, county["cadre"]).cookies.get("vb_session")
    second = sign_in(app, engine, county["cadre"]).cookies.get("vb_session")
    assert first != second and len(first) >= 43
    with Session(engine) as session:
        hashes = set(session.exec(select(WebSession.token_hash)).all())
    assert hashes == {hashlib.sha256(v.encode()).hexdigest() for v in (first, second)}


# --- revocation and the sessions page --------------------------------------------------------------

def test_revoking_a_session_ends_it_at_once(app, engine, county):
    phone = sign_in(app, engine, county["cadre"], agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1")
    laptop = sign_in(app, engine, county["cadre"], agent="Mozilla/5.0 (Windows NT 10.0) Chrome/130.0")
    page = laptop.get("/me/sessions")
    assert page.status_code == 200
    assert "苹果手机" in page.text and "Windows 电脑" in page.text and "本设备" in page.text
    with Session(engine) as session:
        phone_id = sessions.find(session, phone.cookies.get("vb_session")).id
    ended = laptop.post(f"/me/sessions/{phone_id}/revoke", data={"csrf": csrf_of(page.text)})
    assert ended.status_code == 303
    assert phone.get("/api/me").status_code == 401
    assert laptop.get("/api/me").status_code == 200
    # signing out ends this browser's own session, and the same cookie replayed is refused
    cookie = laptop.cookies.get("vb_session")
    page = laptop.get("/me/sessions")
    out = laptop.post("/auth/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 200 and "已退出登录" in out.text
    replay = client_of(app)
    replay.cookies.set("vb_session", cookie)
    assert replay.get("/api/me").status_code == 401


def test_sign_out_everywhere_else_keeps_this_browser(app, engine, county):
    others = [sign_in(app, engine, county["cadre"]) for _ in range(3)]
    here = sign_in(app, engine, county["cadre"])
    page = here.get("/me/sessions")
    assert page.text.count('action="/me/sessions/') >= 5
    assert here.post("/me/sessions/revoke-others", data={"csrf": csrf_of(page.text)}).status_code == 303
    assert [c.get("/api/me").status_code for c in others] == [401, 401, 401]
    assert here.get("/api/me").status_code == 200


def test_the_list_shows_only_my_own_sessions_and_cannot_end_anothers(app, engine, county):
    mine = sign_in(app, engine, county["cadre"], agent="Mozilla/5.0 (Linux; Android 14) MicroMessenger/8.0")
    theirs = sign_in(app, engine, county["other"], agent="Mozilla/5.0 (Macintosh; Mac OS X 14) Firefox/130.0")
    with Session(engine) as session:
        their_id = sessions.find(session, theirs.cookies.get("vb_session")).id
        listed = sessions.list_for(session, session.get(User, county["cadre"].id))
    assert [row.user_id for row in listed] == [county["cadre"].id]
    page = mine.get("/me/sessions")
    assert "微信" in page.text and "苹果电脑" not in page.text and f"/me/sessions/{their_id}/" not in page.text
    refused = mine.post(f"/me/sessions/{their_id}/revoke", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 404
    assert theirs.get("/api/me").status_code == 200


def test_the_sessions_page_is_linked_from_a_signed_in_persons_pages(app, engine, county):
    cadre = sign_in(app, engine, county["cadre"])
    assert 'href="/home' in cadre.get("/f").text  # every signed-in page links home, whose menu has the sessions
    assert 'href="/me/sessions' in cadre.get("/home").text
    public = client_of(app).get(f"/p/{county['asset'].public_token}").text
    assert 'href="/me/sessions' not in public and 'href="/home' not in public


def test_deactivating_a_user_ends_their_sessions_at_once(app, engine, county):
    browser = sign_in(app, engine, county["cadre"])
    assert browser.get("/api/me").status_code == 200
    with Session(engine) as session:
        ended = users.deactivate(session, session.get(User, county["officer"].id),
                                 session.get(User, county["cadre"].id))
        session.commit()
        assert ended == 1
        assert session.exec(select(WebSession.revoked_at)).one() is not None
    assert browser.get("/api/me").status_code == 401


def test_a_user_made_inactive_directly_is_refused_even_with_a_live_session(app, engine, county):
    browser = sign_in(app, engine, county["cadre"])
    with Session(engine) as session:
        user = session.get(User, county["cadre"].id)
        user.active = False
        session.add(user)
        session.commit()
    assert browser.get("/api/me").status_code == 401


def test_a_session_slides_and_ends_after_thirty_idle_days(engine, county):
    with Session(engine) as session:
        user = session.get(User, county["cadre"].id)
        start = utcnow()
        token = sessions.open_session(session, user, now=start)
        session.commit()
        # used every 20 days: still signed in after 60 days
        for day in (20, 40, 60):
            assert sessions.user_for(session, token, now=start + dt.timedelta(days=day)).id == user.id
        assert sessions.user_for(session, token, now=start + dt.timedelta(days=60 + 31)) is None
        # and never beyond the absolute limit, however often used
        fresh = sessions.open_session(session, user, now=start)
        session.commit()
        for day in range(20, 90, 20):
            assert sessions.user_for(session, fresh, now=start + dt.timedelta(days=day)) is not None
        assert sessions.user_for(session, fresh, now=start + sessions.MAX_AGE + dt.timedelta(minutes=1)) is None


# --- the key -----------------------------------------------------------------------------------------

def test_the_key_file_is_made_once_with_mode_0600_and_reused(default_settings, engine):
    path = default_settings.secret_key_file
    assert not path.exists()
    first = create_app(default_settings, engine).state.settings.secret_key
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and first != OLD_PUBLIC_KEY
    again = resolve_secret_key(Settings(data_dir=default_settings.data_dir, public_url=BASE))
    assert again.secret_key == first == path.read_text().strip()
    # another installation gets another key
    assert resolve_secret_key(Settings(data_dir=path.parent / "other")).secret_key != first
    # a deployment's own key wins and no file is needed
    own = Settings(data_dir=path.parent / "own", secret_key="a-deployments-own-key-0123456789")
    assert resolve_secret_key(own).secret_key == "a-deployments-own-key-0123456789"
    assert not (path.parent / "own").exists()


def test_a_link_signed_on_one_start_works_after_a_restart(default_settings, engine, county):
    """The generated key is reused: links and device cookies survive a restart."""
    before = create_app(default_settings, engine)
    with Session(engine) as session:
        url = weblinks.create_link(session, session.get(User, county["cadre"].id),
                                   secret=before.state.settings.secret_key, public_url=BASE)
        session.commit()
    after = create_app(Settings(data_dir=default_settings.data_dir, public_url=BASE), engine)
    assert client_of(after).get(url.removeprefix(BASE)).status_code == 303


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("VILLAGEBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VILLAGEBOT_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


@pytest.mark.parametrize("value", [OLD_PUBLIC_KEY, "short"])
def test_the_old_public_key_and_short_keys_are_refused(clean_env, value):
    clean_env.setenv("VILLAGEBOT_SECRET_KEY", value)
    with pytest.raises(ConfigError, match="VILLAGEBOT_SECRET_KEY"):
        load_settings()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_serving_on_a_public_address_without_a_key_is_refused(clean_env, tmp_path, host):
    result = CliRunner().invoke(cli, ["serve", "--host", host, "--port", "1"])
    assert result.exit_code == 2
    assert "拒绝在公网地址上启动服务" in result.output and "VILLAGEBOT_SECRET_KEY" in result.output
    assert str(tmp_path / "data" / "secret_key") in result.output and "villagebot secret init" in result.output
    assert not (tmp_path / "data" / "secret_key").exists()
    english = CliRunner().invoke(cli, ["--lang", "en", "serve", "--host", host])
    assert english.exit_code == 2 and "Refusing to serve on a public address without a secret key" in english.output


def test_secret_init_makes_the_key_file_a_public_serve_then_accepts(clean_env, tmp_path):
    result = CliRunner().invoke(cli, ["secret", "init"])
    path = tmp_path / "data" / "secret_key"
    assert result.exit_code == 0 and str(path) in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text()
    assert CliRunner().invoke(cli, ["secret", "init"]).exit_code == 0 and path.read_text() == key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_on_loopback_makes_the_key_file_and_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VILLAGEBOT_")}
    env.update(VILLAGEBOT_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    port = _free_port()
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp_path, check=True,
                   capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
            assert server.poll() is None, server.stderr.read()
        else:
            pytest.fail("the server did not answer /healthz")
        path = tmp_path / "data" / "secret_key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- invited users -----------------------------------------------------------------------------------

def test_an_invited_user_can_do_nothing_before_redeeming(app, engine, county):
    tree = county["tree"]
    with Session(engine, expire_on_commit=False) as session:
        created = users.create_invite(session, None, scope=tree.village_a1, role="village_cadre", name="新书记")
        session.commit()
        invited = session.get(User, created.user.id)
        assert invited.active is False
        # cannot act
        with pytest.raises(AccessDenied):
            access.require(session, invited, "report.fill", tree.village_a1)
        with pytest.raises(AccessDenied):
            reports.start_or_resume(session, invited, county["asset"].id, channel="web")
        session.rollback()
        # cannot sign in by a web link, nor hold a session
        url = weblinks.create_link(session, invited, secret=app.state.settings.secret_key, public_url=BASE)
        session.commit()
        with pytest.raises(sessions.SessionError):
            sessions.open_session(session, invited)
        # receives nothing: not among the leaders or recipients by role
        assert invited.id not in [u.id for u in users.leaders_of(session, tree.village_a1, "village_cadre")]
    browser = client_of(app)
    refused = browser.get(url.removeprefix(BASE))
    assert refused.status_code == 403 and "vb_session" not in browser.cookies
    # after /start <code> in Telegram the same person can
    with Session(engine, expire_on_commit=False) as session:
        user = users.redeem_invite(session, created.code, telegram_user_id=880001, chat_id=880001)
        session.commit()
        assert user.active
        url = weblinks.create_link(session, user, secret=app.state.settings.secret_key, public_url=BASE)
        session.commit()
    assert browser.get(url.removeprefix(BASE)).status_code == 303
    assert browser.get("/api/me").json()["id"] == created.user.id


def test_an_invite_of_a_deactivated_user_no_longer_works(engine, county):
    with Session(engine, expire_on_commit=False) as session:
        created = users.create_invite(session, None, scope=county["tree"].village_a1, role="village_cadre")
        users.deactivate(session, None, created.user)
        session.commit()
        with pytest.raises(users.InviteError):
            users.redeem_invite(session, created.code, telegram_user_id=880002, chat_id=880002)
        session.rollback()
        assert session.get(User, created.user.id).active is False


def test_the_demo_prints_web_links_that_work(clean_env, tmp_path):
    """`villagebot demo` creates everyone as invited; its printed browser links still sign in."""
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    links = re.findall(r"http://127\.0\.0\.1:8000(/auth/link/\S+)", result.output)
    assert len(links) == 6  # one for every role (bot.services.demo.SHOWCASE_ROLES)
    settings = load_settings()
    app = create_app(settings)
    for path in links:
        browser = client_of(app)
        assert browser.get(path).status_code == 303
        assert browser.get("/api/me").status_code == 200
    engine = app.state.engine
    with Session(engine) as session:
        active = session.exec(select(User.role).where(User.active.is_(True))).all()
        inactive = session.exec(select(User).where(User.active.is_(False))).all()
    assert sorted(active) == ["admin", "county_officer", "department_officer", "township_leader",
                              "village_cadre", "village_supervisor"]
    assert len(inactive) > 20


# --- the migration -----------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request, tmp_path):
    """An empty database of its own (the migration is run from before this change)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN_URL, _pg_base_url

    name = f"vbt_mig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{_pg_base_url()}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migration_deactivates_users_who_never_redeemed_their_invite(empty_db_url):
    from sqlalchemy import text

    from bot.storage.db import make_engine, upgrade

    upgrade(empty_db_url, "sessions_0001-1")  # the schema before this change
    engine = make_engine(empty_db_url)
    later, used = "2099-01-01 00:00:00+00", "2026-01-01 00:00:00+00"
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO org_unit (id, level, name, path) VALUES (1, 'village', '新桥村', '/1/')"))
            for uid, name in ((1, "waiting"), (2, "redeemed"), (3, "bound"), (4, "made by hand")):
                conn.execute(text("INSERT INTO app_user (id, name, role, org_unit_id, locale, active, created_at) "
                                  "VALUES (:id, :name, 'village_cadre', 1, 'zh_CN', true, :at)"),
                             {"id": uid, "name": name, "at": used})
            rows = [(1, 1, None), (2, 2, used), (3, 3, None)]
            for iid, uid, used_at in rows:
                conn.execute(text("INSERT INTO invite (id, code_hash, user_id, expires_at, used_at, created_at) "
                                  "VALUES (:id, :h, :u, :e, :used, :at)"),
                             {"id": iid, "h": f"h{iid}", "u": uid, "e": later, "used": used_at, "at": used})
            conn.execute(text("INSERT INTO telegram_identity (telegram_user_id, chat_id, user_id, reachable, "
                              "bound_at) VALUES (77, 77, 3, true, :at)"), {"at": used})
        upgrade(empty_db_url)
        with Session(engine) as session:
            active = {u.name: u.active for u in session.exec(select(User)).all()}
            assert active == {"waiting": False, "redeemed": True, "bound": True, "made by hand": True}
            assert session.exec(select(WebSession)).all() == []
    finally:
        engine.dispose()
