"""The monthly checklist end to end: the real python-telegram-bot Application over HTTP against the double."""

from __future__ import annotations

import asyncio
import datetime as dt

import time_machine
from sqlmodel import Session, select

from bot.flows import evaluate_risks, form_for_asset_type
from bot.i18n import translate
from bot.storage.models import (
    Photo,
    PhotoUse,
    Problem,
    ProblemEvent,
    ProcessedUpdate,
    Report,
    TelegramIdentity,
)
from tests.services.images import make_bomb_png, make_jpeg, make_pdf, padded, truncated
from tests.telegram.conftest import (
    current_question,
    current_report,
    data_of,
    reply,
    running_bot,
    sign_in,
    walk_to_review,
)


def zh(msgid: str, **params) -> str:
    return translate("zh_CN", msgid, **params)


async def submit(world, tg, report_id: int):
    double = world.double
    double.press(tg, double._latest_bot_message_id(tg.id), f"n:{report_id}:submit")
    confirm = await reply(double, tg)
    assert f"n:{report_id}:confirm" in data_of(confirm)
    double.press(tg, double._latest_bot_message_id(tg.id), f"n:{report_id}:confirm")
    return await reply(double, tg)


async def open_checklist(world, tg, asset_id: int):
    double = world.double
    double.send_command(tg, "report")
    listing = await reply(double, tg)
    assert f"a:{asset_id}" in data_of(listing)
    double.press(tg, listing.message_id, f"a:{asset_id}")
    return await reply(double, tg)


async def test_start_binds_the_account_and_greets_with_the_village(world):
    async with running_bot(world):
        tg = world.double.user(5001, "李书记")
        world.double.send_command(tg, "start", world.invites["cadre_a"][1])
        greeting = await reply(world.double, tg)
        assert "新桥村" in greeting.text
        with Session(world.engine) as session:
            identity = session.exec(select(TelegramIdentity).where(TelegramIdentity.telegram_user_id == 5001)).one()
            assert identity.user_id == world.invites["cadre_a"][0]
        world.double.send_command(tg, "report")
        listing = await reply(world.double, tg)
        # Only this village's three assets, each with a stable key.
        assert sorted(data_of(listing)) == sorted(f"a:{world.assets[k]}" for k in ("greenhouse", "workshop", "road"))


async def test_two_cadres_complete_checklists_with_photos_at_the_same_time(world):
    async with running_bot(world):
        tg_a = await sign_in(world, "cadre_a", 5001)
        tg_b = await sign_in(world, "cadre_b", 5002)
        await asyncio.gather(open_checklist(world, tg_a, world.assets["greenhouse"]),
                             open_checklist(world, tg_b, world.assets["pv"]))
        reviews = await asyncio.gather(walk_to_review(world, tg_a, world.assets["greenhouse"], seed=1),
                                       walk_to_review(world, tg_b, world.assets["pv"], seed=2))
        for review in reviews:
            assert any(d.endswith(":submit") for d in data_of(review))
        ra, rb = current_report(world, world.assets["greenhouse"]), current_report(world, world.assets["pv"])
        done = await asyncio.gather(submit(world, tg_a, ra.id), submit(world, tg_b, rb.id))
        assert "新桥村蔬菜大棚" in done[0].text and "王庄村光伏电站" in done[1].text

    with Session(world.engine) as session:
        for asset_key in ("greenhouse", "pv"):
            reports = session.exec(select(Report).where(Report.asset_id == world.assets[asset_key])).all()
            assert len(reports) == 1
            report = reports[0]
            assert report.status == "submitted" and report.channel == "telegram"
            form = form_for_asset_type("经营性")
            assert report.form_id == form.id and report.form_version == form.version
            # Every visible question has its answer in the database, photos included.
            from bot.flows import Walker
            walker = Walker(form, dict(report.answers), report.position)
            assert walker.missing() == []
            uses = session.exec(select(PhotoUse).where(PhotoUse.report_id == report.id)).all()
            assert {u.question_key for u in uses} >= {"board_photo", "sign_photo"}
        assert len(session.exec(select(Photo)).all()) == 4


