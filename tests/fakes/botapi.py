"""A Telegram Bot API double: a real HTTP server that python-telegram-bot talks to in tests.

The double runs a threaded HTTP/1.1 server on 127.0.0.1 (random free port). Point an application at
it with ``double.application_builder()`` or by hand::

    ApplicationBuilder().token(double.token).base_url(f"{double.url}/bot")
        .base_file_url(f"{double.url}/file/bot")

Tests inject updates (``send_text``, ``press``, ``send_photo`` ...), read what the bot did
(``calls``, ``messages_to``, ``await_reply``, ``last_keyboard``) and inject faults (``fail_next``,
``chaos``, ``limit_per_second``, ``block``). See tests/fakes/README.md.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import io
import itertools
import json
import math
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TOKEN = "123456789:AAF-villagebot-test-token"
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files, as Telegram's cloud API does
MAX_TEXT_LENGTH = 4096
FAULT_KINDS = ("429", "5xx", "timeout", "blocked", "chat_not_found", "lost_reply")
# Chaos leaves the plumbing alone by default: it models a flaky chat delivery, not a dead server.
CHAOS_EXEMPT = frozenset({"getupdates", "getme", "setwebhook", "deletewebhook", "getwebhookinfo", "close", "logout"})
SEND_METHODS = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "sendlocation", "sendmediagroup", "copymessage",
     "forwardmessage", "sendvideo", "sendaudio", "sendvoice", "sendsticker", "sendanimation"}
)
DEFAULT_ALLOWED_UPDATES = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "callback_query", "inline_query",
     "chosen_inline_result", "shipping_query", "pre_checkout_query", "poll", "poll_answer",
     "my_chat_member", "chat_join_request", "business_connection", "business_message",
     "edited_business_message", "deleted_business_messages", "purchased_paid_media"}
)
# Form and multipart values arrive as strings; these are never JSON-decoded (text "123" stays text).
STRING_FIELDS = frozenset(
    {"text", "caption", "url", "secret_token", "parse_mode", "callback_query_id", "action", "file_id",
     "inline_message_id", "emoji", "title", "description", "short_description", "name", "query",
     "language_code", "certificate", "ip_address", "business_connection_id", "message_effect_id"}
)
PHOTO_SIDES = (90, 320, 800, 1280, 2560)  # the thumbnail ladder Telegram offers for a photo
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """Carry a Bot API error answer (status, description, optional parameters) out of a handler."""

    def __init__(self, status: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters

    def payload(self) -> dict:
        """Return the JSON body Telegram sends for this error."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class DoubleTimeout(AssertionError):
    """Signal that a wait helper ran out of time (an assertion failure in a test)."""


@dataclasses.dataclass(frozen=True)
class User:
    """A Telegram user the test plays; their private chat has the same id."""

    id: int
    first_name: str = "Test"
    language_code: str | None = "zh-hans"
    username: str | None = None
    last_name: str | None = None

    def to_api(self) -> dict:
        """Return the Bot API User object."""
        data = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclasses.dataclass(frozen=True)
class Chat:
    """A chat the bot can talk in (private chats are created with their user)."""

    id: int
    type: str = "private"
    title: str | None = None
    first_name: str | None = None

    def to_api(self) -> dict:
        """Return the Bot API Chat object."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title:
            data["title"] = self.title
        if self.first_name:
            data["first_name"] = self.first_name
        return data


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclasses.dataclass(frozen=True)
class Call:
    """One HTTP request to a Bot API method, with its decoded parameters and the status answered."""

    method: str
    params: dict
    status: int
    at: float
    fault: str | None = None


class Button(tuple):
    """An inline keyboard button as (text, callback_data); ``url`` is set for link buttons."""

    __slots__ = ()

    def __new__(cls, text: str, callback_data: str | None, url: str | None = None):
        return super().__new__(cls, (text, callback_data, url))

    text = property(lambda self: self[0])
    callback_data = property(lambda self: self[1])
    url = property(lambda self: self[2])

    def __eq__(self, other: object) -> bool:
        # (text, data) pairs compare equal, so tests can write `("Yes", "q:yes") in buttons`.
        if isinstance(other, tuple) and len(other) == 2:
            return tuple(self[:2]) == other
        return tuple.__eq__(self, other)

    __hash__ = tuple.__hash__


@dataclasses.dataclass(frozen=True)
class Sent:
    """A snapshot of something the bot did in a chat: a new message or an edit of one."""

    method: str
    chat_id: int
    message_id: int
    message: dict
    at: float

    @property
    def text(self) -> str | None:
        """Return the text, or the caption of a media message."""
        return self.message.get("text", self.message.get("caption"))

    @property
    def is_edit(self) -> bool:
        """Tell whether this record is an edit of an earlier message."""
        return self.method.startswith("edit")

    @property
    def reply_markup(self) -> dict | None:
        """Return the message's reply markup as sent."""
        return self.message.get("reply_markup")

    @property
    def buttons(self) -> list[Button]:
        """Return the inline keyboard buttons, row by row, flattened."""
        return _buttons(self.message.get("reply_markup"))


@dataclasses.dataclass
class _StoredFile:
    file_id: str
    unique_id: str
    path: str
    data: bytes | None
    source: str | None = None  # a thumbnail is rendered lazily from its source file
    side: int = 0


