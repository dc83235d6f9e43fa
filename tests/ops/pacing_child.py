"""A process that sends bulk Telegram messages through the outbox's channel, paced on the shared windows.

    python -m tests.ops.pacing_child <database url> <bot api url> <token> <first chat id> <count>
"""

from __future__ import annotations

import sys

from bot.services.channels import Target, TelegramChannel
from bot.services.pacing import Limits, SharedPacer
from bot.storage.db import make_engine


def main(url: str, api_url: str, token: str, first: str, count: str) -> None:
    engine = make_engine(url)
    channel = TelegramChannel(token, api_url, pacer=SharedPacer(engine, Limits(overall=12, reserve=2)))
    print("ready", flush=True)
    sys.stdin.readline()  # all children start together
    for n in range(int(count)):
        channel.send(Target(chat_id=int(first) + n), f"提醒 {n}")
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
