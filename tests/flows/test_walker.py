"""The engine on a small form: order, show_if, back/goto with hidden answers dropped, lists, review."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.flows import REVIEW, AnswerError, Walker, evaluate_risks, parse_form
from bot.flows.walker import MSG_DUPLICATE_PHOTO, MSG_HIDDEN, MSG_NOT_YET, MSG_REQUIRED, MSG_UNKNOWN

FORM = parse_form("""
id: test-form
version: 2
title: Test
applies_to: [经营性]
questions:
  - {key: running, type: yesno, prompt: 'Running?'}
  - {key: why, type: choice, prompt: 'Why not?', show_if: {key: running, equals: 'no'},
     options: [{key: broken, label: Broken}, {key: sold, label: Sold}]}
  - {key: sold_on, type: date, prompt: 'Sold when?', show_if: {key: why, equals: sold}}
  - {key: income, type: number, prompt: 'Income?', min: 0, max: 100}
  - {key: big, type: text, prompt: 'Why so much?', required: false, show_if: {key: income, gt: 50}}
  - {key: troubles, type: multi, prompt: 'Troubles?', required: false,
     options: [{key: land, label: Land}, {key: water, label: Water}, {key: funds, label: Funds}]}
  - {key: water_note, type: text, prompt: 'Water?', show_if: {key: troubles, contains: water}}
  - {key: pics, type: photo, prompt: 'Photos?', min_count: 1, max_count: 2}
  - {key: where, type: location, prompt: 'Where?', required: false}
risks:
  - {kind: sold, severity: serious, when: {key: why, equals: sold}, label: Sold,
     message: "Sold on {day}", params: {day: sold_on}}
  - {kind: rich, severity: minor, when: {all: [{key: income, gte: 50}, {not: {key: big, answered: true}}]},
     label: Rich, message: Much income without a reason.}
  - {kind: any_trouble, severity: major, when: {any: [{key: troubles, contains: land}, {key: why, in: [broken]}]},
     label: Trouble, message: Trouble.}