@dataclasses.dataclass
class _Queued:
    update: dict
    forced: bool
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return self.update["update_id"]

    @property
    def kind(self) -> str:
        return next(key for key in self.update if key != "update_id")


def _buttons(markup: dict | None) -> list[Button]:
    rows = (markup or {}).get("inline_keyboard") or []
    return [Button(b.get("text", ""), b.get("callback_data"), b.get("url")) for row in rows for b in row]


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _decode_value(name: str, value: str) -> Any:
    """Turn one form field back into the JSON value PTB encoded (strings stay strings)."""
    if name in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict, dict[str, Upload]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ApiError(400, "Bad Request: multipart boundary missing")
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.partition(b"\r\n\r\n")
        content = content[:-2] if content.endswith(b"\r\n") else content
        headers = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', headers)
        filename = re.search(r'\bfilename="([^"]*)"', headers)
        ctype = re.search(r"(?im)^content-type:\s*([^\r\n]+)", headers)
        if not name:
            continue
        if filename:
            uploads[name.group(1)] = Upload(
                name.group(1), filename.group(1), ctype.group(1).strip() if ctype else "", content
            )
        else:
            fields[name.group(1)] = _decode_value(name.group(1), content.decode("utf-8"))
    return fields, uploads


def _parse_body(body: bytes, content_type: str, query: str) -> tuple[dict, dict[str, Upload]]:
    """Decode a method's parameters from the query string and a JSON, urlencoded or multipart body."""
    params = {k: _decode_value(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)}
    uploads: dict[str, Upload] = {}
    ctype = content_type.lower()
    if not body:
        return params, uploads
    if ctype.startswith("application/json"):
        try:
            params.update(json.loads(body))
        except ValueError as exc:
            raise ApiError(400, "Bad Request: can't parse JSON body") from exc
    elif ctype.startswith("multipart/form-data"):
        fields, uploads = _parse_multipart(body, content_type)
        params.update(fields)
    else:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        params.update({k: _decode_value(k, v) for k, v in pairs})
    return params, uploads


def strip_jpeg_exif(data: bytes) -> bytes:
    """Return JPEG bytes without their EXIF (APP1) segments; pixels untouched, other data returned as is."""
    if not data.startswith(b"\xff\xd8"):
        return data
    out, pos = bytearray(b"\xff\xd8"), 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is entropy-coded image data
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos : pos + 2 + length]
        if not (marker == 0xE1 and segment[4:10] == b"Exif\x00\x00"):
            out += segment
        pos += 2 + length
    return bytes(out + data[pos:])


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - anything Pillow cannot read is "not an image" here
        return None


