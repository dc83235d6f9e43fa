"""Input at and beyond its bounds never makes a server error: every route of the app, fed ids, months,
periods and strings at and past their limits, anonymous and signed in as each role, answers below 500 —
and a bad id or month is refused in words (404 or 422), not with a stack trace."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.services import weblinks
from bot.storage.models import User
from bot.web.app import create_app
from tests.factories import make_user
from tests.web.conftest import csrf_of

IDS = ["0", "-1", "2147483647", "2147483648", str(2 ** 63), str(2 ** 64), "abc", "1e5", "9" * 40]
TEXTS = ["x" * 300, "..%2F..", "%00", "\x00nul", "🙂", ""]
MONTHS = ["\x00", "9999-12", "0000-01", "2026-13", "2026-00", "abc", "2026Q9", "2026-Q9", "2026H3", "1999-12", "x" * 100]
PARAM_RE = re.compile(r"{(\w+)(?::\w+)?}")


def _routes(app) -> list[APIRoute]:
    """Return every API route of the app, the ones of included routers too (FastAPI wraps those)."""
    found: list[APIRoute] = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route if not prefix else _prefixed(route, prefix))
            elif hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes, prefix + (route.include_context.prefix or ""))

    walk(app.routes, "")
    assert len(found) > 30
    return found


def _prefixed(route: APIRoute, prefix: str) -> APIRoute:
    clone = APIRoute.__new__(APIRoute)
    clone.__dict__.update(route.__dict__)
    clone.path = prefix + route.path
    return clone


def _paths(route: APIRoute, world) -> list[str]:
    """Return addresses for the route with each path parameter, in turn, at and beyond its bounds."""
    names = PARAM_RE.findall(route.path)
    plausible = {"token": world.asset.public_token, "sha256": world.board_sha, "kind": "summary",
                 "step": "hand"}

    def fill(target: str, value: str) -> str:
        out = route.path
        for name in names:
            chosen = value if name == target else "1" if name.endswith("_id") else plausible.get(name, "x")
            out = re.sub(r"\{" + name + r"(?::\w+)?\}", lambda _m, chosen=chosen: chosen, out)
        return out

    if not names:
        return [route.path]
    found = []
    for name in names:
        for value in (IDS if name.endswith("_id") else [t for t in TEXTS if "\x00" not in t] + IDS[:3]):
            found.append(fill(name, value.replace("/", "%2F") or "%20"))
    return found


def _queries(route: APIRoute) -> list[dict]:
    names = [p.name for p in route.dependant.query_params]
    found: list[dict] = [{}]
    for name in names:
        values = MONTHS + IDS if name in ("month", "quarter", "half", "period") else IDS + TEXTS
        found += [{name: v} for v in values]
    return found


def _forms(route: APIRoute, csrf: str) -> list[dict]:
    names = [p.alias for p in route.dependant.body_params]
    found: list[dict] = [{"csrf": csrf}]
    for name in names:
        if name == "csrf":
            continue
        for value in IDS + MONTHS + TEXTS:
            found.append({"csrf": csrf, name: value})
    return found


def _client(app, engine, user: User | None) -> TestClient:
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    if user is not None:
        with Session(engine) as session:
            url = weblinks.create_link(session, session.get(User, user.id), secret="test-secret-key-0123456789",
                                       public_url="http://testserver")
            session.commit()
        assert client.get(url.removeprefix("http://testserver")).status_code == 303
    return client


@pytest.fixture
def people(engine, world):
    with Session(engine, expire_on_commit=False) as session:
        leader = make_user(session, "township_leader", world.tree.township_a, name="镇领导")
        office = make_user(session, "county_officer", world.tree.county, name="县办")
        session.commit()
        return {"anonymous": None, "cadre": world.cadre, "leader": leader, "office": office}


@pytest.mark.slow
@pytest.mark.parametrize("role", ["anonymous", "cadre", "leader", "office"])
def test_no_route_answers_5xx_to_input_at_and_beyond_its_bounds(web_settings, engine, world, people, role):
    app = create_app(web_settings, engine)
    client = _client(app, engine, people[role])
    csrf = csrf_of(client.get(f"/p/{world.asset.public_token}").text)
    failures, calls = [], 0
    for route in _routes(app):
        for path in _paths(route, world):
            for method in sorted(route.methods):
                if method == "GET":
                    attempts = [client.get(path, params=q) for q in _queries(route)[:40]]
                else:
                    attempts = [client.request(method, path, data=f, headers={"Accept": "text/html"})
                                for f in _forms(route, csrf)[:40]]
                for response in attempts:
                    calls += 1
                    if response.status_code >= 500:
                        failures.append((method, str(response.request.url), response.status_code))
    assert calls > 500
    assert not failures, failures[:20]


@pytest.mark.parametrize("path", [f"/review/{2 ** 63}", f"/problems/{2 ** 63}", f"/oversight/{2 ** 64}",
                                  f"/f/report/{2 ** 63}", "/oversight/-1", "/f/report/abc"])
def test_an_id_that_cannot_exist_is_a_page_that_does_not_exist_in_chinese(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "此页面不存在" in response.text or "页面不存在" in response.text


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "2026-13"])
def test_a_month_out_of_bounds_is_refused_in_words(engine, web_settings, world, people, month):
    app = create_app(web_settings, engine)
    client = _client(app, engine, people["office"])
    county = world.tree.county.id
    for path in (f"/oversight/{county}", f"/oversight/{county}/export/summary"):
        response = client.get(path, params={"month": month})
        assert response.status_code == 400, (path, response.status_code)
        assert "不是月份" in response.text or "不是" in response.text


@pytest.mark.parametrize("period", ["abc", "2026-13", "2026Q9", "0000", "9999"])
def test_a_form_is_not_started_for_a_period_that_cannot_exist(engine, web_settings, world, people, period):
    from sqlmodel import func, select

    from bot.storage.models import Report

    app = create_app(web_settings, engine)
    client = _client(app, engine, people["leader"])
    csrf = csrf_of(client.get(f"/p/{world.asset.public_token}").text)
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(Report)).one()
    response = client.post("/f/form/start", data={"csrf": csrf, "form_id": "township-inspection",
                                                  "subject_id": str(world.asset.id), "period": period})
    assert response.status_code == 303  # shown on the list, at an address that reloads
    response = client.get(response.headers["location"])
    assert response.status_code == 409 and "不是有效的报告期" in response.text
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Report)).one() == before


def test_a_wrong_method_reads_in_words_not_json(client):
    response = client.get("/f/report/1/step")
    assert response.status_code == 405
    assert "Method Not Allowed" not in response.text and "此地址不能这样打开" in response.text
