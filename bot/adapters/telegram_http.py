"""The Bot API transport: python-telegram-bot's ``BaseRequest`` over an aiohttp client session.

python-telegram-bot ships an httpx transport. Against a nearby Bot API server (a self-hosted one,
or the test double) httpx's own bookkeeping is most of what a call costs: about 1.4 ms of CPU per
sendMessage here, against about 0.55 ms through aiohttp (see docs/telegram.md). Every answer a
cadre gives costs two calls (answerCallbackQuery and the next question), so the transport is
the biggest single cost of an answer. The behaviour PTB relies on is kept: connect, read, write
and pool timeouts raise ``TimedOut``; other transport failures raise ``NetworkError``; uploads go
as multipart; the response is returned as (status, body) for PTB to interpret (429 and
retry_after included).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` on one ``aiohttp.ClientSession`` with a bounded keep-alive pool.

    ``connection_pool_size`` connections at most; a call that cannot get one within
    ``pool_timeout`` seconds raises ``TimedOut`` without being sent, as PTB's own transport does.
    With ``proxy`` (an http:// URL) every call and file download goes through that HTTP proxy.
    """

    __slots__ = ("_connect_timeout", "_media_write_timeout", "_pool_size", "_pool_timeout", "_proxy", "_read_timeout",
                 "_session", "_slots", "_write_timeout")

    def __init__(self, connection_pool_size: int = 8, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0, proxy: str | None = None):
        self._pool_size = connection_pool_size
        self._proxy = proxy or None
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}, auto_decompress=True,
                skip_auto_headers=("Accept-Encoding",))
            self._slots = asyncio.Semaphore(self._pool_size)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        parameters = request_data.json_parameters if request_data else None
        read_timeout = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect_timeout = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool_timeout = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout
        # aiohttp has no write timeout of its own: the write is bounded with the read (sock_read
        # covers waiting for the answer after the body is sent).
        timeout = _timeout(connect_timeout, _sum(read_timeout, write_timeout if files else None))
        data: Any = None
        headers = None
        if files:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in (parameters or {}).items():
                form.add_field(name, value)
            for name, part in files.items():
                filename, content, mimetype = part
                form.add_field(name, content, filename=filename, content_type=mimetype)
            data = form
        elif parameters:
            # Encoded here: aiohttp's own form encoding costs several times urlencode.
            data = urlencode(parameters).encode("ascii")
            headers = FORM
        if not self._slots.locked():
            await self._slots.acquire()  # free at once: no timer needed
        else:
            try:
                await asyncio.wait_for(self._slots.acquire(), pool_timeout)
            except TimeoutError as err:
                raise TimedOut(message="Pool timeout: all connections to the Bot API server are busy. The request "
                                       "was *not* sent.") from err
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout,
                                             proxy=self._proxy) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
        finally:
            self._slots.release()


@functools.lru_cache(maxsize=64)
def _timeout(connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    """The aiohttp timeout of a call (a handful of distinct ones: made once each)."""
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


def _sum(first: float | None, *more: float | None) -> float | None:
    """Return ``first`` plus the given ``more`` (None: no limit, if ``first`` is None)."""
    if first is None:
        return None
    return first + sum(value for value in more if value is not None)