""", Path("test-form.yaml"))

PHOTO_A = {"sha256": "a" * 64, "photo_id": 1}
PHOTO_B = {"sha256": "b" * 64, "photo_id": 2}


def keys(questions) -> list[str]:
    return [q.key for q in questions]


def walk_to_pics(w: Walker) -> None:
    w.answer("running", "yes")
    w.answer("income", "10")
    w.skip("troubles")


def test_starts_at_the_first_question_and_follows_show_if():
    w = Walker(FORM)
    assert w.current().key == "running" and w.position == "running"
    w.answer("running", "no")
    assert w.position == "why"
    w.answer("why", "sold")
    assert w.position == "sold_on"
    w.answer("sold_on", "2026/3/1")
    assert w.position == "income"
    assert keys(w.visible()) == ["running", "why", "sold_on", "income", "troubles", "pics", "where"]


def test_changing_an_earlier_answer_drops_the_answers_it_hides():
    w = Walker(FORM)
    w.answer("running", "no")
    w.answer("why", "sold")
    w.answer("sold_on", "2026-03-01")
    w.answer("income", 80)
    w.answer("big", "harvest")
    w.goto("why")
    assert w.current().key == "why"
    w.answer("why", "broken")
    assert "sold_on" not in w.answers and w.answers["big"] == "harvest"
    w.goto("running")
    w.answer("running", "yes")
    assert w.answers == {"running": "yes", "income": 80, "big": "harvest"}
    w.goto("income")
    w.answer("income", 20)
    assert "big" not in w.answers
    assert w.position == "troubles"  # the next unanswered visible question


def test_back_walks_visible_questions_and_keeps_answers():
    w = Walker(FORM)
    assert w.back() is None and w.position == "running"
    w.answer("running", "yes")
    w.answer("income", 10)
    assert w.back().key == "income"
    assert w.back().key == "running"  # 'why' and 'sold_on' are hidden
    assert w.answers == {"running": "yes", "income": 10}
    w.answer("running", "yes")
    assert w.position == "troubles"


def test_goto_only_to_visible_and_reached_questions():
    w = Walker(FORM)
    w.answer("running", "yes")
    with pytest.raises(AnswerError) as caught:
        w.goto("pics")
    assert caught.value.msgid == MSG_NOT_YET
    with pytest.raises(AnswerError) as caught:
        w.goto("why")
    assert caught.value.msgid == MSG_HIDDEN
    with pytest.raises(AnswerError) as caught:
        w.answer("nonsense", "x")
    assert caught.value.msgid == MSG_UNKNOWN
    assert w.goto("running").key == "running"


def test_required_cannot_be_skipped_optional_can():
    w = Walker(FORM)
    with pytest.raises(AnswerError) as caught:
        w.skip("running")
    assert caught.value.msgid == MSG_REQUIRED
    w.answer("running", "yes")
    w.answer("income", 60)
    w.skip("big")
    assert w.answers["big"] is None and w.position == "troubles"


def test_multi_toggle_done_and_dependent_question():
    w = Walker(FORM)
    w.answer("running", "yes")
    w.answer("income", 1)
    assert w.toggle("troubles", "water") == ["water"]
    assert w.toggle("troubles", "land") == ["land", "water"]
    assert w.position == "troubles"  # stays until done
    assert "water_note" in keys(w.visible())
    w.done("troubles")
    assert w.position == "water_note"
    w.answer("water_note", "dry well")
    w.goto("troubles")
    w.toggle("troubles", "water")
    assert "water_note" not in w.answers
    w.toggle("troubles", "land")
    w.done("troubles")  # optional and empty: skipped
    assert w.answers["troubles"] is None and w.position == "pics"
    with pytest.raises(AnswerError):
        w.toggle("troubles", "nope")


def test_photos_append_until_done_or_full():
    w = Walker(FORM)
    walk_to_pics(w)
    with pytest.raises(AnswerError) as caught:
        w.done("pics")
    assert caught.value.params == {"min": 1}
    w.answer("pics", PHOTO_A)
    assert w.position == "pics"
    with pytest.raises(AnswerError) as caught:
        w.answer("pics", PHOTO_A)
    assert caught.value.msgid == MSG_DUPLICATE_PHOTO
    w.answer("pics", PHOTO_B)
    assert w.answers["pics"] == [PHOTO_A, PHOTO_B] and w.position == "where"  # full: moved on
    w.goto("pics")
    with pytest.raises(AnswerError) as caught:
        w.answer("pics", {"sha256": "c" * 64, "photo_id": 3})
    assert caught.value.params == {"max": 2}
    w.clear("pics")
    assert "pics" not in w.answers and w.position == "pics"
    assert w.missing() == ["pics"]


def test_review_missing_complete_and_resume_from_stored_state():
    w = Walker(FORM)
    walk_to_pics(w)
    assert w.missing() == ["pics"] and not w.complete
    w.answer("pics", PHOTO_A)
    assert w.complete  # the optional location is not needed to submit
    w.done("pics")
    assert w.position == "where"
    w.answer("where", {"lat": 31.4, "lon": 117.2})
    assert w.current() is None and w.position == REVIEW
    review = w.review()
    assert [(q.key, v) for q, v in review] == [
        ("running", "yes"), ("income", 10), ("troubles", None), ("pics", [PHOTO_A]),
        ("where", {"lat": 31.4, "lon": 117.2})]
    again = Walker(FORM, w.answers, w.position)
    assert again.current() is None and again.answers == w.answers
    assert again.answers is not w.answers
    assert again.back().key == "where"


def test_stale_position_falls_back_to_the_first_open_question():
    w = Walker(FORM, {"running": "yes"}, "why")  # 'why' is hidden for this answer
    assert w.position == "income"
    assert Walker(FORM, {}, "removed_in_a_later_version").position == "running"


def test_risks_follow_the_rules():
    answers = {"running": "no", "why": "sold", "sold_on": "2026-03-01", "income": 50,
               "troubles": ["land"], "pics": [PHOTO_A]}
    hits = evaluate_risks(FORM, answers)
    assert [(h.kind, h.severity) for h in hits] == [("sold", "serious"), ("rich", "minor"), ("any_trouble", "major")]
    assert hits[0].params == {"day": "2026-03-01"}
    assert evaluate_risks(FORM, {**answers, "big": "harvest", "troubles": None, "why": "broken"})[0].kind == \
        "any_trouble"
    assert evaluate_risks(FORM, {"running": "yes", "income": 49.9}) == []
