"""The WeCom (企业微信) server API of a self-built app: access token, message/send, media/get,
update_template_card and OAuth's auth/getuserinfo, over httpx.

- The access token (``gettoken``) is cached per process and renewed ``RENEW_BEFORE`` seconds before
  it expires, and at once when WeCom answers 42001 (expired) or 40014 / 40082 (invalid): the call is
  then made once more with the new token.
- -1 (system busy) and 45009 (frequency limit) are retried here a few times with a growing pause;
  if WeCom is still busy, ``WeComError.busy`` tells the caller (the outbox) to try later. WeCom
  answers these before it sends anything, so a retry cannot send a message twice.
- Every other error code raises ``WeComError`` with the code; ``dead`` marks the codes that say the
  member cannot receive from this app (left the organisation, outside the app's visible range).

It imports nothing of the project but the settings: the personal channel (``bot.services.channels``)
and the WeCom adapter build on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bot.config import Settings

log = logging.getLogger(__name__)

RENEW_BEFORE = 300.0  # seconds: a token is renewed this long before WeCom's expiry
TOKEN_INVALID = frozenset({42001, 40014, 40082})  # expired, invalid, invalid suite token
BUSY = frozenset({-1, 45009, 45033})  # system busy, frequency limit, too many concurrent calls
# 60111 userid not found, 81013 user/party/tag all invalid or out of the app's range, 60020 IP not allowed
# for this userid, 301002 no permission for the user; 40031 invalid userid list.
DEAD = frozenset({60111, 81013, 40031, 301002})
TRIES = 4  # attempts of one call while WeCom says busy
MAX_MEDIA = 40 * 1024 * 1024  # media/get: larger answers are refused before reading them whole


class WeComError(Exception):
    """A WeCom API call failed: ``code`` is WeCom's errcode (0 for transport and HTTP failures)."""

    def __init__(self, code: int, detail: str, *, busy: bool = False, dead: bool = False) -> None:
        super().__init__(f"wecom errcode {code}: {detail}")
        self.code = code
        self.detail = detail
        self.busy = busy
        self.dead = dead


@dataclass
class _Token:
    value: str = ""
    expires: float = 0.0  # time.monotonic() when WeCom stops accepting it