def _render_thumbnail(data: bytes, side: int) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (side, side))  # JPEG decodes at reduced scale: cheap for 12 MP photos
        image = image.convert("RGB")
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80)
        return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: PTB's httpx pool reuses connections

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, but ACK delays still bite small answers without this.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.double._track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.double._track(self.connection, False)  # type: ignore[attr-defined]
        super().finish()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.double._serve(self)  # type: ignore[attr-defined]

    do_GET = do_POST

    def read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Write a whole response in one write."""
        reason = self.responses.get(status, ("",))[0]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nServer: BotApiDouble\r\n\r\n"
        )
        self.wfile.write(head.encode("latin-1") + body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class BotApiDouble:
    """Serve the Telegram Bot API over real HTTP from in-memory state that tests drive and inspect.

    All public methods are thread-safe. Wait helpers (``wait_for``, ``await_reply``) block when called
    from plain code and return an awaitable when called inside a running event loop.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, *, strict_chats: bool = True, timeout_delay: float = 6.0,
                 bot_username: str = "villagebot_test_bot"):
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {"id": self.bot_id, "is_bot": True, "first_name": "VillageBot Test",
                         "username": bot_username, "can_join_groups": True,
                         "can_read_all_group_messages": False, "supports_inline_queries": False,
                         "can_connect_to_business": False, "has_main_web_app": False}
        self._bot_sender = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        self.strict_chats = strict_chats
        self.timeout_delay = timeout_delay
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle

    def _reset_state(self) -> None:
        self._users: dict[int, User] = {}
        self._chats: dict[int, Chat] = {}
        self._queue: list[_Queued] = []
        self._update_ids = itertools.count(10_000)
        self._message_ids: dict[int, itertools.count] = {}
        self._messages: dict[tuple[int, int], dict] = {}
        self._bot_message_ids: dict[int, list[int]] = collections.defaultdict(list)
        self._sent: list[Sent] = []
        self._sent_by_chat: dict[int, list[Sent]] = collections.defaultdict(list)  # the same, per chat
        self._read_cursor: dict[int, int] = collections.defaultdict(int)
        self._calls: list[Call] = []
        self._poll_generation = 0  # the newest getUpdates request; older ones still waiting are terminated
        self.poll_conflicts = 0  # getUpdates requests terminated by a newer one (two consumers)
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, str] = {}
        self._file_ids = itertools.count(1)
        self._callbacks: dict[str, dict] = {}
        self._callback_ids = itertools.count(1)
        self._answered: dict[str, dict] = {}
        self._allowed = set(DEFAULT_ALLOWED_UPDATES)
        self._webhook: dict = {}
        self._commands: dict[str, list] = {}
        self._menu_buttons: dict[Any, dict] = {}
        self._faults: list[list] = []
        self._chaos: tuple[float, tuple[str, ...], random.Random, frozenset | None] | None = None
        self._rate: list[float] | None = None  # [per_second, burst, tokens, last_refill]
        self._blocked: set[int] = set()
        self._accepted = collections.Counter()
        self.faults_injected: list[tuple[str, str]] = []
        self.webhook_pushes: list[tuple[int, int]] = []

    def start(self) -> BotApiDouble:
        """Start serving on 127.0.0.1 with a free port; return self."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.double = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="BotApiDouble", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake long polls and injected timeouts, close client connections."""
        if not self._server:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> BotApiDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> BotApiDouble:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._connections.add if alive else self._connections.discard)(conn)

    @property
    def url(self) -> str:
        """Return the server root, e.g. http://127.0.0.1:40123."""
        if not self._server:
            raise RuntimeError("BotApiDouble is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """Return the value for ApplicationBuilder.base_url (PTB appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the value for ApplicationBuilder.base_file_url (PTB appends the token)."""
        return f"{self.url}/file/bot"

    def method_url(self, method: str, token: str | None = None) -> str:
        """Return the full URL of a Bot API method, for tests that call the double directly."""
        return f"{self.url}/bot{token or self.token}/{method}"

    def application_builder(self):
        """Return a PTB ApplicationBuilder already pointed at this double (token and URLs set)."""
        from telegram.ext import ApplicationBuilder

        return ApplicationBuilder().token(self.token).base_url(self.base_url).base_file_url(self.base_file_url)

    # ------------------------------------------------------------------ users, chats, updates

    def user(self, id: int, first_name: str = "Test", language_code: str | None = "zh-hans",  # noqa: A002
             username: str | None = None, last_name: str | None = None) -> User:
        """Register a user (and their private chat, so the bot may message them); return it."""
        user = User(id, first_name, language_code, username, last_name)
        with self._lock:
            self._users[id] = user
            self._chats[id] = Chat(id, "private", first_name=first_name)
        return user

    def group(self, id: int, title: str = "Test group", type: str = "supergroup") -> Chat:  # noqa: A002
        """Register a group chat (use a negative id, as Telegram does); return it."""
        chat = Chat(id, type, title=title)
        with self._lock:
            self._chats[id] = chat
        return chat

    def _chat_of(self, user: User, chat: Chat | None) -> Chat:
        with self._lock:
            if user.id not in self._users:
                self._users[user.id] = user
                self._chats.setdefault(user.id, Chat(user.id, "private", first_name=user.first_name))
            return chat or self._chats[user.id]

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _user_message(self, user: User, chat: Chat | None, content: dict) -> dict:
        chat = self._chat_of(user, chat)
        with self._lock:
            message = {"message_id": self._next_message_id(chat.id), "date": int(time.time()),
                       "chat": chat.to_api(), "from": user.to_api(), **content}
            self._messages[(chat.id, message["message_id"])] = message
        return message

    def make_update(self, kind: str, payload: dict) -> dict:
        """Return a new update with a fresh update_id (not queued)."""
        with self._lock:
            return {"update_id": next(self._update_ids), kind: payload}

    def deliver(self, update: dict, times: int = 1) -> dict:
        """Queue an update `times` times (same update_id each time) and wake long polls; return it."""
        with self._changed:
            for _ in range(times):
                self._queue.append(_Queued(update, forced=times > 1))
            self._changed.notify_all()
        return update

    def deliver_twice(self, update: dict) -> dict:
        """Queue the same update (same update_id) twice, as Telegram may after a lost acknowledgement."""
        return self.deliver(update, times=2)

    def _message_update(self, user: User, chat: Chat | None, content: dict, deliver: int) -> dict:
        update = self.make_update("message", self._user_message(user, chat, content))
        return self.deliver(update, deliver) if deliver else update

    def send_text(self, user: User, text: str, *, chat: Chat | None = None, deliver: int = 1) -> dict:
        """Queue a text message from a user (a leading /command gets its bot_command entity)."""
        content: dict[str, Any] = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return self._message_update(user, chat, content, deliver)

    def send_command(self, user: User, command: str, args: str = "", *, chat: Chat | None = None,
                     deliver: int = 1) -> dict:
        """Queue `/command args` from a user."""
        text = "/" + command.lstrip("/") + (f" {args}" if args else "")
        return self.send_text(user, text, chat=chat, deliver=deliver)

    def send_location(self, user: User, latitude: float, longitude: float, *, chat: Chat | None = None,
                      deliver: int = 1) -> dict:
        """Queue a location message from a user."""
        content = {"location": {"latitude": latitude, "longitude": longitude}}
        return self._message_update(user, chat, content, deliver)

    def send_photo(self, user: User, data: bytes, *, caption: str | None = None, chat: Chat | None = None,
                   keep_exif: bool = False, deliver: int = 1) -> dict:
        """Queue a compressed photo: several PhotoSize entries, the largest holding the sent bytes.

        Telegram strips metadata from compressed photos, so EXIF segments are removed unless
        ``keep_exif``; JPEG bytes without EXIF come back byte for byte.
        """
        stored = data if keep_exif else strip_jpeg_exif(data)
        content: dict[str, Any] = {"photo": self._photo_sizes(stored, "photos")}
        if caption:
            content["caption"] = caption
        return self._message_update(user, chat, content, deliver)

    def send_document(self, user: User, data: bytes, file_name: str, mime_type: str, *,
                      caption: str | None = None, chat: Chat | None = None, deliver: int = 1) -> dict:
        """Queue a file sent as a document: the bytes are kept exactly (EXIF included)."""
        content: dict[str, Any] = {"document": self._document(data, file_name, mime_type)}
        if caption:
            content["caption"] = caption
        return self._message_update(user, chat, content, deliver)

    def press(self, user: User, message: Sent | dict | int, callback_data: str, *,
              deliver: int = 1) -> dict:
        """Queue a callback query: `user` pressed a button carrying `callback_data` on a bot message.

        `message` is a ``Sent`` record, a Message dict, or a message_id in the user's private chat.
        The data is not checked against the keyboard, so tests can forge it.
        """
        chat_id, message_id = self._message_key(user, message)
        with self._lock:
            current = self._messages.get((chat_id, message_id))
            if current is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            query_id = f"{self.bot_id}{next(self._callback_ids):08d}"
            query = {"id": query_id, "from": user.to_api(), "message": dict(current),
                     "chat_instance": f"ci{chat_id}", "data": callback_data}
            self._callbacks[query_id] = query
        update = self.make_update("callback_query", query)
        return self.deliver(update, deliver) if deliver else update

    def press_last(self, user: User, callback_data: str, *, chat_id: int | None = None,
                   deliver: int = 1) -> dict:
        """Press the button carrying `callback_data` on the newest bot message in the user's chat.

        Unlike ``press``, the data must be on that message's keyboard (ValueError otherwise).
        """
        chat_id = user.id if chat_id is None else chat_id
        if callback_data not in [button.callback_data for button in self.last_keyboard(chat_id)]:
            raise ValueError(f"no button {callback_data!r} on the newest message to {chat_id}: "
                             f"{self.last_keyboard(chat_id)}")
        return self.press(user, self.last_message(chat_id), callback_data, deliver=deliver)

    def click(self, user: User, label: str, *, chat_id: int | None = None) -> dict:
        """Press the button labelled `label` on the newest bot message in the user's chat."""
        chat_id = user.id if chat_id is None else chat_id
        for button in self.last_keyboard(chat_id):
            if button.text == label:
                return self.press(user, self.last_message(chat_id), button.callback_data)
        raise ValueError(f"no button {label!r} on the newest message to {chat_id}: {self.last_keyboard(chat_id)}")

    def _message_key(self, user: User, message: Sent | dict | int) -> tuple[int, int]:
        if isinstance(message, Sent):
            return message.chat_id, message.message_id
        if isinstance(message, dict):
            return message["chat"]["id"], message["message_id"]
        return user.id, int(message)

    # ------------------------------------------------------------------ files

    def _new_file(self, data: bytes | None, folder: str, ext: str, *, source: str | None = None,
                  side: int = 0) -> _StoredFile:
        with self._lock:
            number = next(self._file_ids)
            digest = hashlib.sha256(data if data is not None else f"{source}:{side}".encode()).hexdigest()
            stored = _StoredFile(file_id=f"AgAC{number:06d}{digest[:24]}", unique_id=f"AQAD{digest[:16]}",
                                 path=f"{folder}/file_{number}.{ext}", data=data, source=source, side=side)
            self._files[stored.file_id] = stored
            self._files_by_path[stored.path] = stored.file_id
        return stored

    def _photo_sizes(self, data: bytes, folder: str) -> list[dict]:
        size = _image_size(data)
        original = self._new_file(data, folder, "jpg")
        if size is None:
            return [{"file_id": original.file_id, "file_unique_id": original.unique_id,
                     "width": 0, "height": 0, "file_size": len(data)}]
        width, height = size
        sizes = []
        for side in (s for s in PHOTO_SIDES if s < max(width, height)):
            thumb = self._new_file(None, folder, "jpg", source=original.file_id, side=side)
            scale = side / max(width, height)
            sizes.append({"file_id": thumb.file_id, "file_unique_id": thumb.unique_id,
                          "width": max(1, round(width * scale)), "height": max(1, round(height * scale))})
        sizes.append({"file_id": original.file_id, "file_unique_id": original.unique_id,
                      "width": width, "height": height, "file_size": len(data)})
        return sizes

    def _document(self, data: bytes, file_name: str, mime_type: str) -> dict:
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        stored = self._new_file(data, "documents", ext)
        return {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "file_name": file_name,
                "mime_type": mime_type, "file_size": len(data)}

    def file_bytes(self, file_id: str) -> bytes:
        """Return the bytes behind a file_id (thumbnails are rendered on first use)."""
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        if stored.data is None:
            rendered = _render_thumbnail(self.file_bytes(stored.source), stored.side)
            with self._lock:
                stored.data = stored.data or rendered
        return stored.data

    # ------------------------------------------------------------------ observation

    @property
    def calls(self) -> list[Call]:
        """Return a snapshot of every method call received, in order."""
        with self._lock:
            return list(self._calls)

    def calls_of(self, method: str) -> list[Call]:
        """Return the calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def _keep_sent(self, sent: Sent) -> None:
        """Keep a bot action in order, overall and per chat (called with the lock held)."""
        self._sent.append(sent)
        self._sent_by_chat[sent.chat_id].append(sent)

    def messages_to(self, chat_id: int) -> list[Sent]:
        """Return what the bot sent to a chat, edits included, in order."""
        with self._lock:
            return list(self._sent_by_chat.get(chat_id, ()))

    def texts_to(self, chat_id: int) -> list[str]:
        """Return the texts (or captions) of the messages the bot sent to a chat, edits excluded."""
        return [s.text for s in self.messages_to(chat_id) if not s.is_edit]

    @property
    def accepted_sends(self) -> collections.Counter:
        """Return how many send* calls each chat accepted (failed and refused calls not counted)."""
        with self._lock:
            return collections.Counter(self._accepted)

    def last_message(self, chat_id: int) -> dict | None:
        """Return the current state of the newest bot message in a chat (after edits), if any."""
        with self._lock:
            message_id = self._latest_bot_message_id(chat_id)
            return None if message_id is None else dict(self._messages[(chat_id, message_id)])

    def last_keyboard(self, chat_id: int) -> list[Button]:
        """Return the inline buttons (text, callback_data) of the newest bot message in a chat."""
        message = self.last_message(chat_id)
        return _buttons(message.get("reply_markup")) if message else []

    def _latest_bot_message_id(self, chat_id: int) -> int | None:
        with self._lock:
            for message_id in reversed(self._bot_message_ids.get(chat_id, [])):
                if (chat_id, message_id) in self._messages:
                    return message_id
            return None

    def callback_answer(self, query_id: str) -> dict | None:
        """Return the answerCallbackQuery parameters the bot gave a query, or None if unanswered."""
        with self._lock:
            return self._answered.get(query_id)

    @property
    def pending_updates(self) -> int:
        """Return how many queued updates were not yet confirmed by an offset or a webhook."""
        with self._lock:
            return len(self._queue)

    @property
    def webhook(self) -> dict:
        """Return the current setWebhook parameters (empty when polling)."""
        with self._lock:
            return dict(self._webhook)

    def commands(self, scope: str = "default") -> list:
        """Return the commands set with setMyCommands for a scope type."""
        with self._lock:
            return list(self._commands.get(scope, []))

    # ------------------------------------------------------------------ waiting

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"):
        """Wait until predicate() is truthy and return its value; DoubleTimeout after `timeout` s.

        Blocks in plain code; inside a running event loop returns a coroutine to await.
        """
        if _in_event_loop():
            return self._await_for(predicate, timeout, what)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DoubleTimeout(self._timeout_report(what, timeout))
                self._changed.wait(min(remaining, 0.1))

    async def _await_for(self, predicate: Callable[[], Any], timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise DoubleTimeout(self._timeout_report(what, timeout))
            await asyncio.sleep(0.005)

    def wait_reply(self, chat_id: int, count: int = 1, timeout: float = 5.0):
        """Return the next `count` unread bot actions (messages and edits) in a chat, marking them read.

        Replies that arrived before the call count: each chat has a read cursor. Blocks in plain
        code; inside a running event loop returns a coroutine to await.
        """

        def take() -> list[Sent] | None:
            with self._lock:
                sent, cursor = self._sent_by_chat.get(chat_id, []), self._read_cursor[chat_id]
                if len(sent) - cursor < count:
                    return None
                self._read_cursor[chat_id] += count
                return sent[cursor:cursor + count]

        return self.wait_for(take, timeout, what=f"{count} repl{'y' if count == 1 else 'ies'} to {chat_id}")

    await_reply = wait_reply

    def _timeout_report(self, what: str, timeout: float) -> str:
        recent = ", ".join(f"{c.method}:{c.status}" for c in self.calls[-12:])
        with self._lock:
            sent = [(s.chat_id, s.method, s.text) for s in self._sent[-6:]]
        return f"timed out after {timeout}s waiting for {what}; recent calls: [{recent}]; recent sends: {sent}"

    # ------------------------------------------------------------------ fault injection

    def fail_next(self, method: str, kind: str, count: int = 1, *, retry_after: int = 1,
                  delay: float | None = None) -> None:
        """Make the next `count` calls of `method` ("*" for any) fail with `kind` (see FAULT_KINDS)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append([method.lower(), kind, count, retry_after, delay])

    def chaos(self, rate: float, kinds: Iterable[str] = ("429", "5xx", "timeout", "blocked"),
              seed: int = 0, methods: Iterable[str] | None = None) -> None:
        """Fail a random `rate` of calls with a random kind (reproducible by `seed`); rate 0 stops it.

        Without `methods`, every method except the plumbing in CHAOS_EXEMPT may fail.
        """
        kinds = tuple(kinds)
        if any(k not in FAULT_KINDS for k in kinds):
            raise ValueError(f"unknown fault kind in {kinds}; use {FAULT_KINDS}")
        with self._lock:
            only = frozenset(m.lower() for m in methods) if methods else None
            self._chaos = (rate, kinds, random.Random(seed), only) if rate > 0 else None

    def limit_per_second(self, per_second: float | None, burst: int | None = None) -> None:
        """Answer 429 with retry_after when sends exceed `per_second` globally (token bucket); None: off."""
        with self._lock:
            if per_second is None:
                self._rate = None
            else:
                capacity = float(burst or per_second)
                self._rate = [float(per_second), capacity, capacity, time.monotonic()]

    def block(self, chat_id: int, blocked: bool = True) -> None:
        """Make every send to `chat_id` answer 403 "bot was blocked by the user" (or stop doing so)."""
        with self._lock:
            (self._blocked.add if blocked else self._blocked.discard)(chat_id)

    def _pick_fault(self, method: str) -> tuple[str, int, float | None] | None:
        lower = method.lower()
        with self._lock:
            for rule in self._faults:
                if rule[0] in ("*", lower) and rule[2] > 0:
                    rule[2] -= 1
                    if rule[2] == 0:
                        self._faults.remove(rule)
                    return rule[1], rule[3], rule[4]
            if self._chaos:
                rate, kinds, rng, only = self._chaos
                eligible = lower in only if only else lower not in CHAOS_EXEMPT
                if eligible and rng.random() < rate:
                    return rng.choice(kinds), rng.randint(1, 2), None
        return None

    def _rate_check(self, method: str) -> None:
        if method.lower() not in SEND_METHODS:
            return
        with self._lock:
            if not self._rate:
                return
            rate, capacity, tokens, last = self._rate
            now = time.monotonic()
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < 1:
                self._rate[2:] = [tokens, now]
                retry = max(1, math.ceil((1 - tokens) / rate))
                raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
            self._rate[2:] = [tokens - 1, now]

    @staticmethod
    def _fault_error(kind: str, retry_after: int) -> ApiError:
        if kind == "429":
            return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        if kind == "5xx":
            return ApiError(502, "Bad Gateway")
        if kind == "blocked":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        return ApiError(400, "Bad Request: chat not found")

    # ------------------------------------------------------------------ HTTP dispatch

    def _serve(self, handler: _Handler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        # Clients percent-encode the path (PTB's file download sends the token's ':' as %3A).
        path = urllib.parse.unquote(split.path)
        body = handler.read_body()
        if path.startswith("/file/bot"):
            return self._serve_file(handler, path[len("/file/bot"):])
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]+)", path)
        if not match:
            return self._answer(handler, ApiError(404, "Not Found").payload(), 404)
        token, method = match.groups()
        if token != self.token:
            return self._answer(handler, ApiError(401, "Unauthorized").payload(), 401)
        try:
            params, uploads = _parse_body(body, handler.headers.get("Content-Type", ""), split.query)
        except ApiError as exc:
            return self._answer(handler, exc.payload(), exc.status)
        self._call(handler, method, params, uploads)

    def _call(self, handler: _Handler, method: str, params: dict, uploads: dict[str, Upload]) -> None:
        recorded = {**params, **uploads}
        fault = self._pick_fault(method)
        if fault and fault[0] == "timeout":
            self._record(method, recorded, 0, "timeout")
            return self._hang(handler, fault[2])
        status, payload = 200, None
        try:
            if fault and fault[0] != "lost_reply":
                raise self._fault_error(fault[0], fault[1])
            self._rate_check(method)
            result = self._dispatch(method, params, uploads)
            payload = {"ok": True, "result": result}
        except ApiError as exc:
            status, payload = exc.status, exc.payload()
        self._record(method, recorded, status, fault[0] if fault else None)
        if fault and fault[0] == "lost_reply":
            return self._hang(handler, fault[2])  # the call took effect; the answer never arrives
        self._answer(handler, payload, status)

    def _hang(self, handler: _Handler, delay: float | None) -> None:
        self._stopping.wait(self.timeout_delay if delay is None else delay)
        handler.close_connection = True

    def _record(self, method: str, params: dict, status: int, fault: str | None) -> None:
        with self._changed:
            self._calls.append(Call(method, params, status, time.time(), fault))
            if fault:
                self.faults_injected.append((method, fault))
            self._changed.notify_all()

    @staticmethod
    def _answer(handler: _Handler, payload: dict, status: int = 200) -> None:
        handler.answer(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def _serve_file(self, handler: _Handler, rest: str) -> None:
        token, _, path = rest.partition("/")
        if token != self.token:
            return self._answer(handler, ApiError(401, "Unauthorized").payload(), 401)
        with self._lock:
            file_id = self._files_by_path.get(path)
        if file_id is None:
            return self._answer(handler, ApiError(404, "Not Found").payload(), 404)
        handler.answer(200, self.file_bytes(file_id), "application/octet-stream")

    def _dispatch(self, method: str, params: dict, uploads: dict[str, Upload]) -> Any:
        implementation = getattr(self, f"_api_{method.lower()}", None)
        if implementation is None:
            raise ApiError(404, "Not Found")
        return implementation(params, uploads)

    # ------------------------------------------------------------------ Bot API methods

    def _api_getme(self, params: dict, uploads: dict) -> dict:
        return self.bot_user

    def _api_getupdates(self, params: dict, uploads: dict) -> list[dict]:
        offset = params.get("offset")
        limit = max(1, min(100, int(params.get("limit") or 100)))
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._changed:
            if self._webhook.get("url"):
                raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
            # As Telegram: one getUpdates consumer at a time; a new request ends the one still waiting, which
            # is answered 409 "terminated by other getUpdates request".
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed.notify_all()
        return self._get_updates(params, offset, limit, deadline, generation)

    def _get_updates(self, params: dict, offset, limit: int, deadline: float, generation: int) -> list[dict]:
        with self._changed:
            if params.get("allowed_updates") is not None:
                self._allowed = set(params["allowed_updates"]) or set(DEFAULT_ALLOWED_UPDATES)
            if offset is not None:
                self._confirm(int(offset))
            while True:
                if generation != self._poll_generation:
                    self.poll_conflicts += 1
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only "
                                        "one bot instance is running")
                batch = [q for q in self._queue if q.kind in self._allowed][:limit]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._stopping.is_set():
                    break
                self._changed.wait(remaining)
            for queued in batch:
                queued.delivered = True
            return [q.update for q in batch]

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._queue = self._queue[offset:]
            return
        # A re-delivered duplicate (deliver_twice) survives the offset until it has been handed out once.
        self._queue = [q for q in self._queue if q.update_id >= offset or (q.forced and not q.delivered)]

    def _api_setwebhook(self, params: dict, uploads: dict) -> bool:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._changed:
            if params.get("drop_pending_updates"):
                self._queue.clear()
            if params.get("allowed_updates") is not None:
                self._allowed = set(params["allowed_updates"]) or set(DEFAULT_ALLOWED_UPDATES)
            self._webhook = {"url": url, "secret_token": secret} if url else {}
            self._changed.notify_all()
        return True

    def _api_deletewebhook(self, params: dict, uploads: dict) -> bool:
        with self._changed:
            if params.get("drop_pending_updates"):
                self._queue.clear()
            self._webhook = {}
            self._changed.notify_all()
        return True

    def _api_getwebhookinfo(self, params: dict, uploads: dict) -> dict:
        with self._lock:
            return {"url": self._webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": len(self._queue), "allowed_updates": sorted(self._allowed)}

    def _resolve_chat(self, chat_id: Any) -> Chat:
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        with self._lock:
            try:
                key = int(chat_id)
            except (TypeError, ValueError):
                raise ApiError(400, "Bad Request: chat not found") from None
            chat = self._chats.get(key)
            if chat is None:
                if self.strict_chats:
                    raise ApiError(400, "Bad Request: chat not found")
                chat = self._chats[key] = Chat(key, "private" if key > 0 else "supergroup")
            return chat

    def _bot_message(self, method: str, params: dict, content: dict) -> dict:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat.id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        markup = params.get("reply_markup")
        with self._changed:
            message = {"message_id": self._next_message_id(chat.id), "date": int(time.time()),
                       "chat": chat.to_api(), "from": self._bot_sender, **content}
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup  # Telegram echoes inline keyboards only
            reply = params.get("reply_parameters") or {}
            target = reply.get("message_id") or params.get("reply_to_message_id")
            if target and (chat.id, int(target)) in self._messages:
                message["reply_to_message"] = dict(self._messages[(chat.id, int(target))])
            self._messages[(chat.id, message["message_id"])] = message
            self._bot_message_ids[chat.id].append(message["message_id"])
            self._keep_sent(Sent(method, chat.id, message["message_id"], dict(message), time.time()))
            self._accepted[chat.id] += 1
            self._changed.notify_all()
        return message

    @staticmethod
    def _text_content(params: dict, key: str = "text") -> dict:
        text = params.get(key)
        content: dict[str, Any] = {}
        if text is not None and text != "":
            content[key] = str(text)
        entities = params.get("entities" if key == "text" else "caption_entities")
        if entities:
            content["entities" if key == "text" else "caption_entities"] = entities
        return content

    def _api_sendmessage(self, params: dict, uploads: dict) -> dict:
        text = params.get("text")
        if text is None or str(text).strip() == "":
            raise ApiError(400, "Bad Request: message text is empty")
        if len(str(text)) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message("sendMessage", params, self._text_content(params))

    def _media_bytes(self, field: str, params: dict, uploads: dict) -> tuple[bytes | None, str | None, Upload | None]:
        """Return (uploaded bytes, known file_id, upload) for a media parameter."""
        if field in uploads:
            return uploads[field].data, None, uploads[field]
        value = params.get(field)
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in uploads:
            upload = uploads[value[9:]]
            return upload.data, None, upload
        if isinstance(value, str) and value in self._files:
            return None, value, None
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _api_sendphoto(self, params: dict, uploads: dict) -> dict:
        data, file_id, _ = self._media_bytes("photo", params, uploads)
        if data is not None:
            if _image_size(data) is None:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            sizes = self._photo_sizes(data, "photos")
        else:
            sizes = self._sizes_of(file_id)
        return self._bot_message("sendPhoto", params, {"photo": sizes, **self._text_content(params, "caption")})

    def _sizes_of(self, file_id: str) -> list[dict]:
        with self._lock:
            for message in self._messages.values():
                if any(size["file_id"] == file_id for size in message.get("photo", [])):
                    return message["photo"]
        stored = self._files[file_id]
        return [{"file_id": file_id, "file_unique_id": stored.unique_id, "width": 0, "height": 0}]

    def _api_senddocument(self, params: dict, uploads: dict) -> dict:
        data, file_id, upload = self._media_bytes("document", params, uploads)
        if data is not None:
            document = self._document(data, upload.filename or "file", upload.content_type
                                      or "application/octet-stream")
        else:
            stored = self._files[file_id]
            document = {"file_id": file_id, "file_unique_id": stored.unique_id,
                        "file_size": len(self.file_bytes(file_id))}
        content = {"document": document, **self._text_content(params, "caption")}
        return self._bot_message("sendDocument", params, content)

    def _api_sendlocation(self, params: dict, uploads: dict) -> dict:
        location = {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])}
        return self._bot_message("sendLocation", params, {"location": location})

    def _edit_target(self, params: dict) -> tuple[int, int, dict]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the double")
        chat = self._resolve_chat(params.get("chat_id"))
        key = (chat.id, int(params.get("message_id") or 0))
        message = self._messages.get(key)
        if message is None or message["from"].get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message to edit not found")
        return chat.id, key[1], message

    def _edit(self, method: str, params: dict, changes: dict, drop: Iterable[str] = ()) -> dict:
        with self._changed:
            chat_id, message_id, message = self._edit_target(params)
            markup = params.get("reply_markup")
            updated = {k: v for k, v in message.items() if k not in drop and k != "reply_markup"}
            updated.update(changes)
            # An edit without reply_markup removes the inline keyboard, as Telegram does.
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                updated["reply_markup"] = markup
            unchanged = {k: v for k, v in message.items() if k != "edit_date"}
            if unchanged == {k: v for k, v in updated.items() if k != "edit_date"}:
                raise ApiError(400, NOT_MODIFIED)
            updated["edit_date"] = int(time.time())
            self._messages[(chat_id, message_id)] = updated
            self._keep_sent(Sent(method, chat_id, message_id, dict(updated), time.time()))
            self._changed.notify_all()
            return updated

    def _api_editmessagetext(self, params: dict, uploads: dict) -> dict:
        if not str(params.get("text") or "").strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return self._edit("editMessageText", params, self._text_content(params), drop=("entities",))

    def _api_editmessagecaption(self, params: dict, uploads: dict) -> dict:
        return self._edit("editMessageCaption", params, self._text_content(params, "caption"),
                          drop=("caption", "caption_entities"))

    def _api_editmessagereplymarkup(self, params: dict, uploads: dict) -> dict:
        return self._edit("editMessageReplyMarkup", params, {})

    def _api_deletemessage(self, params: dict, uploads: dict) -> bool:
        with self._changed:
            chat = self._resolve_chat(params.get("chat_id"))
            key = (chat.id, int(params.get("message_id") or 0))
            if self._messages.pop(key, None) is None:
                raise ApiError(400, "Bad Request: message to delete not found")
            self._changed.notify_all()
        return True

    def _api_answercallbackquery(self, params: dict, uploads: dict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        with self._changed:
            if query_id not in self._callbacks or query_id in self._answered:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired or "
                                    "query ID is invalid")
            self._answered[query_id] = dict(params)
            self._changed.notify_all()
        return True

    def _api_getfile(self, params: dict, uploads: dict) -> dict:
        file_id = str(params.get("file_id") or "")
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        size = len(self.file_bytes(file_id))
        if size > MAX_DOWNLOAD_BYTES:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": stored.unique_id, "file_size": size, "file_path": stored.path}

    def _api_sendchataction(self, params: dict, uploads: dict) -> bool:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat.id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return True

    def _api_setmycommands(self, params: dict, uploads: dict) -> bool:
        scope = (params.get("scope") or {}).get("type", "default")
        with self._lock:
            self._commands[scope] = list(params.get("commands") or [])
        return True

    def _api_getmycommands(self, params: dict, uploads: dict) -> list:
        return self.commands((params.get("scope") or {}).get("type", "default"))

    def _api_deletemycommands(self, params: dict, uploads: dict) -> bool:
        with self._lock:
            self._commands.pop((params.get("scope") or {}).get("type", "default"), None)
        return True

    def _api_setchatmenubutton(self, params: dict, uploads: dict) -> bool:
        with self._lock:
            self._menu_buttons[params.get("chat_id")] = params.get("menu_button") or {"type": "default"}
        return True

    def _api_getchatmenubutton(self, params: dict, uploads: dict) -> dict:
        with self._lock:
            return self._menu_buttons.get(params.get("chat_id"), {"type": "commands"})

    def _api_getchat(self, params: dict, uploads: dict) -> dict:
        chat = self._resolve_chat(params.get("chat_id"))
        return {**chat.to_api(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
            "premium_subscription": False}}

    def _api_setmydescription(self, params: dict, uploads: dict) -> bool:
        return True

    _api_setmyshortdescription = _api_setmyname = _api_setmydescription
    _api_close = _api_logout = _api_setmydescription

    # ------------------------------------------------------------------ webhook mode

    def push_updates(self, timeout: float = 5.0) -> list[tuple[int, int]]:
        """POST every queued update to the webhook with the secret header; return (update_id, status).

        An update the webhook answered with 2xx is confirmed; others stay queued, as Telegram retries.
        Blocking: inside an event loop use ``await double.apush_updates()``.
        """
        with self._lock:
            hook = dict(self._webhook)
            batch = [q for q in self._queue if q.kind in self._allowed]
        if not hook.get("url"):
            raise RuntimeError("no webhook set: the bot has not called setWebhook with a URL")
        results = []
        for queued in batch:
            status = self._post_update(hook, queued.update, timeout)
            results.append((queued.update_id, status))
            with self._changed:
                queued.delivered = True
                if 200 <= status < 300 and queued in self._queue:
                    self._queue.remove(queued)
                self.webhook_pushes.append((queued.update_id, status))
                self._changed.notify_all()
        return results

    async def apush_updates(self, timeout: float = 5.0) -> list[tuple[int, int]]:
        """Run push_updates in a worker thread so the webhook server in this event loop can answer."""
        return await asyncio.to_thread(self.push_updates, timeout)

    @staticmethod
    def _post_update(hook: dict, update: dict, timeout: float) -> int:
        headers = {"Content-Type": "application/json"}
        if hook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        request = urllib.request.Request(hook["url"], json.dumps(update).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - local test URL
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0