async def test_the_same_update_delivered_twice_is_processed_once(world):
    async with running_bot(world):
        tg = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, tg, world.assets["greenhouse"])
        report, q = current_question(world, world.assets["greenhouse"])
        option = q.options[0].key
        update = world.double.press(tg, world.double._latest_bot_message_id(tg.id), f"v:{report.id}:{q.key}:{option}",
                                    deliver=0)
        world.double.deliver_twice(update)
        world.double.send_command(tg, "help")
        # Updates are handled in order: a repeated answer would reply before /help does.
        answered, helped = await world.double.wait_reply(tg.id, count=2)
        assert "/report" not in answered.text and "/report" in helped.text
    with Session(world.engine) as session:
        assert session.get(ProcessedUpdate, update["update_id"]) is not None
        assert current_report(world, world.assets["greenhouse"]).answers[q.key] == option


async def _reach(world, tg, asset_id: int, qtype: str):
    """Answer normally until the current question is of `qtype`; return (report, question)."""
    double = world.double
    for _ in range(40):
        report, q = current_question(world, asset_id)
        if q is not None and q.type == qtype:
            return report, q
        assert q is not None, f"no {qtype} question before the review"
        if q.type in ("yesno", "choice"):
            from tests.telegram.conftest import safe_option
            double.press(tg, double._latest_bot_message_id(tg.id), f"v:{report.id}:{q.key}:"
                         f"{safe_option(world, asset_id, q)}")
        elif q.type == "multi":
            double.press(tg, double._latest_bot_message_id(tg.id), f"t:{report.id}:{q.key}:{q.options[0].key}")
            await reply(double, tg)
            double.press(tg, double._latest_bot_message_id(tg.id), f"n:{report.id}:done:{q.key}")
        elif q.type == "number":
            double.send_text(tg, str(q.min if q.min is not None else 1))
        elif q.type == "text":
            double.send_text(tg, "正常")
        elif q.type == "date":
            double.send_text(tg, "2026-11-01")
        else:
            raise AssertionError(f"cannot pass a {q.type} question")
        await reply(double, tg)
    raise AssertionError("question type not reached")


async def test_bad_inputs_get_a_clear_reply_and_change_nothing(world):
    double = world.double
    async with running_bot(world):
        tg = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, tg, world.assets["greenhouse"])
        asset = world.assets["greenhouse"]

        # A number out of range, at the first number question.
        report, q = await _reach(world, tg, asset, "number")
        before = dict(current_report(world, asset).answers)
        too_big = (q.max or 10 ** 6) * 1000 + 1
        double.send_text(tg, str(too_big))
        answer = await reply(double, tg)
        assert "❗" in answer.text and current_report(world, asset).answers == before
        double.send_text(tg, "很多")  # not a number at all
        answer = await reply(double, tg)
        assert "❗" in answer.text and current_report(world, asset).answers == before

        report, q = await _reach(world, tg, asset, "photo")
        saved = dict(current_report(world, asset).answers)
        bad = [
            ("text", lambda: double.send_text(tg, "照片稍后发"),
             zh("A photo is due here: please send a photo, not text.")),
            ("pdf", lambda: double.send_document(tg, make_pdf(), "公示牌.jpg", "image/jpeg"), None),
            ("corrupt", lambda: double.send_document(tg, truncated(make_jpeg(800, 600), 0.3), "a.jpg", "image/jpeg"),
             None),
            ("60MB", lambda: double.send_document(tg, padded(make_jpeg(800, 600), 60 * 1024 * 1024), "big.jpg",
                                                  "image/jpeg"), None),
            ("bomb", lambda: double.send_document(tg, make_bomb_png(), "bomb.png", "image/png"), None),
        ]
        for name, act, expected in bad:
            act()
            answer = await reply(double, tg, timeout=20)
            assert "❗" in answer.text, name
            if expected:
                assert expected in answer.text, name
            assert current_report(world, asset).answers == saved, name
        with Session(world.engine) as session:
            assert session.exec(select(Photo)).all() == []

        # A forged callback for another village's asset, and for another village's report.
        double.press(tg, double._latest_bot_message_id(tg.id), f"a:{world.assets['pv']}")
        refusal = await reply(double, tg)
        assert zh("This is outside your area.") in refusal.text
        assert current_report(world, world.assets["pv"]) is None

    # Invites: a second use and an expired one.
    async with running_bot(world):
        intruder = double.user(5009, "陌生人")
        double.send_command(intruder, "start", world.invites["cadre_a"][1])
        answer = await reply(double, intruder)
        assert zh("This invite code has already been used. Ask your township for a new one.") in answer.text
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=30)):
            double.send_command(intruder, "start", world.invites["cadre_b"][1])
            answer = await reply(double, intruder)
        assert zh("This invite code has expired. Ask your township for a new one.") in answer.text
        with Session(world.engine) as session:
            assert session.exec(select(TelegramIdentity).where(TelegramIdentity.telegram_user_id == 5009)).first() \
                is None


