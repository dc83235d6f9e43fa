"""The aiohttp Bot API transport keeps python-telegram-bot's contract against a real HTTP server."""

from __future__ import annotations

import asyncio
import http.client
import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from PIL import Image
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.adapters.telegram_http import AiohttpRequest
from bot.config import Settings
from bot.services.channels import Target, TelegramChannel
from tests.fakes.botapi import BotApiDouble


@pytest.fixture
def double():
    with BotApiDouble(timeout_delay=3.0) as running:
        yield running


def _bot(double: BotApiDouble, **request_options) -> Bot:
    return Bot(double.token, base_url=double.base_url, base_file_url=double.base_file_url,
               request=AiohttpRequest(**request_options), get_updates_request=AiohttpRequest())


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


async def test_calls_uploads_and_downloads_go_through(double):
    person = double.user(501, "甲")
    async with _bot(double) as bot:
        assert (await bot.get_me()).id == double.bot_id
        message = await bot.send_message(person.id, "资产是否正常运营？")
        assert message.text == "资产是否正常运营？"
        photo = _jpeg()
        sent = await bot.send_photo(person.id, photo, caption="公示牌")
        # The multipart upload arrived whole, and the same bytes come back through getFile.
        assert double.file_bytes(sent.photo[-1].file_id) == photo
        tg_file = await bot.get_file(sent.photo[-1].file_id)
        assert bytes(await tg_file.download_as_bytearray()) == photo
    assert [c.method for c in double.calls][-3:] == ["sendMessage", "sendPhoto", "getFile"]


async def test_a_429_reaches_ptb_with_its_retry_after(double):
    person = double.user(502)
    double.fail_next("sendMessage", "429", retry_after=7)
    async with _bot(double) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(person.id, "x")
    assert "Retry in 7" in str(caught.value)


async def test_a_server_that_does_not_answer_times_out(double):
    person = double.user(503)
    double.fail_next("sendMessage", "timeout", delay=2.0)
    async with _bot(double, read_timeout=0.3) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(person.id, "x")


async def test_an_unreachable_server_is_a_network_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpRequest(connect_timeout=2) as request:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot1:x/getMe")
    assert not isinstance(caught.value, TimedOut)


async def test_a_full_pool_refuses_without_sending(double):
    person = double.user(504)
    double.fail_next("sendMessage", "timeout", delay=1.5)
    async with _bot(double, connection_pool_size=1, read_timeout=5, pool_timeout=0.2) as bot:
        hanging = asyncio.ensure_future(bot.send_message(person.id, "first"))
        await asyncio.sleep(0.2)  # the only connection is now busy
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(person.id, "second")
        hanging.cancel()
    assert [c.params.get("text") for c in double.calls_of("sendMessage")] == ["first"]


async def test_it_refuses_to_work_before_initialize():
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/x", "POST")


class _Proxy(BaseHTTPRequestHandler):
    """A forwarding HTTP proxy: takes absolute-form requests, relays them, remembers what it relayed."""

    protocol_version = "HTTP/1.1"

    def _relay(self) -> None:
        target = urlsplit(self.path)
        self.server.seen.append(f"{self.command} {target.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "application/octet-stream"))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()

    do_GET = do_POST = _relay

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_every_call_and_download_can_go_through_an_http_proxy(double, proxy):
    person = double.user(505)
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    async with _bot(double, proxy=url) as bot:
        await bot.send_message(person.id, "经代理发送")
        sent = await bot.send_photo(person.id, _jpeg())
        tg_file = await bot.get_file(sent.photo[-1].file_id)
        assert bytes(await tg_file.download_as_bytearray()) == double.file_bytes(sent.photo[-1].file_id)
    relayed = [line.rsplit("/", 1)[-1] for line in proxy.seen]
    assert relayed[:1] == ["getMe"] and {"sendMessage", "sendPhoto", "getFile"} <= set(relayed)
    assert any(line.startswith("GET /file/bot") for line in proxy.seen)  # the download too
    assert double.texts_to(person.id)[0] == "经代理发送"


def test_the_schedulers_telegram_channel_uses_the_proxy_too(double, proxy):
    person = double.user(506)
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    channel = TelegramChannel(double.token, double.url, timeout=5, per_second=0, proxy=url)
    try:
        channel.send(Target(chat_id=person.id), "提醒")
    finally:
        channel.close()
    assert proxy.seen == [f"POST /bot{double.token}/sendMessage"]
    assert double.texts_to(person.id) == ["提醒"]


def test_a_proxy_must_be_an_http_url():
    with pytest.raises(ValueError, match="proxy URL"):
        Settings(telegram_proxy="socks5://127.0.0.1:1080")
    assert Settings(telegram_proxy="http://10.0.0.5:3128").telegram_proxy == "http://10.0.0.5:3128"
