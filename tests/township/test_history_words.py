"""A villager problem's whole history in words: held and accepted after moderation, reported again with a
photo, marked as spam — every event a sentence, no stored note shown as it was written."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from bot.i18n import translate
from bot.services import problem_list, villager_reports
from bot.storage.models import User
from bot.storage.models_villager import VillagerMute
from tests.services.images import make_jpeg


def _words(session, user, problem_id, locale="zh_CN") -> list[str]:
    return [translate(locale, e.msgid, **{**e.params, **({"period": e.period} if e.period else {})})
            for e in problem_list.history_in_words(session, user, problem_id)]


def test_a_villager_problems_history_in_words(town):
    secret = town.settings.secret_key
    with Session(town.engine, expire_on_commit=False) as session:
        leader = session.get(User, town.leader.id)
        source = villager_reports.source_of(secret, "198.51.100.9", "device-9")
        session.add(VillagerMute(kind="address", source_hash=source.address_hash,
                                 until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)))
        session.commit()
        held = villager_reports.report_problem(session, town.asset,
                                               text="光伏板被人拆走了两块", category="damaged", device_id="device-9",
                                               address="198.51.100.9", secret=secret)
        session.commit()
        assert held.status == "held"
        problem = villager_reports.accept(session, leader, held.report.id)
        session.commit()
        again = villager_reports.report_problem(session, town.asset, text="光伏板被人拆走了两块！", category="damaged",
                                                device_id="device-10", address="192.0.2.10", secret=secret,
                                                photo=make_jpeg(320, 240, seed=11), store=town.store)
        session.commit()
        assert again.status == "folded"
        villager_reports.mark_problem_spam(session, leader, problem.id, days=7)
        session.commit()
        words = _words(session, leader, problem.id)
        photos = {p.sha256: p.source for p in problem_list.photos(session, leader, problem.id)}
    assert words[0].startswith("一位村民于") and "王镇长审核后列入问题清单（共 1 条反映）" in words[0]
    assert words[1] == "又有村民反映了此问题（共 2 次）。"
    assert words[2] == "王镇长将其标为恶意反映；发送者 7 天内不能再反映。"
    assert photos == {again.report.photo_sha256: "villager"}
    assert not any("sha256" in w or "photo" in w for w in words)
