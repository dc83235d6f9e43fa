"""/forms → fill → sign-off on Telegram, against the Bot API double (fixtures of tests/telegram)."""

from __future__ import annotations

import pytest
import time_machine
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.i18n import translate
from bot.policy.calendar import period_label
from bot.services import cycle, reports, users
from bot.storage.models import OrgUnit, Report, User
from bot.storage.models_schedule import DutyRecord
from tests.cycle.test_year import YEAREND
from tests.cycle.world import CST, local
from tests.telegram.conftest import double, photo_bytes, reply, running_bot, sign_in, world  # noqa: F401


def unit(session: Session, name: str) -> OrgUnit:
    return session.exec(select(OrgUnit).where(OrgUnit.name == name)).one()


def buttons(sent) -> list[str]:
    return [b.callback_data for b in sent.buttons]


@pytest.fixture
def county(world):  # noqa: F811
    """The world's county on the Yanshan profile (quarterly inspections), with two village supervisors."""
    with Session(world.engine) as session:
        county = unit(session, "桃源县")
        county.policy_profile = "yanshan-2024"
        session.add(county)
        for name, village in (("sup_a", "新桥村"), ("sup_b", "王庄村")):
            created = users.create_invite(session, None, scope=unit(session, village), role="village_supervisor",
                                          name=name)
            world.invites[name] = (created.user.id, created.code)
        session.commit()
    return world


