"""WeCom (企业微信) and DingTalk group-robot doubles: one real HTTP server on 127.0.0.1.

- ``POST /cgi-bin/webhook/send?key=K`` answers like WeCom: ``{"errcode": 0, "errmsg": "ok"}``;
  an unknown or revoked key answers errcode 93000 (invalid webhook URL).
- ``POST /robot/send?access_token=T[&timestamp=..&sign=..]`` answers like DingTalk; a robot made
  with a secret checks the signature (HMAC-SHA256 of "timestamp\\nsecret", base64, url-encoded)
  and refuses a wrong or stale one with errcode 310000; a revoked token gets 300001.

Faults: ``chaos(rate, kinds, seed)`` with kinds ``busy`` (WeCom 45009 / DingTalk 130101),
``5xx``, ``timeout`` (the request hangs ``timeout_delay`` seconds and is not delivered).
``accepted`` lists (robot, message body) actually delivered, in order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("busy", "5xx", "timeout")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, answer = self.server.double.handle(self.path, body)
        if status is None:
            self.close_connection = True
            return
        data = json.dumps(answer).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class WebhookDouble:
    """Serve WeCom and DingTalk group robots; register robots, inject faults, read what arrived."""

    def __init__(self, timeout_delay: float = 1.0) -> None:
        self.timeout_delay = timeout_delay
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.wecom: dict[str, bool] = {}
        self.dingtalk: dict[str, tuple[str | None, bool]] = {}
        self.accepted: list[tuple[str, dict]] = []
        self.faults: list[str] = []
        self._chaos: tuple[float, tuple[str, ...], random.Random] | None = None

    def start(self) -> WebhookDouble:
        """Start serving on a free port; return self."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.double = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake hanging requests."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def wecom_robot(self, key: str) -> str:
        """Register a WeCom robot; return its webhook URL."""
        with self._lock:
            self.wecom[key] = True
        return f"{self.url}/cgi-bin/webhook/send?key={key}"

    def dingtalk_robot(self, token: str, secret: str | None = None) -> str:
        """Register a DingTalk robot (signed when ``secret`` is given); return its webhook URL."""
        with self._lock:
            self.dingtalk[token] = (secret, True)
        return f"{self.url}/robot/send?access_token={token}"

    def revoke(self, robot: str) -> None:
        """Remove a robot from its group: later sends fail permanently."""
        with self._lock:
            if robot in self.wecom:
                self.wecom[robot] = False
            if robot in self.dingtalk:
                self.dingtalk[robot] = (self.dingtalk[robot][0], False)

    def chaos(self, rate: float, kinds: tuple[str, ...] = FAULTS, seed: int = 0) -> None:
        """Fail a random ``rate`` of requests with one of ``kinds``; 0 stops it."""
        with self._lock:
            self._chaos = (rate, kinds, random.Random(seed)) if rate > 0 else None

    def _fault(self) -> str | None:
        with self._lock:
            if self._chaos and self._chaos[2].random() < self._chaos[0]:
                fault = self._chaos[2].choice(self._chaos[1])
                self.faults.append(fault)
                return fault
        return None

    def handle(self, path: str, body: bytes) -> tuple[int | None, dict]:
        """Answer one request: (HTTP status or None to hang up, JSON answer)."""
        split = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(split.query))
        wecom = split.path == "/cgi-bin/webhook/send"
        fault = self._fault()
        if fault == "timeout":
            self._stop.wait(self.timeout_delay)
            return None, {}
        if fault == "5xx":
            return 502, {"errcode": -1, "errmsg": "bad gateway"}
        if fault == "busy":
            return 200, {"errcode": 45009 if wecom else 130101, "errmsg": "too frequent"}
        try:
            message = json.loads(body)
        except ValueError:
            return 200, {"errcode": 40008 if wecom else 40035, "errmsg": "invalid json"}
        if wecom:
            robot = query.get("key", "")
            if not self.wecom.get(robot):
                return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        elif split.path == "/robot/send":
            robot = query.get("access_token", "")
            secret, alive = self.dingtalk.get(robot, (None, False))
            if not alive:
                return 200, {"errcode": 300001, "errmsg": "token is not exist"}
            if secret is not None and not self._signed(query, secret):
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        else:
            return 404, {"errcode": 404, "errmsg": "not found"}
        with self._lock:
            self.accepted.append((robot, message))
        return 200, {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _signed(query: dict, secret: str) -> bool:
        stamp = query.get("timestamp", "")
        if not stamp.isdigit() or abs(int(stamp) - time.time() * 1000) > 3600_000:
            return False
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        return hmac.compare_digest(query.get("sign", ""), base64.b64encode(digest).decode())
