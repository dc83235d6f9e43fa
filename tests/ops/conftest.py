"""A real S3-speaking server for the tests of the shared file store: moto's server (from PyPI) in its own
process on a free port, spoken to over HTTP by the MinIO client the product uses."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from tests.web.conftest import app, client, store, web_settings, world  # noqa: F401  (shared fixtures)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """Start the S3 server for the session; yield its address (host:port)."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the S3 test server did not start") from None
            time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture
def s3_url(s3_server) -> str:
    """A new bucket (made on first use) for each test."""
    return f"s3://test-key:test-secret@{s3_server}/vb-{uuid.uuid4().hex[:12]}/photos?secure=0"
