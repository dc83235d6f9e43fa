"""Delivery channels: Telegram Bot API, WeCom (企业微信) and DingTalk (钉钉) group robots, and the
WeCom self-built app's personal messages (``wecom_app``: one member, text cards and template cards).

Each channel sends one text with optional buttons to one target and either returns or raises
``DeliveryError``: ``unreachable`` when the route is dead (bot blocked, chat gone, webhook
revoked), ``permanent`` when this message can never be sent, otherwise transient (429, 5xx,
timeouts: retry later, not before ``retry_after`` seconds when given).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from dataclasses import dataclass

import httpx

from bot.config import Settings

TELEGRAM_PER_SECOND = 30.0
TELEGRAM_MAX_TEXT = 4096
# WeCom: 93000 invalid webhook URL, 93004 robot removed; 45009 / -1: too frequent / busy.
WECOM_DEAD = frozenset({93000, 93004, 93008})
WECOM_BUSY = frozenset({45009, -1})
# DingTalk: 300001 token missing, 310000 signature or security check failed, 400101 robot disabled;
# 130101 sending too fast.
DINGTALK_DEAD = frozenset({300001, 310000, 400101})
DINGTALK_BUSY = frozenset({130101, -1})


class DeliveryError(Exception):
    """A send failed; see the flags for what to do next."""

    def __init__(self, detail: str, *, retry_after: float | None = None, unreachable: bool = False,
                 permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        self.unreachable = unreachable
        self.permanent = permanent or unreachable


@dataclass(frozen=True)
class Target:
    """Where a message goes: a Telegram chat, or a group robot's webhook (with its signing secret)."""

    chat_id: int | None = None
    url: str | None = None
    secret: str | None = None
    userid: str | None = None  # a WeCom member (the personal ``wecom_app`` channel)


@dataclass(frozen=True)
class Button:
    """An inline button: a label, the callback data the Telegram adapter handles, and the path of the
    same thing on the web (group robots, which have no buttons, get it as a link)."""

    label: str
    data: str
    link: str | None = None


class TelegramChannel:
    """sendMessage over httpx, paced to ``per_second`` messages a second (Telegram's broadcast limit)."""

    name = "telegram"

    def __init__(self, token: str, api_url: str = "https://api.telegram.org", *, timeout: float = 10.0,
                 per_second: float = TELEGRAM_PER_SECOND, client: httpx.Client | None = None,
                 proxy: str | None = None, pacer=None) -> None:
        self.url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self.client = client or httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=16),
                                             proxy=proxy or None)
        self.per_second = per_second
        self.pacer = pacer  # bot.services.pacing.SharedPacer: shared by every process (else a local bucket)
        self._tokens = per_second  # a token bucket as large as one second's allowance
        self._refilled = time.monotonic()
        self._lock = threading.Lock()

    def _pace(self) -> None:
        """Wait for a token of the bucket (``per_second`` 0: no pacing)."""
        if not self.per_second:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.per_second, self._tokens + (now - self._refilled) * self.per_second)
            self._refilled = now
            self._tokens -= 1
            wait = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if wait:
            time.sleep(wait)

    def send(self, target: Target, text: str, buttons: list[Button] | None = None) -> None:
        """Send ``text`` to the chat; raise DeliveryError on failure."""
        if len(text) > TELEGRAM_MAX_TEXT:
            text = text[:TELEGRAM_MAX_TEXT - 1] + "…"
        body: dict = {"chat_id": target.chat_id, "text": text}
        if buttons:
            body["reply_markup"] = {"inline_keyboard": [[{"text": b.label, "callback_data": b.data}
                                                         for b in buttons]]}
        if self.pacer is not None:
            self.pacer.wait_for(target.chat_id, bulk=True)
        else:
            self._pace()
        try:
            response = self.client.post(self.url, json=body)
        except httpx.TransportError as exc:
            raise DeliveryError(f"telegram: {type(exc).__name__}") from exc
        if response.status_code == 200:
            return
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        description = str(answer.get("description") or response.reason_phrase)
        status = response.status_code
        if status == 429:
            retry = (answer.get("parameters") or {}).get("retry_after", 1)
            raise DeliveryError(f"telegram 429: {description}", retry_after=float(retry))
        if status >= 500:
            raise DeliveryError(f"telegram {status}: {description}")
        lowered = description.lower()
        dead = status == 403 or "chat not found" in lowered or "user is deactivated" in lowered
        raise DeliveryError(f"telegram {status}: {description}", unreachable=dead, permanent=True)

    def close(self) -> None:
        self.client.close()


def _markdown(text: str, buttons: list[Button] | None = None, public_url: str = "") -> str:
    """Return the text as group-robot markdown: the first line bold, the rest quoted, then the
    buttons that have a web page as links (only when the installation has a public URL)."""
    lines = text.split("\n")
    head = f"**{lines[0]}**" if lines else ""
    links = [f"[{b.label}]({public_url.rstrip('/')}{b.link})" for b in buttons or () if b.link and public_url]
    return "\n".join([head, *(f"> {line}" for line in lines[1:]), *links])


