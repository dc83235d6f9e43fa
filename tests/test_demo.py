"""The demo county, and `make demo`'s path: migrate, load, serve, answer /healthz without a Telegram token."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, func, select

from bot.services.audit import verify
from bot.services.demo import load_demo
from bot.storage.models import ASSET_TYPES, INDUSTRY_CATEGORIES, ROLES, Asset, Invite, OrgUnit, User

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_county_has_every_kind_of_asset_and_user(engine, settings):
    with Session(engine) as s:
        summary = load_demo(s, settings)
        s.commit()
        levels = Counter(s.exec(select(OrgUnit.level)).all())
        assets = s.exec(select(Asset)).all()
        roles = set(s.exec(select(User.role)).all())
        assert summary.created
        assert (summary.townships, summary.villages, summary.assets) == (3, 12, 40)
        assert levels == {"county": 1, "township": 3, "village": 12}
        assert len(assets) == 40
        assert {a.asset_type for a in assets} == set(ASSET_TYPES)
        assert {a.industry_category for a in assets if a.industry_category} == set(INDUSTRY_CATEGORIES)
        assert roles == set(ROLES)
        assert s.exec(select(func.count()).select_from(Invite)).one() == len(summary.invites)
        assert all(a.funds_total == a.funds_central + a.funds_province + a.funds_city + a.funds_county
                   + a.funds_other for a in assets)
        assert all(a.operator and a.contract_end for a in assets if a.asset_type == "经营性")
        # The asset's life after the check, made through the services (issue 17): contracts and owners of every
        # asset, last year's income and its plan waiting for the township, a disposal request.
        from bot.storage.models_contract import AssetContract, AssetOwnerShare
        from bot.storage.models_disposal import Disposal
        from bot.storage.models_income import DistributionPlan

        operating = {a.id for a in assets if a.asset_type == "经营性"}
        assert {c.asset_id for c in s.exec(select(AssetContract)).all()} == operating
        assert all(c.income_amount and c.income_amount > 0 for c in s.exec(select(AssetContract)).all())
        assert len(s.exec(select(AssetOwnerShare)).all()) == 40
        (plan,) = s.exec(select(DistributionPlan)).all()
        assert plan.status == "submitted"
        (disposal,) = s.exec(select(Disposal)).all()
        assert disposal.status == "requested"
        assert verify(s).ok


def test_loading_the_demo_twice_changes_nothing(engine, settings):
    with Session(engine) as s:
        load_demo(s, settings)
        s.commit()
        counts = [s.exec(select(func.count()).select_from(t)).one() for t in (OrgUnit, Asset, User, Invite)]
        again = load_demo(s, settings)
        s.commit()
        assert not again.created
        assert [s.exec(select(func.count()).select_from(t)).one() for t in (OrgUnit, Asset, User, Invite)] == counts


def _make_demo_commands(port: int) -> list[list[str]]:
    """Return the commands of the Makefile's `demo` recipe, run with this interpreter's environment."""
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "the Makefile has no demo recipe"
    values = {"$(BIN)": str(Path(sys.executable).parent), "$(HOST)": "127.0.0.1", "$(PORT)": str(port)}
    commands = []
    for line in recipe.group(1).splitlines():
        for name, value in values.items():
            line = line.replace(name, value)
        commands.append(line.split())
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lines(stream, sink: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        sink.put(line)
    sink.put(None)


@pytest.mark.slow
def test_make_demo_migrates_loads_and_serves_healthz_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VILLAGEBOT_")}
    env["VILLAGEBOT_DATA_DIR"] = str(tmp_path / "data")
    port = _free_port()
    *setup, serve = _make_demo_commands(port)
    assert [c[1:] for c in setup] == [["db", "upgrade"], ["demo", "--host", "127.0.0.1", "--port", str(port)]]
    for command in setup:
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "青山县" in done.stdout
    # a sign-in link for every role, on the chosen port
    assert len(re.findall(rf"http://127\.0\.0\.1:{port}/auth/link/\S+", done.stdout)) == len(ROLES), done.stdout

    server = subprocess.Popen(serve, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    log: list[str] = []
    try:
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(server.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + 60
        while not any("Uvicorn running on" in line for line in log):
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "the server stopped:\n" + "".join(log)
            log.append(line)
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["status"] == "ok"
        assert answer.json()["database"] == "sqlite"
        assert any("VILLAGEBOT_TELEGRAM_TOKEN is not set" in line and "without the Telegram bot" in line
                   for line in log), "".join(log)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (tmp_path / "data" / "villagebot.sqlite3").exists()


def test_the_docker_image_migrates_and_serves_like_make_demo():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", dockerfile, re.M)
    assert len(stages) >= 2 and stages[-1][0] == "python:3.11.7-slim-bookworm"  # pinned to a full version
    runtime = dockerfile.split("\nFROM ")[-1]
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "fonts-wqy-microhei" in runtime
    assert "COPY locales " in runtime and "VILLAGEBOT_LOCALES_DIR" in runtime
    assert re.search(r"^USER (?!root\b|0\b)\w+", runtime, re.M)
    assert re.search(r"^EXPOSE 8000$", runtime, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*/readyz", runtime, re.M)
    cmd = re.search(r"^CMD (.+)$", runtime, re.M).group(1)
    assert "villagebot db upgrade" in cmd and "villagebot serve --host 0.0.0.0 --port 8000" in cmd
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data", "tests"} <= set(ignored)
    assert not {"bot", "locales", "pyproject.toml", "README.md", "requirements.lock"} & set(ignored)


def test_docker_compose_runs_the_app_on_postgres_16():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db, app = compose["services"]["db"], compose["services"]["app"]
    assert db["image"].startswith("postgres:16.")
    url = app["environment"]["VILLAGEBOT_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@db:5432/" in url
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    # several replicas share everything through the database, the object store and the same keys
    assert {"VILLAGEBOT_SECRET_KEY", "VILLAGEBOT_AUDIT_KEY", "VILLAGEBOT_STORAGE_URL"} <= set(app["environment"])
    assert any(str(v).endswith(":8080") for v in compose["services"]["proxy"]["ports"])