async def test_forged_callbacks_for_foreign_reports_are_refused(world):
    double = world.double
    async with running_bot(world):
        tg_b = await sign_in(world, "cadre_b", 5002)
        await open_checklist(world, tg_b, world.assets["pv"])
        foreign = current_report(world, world.assets["pv"])
        tg_a = await sign_in(world, "cadre_a", 5001)
        q_key = current_question(world, world.assets["pv"])[1].key
        for data in (f"v:{foreign.id}:{q_key}:no", f"n:{foreign.id}:confirm", f"n:{foreign.id}:review",
                     "a:999999", "a:notanumber", f"t:{foreign.id}:x:y"):
            double.press(tg_a, double._latest_bot_message_id(tg_a.id), data)
            refusal = await reply(double, tg_a)
            assert zh("This is outside your area.") in refusal.text, data
        assert current_report(world, world.assets["pv"]).answers == foreign.answers


async def test_a_reused_photo_and_far_away_gps_are_flagged_on_the_report(world):
    double = world.double
    same = make_jpeg(900, 700, seed=77)
    async with running_bot(world):
        tg = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, tg, world.assets["greenhouse"])
        await walk_to_review(world, tg, world.assets["greenhouse"], photo=same)
        await submit(world, tg, current_report(world, world.assets["greenhouse"]).id)

        await open_checklist(world, tg, world.assets["workshop"])
        report, q = await _reach(world, tg, world.assets["workshop"], "photo")
        double.send_photo(tg, same)  # the same picture again, for another asset
        flagged = await reply(double, tg)
        assert "⚠" in flagged.text
        # A file keeps its EXIF: GPS in Beijing, far from the asset near Changsha.
        beijing = make_jpeg(800, 600, seed=78, exif_gps=(39.9, 116.4))
        double.send_document(tg, beijing, "IMG_0001.jpg", "image/jpeg")
        flagged = await reply(double, tg)
        assert "⚠" in flagged.text
    with Session(world.engine) as session:
        uses = session.exec(select(PhotoUse).where(PhotoUse.report_id == report.id)).all()
        kinds = {f["code"] for u in uses for f in u.flags}
        assert {"reused", "far"} <= kinds


def _serious_choice(asset_type: str) -> dict:
    """A question and option of the form that alone raise a serious problem (read from the form, not assumed)."""
    form = form_for_asset_type(asset_type)
    for q in [q for q in form.questions if q.show_if is None]:  # a question every report asks
        for option in q.options:
            if any(h.severity == "serious" for h in evaluate_risks(form, {q.key: option.key})):
                return {q.key: option.key}
    raise AssertionError("the form has no serious risk rule")


