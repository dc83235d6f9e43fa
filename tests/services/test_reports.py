"""The reports service on SQLite and PostgreSQL: drafts survive restarts, access, submission, problems, photos."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session, select

from bot.clock import UTC
from bot.flows import REVIEW, AnswerError
from bot.services import audit, reports
from bot.services.access import AccessDenied
from bot.services.evidence import MB, EvidenceError, EvidenceStore
from bot.storage.models import AuditEntry, PhotoUse, Problem, ProblemEvent, Report, User
from tests.factories import make_asset, make_tree, make_user
from tests.services.images import make_jpeg, make_pdf

NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
GOOD = {"operating_normally": "yes", "intact": "yes", "at_risk": "no", "income_distributed": "yes",
        "income_amount": "1.5", "farmers_linked": "yes", "households_benefited": "40", "poor_households": "12",
        "effective": "yes", "unauthorised": "no", "has_difficulties": "no", "committee_studied": "yes"}
BAD = {**GOOD, "at_risk": "yes", "risk_kinds": ["idle"], "idle_since": "2026-01-15", "unauthorised": "yes",
       "unauthorised_acts": ["mortgage"], "unauthorised_since": "2026-02-01", "has_difficulties": "yes",
       "difficulties": ["water"], "difficulty_description": "缺水"}


@pytest.fixture
def world(engine):
    with Session(engine) as session:
        tree = make_tree(session)
        cadre = make_user(session, "village_cadre", tree.village_a1, "张村干")
        other = make_user(session, "village_cadre", tree.village_b1, "李村干")
        workshop = make_asset(session, tree.village_a1, name="B 扶贫车间", latitude=31.4, longitude=117.2)
        road = make_asset(session, tree.village_a1, name="A 村道", asset_type="公益性")
        foreign = make_asset(session, tree.village_b1, name="梨树村大棚")
        household = make_asset(session, tree.village_a1, name="C 到户养牛", asset_type="到户类")
        session.commit()
        return {"cadre": cadre.id, "other": other.id, "workshop": workshop.id, "road": road.id,
                "foreign": foreign.id, "household": household.id}


@pytest.fixture
def store(tmp_path):
    return EvidenceStore(tmp_path / "evidence", 20 * MB)


def load(session, world, name):
    return session.get(User, world[name])


def fill(engine, world, report_id, script, store, *, seed=0, gps=None, who="cadre"):
    """Answer everything the walker asks, each step in a fresh session (as separate updates would be)."""
    while True:
        with Session(engine) as session:
            user = load(session, world, who)
            report = session.get(Report, report_id)
            q = reports.walker_for(report).current()
            if q is None:
                return
            if q.type == "photo":
                seed += 1
                reports.add_photo(session, user, report_id, q.key, make_jpeg(64, 48, seed=seed, exif_gps=gps),
                                  store, now=NOW)
                reports.done(session, user, report_id, q.key, now=NOW)
            elif q.type == "location":
                reports.set_location(session, user, report_id, q.key, 31.4, 117.2, now=NOW)
            elif q.type == "multi":
                for option in script[q.key]:
                    reports.toggle(session, user, report_id, q.key, option, now=NOW)
                reports.done(session, user, report_id, q.key, now=NOW)
            else:
                reports.answer(session, user, report_id, q.key, script[q.key], now=NOW)


def start(engine, world, asset="workshop", who="cadre", now=NOW) -> int:
    with Session(engine) as session:
        return reports.start_or_resume(session, load(session, world, who), world[asset], channel="telegram",
                                       now=now).id


def test_draft_saved_after_every_answer_and_resumed_after_restart(engine, world):
    report_id = start(engine, world)
    with Session(engine) as session:
        report, walker = reports.answer(session, load(session, world, "cadre"), report_id,
                                        "operating_normally", "no", now=NOW)
        assert walker.position == "abnormality_kind"
    with Session(engine) as session:  # a new process: nothing but the database
        report = session.get(Report, report_id)
        assert report.answers == {"operating_normally": "no"} and report.position == "abnormality_kind"
        assert report.form_id == "monthly-operating" and report.form_version == 2 and report.period == "2026-03"
        assert report.channel == "telegram" and report.created_by == world["cadre"]
        reports.answer(session, load(session, world, "cadre"), report_id, "abnormality_kind", "stopped", now=NOW)
    with Session(engine) as session:
        again = reports.start_or_resume(session, load(session, world, "cadre"), world["workshop"], channel="web",
                                        now=NOW + dt.timedelta(days=3))
        assert again.id == report_id
        assert again.answers == {"operating_normally": "no", "abnormality_kind": "stopped"}
        assert reports.walker_for(again).current().key == "abnormality_note"
        assert session.exec(select(Report)).all() == [again]


def test_bad_answer_changes_nothing_saved(engine, world):
    report_id = start(engine, world)
    with Session(engine) as session:
        cadre = load(session, world, "cadre")
        for key, value in [("operating_normally", "yes"), ("intact", "yes"), ("at_risk", "no"),
                           ("income_distributed", "yes")]:
            reports.answer(session, cadre, report_id, key, value, now=NOW)
        with pytest.raises(AnswerError) as caught:
            reports.answer(session, cadre, report_id, "income_amount", "-5", now=NOW)
        assert caught.value.params == {"min": "0", "max": "100000"}
        with pytest.raises(AnswerError):
            reports.skip(session, cadre, report_id, "income_amount", now=NOW)
    with Session(engine) as session:
        report = session.get(Report, report_id)
        assert "income_amount" not in report.answers and report.position == "income_amount"


def test_no_duplicate_draft_even_when_two_devices_race(engine, world, monkeypatch):
    # Both devices look up the draft (none yet) before either inserts: one insert wins, the other
    # hits the unique constraint and resumes the winner's draft.
    real, barrier, seen = reports._lookup, threading.Barrier(2, timeout=20), threading.local()

    def both_look_first(*args):
        found = real(*args)
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait()
        return found

    monkeypatch.setattr(reports, "_lookup", both_look_first)
    with ThreadPoolExecutor(2) as pool:
        ids = list(pool.map(lambda _: start(engine, world), range(2)))
    assert ids[0] == ids[1]
    monkeypatch.undo()
    assert start(engine, world) == ids[0]
    with Session(engine) as session:
        assert len(session.exec(select(Report)).all()) == 1
        assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "report.start")).all()) == 1


def test_two_devices_answering_at_once_lose_nothing(engine, world, monkeypatch):
    report_id = start(engine, world)
    real, loaded, go, calls = reports.walker_for, threading.Event(), threading.Event(), []

    def slow_first_reader(report):
        calls.append(report.id)
        if len(calls) == 1:  # the first device has read the draft and pauses before writing
            loaded.set()
            go.wait(20)
        return real(report)

    monkeypatch.setattr(reports, "walker_for", slow_first_reader)

    def answer(key):
        with Session(engine) as session:
            reports.answer(session, load(session, world, "cadre"), report_id, key, "yes", now=NOW)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(answer, "operating_normally")
        assert loaded.wait(20)
        second = pool.submit(answer, "intact")
        # Without the row lock the second device would finish now and be overwritten below.
        finished_early = threading.Event()
        second.add_done_callback(lambda _: finished_early.set())
        finished_early.wait(1)
        go.set()
        first.result(), second.result()
    with Session(engine) as session:
        assert session.get(Report, report_id).answers == {"operating_normally": "yes", "intact": "yes"}


def test_foreign_and_unknown_assets_and_reports_are_refused_alike(engine, world):
    with Session(engine) as session:
        cadre = load(session, world, "cadre")
        errors = []
        for asset_id in (world["foreign"], 999_999, "1"):
            with pytest.raises(AccessDenied) as caught:
                reports.start_or_resume(session, cadre, asset_id, channel="telegram", now=NOW)
            errors.append(caught.value.msgid)
        assert len(set(errors)) == 1
    foreign_report = start(engine, world, asset="foreign", who="other")
    with Session(engine) as session:
        cadre = load(session, world, "cadre")
        for report_id in (foreign_report, 999_999):
            with pytest.raises(AccessDenied) as caught:
                reports.answer(session, cadre, report_id, "operating_normally", "yes", now=NOW)
            assert caught.value.msgid == errors[0]
        with pytest.raises(AccessDenied):
            reports.submit(session, cadre, foreign_report, now=NOW)
    with Session(engine) as session:
        assert session.get(Report, foreign_report).answers == {}


def test_month_overview_states_sorted_by_name(engine, world, store):
    road_report = start(engine, world, asset="road")
    workshop_report = start(engine, world)
    fill(engine, world, workshop_report, GOOD, store)
    with Session(engine) as session:
        cadre = load(session, world, "cadre")
        reports.submit(session, cadre, workshop_report, now=NOW)
        overview = reports.month_overview(session, cadre, now=NOW)
        assert [(m.asset.name, m.state) for m in overview] == [("A 村道", "draft"), ("B 扶贫车间", "done")]
        assert overview[0].report.id == road_report
        assert [m.state for m in reports.month_overview(session, cadre, "2026-04")] == ["todo", "todo"]
        # Household assets are not in the village's monthly list, but can still be checked.
        household = reports.start_or_resume(session, cadre, world["household"], channel="web", now=NOW)
        assert household.form_id == "monthly-operating"
        assert "C 到户养牛" not in [m.asset.name for m in reports.month_overview(session, cadre, now=NOW)]
        with pytest.raises(reports.ReportError) as caught:
            reports.start_or_resume(session, cadre, world["workshop"], channel="web", now=NOW)
        assert caught.value.message("en") == "This month's check of B 扶贫车间 has already been submitted."


def test_incomplete_submit_is_refused(engine, world):
    report_id = start(engine, world)
    with Session(engine) as session:
        cadre = load(session, world, "cadre")
        reports.answer(session, cadre, report_id, "operating_normally", "yes", now=NOW)
        with pytest.raises(reports.ReportError) as caught:
            reports.submit(session, cadre, report_id, now=NOW)
        assert caught.value.params["keys"][:2] == ["intact", "at_risk"]
        assert caught.value.params["questions"].startswith("2, 3, ")
    with Session(engine) as session:
        assert session.get(Report, report_id).status == "draft"
        assert session.exec(select(Problem)).all() == []


def test_submit_creates_problems_events_and_audit_once(engine, world, store):
    report_id = start(engine, world)
    fill(engine, world, report_id, BAD, store)
    with Session(engine) as session:
        assert session.get(Report, report_id).position == REVIEW
        result = reports.submit(session, load(session, world, "cadre"), report_id, now=NOW)
        assert not result.already_submitted
        kinds = {(p.kind, p.severity, p.owner_level) for p in result.problems}
        assert kinds == {("unauthorised_mortgage", "serious", "township"), ("idle", "major", "township"),
                         ("difficulties", "minor", "village")}
        assert [p.kind for p in result.serious] == ["unauthorised_mortgage"]
        mortgage = result.serious[0]
        assert mortgage.source == "report" and mortgage.report_id == report_id and "2026-02-01" in mortgage.description
        difficulty = next(p for p in result.problems if p.kind == "difficulties")
        assert difficulty.description.endswith("缺水")
        report = session.get(Report, report_id)
        assert report.status == "submitted" and report.submitted_by == world["cadre"]
        assert {f["kind"] for f in report.flags if f["code"] == "risk"} == {"unauthorised_mortgage", "idle",
                                                                             "difficulties"}
    with Session(engine) as session:
        again = reports.submit(session, load(session, world, "cadre"), report_id, now=NOW)
        assert again.already_submitted and again.problems == again.serious == again.recurring == []
        assert again.report.id == report_id
        assert len(session.exec(select(Problem)).all()) == 3
        events = session.exec(select(ProblemEvent)).all()
        assert sorted(e.action for e in events) == ["created"] * 3
        actions = [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions.count("report.submit") == 1 and actions.count("problem.create") == 3
        assert actions.count("report.start") == 1
        assert audit.verify(session).ok
        with pytest.raises(reports.ReportError) as caught:
            reports.answer(session, load(session, world, "cadre"), report_id, "intact", "no", now=NOW)
        assert caught.value.msgid == reports.MSG_SUBMITTED


def test_two_devices_submitting_at_once_create_problems_once(engine, world, store):
    report_id = start(engine, world)
    fill(engine, world, report_id, BAD, store)
    together = threading.Barrier(2, timeout=20)

    def submit(_):
        with Session(engine) as session:
            cadre = load(session, world, "cadre")
            together.wait()
            result = reports.submit(session, cadre, report_id, now=NOW)
            return result.already_submitted, len(result.problems), len(result.serious)

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(submit, range(2)))
    assert outcomes == [(False, 3, 1), (True, 0, 0)]
    with Session(engine) as session:
        assert len(session.exec(select(Problem)).all()) == 3
        assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "report.submit")).all()) == 1


def test_open_problem_seen_again_next_month_is_not_duplicated(engine, world, store):
    march = start(engine, world)
    fill(engine, world, march, BAD, store)
    with Session(engine) as session:
        reports.submit(session, load(session, world, "cadre"), march, now=NOW)
    april_now = NOW + dt.timedelta(days=31)
    april = start(engine, world, now=april_now)
    fill(engine, world, april, {**BAD, "unauthorised": "no", "has_difficulties": "no"}, store, seed=100)
    with Session(engine) as session:
        result = reports.submit(session, load(session, world, "cadre"), april, now=april_now)
        assert result.problems == [] and [p.kind for p in result.recurring] == ["idle"]
        assert session.get(Report, april).period == "2026-04"
        actions = sorted(e.action for e in session.exec(select(ProblemEvent)))
        assert actions == ["created"] * 3 + ["reported_again"]


def test_photo_flags_reused_and_far_are_recorded(engine, world, store):
    first = start(engine, world)
    fill(engine, world, first, GOOD, store, seed=10)
    second = start(engine, world, asset="road")
    with Session(engine) as session:
        cadre = load(session, world, "cadre")
        for key, value in [("in_use", "yes"), ("intact", "yes"), ("upkeep_done", "yes"),
                           ("custodian_in_place", "yes"), ("upkeep_funded", "yes"), ("complaints", "no")]:
            reports.answer(session, cadre, second, key, value, now=NOW)
        # The same picture the workshop's report used: flagged as reused.
        _, walker, flags = reports.add_photo(session, cadre, second, "board_photo",
                                             make_jpeg(64, 48, seed=11), store, now=NOW)
        assert [f["code"] for f in flags] == ["reused"] and flags[0]["params"]["asset_id"] == world["workshop"]
        assert walker.position == "board_photo"
        reports.done(session, cadre, second, "board_photo", now=NOW)
        # Not a photo, and a question that takes no photo: refused, nothing saved.
        with pytest.raises(EvidenceError):
            reports.add_photo(session, cadre, second, "sign_photo", make_pdf(), store, now=NOW)
        with pytest.raises(AnswerError):
            reports.add_photo(session, cadre, second, "in_use", make_jpeg(64, 48, seed=12), store, now=NOW)
        reports.add_photo(session, cadre, second, "sign_photo", make_jpeg(64, 48, seed=50), store, now=NOW)
        assert session.get(Report, second).answers["sign_photo"][0]["photo_id"]
        reports.done(session, cadre, second, "sign_photo", now=NOW)
        reports.skip(session, cadre, second, "location", now=NOW)
        result = reports.submit(session, cadre, second, now=NOW)
        photo_flags = [f for f in result.report.flags if f["code"] != "risk"]
        assert [(f["code"], f["question_key"]) for f in photo_flags] == [("reused", "board_photo")]
    far = start(engine, world, now=NOW + dt.timedelta(days=31))
    fill(engine, world, far, GOOD, store, seed=200, gps=(40.0, 116.4))
    with Session(engine) as session:
        result = reports.submit(session, load(session, world, "cadre"), far, now=NOW + dt.timedelta(days=31))
        codes = [(f["code"], f["question_key"]) for f in result.report.flags]
        assert codes == [("far", "board_photo"), ("far", "sign_photo")]
        assert len(session.exec(select(PhotoUse).where(PhotoUse.report_id == far)).all()) == 2


def test_discard_keeps_history_and_allows_a_new_draft(engine, world):
    report_id = start(engine, world)
    with Session(engine) as session:
        cadre = load(session, world, "cadre")
        reports.answer(session, cadre, report_id, "operating_normally", "yes", now=NOW)
        reports.discard(session, cadre, report_id, now=NOW)
    new_id = start(engine, world)
    with Session(engine) as session:
        old, new = session.get(Report, report_id), session.get(Report, new_id)
        assert (old.status, old.current) == ("discarded", False)
        assert new_id != report_id and new.version == 2 and new.answers == {}
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "report.discard")).one().entity_id == \
            str(report_id)
        with pytest.raises(reports.ReportError):
            reports.answer(session, load(session, world, "cadre"), report_id, "intact", "yes", now=NOW)
