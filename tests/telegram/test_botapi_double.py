"""The Bot API double behaves like Telegram for a real python-telegram-bot Application over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import threading
import time

import httpx
import pytest
from PIL import Image
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import AIORateLimiter, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from tests.fakes.botapi import BotApiDouble, DoubleTimeout, strip_jpeg_exif


@pytest.fixture
def double():
    with BotApiDouble() as running:
        yield running


@contextlib.asynccontextmanager
async def polling(app):
    """Run an Application with long polling against the double for the duration of the block."""
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def jpeg(width: int = 1000, height: int = 750, exif_model: str | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 60))
    out = io.BytesIO()
    if exif_model:
        exif = Image.Exif()
        exif[0x0110] = exif_model  # Model
        image.save(out, "JPEG", exif=exif.tobytes())
    else:
        image.save(out, "JPEG")
    return out.getvalue()


HTTP: httpx.Client  # set by the http_client fixture


@pytest.fixture(scope="module", autouse=True)
def http_client():
    """One keep-alive client for direct calls: a new httpx client per call costs ~50 ms (SSL context)."""
    global HTTP
    with httpx.Client(timeout=10) as HTTP:
        yield HTTP


def call(double: BotApiDouble, method: str, token: str | None = None, **params) -> httpx.Response:
    return HTTP.post(double.method_url(method, token), json=params)


async def test_it_echoes_text_through_a_real_application(double):
    cadre = double.user(1001, "王村", "zh-hans")

    async def echo(update: Update, context) -> None:
        await update.message.reply_text(f"echo: {update.message.text}")

    app = double.application_builder().build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with polling(app):
        double.send_text(cadre, "资产正常")
        double.send_text(cadre, "second")
        replies = await double.await_reply(cadre.id, count=2)

    assert [r.text for r in replies] == ["echo: 资产正常", "echo: second"]
    assert replies[0].message["from"]["id"] == double.bot_id
    assert double.accepted_sends[cadre.id] == 2
    assert {"getMe", "getUpdates", "sendMessage"} <= {c.method for c in double.calls}


async def test_it_answers_a_callback_query_and_records_the_edit(double):
    cadre = double.user(1002, "Li", "en")

    async def start(update: Update, context) -> None:
        keyboard = [[InlineKeyboardButton("Yes", callback_data="q1:yes"),
                     InlineKeyboardButton("No", callback_data="q1:no")]]
        await update.message.reply_text("Is the asset operating?", reply_markup=InlineKeyboardMarkup(keyboard))

    async def pressed(update: Update, context) -> None:
        await update.callback_query.answer("noted")
        await update.callback_query.edit_message_text(f"answer: {update.callback_query.data}")

    app = double.application_builder().build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with polling(app):
        double.send_command(cadre, "start")
        (question,) = await double.await_reply(cadre.id)
        assert double.last_keyboard(cadre.id) == [("Yes", "q1:yes"), ("No", "q1:no")]
        update = double.press(cadre, question, "q1:no")
        (edit,) = await double.await_reply(cadre.id)
        query_id = update["callback_query"]["id"]
        await double.wait_for(lambda: double.callback_answer(query_id))

    assert double.callback_answer(query_id)["text"] == "noted"
    assert edit.is_edit and edit.message_id == question.message_id
    assert edit.text == "answer: q1:no"
    assert double.last_keyboard(cadre.id) == []  # an edit without reply_markup drops the keyboard


async def test_it_serves_a_photo_that_get_file_downloads_byte_for_byte(double):
    cadre = double.user(1003)
    photo = jpeg()
    seen: dict = {}

    async def on_photo(update: Update, context) -> None:
        seen["sizes"] = [(p.width, p.height) for p in update.message.photo]
        data = await (await update.message.photo[-1].get_file()).download_as_bytearray()
        thumb = await (await update.message.photo[0].get_file()).download_as_bytearray()
        seen["thumb"] = Image.open(io.BytesIO(thumb)).size
        await update.message.reply_photo(bytes(data), caption=hashlib.sha256(data).hexdigest())

    app = double.application_builder().build()
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    async with polling(app):
        double.send_photo(cadre, photo)
        (reply,) = await double.await_reply(cadre.id)

    assert reply.text == hashlib.sha256(photo).hexdigest()
    assert seen["sizes"] == [(90, 68), (320, 240), (800, 600), (1000, 750)]
    assert seen["thumb"] == (90, 68)
    # The bot's multipart upload reached the double intact.
    assert double.file_bytes(reply.message["photo"][-1]["file_id"]) == photo


def test_it_strips_exif_from_photos_but_keeps_it_in_documents(double):
    cadre = double.user(1004)
    original = jpeg(400, 300, exif_model="VillageCam")
    photo = double.send_photo(cadre, original)["message"]["photo"][-1]
    document = double.send_document(cadre, original, "board.jpg", "image/jpeg")["message"]["document"]

    def download(file_id: str) -> bytes:
        path = call(double, "getFile", file_id=file_id).json()["result"]["file_path"]
        return HTTP.get(f"{double.base_file_url}{double.token}/{path}").content

    as_photo, as_document = download(photo["file_id"]), download(document["file_id"])
    assert as_document == original
    assert Image.open(io.BytesIO(original)).getexif().get(0x0110) == "VillageCam"
    assert not Image.open(io.BytesIO(as_photo)).getexif()
    assert as_photo == strip_jpeg_exif(original) and len(as_photo) < len(original)
    assert Image.open(io.BytesIO(as_photo)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


async def test_it_answers_429_that_the_rate_limiter_retries_once(double):
    cadre = double.user(1005)
    double.fail_next("sendMessage", "429", retry_after=1)

    async def echo(update: Update, context) -> None:
        await update.message.reply_text("once")

    app = double.application_builder().rate_limiter(AIORateLimiter(max_retries=3)).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with polling(app):
        started = time.monotonic()
        double.send_text(cadre, "hi")
        await double.await_reply(cadre.id, timeout=8)
        waited = time.monotonic() - started

    attempts = double.calls_of("sendMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert waited >= 1.0  # PTB honoured retry_after
    assert double.texts_to(cadre.id) == ["once"]
    assert double.accepted_sends[cadre.id] == 1


async def test_it_shows_a_twice_delivered_update_twice_to_a_naive_handler(double):
    cadre = double.user(1006)
    seen: list[int] = []

    async def record(update: Update, context) -> None:
        seen.append(update.update_id)
        await update.message.reply_text(update.message.text)

    app = double.application_builder().build()
    app.add_handler(MessageHandler(filters.TEXT, record))
    async with polling(app):
        duplicate = double.deliver_twice(double.send_text(cadre, "dup", deliver=0))
        double.send_text(cadre, "after")
        await double.await_reply(cadre.id, count=3)

    assert seen[:2] == [duplicate["update_id"]] * 2
    assert double.texts_to(cadre.id) == ["dup", "dup", "after"]
    assert double.pending_updates == 0


@contextlib.contextmanager
def webhook_receiver(app, secret: str):
    """Serve a webhook route on a free port, as the product's web app does (PTB's own webhook
    server needs tornado, which is not installed): refuse a wrong secret header with 403, hand
    the update to the running Application and answer 200 once it has been processed."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    loop = asyncio.get_running_loop()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 403
            if self.headers.get("X-Telegram-Bot-Api-Secret-Token") == secret:
                update = Update.de_json(json.loads(body), app.bot)
                asyncio.run_coroutine_threadsafe(app.process_update(update), loop).result(timeout=10)
                status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


