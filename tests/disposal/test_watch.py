"""The scheduler's daily watch over disposals (bot.services.disposal_watch): when a public notice has run its days
the township is reminded, once, to record the disposal; a disposal left at one step longer than the profile's
``disposal.stall_days`` is escalated, once per step, to the level above whoever takes it — in words."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import Session, select

from bot.clock import UTC
from bot.policy.loading import PROFILES_DIR, available, load, parse
from bot.policy.validate import ProfileError
from bot.services import disposal, outbox, policies
from bot.services.audit import SYSTEM
from bot.storage.models import OrgUnit, User
from bot.storage.models_schedule import OutboxMessage
from tests.cycle.world import make_county

TZ = ZoneInfo("Asia/Shanghai")
DAY0 = dt.date(2026, 12, 1)  # a Tuesday
CODES = ("village_meeting", "requested", "township_approved", "county_approved", "notice_until", "stall", "None")


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ).astimezone(UTC)


def _watched(engine) -> list[OutboxMessage]:
    """The watch's notices (not the steps' own, not the copies forwarded up)."""
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.key.startswith("n|disposal/"))
                      .order_by(OutboxMessage.id)).all()
        return [r for r in rows if ">" not in r.key and r.step.startswith(("notice-ended-", "stalled-"))]


def _zh(row: OutboxMessage) -> str:
    text = outbox.compose(row)[0]
    assert not [code for code in CODES if code in text], text
    return text


def _requested(engine, c, day: dt.date) -> int:
    with Session(engine) as s:
        row = disposal.request(s, s.get(User, c.cadre.id), c.workshop.id, reason="idle", method="transfer",
                               description="闲置两年，无法盘活", now=at(day))
        s.commit()
        return row.id


def _to_notice(engine, c, disposal_id: int, valuation: str = "12.5"):
    """The village's meeting and valuation, both approvals and the notice started, all on DAY0; the disposal."""
    with Session(engine, expire_on_commit=False) as s:
        cadre, leader, office = (s.get(User, u.id) for u in (c.cadre, c.leader, c.county_officer))
        disposal.record_meeting(s, cadre, disposal_id, kind="villagers", held_on=DAY0, attendees=60,
                                result="agreed", now=at(DAY0))
        disposal.record_valuation(s, cadre, disposal_id, amount=valuation, valuer="桃源县评估所", valued_on=DAY0,
                                  now=at(DAY0))
        disposal.approve_township(s, leader, disposal_id, now=at(DAY0))
        disposal.approve_county(s, office, disposal_id, now=at(DAY0))
        row = disposal.start_notice(s, leader, disposal_id, now=at(DAY0))
        s.commit()
        return row


def _ticks(engine, *days: dt.date) -> None:
    for day in days:
        outbox.tick(engine, {}, now=at(day))
        outbox.tick(engine, {}, now=at(day, 16))


