"""The deployment files: the image installs exactly the pinned dependencies the package asks for, and the
compose file runs several app processes behind a proxy with PostgreSQL and an object store, all images
pinned to a version."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def test_every_runtime_dependency_is_pinned_in_the_lock_file_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[name.lower().replace("_", "-")] = version
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock (run scripts/lock.sh)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name], spec)


def test_the_compose_file_runs_replicas_behind_a_proxy_with_postgres_and_an_object_store():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"app", "db", "minio", "proxy"}
    assert "replicas" in services["app"]["deploy"]
    env = services["app"]["environment"]
    assert env["VILLAGEBOT_DATABASE_URL"].startswith("postgresql://")
    assert env["VILLAGEBOT_STORAGE_URL"].startswith("s3://")
    for name, service in services.items():
        if "image" in service:
            tag = service["image"].rpartition(":")[2]
            assert tag and tag != "latest" and any(c.isdigit() for c in tag), (name, service["image"])
    assert (ROOT / "deploy" / "nginx.conf").is_file()
    docker = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in docker and "/readyz" in docker