async def test_it_pushes_updates_to_a_webhook_with_the_secret_header(double):
    cadre = double.user(1007)

    async def echo(update: Update, context) -> None:
        await update.message.reply_text("via webhook")

    app = double.application_builder().updater(None).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        try:
            with webhook_receiver(app, "s3cret") as url:
                assert await app.bot.set_webhook(url, secret_token="s3cret") is True
                assert double.webhook == {"url": url, "secret_token": "s3cret"}
                assert call(double, "getUpdates").status_code == 409
                update = double.send_text(cadre, "hello")
                assert await double.apush_updates() == [(update["update_id"], 200)]
                (reply,) = await double.await_reply(cadre.id)
                assert await app.bot.delete_webhook() is True
        finally:
            await app.stop()

    assert reply.text == "via webhook"
    assert double.webhook == {}
    assert double.pending_updates == 0


def test_it_pushes_to_a_webhook_that_rejects_a_wrong_secret_and_keeps_the_update(double):
    received: list[str | None] = []

    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(self.headers.get("X-Telegram-Bot-Api-Secret-Token"))
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(403 if received[-1] != "right" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert call(double, "setWebhook", url=hook, secret_token="wrong").json()["result"] is True
        update = double.send_text(double.user(1008), "x")
        assert double.push_updates() == [(update["update_id"], 403)]
        assert double.pending_updates == 1  # Telegram keeps retrying an update the hook refused
        call(double, "setWebhook", url=hook, secret_token="right")
        assert double.push_updates() == [(update["update_id"], 200)]
    finally:
        server.shutdown()
        server.server_close()
    assert received == ["wrong", "right"]
    assert double.pending_updates == 0
    call(double, "deleteWebhook")
    assert call(double, "getUpdates").json() == {"ok": True, "result": []}


def test_it_long_polls_until_an_update_is_queued_and_honours_the_offset(double):
    cadre = double.user(1009)
    threading.Timer(0.3, double.send_text, (cadre, "late")).start()
    started = time.monotonic()
    first = call(double, "getUpdates", timeout=5).json()["result"]
    elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 4  # woken by the update, not by the 5 s poll timeout
    assert [u["message"]["text"] for u in first] == ["late"]
    assert call(double, "getUpdates", offset=first[0]["update_id"]).json()["result"] == first
    assert call(double, "getUpdates", offset=first[0]["update_id"] + 1).json()["result"] == []
    assert double.pending_updates == 0


def test_it_filters_by_allowed_updates_and_limit(double):
    cadre = double.user(1010)
    sent = double.send_text(cadre, "to press")
    double.press(cadre, sent["message"], "k")
    for n in range(3):
        double.send_text(cadre, f"m{n}")

    only_callbacks = call(double, "getUpdates", allowed_updates=["callback_query"]).json()["result"]
    assert [list(u)[1] for u in only_callbacks] == ["callback_query"]
    assert only_callbacks[0]["callback_query"]["data"] == "k"
    # An empty list restores every kind; nothing was confirmed yet, so the oldest two come first.
    two = call(double, "getUpdates", allowed_updates=[], limit=2).json()["result"]
    assert [list(u)[1] for u in two] == ["message", "callback_query"]
    assert two[0]["message"]["text"] == "to press"
    assert two[0]["update_id"] < two[1]["update_id"]
    rest = call(double, "getUpdates", offset=two[1]["update_id"] + 1).json()["result"]
    assert [u["message"]["text"] for u in rest] == ["m0", "m1", "m2"]


def test_it_refuses_unknown_tokens_methods_chats_and_stale_edits(double):
    unauthorized = call(double, "getMe", token="1:wrong")
    assert unauthorized.status_code == 401 and unauthorized.json()["ok"] is False
    missing = call(double, "sendTelepathy", chat_id=1)
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert call(double, "sendMessage", chat_id=999, text="x").json()["description"] == \
        "Bad Request: chat not found"

    chat = double.user(1011).id
    message = call(double, "sendMessage", chat_id=chat, text="same").json()["result"]
    same = call(double, "editMessageText", chat_id=chat, message_id=message["message_id"], text="same")
    assert same.status_code == 400 and "message is not modified" in same.json()["description"]
    assert call(double, "getMe").json()["result"]["is_bot"] is True


def test_it_accepts_form_encoded_and_multipart_bodies(double):
    chat = double.user(1012).id
    form = HTTP.post(double.method_url("sendMessage"),
                     data={"chat_id": str(chat), "text": "123",
                           "reply_markup": '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'})
    assert form.json()["result"]["text"] == "123"
    upload = HTTP.post(double.method_url("sendDocument"), data={"chat_id": str(chat), "caption": "pdf"},
                       files={"document": ("report.pdf", b"%PDF-1.4 test", "application/pdf")})
    document = upload.json()["result"]["document"]
    assert (document["file_name"], document["mime_type"]) == ("report.pdf", "application/pdf")
    assert double.file_bytes(document["file_id"]) == b"%PDF-1.4 test"
    assert double.last_keyboard(chat) == []  # the document is now the newest message
    assert double.messages_to(chat)[0].buttons == [("A", "a")]


@pytest.mark.parametrize(
    ("kind", "status", "description"),
    [("429", 429, "Too Many Requests: retry after 2"), ("5xx", 502, "Bad Gateway"),
     ("blocked", 403, "Forbidden: bot was blocked by the user"),
     ("chat_not_found", 400, "Bad Request: chat not found")],
)
def test_it_injects_a_fault_once_then_recovers(double, kind, status, description):
    chat = double.user(1013).id
    double.fail_next("sendMessage", kind, retry_after=2)
    failed = call(double, "sendMessage", chat_id=chat, text="a")
    assert (failed.status_code, failed.json()["description"]) == (status, description)
    if kind == "429":
        assert failed.json()["parameters"] == {"retry_after": 2}
    assert call(double, "sendMessage", chat_id=chat, text="b").status_code == 200
    assert double.texts_to(chat) == ["b"] and double.accepted_sends[chat] == 1


def test_it_times_out_a_request_and_can_lose_a_reply_after_sending(double):
    chat = double.user(1014).id
    double.fail_next("sendMessage", "timeout", delay=0.5)
    with pytest.raises(httpx.TimeoutException):
        httpx.post(double.method_url("sendMessage"), json={"chat_id": chat, "text": "dropped"}, timeout=0.2)
    double.fail_next("sendMessage", "lost_reply", delay=0.5)
    with pytest.raises(httpx.TimeoutException):
        httpx.post(double.method_url("sendMessage"), json={"chat_id": chat, "text": "sent"}, timeout=0.2)
    assert double.texts_to(chat) == ["sent"]  # a lost reply still delivered: a retry would duplicate
    assert [c.fault for c in double.calls_of("sendMessage")] == ["timeout", "lost_reply"]


def test_it_blocks_a_chat_until_unblocked(double):
    chat = double.user(1015).id
    double.block(chat)
    assert call(double, "sendMessage", chat_id=chat, text="x").status_code == 403
    double.block(chat, False)
    assert call(double, "sendMessage", chat_id=chat, text="x").status_code == 200


def test_it_injects_reproducible_chaos(double):
    chat = double.user(1016).id

    def run(seed: int) -> list[int]:
        double.chaos(0.5, kinds=("429", "5xx", "blocked"), seed=seed)
        statuses = [call(double, "sendMessage", chat_id=chat, text=str(n)).status_code for n in range(30)]
        double.chaos(0)
        return statuses

    first, second = run(7), run(7)
    assert first == second
    assert 200 in first and {429, 502, 403} & set(first)
    assert call(double, "getMe").status_code == 200  # plumbing is exempt by default


def test_it_limits_the_global_send_rate_with_retry_after(double):
    chat = double.user(1017).id
    double.limit_per_second(1, burst=3)
    answers = [call(double, "sendMessage", chat_id=chat, text=str(n)) for n in range(6)]
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429, 429]
    assert answers[3].json()["parameters"]["retry_after"] >= 1
    assert call(double, "getMe").status_code == 200  # only sends count
    assert double.accepted_sends[chat] == 3