async def test_inspection_from_forms_to_submitted(county):
    bot_api, now = county.double, utcnow().astimezone(CST)
    period = period_label(now.year, (now.month - 1) // 3, 3)
    async with running_bot(county):
        leader = await sign_in(county, "leader", 501)
        bot_api.send_command(leader, "forms")
        menu = await reply(bot_api, leader)
        ours = {f"fm:township-inspection:{county.assets[name]}:{period}"
                for name in ("greenhouse", "workshop", "road", "pv")}
        assert ours <= set(buttons(menu))
        assert not any(f":{county.assets['far']}:" in data for data in buttons(menu))  # another township

        bot_api.press_last(leader, f"fm:township-inspection:{county.assets['greenhouse']}:{period}")
        first = await reply(bot_api, leader)
        assert "新桥村蔬菜大棚" in first.text and "现场" in first.text
        with Session(county.engine) as session:
            report = session.exec(select(Report).where(Report.form_id == "township-inspection")).one()
        bot_api.press_last(leader, f"v:{report.id}:condition:good")
        await reply(bot_api, leader)
        bot_api.press_last(leader, f"v:{report.id}:village_managing:yes")
        await reply(bot_api, leader)
        bot_api.send_photo(leader, photo_bytes(3))
        await reply(bot_api, leader)
        bot_api.press_last(leader, f"n:{report.id}:done:site_photo")
        await reply(bot_api, leader)
        bot_api.press_last(leader, f"n:{report.id}:submit")
        await reply(bot_api, leader)
        bot_api.press_last(leader, f"n:{report.id}:confirm")
        await reply(bot_api, leader)
        with Session(county.engine) as session:
            done = session.get(Report, report.id)
            assert done.status == "submitted" and done.period == period
            assert done.answers["condition"] == "good" and len(done.answers["site_photo"]) == 1
            duty = session.exec(select(DutyRecord)).one()  # one inspection a quarter is the township's duty
            assert (duty.item, duty.org_unit_id, duty.period) == ("township_inspection", unit(session, "新桥镇").id,
                                                                  period)

        bot_api.send_command(leader, "forms")
        again = await reply(bot_api, leader)
        assert f"fm:township-inspection:{county.assets['greenhouse']}:{period}" not in buttons(again)


async def _submit_yearend(county, village: int):
    """The cadre fills the year-end self-evaluation from /forms and submits it; the supervisor is told.

    Return (supervisor, cadre, report id); the supervisor's notice is checked and read.
    """
    bot_api = county.double
    supervisor = await sign_in(county, "sup_a", 601)
    cadre = await sign_in(county, "cadre_a", 600)
    bot_api.send_command(cadre, "forms")
    data = f"fm:{cycle.YEAREND}:{village}:2026"
    assert data in buttons(await reply(bot_api, cadre))
    bot_api.press_last(cadre, data)
    first = await reply(bot_api, cadre)
    assert "新桥村" in first.text
    with Session(county.engine) as session:
        report = session.exec(select(Report).where(Report.form_id == cycle.YEAREND)).one()
    assert report.org_unit_id == village and report.asset_id is None
    bot_api.press_last(cadre, f"v:{report.id}:targets_met:most")
    await reply(bot_api, cadre)
    for text in ("92", YEAREND["summary"], YEAREND["shortfalls"]):
        bot_api.send_text(cadre, text)
        await reply(bot_api, cadre)
    await _confirm_submission(county, cadre, report.id)
    # The village's supervisor is told at once, with the button that opens the sign-off.
    told = await reply(bot_api, supervisor)
    assert "新桥村" in told.text and buttons(told) == [f"so:{report.id}"]
    return supervisor, cadre, report.id


async def _confirm_submission(county, cadre, report_id: int) -> None:
    bot_api = county.double
    bot_api.press_last(cadre, f"n:{report_id}:submit")
    await reply(bot_api, cadre)
    bot_api.press_last(cadre, f"n:{report_id}:confirm")
    await reply(bot_api, cadre)
    with Session(county.engine) as session:
        assert session.get(Report, report_id).status == "submitted"


def _yearend_county(county) -> int:
    """Put the county on the yearly cycle with one signer (Qinbei's profile without its ``sign_off`` section):
    the Telegram flow of a single signature. Qinbei's two signers and board posting: tests/cycle/test_year.py."""
    import tempfile
    from pathlib import Path

    from bot.policy.loading import PROFILES_DIR
    from bot.services import audit, policies

    text = (PROFILES_DIR / "qinbei-2023.yaml").read_text(encoding="utf-8")
    text = text[:text.index("sign_off:")].replace("id: qinbei-2023", "id: qinbei-one-signer")
    path = Path(tempfile.mkdtemp()) / "qinbei-one-signer.yaml"
    path.write_text(text, encoding="utf-8")
    with Session(county.engine) as session:
        policies.use(session, audit.Actor(None, "test"), unit(session, "桃源县"), str(path))
        session.commit()
        return unit(session, "新桥村").id


async def test_cadre_fills_from_forms_and_only_their_supervisor_signs_off(county):
    bot_api = county.double
    village = _yearend_county(county)
    with time_machine.travel(local(2026, 11, 20), tick=True):
        async with running_bot(county):
            supervisor, cadre, report_id = await _submit_yearend(county, village)
            with Session(county.engine) as session:
                report = session.get(Report, report_id)

            other = await sign_in(county, "sup_b", 602)
            bot_api.send_command(other, "forms")
            assert f"so:{report.id}" not in buttons(await reply(bot_api, other))
            bot_api.press(other, bot_api.last_message(other.id), f"so:{report.id}:ok")  # forged
            refused = await reply(bot_api, other)
            assert refused.text == translate("zh_CN", "This is outside your area.")
            with Session(county.engine) as session:
                assert session.get(Report, report.id).status == "submitted"

            bot_api.send_command(supervisor, "forms")
            assert f"so:{report.id}" in buttons(await reply(bot_api, supervisor))
            bot_api.press_last(supervisor, f"so:{report.id}")
            shown = await reply(bot_api, supervisor)
            assert YEAREND["summary"] in shown.text
            assert buttons(shown) == [f"so:{report.id}:ok", f"so:{report.id}:back"]
            bot_api.press_last(supervisor, f"so:{report.id}:ok")
            signed = await reply(bot_api, supervisor)
            assert "新桥村" in signed.text and "2026-11-30" in signed.text  # posted for 10 days
            with Session(county.engine) as session:
                assert session.get(Report, report.id).status == "signed_off"
                steps = cycle.steps(session, session.get(User, county.invites["sup_a"][0]), report.id)
                assert [s.step for s in steps] == ["sign_off", "post"]

            # While it is posted, the cadre's /forms shows until when, with no button to report it up.
            bot_api.send_command(cadre, "forms")
            listed = await reply(bot_api, cadre)
            assert "2026-11-30" in listed.text and f"ru:{report.id}" not in buttons(listed)
            bot_api.press(cadre, listed.message_id, f"ru:{report.id}")  # pressed anyway (an old button)
            early = await reply(bot_api, cadre)
            assert "2026-11-30" in early.text
            with Session(county.engine) as session:
                assert session.get(Report, report.id).status == "signed_off"
    with time_machine.travel(local(2026, 12, 1), tick=True):
        async with running_bot(county):
            bot_api.send_command(cadre, "forms")
            listed = await reply(bot_api, cadre)
            assert f"ru:{report.id}" in buttons(listed)
            bot_api.send_command(other, "forms")  # not the other village's to report, nor a supervisor's
            assert f"ru:{report.id}" not in buttons(await reply(bot_api, other))
            bot_api.press_last(cadre, f"ru:{report.id}")
            done = await reply(bot_api, cadre)
            assert "新桥村" in done.text and "2026" in done.text
            with Session(county.engine) as session:
                assert session.get(Report, report.id).status == "reported"
                steps = cycle.steps(session, session.get(User, county.invites["sup_a"][0]), report.id)
                assert [s.step for s in steps] == ["sign_off", "post", "report_up"]


async def test_the_supervisor_sends_a_report_back_with_a_reason_and_the_cadre_corrects_it(county):
    bot_api = county.double
    village = _yearend_county(county)
    with time_machine.travel(local(2026, 11, 20), tick=True):
        async with running_bot(county):
            supervisor, cadre, report_id = await _submit_yearend(county, village)
            bot_api.send_command(supervisor, "forms")
            await reply(bot_api, supervisor)
            bot_api.press_last(supervisor, f"so:{report_id}")
            await reply(bot_api, supervisor)
            bot_api.press_last(supervisor, f"so:{report_id}:back")
            asked = await reply(bot_api, supervisor)
            assert asked.text == translate("zh_CN", "Reply with the reason: what should the village correct?")
            bot_api.send_text(supervisor, "差距分析太简单，请补充原因")
            done = await reply(bot_api, supervisor)
            assert done.text == translate("zh_CN", "Sent back to the village: {asset}.", asset="新桥村")
            # The cadre is told why, with a button that reopens exactly the new version.
            told = await reply(bot_api, cadre)
            assert "差距分析太简单，请补充原因" in told.text and "新桥村" in told.text
            with Session(county.engine) as session:
                old = session.get(Report, report_id)
                new = session.exec(select(Report).where(Report.form_id == cycle.YEAREND,
                                                        Report.current.is_(True))).one()
                assert (old.status, old.current, old.review_note) == ("returned", False, "差距分析太简单，请补充原因")
                assert (new.status, new.version, new.answers) == ("draft", old.version + 1, old.answers)
                steps = cycle.steps(session, session.get(User, county.invites["sup_a"][0]), report_id)
                assert [(s.step, s.data) for s in steps] == [("send_back", {"reason": "差距分析太简单，请补充原因"})]
            assert buttons(told) == [f"n:{new.id}:resume"]
            bot_api.press_last(cadre, f"n:{new.id}:resume")
            await reply(bot_api, cadre)
            await _confirm_submission(county, cadre, new.id)
            # Submitted again: the supervisor is told again and can sign the new version off.
            again = await reply(bot_api, supervisor)
            assert buttons(again) == [f"so:{new.id}"]
            bot_api.press(supervisor, again.message_id, f"so:{report_id}:ok")  # the old version's button
            stale = await reply(bot_api, supervisor)
            assert stale.text == translate("zh_CN", cycle.MSG_NOT_SIGNABLE, status=reports.status_label("returned"))
            assert "已退回" in stale.text
            bot_api.press(supervisor, again.message_id, f"so:{new.id}")
            await reply(bot_api, supervisor)
            bot_api.press_last(supervisor, f"so:{new.id}:ok")
            await reply(bot_api, supervisor)
            with Session(county.engine) as session:
                assert session.get(Report, new.id).status == "signed_off"
