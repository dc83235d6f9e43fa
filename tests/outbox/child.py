"""A service process for the kill -9 test: submit a report (its notices are written in the same
transaction), say so on stdout, then either wait to be killed or start delivering.

    python -m tests.outbox.child <database url> <user id> <report id> <before|while> <bot api url> <token>
"""

from __future__ import annotations

import sys
import time

from sqlmodel import Session

from bot.services import outbox, reports
from bot.services.channels import DingTalkChannel, TelegramChannel, WeComChannel
from bot.storage.db import make_engine
from bot.storage.models import User


def main(url: str, user_id: str, report_id: str, mode: str, api_url: str, token: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        reports.submit(session, session.get(User, int(user_id)), int(report_id))  # commits
    print("committed", flush=True)
    if mode == "before":
        time.sleep(120)  # killed here: after the commit, before any delivery
        return
    channels = {"telegram": TelegramChannel(token, api_url, timeout=60, per_second=0),
                "wecom": WeComChannel(timeout=60), "dingtalk": DingTalkChannel(timeout=60)}
    print("delivering", flush=True)
    outbox.deliver(engine, channels)  # killed while the first message hangs in the channel
    print("delivered", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