class _Robot:
    """Shared HTTP handling of the group robots: errcode 0 is success."""

    name = ""
    dead: frozenset[int] = frozenset()
    busy: frozenset[int] = frozenset()

    def __init__(self, *, timeout: float = 10.0, client: httpx.Client | None = None, public_url: str = "") -> None:
        self.client = client or httpx.Client(timeout=timeout)
        self.public_url = public_url

    def _post(self, url: str, body: dict) -> None:
        try:
            response = self.client.post(url, json=body)
        except httpx.TransportError as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryError(f"{self.name} HTTP {response.status_code}")
        if response.status_code == 404:
            raise DeliveryError(f"{self.name} HTTP 404", unreachable=True)
        try:
            answer = response.json()
        except ValueError:
            raise DeliveryError(f"{self.name}: unreadable answer (HTTP {response.status_code})") from None
        code = int(answer.get("errcode", -1))
        if code == 0:
            return
        detail = f"{self.name} errcode {code}: {answer.get('errmsg', '')}"
        if code in self.busy:
            raise DeliveryError(detail, retry_after=60.0 if code != -1 else None)
        raise DeliveryError(detail, unreachable=code in self.dead, permanent=True)

    def close(self) -> None:
        self.client.close()


class WeComChannel(_Robot):
    """A WeCom group robot: POST {"msgtype": "markdown"} to its webhook URL."""

    name = "wecom"
    dead, busy = WECOM_DEAD, WECOM_BUSY

    def send(self, target: Target, text: str, buttons: list[Button] | None = None) -> None:
        """Post the text as markdown to the group (buttons become links to the web)."""
        self._post(target.url, {"msgtype": "markdown",
                                "markdown": {"content": _markdown(text, buttons, self.public_url)}})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Return DingTalk's signature: base64(HMAC-SHA256(secret, "timestamp\\nsecret")), url-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


