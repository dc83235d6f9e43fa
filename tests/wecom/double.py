"""A WeCom server API double of our own: one real HTTP server on 127.0.0.1 (free port).

Implements what the app calls, answering as WeCom does (errcode / errmsg JSON):

- ``GET /cgi-bin/gettoken?corpid&corpsecret``: a new token (``tok-N``, ``expires_in``);
  a wrong corp id or secret: 40013 / 40001.
- ``POST /cgi-bin/message/send?access_token``: checks the token (expired: 42001, unknown: 40014),
  the agent id, the member (unknown: errcode 0 with ``invaliduser``, as WeCom does) and a template
  card's ``task_id`` (reused: 40058, WeCom refuses it); accepted messages are kept in ``sent``.
- ``GET /cgi-bin/media/get?access_token&media_id``: the file's bytes as image/jpeg; unknown: 40007.
- ``POST /cgi-bin/message/update_template_card``: a response code works once (then 40132-like).
- ``GET /cgi-bin/auth/getuserinfo?access_token&code``: ``{"userid": ...}``; a code works once.

Faults: ``expire_tokens()`` makes every token issued so far expired (42001); ``busy(n)`` answers
the next ``n`` calls of message/send with 45009. ``calls`` logs every request (path, errcode).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        status, content_type, data = self.server.double.handle(method, parsed.path, query, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


class WeComDouble:
    """Serve one WeCom organisation with one self-built app."""

    def __init__(self, corp_id: str = "ww0123456789abcdef", secret: str = "app-secret", agent_id: str = "1000002",
                 expires_in: int = 7200) -> None:
        self.corp_id, self.secret, self.agent_id, self.expires_in = corp_id, secret, agent_id, expires_in
        self._lock = threading.Lock()
        self.members: set[str] = set()
        self.media: dict[str, bytes] = {}
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, bool] = {}  # token -> still valid
        self.sent: list[tuple[str, dict]] = []
        self.updates: list[dict] = []
        self.calls: list[tuple[str, int]] = []
        self.task_ids: set[str] = set()
        self.used_codes: set[str] = set()
        self._busy = 0

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> WeComDouble:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.double = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WeComDouble:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = {token: False for token in self.tokens}

    def busy(self, count: int) -> None:
        with self._lock:
            self._busy = count

    def sent_to(self, userid: str) -> list[dict]:
        with self._lock:
            return [payload for to, payload in self.sent if to == userid]

    def count(self, path: str, errcode: int | None = None) -> int:
        with self._lock:
            return sum(1 for p, code in self.calls if p == path and (errcode is None or code == errcode))

    # --- serving ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, str, bytes]:
        with self._lock:
            result = self._handle(method, path, query, body)
            if isinstance(result, bytes):
                self.calls.append((path, 0))
                return 200, "image/jpeg", result
            self.calls.append((path, int(result.get("errcode", 0))))
            return 200, "application/json; charset=utf-8", json.dumps(result, ensure_ascii=False).encode("utf-8")

    def _handle(self, method: str, path: str, query: dict, body: bytes) -> dict | bytes:
        if path == "/cgi-bin/gettoken":
            if query.get("corpid") != self.corp_id:
                return {"errcode": 40013, "errmsg": "invalid corpid"}
            if query.get("corpsecret") != self.secret:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            token = f"tok-{len(self.tokens) + 1}"
            self.tokens[token] = True
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.expires_in}
        token = query.get("access_token", "")
        if token not in self.tokens:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if not self.tokens[token]:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        if path == "/cgi-bin/message/send":
            if self._busy > 0:
                self._busy -= 1
                return {"errcode": 45009, "errmsg": "api freq out of limit"}
            if str(data.get("agentid")) != self.agent_id:
                return {"errcode": 40056, "errmsg": "invalid agentid"}
            to = data.get("touser", "")
            if to not in self.members:
                return {"errcode": 0, "errmsg": "ok", "invaliduser": to}
            card = data.get("template_card")
            if card:
                if card.get("task_id") in self.task_ids:
                    return {"errcode": 40058, "errmsg": "task_id exist"}
                self.task_ids.add(card.get("task_id"))
            self.sent.append((to, data))
            return {"errcode": 0, "errmsg": "ok", "msgid": f"m{len(self.sent)}",
                    "response_code": f"rc-send-{len(self.sent)}" if card else ""}
        if path == "/cgi-bin/message/update_template_card":
            code = data.get("response_code", "")
            if not code or code in self.used_codes:
                return {"errcode": 40132, "errmsg": "invalid response_code"}
            self.used_codes.add(code)
            self.updates.append(data)
            return {"errcode": 0, "errmsg": "ok"}
        if path == "/cgi-bin/media/get":
            media = self.media.get(query.get("media_id", ""))
            if media is None:
                return {"errcode": 40007, "errmsg": "invalid media_id"}
            return media
        if path == "/cgi-bin/auth/getuserinfo":
            userid = self.codes.pop(query.get("code", ""), None)
            if userid is None:
                return {"errcode": 40029, "errmsg": "invalid code"}
            return {"errcode": 0, "errmsg": "ok", "userid": userid, "user_ticket": ""}
        return {"errcode": 404, "errmsg": "unknown api"}