def test_the_township_is_reminded_once_when_the_notice_ends_and_the_county_told_when_nobody_records(engine):
    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")  # notices last 10 days
    disposal_id = _requested(engine, c, DAY0)
    assert _to_notice(engine, c, disposal_id).notice_until == dt.date(2026, 12, 10)
    _ticks(engine, dt.date(2026, 12, 9), dt.date(2026, 12, 10))
    assert _watched(engine) == []  # the notice's last day: nothing yet
    _ticks(engine, dt.date(2026, 12, 11), dt.date(2026, 12, 12), dt.date(2026, 12, 14))
    (reminder,) = _watched(engine)
    assert (reminder.recipient, reminder.step, reminder.role) == (f"u{c.leader.id}", "notice-ended-2026-12-10",
                                                                  "township_leader")
    assert reminder.send_at.astimezone(TZ) == dt.datetime(2026, 12, 11, 10, tzinfo=TZ)
    assert _zh(reminder) == "新桥村扶贫车间（新桥村）的处置公示已于2026-12-10期满，请登记处置结果（处置）。"

    # Nobody records it: fourteen days after the first day it could be recorded (Dec 11), the county office.
    _ticks(engine, dt.date(2026, 12, 25))
    assert len(_watched(engine)) == 1
    _ticks(engine, dt.date(2026, 12, 26), dt.date(2026, 12, 27), dt.date(2026, 12, 28))  # a Saturday on
    escalated = _watched(engine)[1:]
    assert [(r.recipient, r.step, r.role) for r in escalated] == [
        (f"u{c.county_officer.id}", "stalled-notice-2026-12-11", "county_officer")]
    assert escalated[0].send_at.astimezone(TZ) == dt.datetime(2026, 12, 28, 8, tzinfo=TZ)  # Monday morning
    assert _zh(escalated[0]) == ("新桥村扶贫车间（新桥镇新桥村）的处置自2026-12-11起等待公示期满后登记处置结果已15天，"
                                 "超过14天，请督促办理（处置）。")
    # Recorded at last: nothing more about it.
    with Session(engine) as s:
        disposal.record_outcome(s, s.get(User, c.leader.id), disposal_id, done_on=dt.date(2026, 12, 28),
                                method="transfer", amount="10", counterpart="桃源县某合作社", now=at(dt.date(2026, 12, 28)))
        s.commit()
    _ticks(engine, dt.date(2027, 1, 20))
    assert len(_watched(engine)) == 2


def test_a_disposal_stalled_at_a_step_is_escalated_once_to_the_level_above(engine):
    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")
    disposal_id = _requested(engine, c, DAY0)
    # The village holds no meeting: fourteen days pass quietly, on the fifteenth the township is told.
    _ticks(engine, DAY0 + dt.timedelta(days=14))
    assert _watched(engine) == []
    _ticks(engine, DAY0 + dt.timedelta(days=15), DAY0 + dt.timedelta(days=16), DAY0 + dt.timedelta(days=22))
    (first,) = _watched(engine)
    assert (first.recipient, first.role, first.subject) == (f"u{c.leader.id}", "township_leader",
                                                           f"disposal/{disposal_id}")
    assert _zh(first) == ("新桥村扶贫车间（新桥镇新桥村）的处置自2026-12-01起等待村民会议决议已15天，超过14天，"
                          "请督促办理（处置）。")
    # The meeting agrees on Dec 23; the township leaves it: fifteen days later the county office is told.
    meeting = DAY0 + dt.timedelta(days=22)
    with Session(engine) as s:
        cadre = s.get(User, c.cadre.id)
        disposal.record_meeting(s, cadre, disposal_id, kind="representatives", held_on=meeting, attendees=30,
                                result="agreed", now=at(meeting))
        s.commit()
    _ticks(engine, meeting + dt.timedelta(days=14))
    assert len(_watched(engine)) == 1
    _ticks(engine, meeting + dt.timedelta(days=15), meeting + dt.timedelta(days=20))
    second = _watched(engine)[1:]
    assert [(r.recipient, r.role) for r in second] == [(f"u{c.county_officer.id}", "county_officer")]
    assert "等待乡镇审批已15天" in _zh(second[0])
    everyone = {r.recipient for r in _watched(engine)}
    assert not everyone & {f"u{c.cadre.id}", f"u{c.other_leader.id}", f"u{c.officer.id}"}
    with Session(engine) as s:  # each audited as a notice
        from bot.storage.models import AuditEntry

        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "notice.queue",
                                                  AuditEntry.entity_id == f"disposal/{disposal_id}")).all()
        assert {a.after["notice"] for a in audited} >= {"stalled-requested-2026-12-01",
                                                        "stalled-village_meeting-2026-12-23"}