class WeComApi:
    """Calls of one app (corp id, secret, agent id) against ``root``; thread-safe; the token shared."""

    def __init__(self, corp_id: str, secret: str, agent_id: str, root: str = "https://qyapi.weixin.qq.com", *,
                 timeout: float = 10.0, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 backoff: float = 0.5) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = int(agent_id) if str(agent_id).isdigit() else 0
        self.root = root.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=8))
        self.sleep = sleep
        self.clock = clock
        self.backoff = backoff
        self._token = _Token()
        self._lock = threading.Lock()
        self.token_fetches = 0

    # --- token -----------------------------------------------------------------------------------

    def token(self, *, stale: str | None = None) -> str:
        """Return a valid access token; fetch a new one when none is cached, it nears expiry, or it is
        ``stale`` (WeCom just refused it; another thread may have renewed it meanwhile)."""
        with self._lock:
            cached = self._token
            fresh = cached.value and self.clock() < cached.expires - RENEW_BEFORE
            if fresh and cached.value != stale:
                return cached.value
            answer = self._json("GET", "/cgi-bin/gettoken", params={"corpid": self.corp_id,
                                                                     "corpsecret": self.secret})
            code = int(answer.get("errcode", 0) or 0)
            if code or not answer.get("access_token"):
                raise WeComError(code, f"gettoken: {answer.get('errmsg', '')}", busy=code in BUSY)
            self.token_fetches += 1
            self._token = _Token(str(answer["access_token"]), self.clock() + float(answer.get("expires_in", 7200)))
            return self._token.value

    def forget_token(self) -> None:
        """Drop the cached token (the next call fetches one)."""
        with self._lock:
            self._token = _Token()

    # --- transport -------------------------------------------------------------------------------

    def _http(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.client.request(method, self.root + path, **kwargs)
        except httpx.TransportError as exc:
            raise WeComError(0, f"{path}: {type(exc).__name__}", busy=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise WeComError(0, f"{path}: HTTP {response.status_code}", busy=True)
        if response.status_code != 200:
            raise WeComError(0, f"{path}: HTTP {response.status_code}")
        return response

    def _json(self, method: str, path: str, **kwargs) -> dict:
        response = self._http(method, path, **kwargs)
        try:
            answer = response.json()
        except ValueError:
            raise WeComError(0, f"{path}: unreadable answer", busy=True) from None
        if not isinstance(answer, dict):
            raise WeComError(0, f"{path}: unreadable answer", busy=True)
        return answer

    def call(self, method: str, path: str, *, json: dict | None = None, params: dict | None = None,
             raw: bool = False) -> dict | httpx.Response:
        """Call ``path`` with the access token; renew it once on 42001/40014; retry busy answers with
        backoff; return the JSON answer (errcode 0) or, with ``raw``, a non-JSON response (a file)."""
        renewed = False
        attempt = 0
        while True:
            token = self.token()
            response = self._http(method, path, params={**(params or {}), "access_token": token}, json=json)
            if raw and not response.headers.get("content-type", "").startswith(("application/json", "text/plain")):
                return response
            try:
                answer = response.json()
            except ValueError:
                raise WeComError(0, f"{path}: unreadable answer", busy=True) from None
            code = int(answer.get("errcode", 0) or 0)
            if code == 0:
                return response if raw else answer
            detail = f"{path}: {answer.get('errmsg', '')}"
            if code in TOKEN_INVALID and not renewed:
                renewed = True
                log.info("wecom: access token refused (%s); renewing it", code)
                self.token(stale=token)
                continue
            if code in BUSY and attempt + 1 < TRIES:
                pause = self.backoff * 2 ** attempt
                attempt += 1
                log.info("wecom: %s busy (%s); trying again in %.1f s", path, code, pause)
                self.sleep(pause)
                continue
            raise WeComError(code, detail, busy=code in BUSY, dead=code in DEAD)

    # --- the calls -------------------------------------------------------------------------------

    def send(self, userid: str, payload: dict) -> dict:
        """message/send to one member: ``payload`` holds msgtype and its part; agentid is added.

        WeCom answers errcode 0 with ``invaliduser`` when the member cannot receive: raised as dead."""
        body = {"touser": userid, "agentid": self.agent_id, "enable_duplicate_check": 0, **payload}
        answer = self.call("POST", "/cgi-bin/message/send", json=body)
        if answer.get("invaliduser"):
            raise WeComError(81013, f"message/send: invalid user {answer['invaliduser']}", dead=True)
        return answer

    def update_card(self, userids: list[str], response_code: str, payload: dict) -> dict:
        """message/update_template_card: replace the pressed card (``payload``: ``button`` with
        ``replace_name``, or a whole ``template_card``)."""
        body = {"userids": userids, "agentid": self.agent_id, "response_code": response_code, **payload}
        return self.call("POST", "/cgi-bin/message/update_template_card", json=body)

    def media(self, media_id: str, max_bytes: int = MAX_MEDIA) -> bytes:
        """media/get: the file a member sent (the photo in its original quality)."""
        response = self.call("GET", "/cgi-bin/media/get", params={"media_id": media_id}, raw=True)
        size = int(response.headers.get("content-length") or 0)
        if size > max_bytes or len(response.content) > max_bytes:
            raise WeComError(0, "media/get: file too large")
        return response.content

    def user_of_code(self, code: str) -> str:
        """auth/getuserinfo: the member (UserId) whose WeCom signed in with this OAuth ``code``."""
        answer = self.call("GET", "/cgi-bin/auth/getuserinfo", params={"code": code})
        userid = answer.get("userid") or answer.get("UserId")
        if not userid:
            raise WeComError(0, "auth/getuserinfo: not a member of the organisation")
        return str(userid)

    def close(self) -> None:
        self.client.close()


_shared: dict[tuple, WeComApi] = {}
_shared_lock = threading.Lock()


def api_for(settings: Settings) -> WeComApi | None:
    """Return this process's client of the configured app (one token cache for all), or None."""
    if not settings.wecom_enabled:
        return None
    key = (settings.wecom_api_root, settings.wecom_corp_id, settings.wecom_secret, settings.wecom_agent_id)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = WeComApi(settings.wecom_corp_id, settings.wecom_secret, settings.wecom_agent_id,
                                    settings.wecom_api_root)
        return _shared[key]


def oauth_url(settings: Settings, redirect_uri: str, state: str = "") -> str:
    """The address that has WeCom sign the member in silently (``snsapi_base``) and come back to
    ``redirect_uri`` with ``code``."""
    from urllib.parse import quote

    return ("https://open.weixin.qq.com/connect/oauth2/authorize?appid=" + quote(settings.wecom_corp_id)
            + "&redirect_uri=" + quote(redirect_uri, safe="") + "&response_type=code&scope=snsapi_base"
            + "&state=" + quote(state, safe="") + "&agentid=" + quote(settings.wecom_agent_id) + "#wechat_redirect")