def test_it_raises_a_readable_timeout_when_no_reply_comes(double):
    with pytest.raises(DoubleTimeout, match="1 reply to 1018"):
        double.await_reply(double.user(1018).id, timeout=0.1)


async def test_it_carries_command_args_button_presses_and_keyboard_edits(double):
    cadre = double.user(1019, "Zhao", "en")

    async def report(update: Update, context) -> None:
        keyboard = [[InlineKeyboardButton(f"asset {a}", callback_data=f"a:{a}") for a in context.args]]
        await update.message.reply_text("Choose", reply_markup=InlineKeyboardMarkup(keyboard))

    async def chosen(update: Update, context) -> None:
        await update.callback_query.answer()
        keyboard = [[InlineKeyboardButton("✓ " + update.callback_query.data, callback_data="done")]]
        await update.callback_query.edit_message_reply_markup(InlineKeyboardMarkup(keyboard))

    app = double.application_builder().build()
    app.add_handler(CommandHandler("report", report))
    app.add_handler(CallbackQueryHandler(chosen))
    async with polling(app):
        await app.bot.set_my_commands([("report", "Monthly check")])
        await app.bot.set_chat_menu_button(cadre.id)
        double.send_command(cadre, "report", "7 9")
        (question,) = await double.await_reply(cadre.id)
        with pytest.raises(ValueError, match="no button 'a:8'"):
            double.press_last(cadre, "a:8")
        double.press_last(cadre, "a:9")
        (edit,) = await double.await_reply(cadre.id)

    assert question.buttons == [("asset 7", "a:7"), ("asset 9", "a:9")]
    assert edit.method == "editMessageReplyMarkup" and edit.message_id == question.message_id
    assert edit.text == "Choose" and double.last_keyboard(cadre.id) == [("✓ a:9", "done")]
    assert double.commands() == [{"command": "report", "description": "Monthly check"}]
    assert [c.status for c in double.calls_of("setChatMenuButton")] == [200]


async def test_it_delivers_image_documents_with_exif_and_locations(double):
    cadre = double.user(1020)
    original = jpeg(640, 480, exif_model="VillageCam")
    seen: dict = {}

    async def on_document(update: Update, context) -> None:
        document = update.message.document
        data = await (await document.get_file()).download_as_bytearray()
        seen["document"] = (document.file_name, document.mime_type, bytes(data))
        await update.message.reply_text("file")

    async def on_location(update: Update, context) -> None:
        seen["location"] = (update.message.location.latitude, update.message.location.longitude)
        await update.message.reply_text("place")

    app = double.application_builder().build()
    app.add_handler(MessageHandler(filters.Document.IMAGE, on_document))
    app.add_handler(MessageHandler(filters.LOCATION, on_location))
    async with polling(app):
        double.send_document(cadre, original, "公示牌.jpg", "image/jpeg")
        double.send_location(cadre, 31.4012, 117.2034)
        await double.await_reply(cadre.id, count=2)

    assert seen["document"] == ("公示牌.jpg", "image/jpeg", original)
    assert Image.open(io.BytesIO(seen["document"][2])).getexif().get(0x0110) == "VillageCam"
    assert seen["location"] == (31.4012, 117.2034)
