"""Replies per second of a bare python-telegram-bot echo handler against the Bot API double.

The reference figure for the adapter's own rate (issue 3 asks for at least half of it): a real
Application long-polls the double over HTTP and answers each text with sendMessage; no rate
limiter, the double's flood limit off. The double runs in a child process, as a Bot API server
runs outside the bot (see tests/fakes/botapi_process.py). Also shows how many sendMessage calls
per second the double itself serves to one plain HTTP client, so that one can tell it is not the
bottleneck.

    python -m bench.bench_telegram_echo       # BENCH_ECHO_N=600 messages by default
"""

from __future__ import annotations

import asyncio
import os
import time

import httpx
from telegram import Update
from telegram.ext import MessageHandler, filters

from tests.fakes.botapi_process import DoubleProcess

PEOPLE = 4


async def echo_rate(double: DoubleProcess, n: int) -> float:
    """Queue ``n`` texts from a few users and return the bot's replies per second until the last one."""
    people = [double.user(9100 + i, f"echo{i}") for i in range(PEOPLE)]

    async def echo(update: Update, context) -> None:
        await update.message.reply_text(update.message.text)

    application = double.application_builder().build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            start = time.perf_counter()
            double.send_texts([(people[i % PEOPLE], f"消息 {i}") for i in range(n)])
            for index, person in enumerate(people):
                await double.wait_reply(person.id, count=len(range(index, n, PEOPLE)), timeout=300)
            return n / (time.perf_counter() - start)
        finally:
            await application.updater.stop()
            await application.stop()


def raw_send_rate(double: DoubleProcess, n: int) -> float:
    """Return sendMessage calls per second one keep-alive httpx client gets from the double."""
    chat = double.user(9199).id
    with httpx.Client(timeout=30) as client:
        start = time.perf_counter()
        for i in range(n):
            client.post(double.method_url("sendMessage"), json={"chat_id": chat, "text": str(i)}).raise_for_status()
        return n / (time.perf_counter() - start)


def run() -> list[dict]:
    """Measure the echo handler and the double's raw rate; return the table rows."""
    n = int(os.environ.get("BENCH_ECHO_N", "600"))
    with DoubleProcess() as double:
        echo = asyncio.run(echo_rate(double, n))
    with DoubleProcess() as double:
        raw = raw_send_rate(double, n)
    return [
        {"name": "bare PTB echo handler", "value": echo, "unit": "/s",
         "note": f"replies per second, {n} texts from {PEOPLE} users, long polling, no rate limiter"},
        {"name": "double: raw sendMessage", "value": raw, "unit": "/s",
         "note": "one httpx keep-alive client, sequential: the double's own ceiling"},
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<26} {row['value']:10,.1f} {row['unit']:<3} {row['note']}")