def test_a_county_sets_how_long_a_disposal_may_wait_and_the_shipped_profiles_say_14_days(engine, tmp_path):
    assert {name: load(name).disposal["stall_days"] for name in available()} == {name: 14 for name in available()}
    data = yaml.safe_load((PROFILES_DIR / "qinbei-2023.yaml").read_text("utf-8"))
    assert parse({**data, "disposal": {"notice_days": 10}}).disposal == {"notice_days": 10, "stall_days": 14}
    assert parse({**data, "disposal": {"notice_days": 10, "stall_days": 5}}).disposal["stall_days"] == 5
    for bad in (0, 181, "two weeks"):
        with pytest.raises(ProfileError) as exc:
            parse({**data, "disposal": {"stall_days": bad}})
        assert "stall_days" in exc.value.describe("en")
    with pytest.raises(ProfileError):
        parse({**data, "disposal": {"stalled_days": 5}})

    # A county's own profile of 5 days: escalated on the sixth.
    own = tmp_path / "taoyuan-2026.yaml"
    own.write_text((PROFILES_DIR / "qinbei-2023.yaml").read_text("utf-8").replace("id: qinbei-2023", "id: taoyuan-2026")
                   .replace("  stall_days: 14", "  stall_days: 5"), "utf-8")
    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")
        policies.use(s, SYSTEM, s.get(OrgUnit, c.tree.county.id), str(own))
        s.commit()
    disposal_id = _requested(engine, c, DAY0)
    _ticks(engine, DAY0 + dt.timedelta(days=5))
    assert _watched(engine) == []
    _ticks(engine, DAY0 + dt.timedelta(days=6))
    (row,) = _watched(engine)
    assert row.subject == f"disposal/{disposal_id}" and "已6天，超过5天" in _zh(row)


def test_proceeds_not_used_a_quarter_after_the_record_are_recalled_to_the_township_once(engine):
    from bot.services import disposal_proceeds, disposal_watch

    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")
    disposal_id = _requested(engine, c, DAY0)
    _to_notice(engine, c, disposal_id, valuation="12")
    with Session(engine) as s:
        cadre, leader = s.get(User, c.cadre.id), s.get(User, c.leader.id)
        recorded_on = dt.date(2026, 12, 11)
        disposal.record_outcome(s, leader, disposal_id, done_on=recorded_on, method="transfer", amount="10",
                                counterpart="桃源县某合作社", now=at(recorded_on))
        disposal_proceeds.record_use(s, cadre, disposal_id, used_on=recorded_on, amount="4",
                                     purpose="新建村组产业路800米", now=at(recorded_on))
        s.commit()

    def recalled() -> list[OutboxMessage]:
        with Session(engine) as s:
            return list(s.exec(select(OutboxMessage).where(OutboxMessage.step == "proceeds-left")).all())

    quarter = recorded_on + dt.timedelta(days=disposal_watch.PROCEEDS_DAYS)
    _ticks(engine, quarter)
    assert recalled() == []  # ninety days: not yet
    _ticks(engine, quarter + dt.timedelta(days=1), quarter + dt.timedelta(days=2), quarter + dt.timedelta(days=30))
    (row,) = recalled()
    assert (row.recipient, row.role) == (f"u{c.leader.id}", "township_leader")
    assert outbox.compose(row)[0] == ("新桥村扶贫车间（新桥村）已于2026-12-11处置，已超过90天，处置收入10万元中尚有6万元"
                                      "未用于扶贫项目：请登记其使用情况（处置）。")


def test_proceeds_all_used_are_not_recalled(engine):
    from bot.services import disposal_watch

    with Session(engine, expire_on_commit=False) as s:
        c = make_county(s, "qinbei-2023")
    disposal_id = _requested(engine, c, DAY0)
    with Session(engine) as s:
        row = s.get(disposal.Disposal, disposal_id)
        row.status, row.outcome_on, row.outcome_amount = "recorded", DAY0, 0  # nothing received: nothing to use
        s.add(row)
        s.commit()
        county = s.get(OrgUnit, c.tree.county.id)
        later = DAY0 + dt.timedelta(days=200)
        assert disposal_watch.proceeds_reminders(s, county, later, at(later)) == []