async def test_a_serious_problem_alerts_the_township_leader_at_once(world):
    double = world.double
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        tg = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, tg, world.assets["greenhouse"])
        await walk_to_review(world, tg, world.assets["greenhouse"], choices=_serious_choice("经营性"))
        report = current_report(world, world.assets["greenhouse"])
        await submit(world, tg, report.id)
        alert = await reply(double, leader)
        assert "新桥村蔬菜大棚" in alert.text
        with Session(world.engine) as session:
            problems = session.exec(select(Problem).where(Problem.report_id == report.id)).all()
            serious = [p for p in problems if p.severity == "serious"]
            assert serious
            assert f"pb:ack:{serious[0].id}" in data_of(alert)
        # A cadre of another township is not told; nor is anyone else.
        assert double.messages_to(5002) == []

        # The leader acknowledges, then resolves with a note.
        problem_id = serious[0].id
        double.press(leader, alert.message_id, f"pb:ack:{problem_id}")
        await reply(double, leader)
        double.press(leader, alert.message_id, f"pb:res:{problem_id}")
        asked = await reply(double, leader)
        assert zh("Reply with a short note: how was the problem resolved?") in asked.text
        double.send_text(leader, "已责令收回转租，恢复村集体经营")
        done = await reply(double, leader)
        assert zh("Resolved and recorded. Thank you.") in done.text
    with Session(world.engine) as session:
        problem = session.get(Problem, problem_id)
        assert problem.status == "resolved" and problem.acknowledged_at is not None
        assert problem.resolution_note == "已责令收回转租，恢复村集体经营"
        actions = [e.action for e in session.exec(select(ProblemEvent).where(ProblemEvent.problem_id == problem_id))]
        assert actions[-2:] == ["acknowledged", "resolved"]
        alerted = session.exec(select(ProblemEvent).where(ProblemEvent.action == "alerted")).all()
        assert {e.problem_id for e in alerted} == {p.id for p in serious}


async def test_a_cadre_cannot_handle_problems_by_forged_buttons(world):
    double = world.double
    async with running_bot(world):
        tg = await sign_in(world, "cadre_a", 5001)
        with Session(world.engine) as session:
            problem = Problem(asset_id=world.assets["greenhouse"], source="report", kind="x", severity="serious")
            session.add(problem)
            session.commit()
            pid = problem.id
        double.press(tg, double._latest_bot_message_id(tg.id), f"pb:ack:{pid}")
        refusal = await reply(double, tg)
        assert zh("Your role cannot do this.") in refusal.text
    with Session(world.engine) as session:
        assert session.get(Problem, pid).status == "open"


async def test_a_flood_limit_answer_is_retried_after_retry_after(world):
    double = world.double
    async with running_bot(world, rate_limit=True):
        tg = await sign_in(world, "cadre_a", 5001)
        double.fail_next("sendMessage", "429", retry_after=1)
        double.send_command(tg, "help")
        helped = await reply(double, tg, timeout=15)
        assert "/report" in helped.text
        statuses = [c.status for c in double.calls_of("sendMessage")]
        assert 429 in statuses and statuses[-1] == 200


async def test_the_language_can_be_switched_to_english(world):
    double = world.double
    async with running_bot(world):
        tg = await sign_in(world, "cadre_a", 5001)
        double.send_command(tg, "lang")
        chooser = await reply(double, tg)
        assert {"l:zh_CN", "l:en"} <= set(data_of(chooser))
        double.press(tg, chooser.message_id, "l:en")
        await reply(double, tg)
        double.send_command(tg, "help")
        helped = await reply(double, tg)
        assert translate("en", "Every answer is saved at once: if the signal drops, just continue later.") \
            in helped.text


async def test_unknown_people_are_told_how_to_get_in(world):
    double = world.double
    async with running_bot(world):
        stranger = double.user(5999, "路人", "en")
        double.send_command(stranger, "report")
        answer = await reply(double, stranger)
        assert "invite" in answer.text


async def _answer_the_first_question(world, name: str, tg_id: int, asset: str):
    """Sign in, open the asset's checklist and answer its first question with yes; return (tg, report, q)."""
    tg = await sign_in(world, name, tg_id)
    await open_checklist(world, tg, world.assets[asset])
    report, q = current_question(world, world.assets[asset])
    world.double.press(tg, world.double._latest_bot_message_id(tg.id), f"v:{report.id}:{q.key}:yes")
    await reply(world.double, tg)
    return tg, report, q


