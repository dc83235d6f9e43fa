"""The JSON API: public facts, the signed-in user's assets, answers; and schemathesis over /openapi.json."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlmodel import Session

from bot.services import weblinks
from bot.storage.models import Report
from bot.web.app import create_app
from tests.web.conftest import SECRETS
from tests.web.test_form import sign_in, start


@pytest.fixture
def api_client(client, engine, world):
    sign_in(client, engine, world.cadre)
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json()["id"] == world.cadre.id
    client.headers["X-CSRF-Token"] = me.json()["csrf"]
    return client


def test_openapi_lists_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/public/{token}", "/api/me/assets", "/api/reports/{report_id}/answers", "/healthz"):
        assert path in paths, path


def test_public_api_is_the_whitelist(client, world):
    body = client.get(f"/api/public/{world.asset.public_token}").json()
    assert body["name"] == "新桥村光伏电站" and body["funds"] == {"central": "80", "province": "40.5"}
    assert body["income_distributed"] == "3.5" and body["households_benefited"] == 45
    assert body["last_check"]["problems_open"] == 1 and body["four_way_class"] == "upgrade"
    assert {p["question"] for p in body["photos"]} == {"board_photo", "sign_photo"}
    assert not any(secret in str(body) for secret in SECRETS)


def test_me_needs_sign_in(client, world):
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me/assets").status_code == 401


def test_my_assets_and_answers(api_client, engine, world):
    assets = api_client.get("/api/me/assets").json()
    assert [(a["name"], a["state"]) for a in assets] == [("新桥村光伏电站", "todo")]
    report_id = start(api_client, world.asset.id)
    response = api_client.post(f"/api/reports/{report_id}/answers", json={"key": "operating_normally",
                                                                          "value": "yes"})
    assert response.status_code == 200, response.text
    assert response.json()["answers"] == {"operating_normally": "yes"}
    assert response.json()["position"] != "operating_normally"
    bad = api_client.post(f"/api/reports/{report_id}/answers", json={"key": "operating_normally", "value": 7})
    assert bad.status_code == 422 and bad.json()["key"] == "operating_normally"
    photo = api_client.post(f"/api/reports/{report_id}/answers",
                            json={"key": "board_photo", "value": {"sha256": "0" * 64, "photo_id": 1}})
    assert photo.status_code == 422
    assert api_client.get("/api/me/assets").json()[0]["state"] == "draft"
    incomplete = api_client.post(f"/api/reports/{report_id}/submit")
    assert incomplete.status_code == 409


def test_answers_need_csrf_and_scope(api_client, engine, world):
    report_id = start(api_client, world.asset.id)
    token = api_client.headers.pop("X-CSRF-Token")
    assert api_client.post(f"/api/reports/{report_id}/answers",
                           json={"key": "operating_normally", "value": "yes"}).status_code == 403
    api_client.headers["X-CSRF-Token"] = token
    with Session(engine) as session:  # another village's draft
        foreign = Report(asset_id=world.other_asset.id, form_id="monthly-operating", period="2026-11")
        session.add(foreign)
        session.commit()
        foreign_id = foreign.id
    for call in (lambda: api_client.get(f"/api/reports/{foreign_id}"),
                 lambda: api_client.post(f"/api/reports/{foreign_id}/answers",
                                         json={"key": "operating_normally", "value": "yes"}),
                 lambda: api_client.post(f"/api/reports/{foreign_id}/submit")):
        assert call().status_code == 403
    with Session(engine) as session:
        assert session.get(Report, foreign_id).answers == {}


@pytest.fixture
def api_schema(web_settings, engine):
    # schemathesis runs the app's lifespan: without a bot token no Telegram bot is started
    app = create_app(web_settings.model_copy(update={"telegram_token": ""}), engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/(api|auth|healthz)")


@pytest.fixture
def signed_headers(engine, world, web_settings):
    """Cookies of a signed-in cadre with a device and a draft, and the matching CSRF header."""
    from bot.services import reports, sessions
    from bot.storage.models import User
    from bot.web.common import csrf_token

    with Session(engine) as session:
        world.draft_id = reports.start_or_resume(session, session.get(User, world.cadre.id), world.asset.id,
                                                 channel="web").id
        token = sessions.open_session(session, session.get(User, world.cadre.id))
        session.commit()
    secret = web_settings.secret_key
    device = "fuzz-device"
    cookie = (f"vb_session={token}; "
              f"vb_device={weblinks.sign(secret, 'device', device)}")
    return {"Cookie": cookie, "X-CSRF-Token": csrf_token(secret, device)}


@pytest.mark.slow
def test_no_server_error(api_schema, signed_headers, world):
    """Every API operation, fed generated input as a signed-in cadre, never answers 5xx."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 6

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            report_id = (case.path_parameters or {}).get("report_id")
            if isinstance(report_id, int) and report_id % 2 == 0:  # half the calls reach the real draft
                case.path_parameters["report_id"] = world.draft_id
            case.call_and_validate(headers=signed_headers, checks=[not_a_server_error])

        check()
