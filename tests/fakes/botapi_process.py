"""The Bot API double served from a child process, for benchmarks.

In the test process the double's HTTP server threads share the interpreter lock with the bot
under test: every socket write or SQLite call that releases the lock can hand it to a server
thread, and the bot then waits for it back. A real Bot API server never runs inside the bot, so
the benchmarks serve the double from its own process (its own interpreter and core) and drive it
over a multiprocessing manager. Only what the benchmarks need is exposed; tests keep using
``BotApiDouble`` directly, which lets them inspect everything.

    with DoubleProcess() as double:
        person = double.user(9100, "cadre")
        double.send_command(person, "start", code)
        (reply,) = await double.wait_reply(person.id)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from multiprocessing.managers import BaseManager

from tests.fakes.botapi import BotApiDouble, Sent, User

__all__ = ["DoubleProcess"]


class _Served:
    """Lives in the child process and owns the double; every method is one round trip from the parent."""

    def __init__(self, cpu: int | None = None) -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        self.double = BotApiDouble().start()

    def info(self) -> dict:
        return {"token": self.double.token, "url": self.double.url}

    def user(self, user_id: int, first_name: str) -> User:
        return self.double.user(user_id, first_name)

    def send_command(self, user_id: int, command: str, args: str) -> None:
        self.double.send_command(self.double._users[user_id], command, args)

    def send_texts(self, items: list[tuple[int, str]]) -> None:
        for user_id, text in items:
            self.double.send_text(self.double._users[user_id], text)

    def send_photos(self, items: list[tuple[int, bytes]]) -> None:
        for user_id, data in items:
            self.double.send_photo(self.double._users[user_id], data)

    def press_latest(self, items: list[tuple[int, str]]) -> None:
        """Queue button presses, each on the newest bot message in the presser's chat."""
        for user_id, data in items:
            user = self.double._users[user_id]
            self.double.press(user, self.double._latest_bot_message_id(user_id), data)

    def wait_reply(self, chat_id: int, count: int, timeout: float) -> list[Sent]:
        return self.double.wait_reply(chat_id, count=count, timeout=timeout)

    def stop(self) -> None:
        self.double.stop()


class _Manager(BaseManager):
    pass


_Manager.register("Served", _Served)


class DoubleProcess:
    """A ``BotApiDouble`` in a child process; a context manager with the benchmarks' subset of its API."""

    def __init__(self, *, pin: bool = False) -> None:
        self._pin = pin
        self._cpus: set[int] = set()
        self._manager: _Manager | None = None
        self._served = None
        self.token = self.url = ""

    def __enter__(self) -> DoubleProcess:
        self._manager = _Manager(ctx=multiprocessing.get_context("spawn"))
        self._manager.start()
        cpus = sorted(os.sched_getaffinity(0))
        self._cpus = set(cpus)
        if self._pin and len(cpus) >= 2:
            # The double on its own core, this process on another: neither waits for the other's turn.
            os.sched_setaffinity(0, set(cpus[:-1]))
            self._served = self._manager.Served(cpus[-1])
        else:
            self._served = self._manager.Served()
        info = self._served.info()
        self.token, self.url = info["token"], info["url"]
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._served.stop()
        finally:
            self._manager.shutdown()
            os.sched_setaffinity(0, self._cpus)

    def method_url(self, method: str) -> str:
        return f"{self.url}/bot{self.token}/{method}"

    def application_builder(self):
        """Return a PTB ApplicationBuilder pointed at the double (token and URLs set)."""
        from telegram.ext import ApplicationBuilder

        return ApplicationBuilder().token(self.token).base_url(f"{self.url}/bot").base_file_url(f"{self.url}/file/bot")

    def user(self, user_id: int, first_name: str = "Test") -> User:
        return self._served.user(user_id, first_name)

    def send_command(self, user: User, command: str, args: str = "") -> None:
        self._served.send_command(user.id, command, args)

    def send_texts(self, items: list[tuple[User, str]]) -> None:
        self._served.send_texts([(user.id, text) for user, text in items])

    def send_photos(self, items: list[tuple[User, bytes]]) -> None:
        self._served.send_photos([(user.id, data) for user, data in items])

    def press_latest(self, items: list[tuple[User, str]]) -> None:
        self._served.press_latest([(user.id, data) for user, data in items])

    async def wait_reply(self, chat_id: int, count: int = 1, timeout: float = 5.0) -> list[Sent]:
        """The next ``count`` unread bot actions in a chat (waits in a thread: no polling here)."""
        return await asyncio.to_thread(self._served.wait_reply, chat_id, count, timeout)