async def test_cancel_pauses_and_the_waiting_draft_is_mentioned(world):
    double = world.double
    async with running_bot(world):
        tg, report, q = await _answer_the_first_question(world, "cadre_a", 5001, "greenhouse")
        double.send_command(tg, "cancel")
        paused = await reply(double, tg)
        assert zh("Paused. Your answers are saved; send /report to continue.") in paused.text
        double.send_text(tg, "123")
        hint = await reply(double, tg)
        assert zh("Send /report to choose an asset to check.") in hint.text
        double.send_command(tg, "start")
        greeting = await reply(double, tg)
        assert zh("{count} unfinished check(s) are waiting for you.", count=1) in greeting.text
        double.send_command(tg, "report")
        listing = await reply(double, tg)
        labels = {b.callback_data: b.text for b in listing.buttons}
        assert labels[f"a:{world.assets['greenhouse']}"].startswith("📝")
        assert labels[f"a:{world.assets['workshop']}"].startswith("⬜")
    assert current_report(world, world.assets["greenhouse"]).answers == {q.key: "yes"}


async def test_a_draft_of_a_month_that_has_ended_is_refused_with_the_reason(world):
    double = world.double
    async with running_bot(world):
        tg, report, _ = await _answer_the_first_question(world, "cadre_a", 5002, "greenhouse")
        # The month ends with the draft unfinished (the draft is moved back a month instead of the clock).
        with Session(world.engine) as session:
            stored = session.get(Report, report.id)
            stored.period = "2000-01"
            session.add(stored)
            session.commit()
        pressed = double.press(tg, double._latest_bot_message_id(tg.id), f"v:{report.id}:intact:yes")
        refusal = await reply(double, tg)
        reason = zh("The {period} check was not submitted before the month ended, so its draft has expired. "
                    "Please do this month's check instead.", period="2000-01")
        assert reason in refusal.text
        assert double.callback_answer(pressed["callback_query"]["id"])["text"] == reason
        double.send_command(tg, "report")
        listing = await reply(double, tg)
        labels = {b.callback_data: b.text for b in listing.buttons}
        assert labels[f"a:{world.assets['greenhouse']}"].startswith("⬜")  # this month's check is still to do
    with Session(world.engine) as session:
        expired = session.get(Report, report.id)
        assert (expired.status, expired.answers) == ("expired", {"operating_normally": "yes"})


async def test_the_scheduler_does_not_repeat_the_submissions_alert_but_sends_what_nobody_was_told(world):
    """The submission alerts the township (an outbox notice); the next scheduler tick must not alert again.

    A serious problem nobody was told of (raised without a submission) is alerted by the tick: the
    control that shows the tick would have sent one.
    """
    import asyncio as aio
    import datetime as dt

    from bot.clock import utcnow
    from bot.services import outbox
    from bot.services.channels import build_channels
    from bot.storage.models import OrgUnit

    double = world.double
    with Session(world.engine) as session:
        county = session.exec(select(OrgUnit).where(OrgUnit.name == "桃源县")).one()
        county.policy_profile = "yanshan-2024"
        session.add(county)
        session.commit()
    async with running_bot(world):
        leader = await sign_in(world, "leader", 6001)
        tg = await sign_in(world, "cadre_a", 5001)
        await open_checklist(world, tg, world.assets["greenhouse"])
        await walk_to_review(world, tg, world.assets["greenhouse"], choices=_serious_choice("经营性"))
        await submit(world, tg, current_report(world, world.assets["greenhouse"]).id)
        alert = await reply(double, leader)
        assert "新桥村蔬菜大棚" in alert.text
    with Session(world.engine) as session:
        untold = Problem(asset_id=world.assets["workshop"], source="inspection", kind="asset_lost_or_damaged",
                         severity="serious", description="车间设备被盗")
        session.add(untold)
        session.commit()
    await aio.to_thread(outbox.tick, world.engine, build_channels(world.settings),
                        now=utcnow() + dt.timedelta(minutes=1))
    texts = [s.text for s in double.messages_to(leader.id)][1:]  # after the greeting
    # (the contract watch's first notice of the assets operated without a contract, bot.services.contract_watch,
    # sent when the hour allows, aside)
    texts = [t for t in texts if "经营合同" not in t]
    # The submission's alert, then the scheduler's alert of the problem nobody was told of: nothing else.
    assert len(texts) == 2 and "新桥村蔬菜大棚" in texts[0] and "车间设备被盗" in texts[1]