class DingTalkChannel(_Robot):
    """A DingTalk group robot; with a secret, the URL carries ``timestamp`` and ``sign``."""

    name = "dingtalk"
    dead, busy = DINGTALK_DEAD, DINGTALK_BUSY

    def send(self, target: Target, text: str, buttons: list[Button] | None = None) -> None:
        """Post the text as markdown to the group (buttons become links to the web), signing the URL
        when the route has a secret."""
        url = target.url
        if target.secret:
            stamp = int(time.time() * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={stamp}&sign={dingtalk_sign(target.secret, stamp)}"
        title = text.split("\n", 1)[0][:60]
        self._post(url, {"msgtype": "markdown", "markdown": {"title": title,
                                                             "text": _markdown(text, buttons, self.public_url)}})


# The web page a WeCom text card opens for a Telegram-only button: a cadre's checklist is the web form
# there; the others' reports are on their home page.
WECOM_APP_LINKS = {"go:report": "/f"}
WECOM_FORM_ROLES = ("village_cadre", "village_supervisor")
# WeCom's limits of one app's messages to one member; beyond them WeCom silently drops messages.
WECOM_APP_PER_MINUTE = 30
WECOM_APP_PER_HOUR = 1000
WECOM_CARD_ACTIONS = ("pb:",)  # buttons answered in WeCom itself (template card events), not by a web page


class WeComAppChannel:
    """Personal messages of the WeCom self-built app to one member (``Target.userid``).

    A notice with buttons WeCom can answer (a serious problem's Acknowledge / Resolve) goes as a
    button template card whose button keys are the buttons' callback data (handled by
    ``bot.adapters.wecom_app``); any other as a text card whose button opens the web page of its first
    button through WeCom's sign-in (``/auth/wecom?next=...``). Rows the WeCom conversation queued
    (kind ``wecom-card``, ``wecom-text``, ``wecom-update``) carry their WeCom payload and are sent as
    they are (``send_message``).
    """

    name = "wecom_app"

    def __init__(self, api, public_url: str = "", *, per_minute: int = WECOM_APP_PER_MINUTE,
                 per_hour: int = WECOM_APP_PER_HOUR, clock=time.monotonic) -> None:
        self.api = api
        self.public_url = public_url.rstrip("/")
        self.per_minute, self.per_hour, self.clock = per_minute, per_hour, clock
        self._recent: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _pace(self, userid: str) -> None:
        """Count a message to ``userid``; raise DeliveryError (retry later) when WeCom's limits per member
        are reached: WeCom drops, without an error, what goes beyond them."""
        with self._lock:
            now = self.clock()
            recent = [at for at in self._recent.get(userid, []) if now - at < 3600]
            last_minute = [at for at in recent if now - at < 60]
            wait = 0.0
            if len(last_minute) >= self.per_minute:
                wait = 60 - (now - last_minute[-self.per_minute])
            elif len(recent) >= self.per_hour:
                wait = 3600 - (now - recent[-self.per_hour])
            if wait > 0:
                self._recent[userid] = recent
                raise DeliveryError(f"wecom_app: the limit of messages to {userid} is reached",
                                    retry_after=max(1.0, wait))
            recent.append(now)
            self._recent[userid] = recent

    def _link(self, path: str) -> str:
        from urllib.parse import quote

        return f"{self.public_url}/auth/wecom?next={quote(path, safe='')}"

    def payload(self, text: str, buttons: list[Button] | None = None, task_id: str = "",
                role: str = "village_cadre") -> dict:
        """The message/send payload of a notice: a template card or a text card."""
        lines = text.split("\n")
        title, rest = lines[0], "\n".join(lines[1:])
        card_buttons = [b for b in buttons or () if b.data.startswith(WECOM_CARD_ACTIONS)]
        if card_buttons:
            import uuid

            page = next((b.link for b in buttons or () if b.link), None) or "/home"
            return {"msgtype": "template_card", "template_card": {
                "card_type": "button_interaction", "task_id": task_id or uuid.uuid4().hex,
                "main_title": {"title": title[:36], "desc": rest[:44]}, "sub_title_text": text[:500],
                "card_action": {"type": 1, "url": self._link(page)},
                "button_list": [{"text": b.label[:10], "style": 1 if i == 0 else 2, "key": b.data}
                                for i, b in enumerate(card_buttons[:6])]}}
        button = next((b for b in buttons or () if b.link or b.data in WECOM_APP_LINKS), None)
        if button is None or not self.public_url:
            return {"msgtype": "text", "text": {"content": text[:2000]}}
        path = button.link
        if button.data in WECOM_APP_LINKS:
            path = WECOM_APP_LINKS[button.data] if role in WECOM_FORM_ROLES else (button.link or "/home")
        return {"msgtype": "textcard", "textcard": {"title": title[:128], "description": (rest or title)[:512],
                                                    "url": self._link(path), "btntxt": button.label[:4] or "详情"}}

    def _call(self, action) -> None:
        from bot.services.wecom_api import WeComError

        try:
            action()
        except WeComError as exc:
            if exc.busy:
                raise DeliveryError(str(exc), retry_after=60.0 if exc.code else None) from exc
            raise DeliveryError(str(exc), unreachable=exc.dead, permanent=True) from exc

    def send(self, target: Target, text: str, buttons: list[Button] | None = None) -> None:
        """Send a notice to the member; raise DeliveryError on failure."""
        self._pace(target.userid)
        self._call(lambda: self.api.send(target.userid, self.payload(text, buttons)))

    def send_message(self, target: Target, message, text: str, buttons: list[Button]) -> None:
        """Send an outbox row: the conversation's own payloads as they are, notices as ``send``."""
        params = message.body[0][1] if message.body and isinstance(message.body[0][1], dict) else {}
        if message.kind == "wecom-update":  # not a message: outside the limits per member
            self._call(lambda: self.api.update_card([target.userid], params["response_code"], params["payload"]))
            return
        self._pace(target.userid)
        if message.kind in ("wecom-card", "wecom-text"):
            self._call(lambda: self.api.send(target.userid, params["payload"]))
        else:
            self._call(lambda: self.api.send(target.userid, self.payload(text, buttons, f"n{message.id}",
                                                                         message.role)))

    def close(self) -> None:
        pass


def build_channels(settings: Settings, *, timeout: float = 10.0, engine=None) -> dict[str, object]:
    """Return the channels this installation can use (Telegram only with a token, the WeCom app only
    when it is configured). With ``engine``, Telegram sends are paced on the database's shared windows
    (every process together), as bulk."""
    public = settings.public_url if settings.public_url.startswith(("http://", "https://")) else ""
    channels: dict[str, object] = {"wecom": WeComChannel(timeout=timeout, public_url=public),
                                   "dingtalk": DingTalkChannel(timeout=timeout, public_url=public)}
    if settings.wecom_enabled:
        from bot.services.wecom_api import api_for

        channels["wecom_app"] = WeComAppChannel(api_for(settings), public_url=public)
    if settings.telegram_token:
        pacer = None
        if engine is not None:
            from bot.services.pacing import SharedPacer, pacing_limits

            pacer = SharedPacer(engine, pacing_limits(settings))
        channels["telegram"] = TelegramChannel(settings.telegram_token, settings.telegram_api_url or
                                               "https://api.telegram.org", timeout=timeout,
                                               proxy=settings.telegram_proxy, pacer=pacer)
    return channels


def register_route(session, actor, township, kind: str, url: str, name: str, secret: str | None = None):
    """Register a township's WeCom or DingTalk group robot (audited); return the ChannelRoute."""
    from bot.services import audit
    from bot.storage.models_schedule import ROUTE_KINDS, ChannelRoute

    if kind not in ROUTE_KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(ROUTE_KINDS)}")
    if township.level != "township":
        raise ValueError("group robots are registered for a township")
    if not url.startswith(("https://", "http://")):
        raise ValueError("the webhook must be an http(s) URL")
    route = ChannelRoute(org_unit_id=township.id, kind=kind, name=name, url=url, secret=secret or None)
    session.add(route)
    session.flush()
    audit.record(session, actor, "channel.register", "channel_route", route.id, None,
                 {"org_unit_id": township.id, "kind": kind, "name": name, "signed": bool(secret)})
    return route
