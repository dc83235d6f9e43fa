"""Shared pieces of the outbox tests: a county with people, a monthly check filled with answers that
raise a serious problem, and the channels pointed at the doubles."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from bot.clock import UTC
from bot.services import reports
from bot.services.channels import DingTalkChannel, TelegramChannel, WeComChannel
from bot.services.evidence import MB, EvidenceStore
from bot.storage.models import Report, TelegramIdentity, User
from bot.storage.models_schedule import OutboxMessage
from tests.services.images import make_jpeg

NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
PUBLIC = "https://villagebot.example.cn"
GOOD = {"operating_normally": "yes", "intact": "yes", "at_risk": "no", "income_distributed": "yes",
        "income_amount": "1.5", "farmers_linked": "yes", "households_benefited": "40", "poor_households": "12",
        "effective": "yes", "unauthorised": "no", "has_difficulties": "no", "committee_studied": "yes"}
# An unauthorised mortgage is a serious problem (the township is alerted at once).
SERIOUS = {**GOOD, "unauthorised": "yes", "unauthorised_acts": ["mortgage"], "unauthorised_since": "2026-02-01"}


def store_at(path) -> EvidenceStore:
    return EvidenceStore(path, 20 * MB)


def fill_draft(engine, user_id: int, asset_id: int, answers: dict, store: EvidenceStore, *, seed: int = 0,
               now: dt.datetime = NOW, channel: str = "telegram") -> int:
    """Start the asset's monthly check and answer every question (not submitted); return the report id."""
    with Session(engine) as session:
        report_id = reports.start_or_resume(session, session.get(User, user_id), asset_id, channel=channel,
                                            now=now).id
    while True:
        with Session(engine) as session:
            user = session.get(User, user_id)
            q = reports.walker_for(session.get(Report, report_id)).current()
            if q is None:
                return report_id
            if q.type == "photo":
                seed += 1
                reports.add_photo(session, user, report_id, q.key, make_jpeg(64, 48, seed=seed), store, now=now)
                reports.done(session, user, report_id, q.key, now=now)
            elif q.type == "location":
                reports.set_location(session, user, report_id, q.key, 31.4, 117.2, now=now)
            elif q.type == "multi":
                for option in answers[q.key]:
                    reports.toggle(session, user, report_id, q.key, option, now=now)
                reports.done(session, user, report_id, q.key, now=now)
            else:
                reports.answer(session, user, report_id, q.key, answers[q.key], now=now)


def bind_telegram(session: Session, user: User, chat_id: int) -> None:
    """Bind a user to a Telegram account (as redeeming an invite does)."""
    session.add(TelegramIdentity(telegram_user_id=chat_id, chat_id=chat_id, user_id=user.id))
    session.flush()


def channels(*, botapi=None, public_url: str = PUBLIC) -> dict:
    """The real channels, Telegram pointed at the Bot API double (unpaced)."""
    found: dict = {"wecom": WeComChannel(timeout=5, public_url=public_url),
                   "dingtalk": DingTalkChannel(timeout=5, public_url=public_url)}
    if botapi is not None:
        found["telegram"] = TelegramChannel(botapi.token, botapi.url, timeout=5, per_second=0)
    return found


def close(found: dict) -> None:
    for channel in found.values():
        channel.close()


def outbox_rows(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())
