"""What the browser tests share: the app served by uvicorn in a thread, and real Chromium at a phone's size.

    with serving(lambda base: create_app(settings.model_copy(update={"public_url": base}), engine)) as base:
        with chromium() as browser:
            page = phone(browser)
            page.goto(f"{base}/home")

The server listens before it starts (connections queue on the socket), runs without its lifespan (no Telegram
bot, no scheduler: the web side alone) and stops when the block ends. Screenshots go under ``ARTIFACTS``
(test-artifacts/, gitignored; ``VILLAGEBOT_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

ARTIFACTS = Path(os.environ.get("VILLAGEBOT_ARTIFACTS") or Path(__file__).resolve().parents[1] / "test-artifacts")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 360, "height": 740}


@contextmanager
def serving(make_app: Callable[[str], object]) -> Iterator[str]:
    """Serve ``make_app(base URL)`` on a free local port; yield the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections queue from now on: no need to wait for the server to start
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(make_app(base), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def chromium():
    """Yield a launched Chromium (Playwright's sync API); closed at the end."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def phone(browser, **options):
    """A new page in a fresh context the size of a cheap phone (360 × 740, touch, zh-CN)."""
    context = browser.new_context(**{"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True,
                                     "has_touch": True, "locale": "zh-CN", **options})
    return context.new_page()


@contextmanager
def phone_page(**options):
    """Yield one phone-sized page of its own Chromium."""
    with chromium() as browser:
        yield phone(browser, **options)
