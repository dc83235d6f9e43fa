"""/openapi.json says what the API really answers: schemathesis, anonymous and signed in, finds no
server error, no undocumented status code, no answer outside its documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from bot.services import reports, weblinks
from bot.storage.models import User
from bot.web.app import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def schema(web_settings, engine):
    app = create_app(web_settings.model_copy(update={"telegram_token": ""}), engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _signed_in(engine, world, client) -> dict:
    """Sign the cadre in through a real link; return the cookie and CSRF headers of that browser."""
    with Session(engine) as session:
        url = weblinks.create_link(session, session.get(User, world.cadre.id), secret="test-secret-key-0123456789",
                                   public_url="http://testserver")
        session.commit()
        world.draft_id = reports.start_or_resume(session, session.get(User, world.cadre.id), world.asset.id,
                                                 channel="web").id
    assert client.get(url.removeprefix("http://testserver")).status_code == 303
    me = client.get("/api/me").json()
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return {"Cookie": cookie, "X-CSRF-Token": me["csrf"]}


def _run(schema, headers: dict, world) -> int:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            report_id = (case.path_parameters or {}).get("report_id")
            if isinstance(report_id, int) and report_id % 2 == 0 and getattr(world, "draft_id", None):
                case.path_parameters["report_id"] = world.draft_id
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
    return len(operations)


def test_the_documented_validation_error_is_a_sentence(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]["type"] == "string"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"400", "403", "422"} <= set(operation["responses"]), (method, path)
    answer = client.post("/api/reports/1/answers", content=b"", headers={"Content-Type": "application/json"})
    assert answer.status_code in (401, 422) and isinstance(answer.json()["detail"], str)


@pytest.mark.slow
def test_schemathesis_anonymous(schema, world):
    _run(schema, {}, world)


@pytest.mark.slow
def test_schemathesis_signed_in(schema, engine, world, client):
    _run(schema, _signed_in(engine, world, client), world)
