"""Validation of each question type: good raw values are stored normalised, bad ones say what to fix."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.flows import AnswerError, Question, format_answer
from bot.flows.form import UNITS, Option
from bot.flows.values import (
    MSG_AT_LEAST,
    MSG_AT_MOST,
    MSG_CHOOSE,
    MSG_CHOOSE_AT_LEAST,
    MSG_CHOOSE_AT_MOST,
    MSG_DATE,
    MSG_LOCATION,
    MSG_NO_SUCH_DATE,
    MSG_NUMBER,
    MSG_PHOTO,
    MSG_RANGE,
    MSG_TEXT,
    MSG_TOO_LONG,
    MSG_WHOLE,
    MSG_YESNO,
    parse,
    parse_photo_ref,
)

YESNO = Question("ok", "yesno", "Ok?", options=(Option("yes", "Yes"), Option("no", "No")))
CHOICE = Question("kind", "choice", "Kind?", options=(Option("a", "A"), Option("b", "B")))
MULTI = Question("many", "multi", "Many?", options=(Option("a", "A"), Option("b", "B"), Option("c", "C")),
                 min_count=1, max_count=2)
MONEY = Question("income", "number", "Income?", unit=UNITS["wan_yuan"], min=0, max=10000)
COUNT = Question("homes", "number", "Homes?", integer=True, min=0)
CAPPED = Question("capped", "number", "Capped?", max=5)
DATE = Question("since", "date", "Since?")
TEXT = Question("note", "text", "Note?", max_length=10)
LOCATION = Question("where", "location", "Where?")
PHOTO = Question("pic", "photo", "Photo?", min_count=1, max_count=2)
SHA = "ab" * 32


def rejects(question: Question, raw, msgid: str) -> AnswerError:
    with pytest.raises(AnswerError) as caught:
        parse_photo_ref(question, raw) if question.type == "photo" else parse(question, raw)
    assert caught.value.msgid == msgid
    assert caught.value.key == question.key
    return caught.value


@pytest.mark.parametrize("raw, stored", [("yes", "yes"), ("no", "no"), (True, "yes"), (False, "no")])
def test_yesno_accepts_option_keys(raw, stored):
    assert parse(YESNO, raw) == stored


@pytest.mark.parametrize("raw", ["Yes", "是", "", None, 1])
def test_yesno_rejects_labels_and_other_values(raw):
    rejects(YESNO, raw, MSG_YESNO)


def test_choice_takes_keys_only():
    assert parse(CHOICE, "b") == "b"
    rejects(CHOICE, "B", MSG_CHOOSE)
    rejects(CHOICE, ["a"], MSG_CHOOSE)


def test_multi_orders_and_counts():
    assert parse(MULTI, ["b", "a", "b"]) == ["a", "b"]
    assert parse(MULTI, "c") == ["c"]
    rejects(MULTI, [], MSG_CHOOSE_AT_LEAST)
    rejects(MULTI, ["a", "b", "c"], MSG_CHOOSE_AT_MOST)
    rejects(MULTI, ["a", "zzz"], MSG_CHOOSE)


@pytest.mark.parametrize("raw, stored", [
    ("12", 12), (12, 12), ("1,234.5", 1234.5), ("１２", 12), (" 3.50 ", 3.5), ("１，２３４．５", 1234.5),
    (0, 0), ("10000", 10000), (2.25, 2.25),
])
def test_number_accepts_common_spellings(raw, stored):
    value = parse(MONEY, raw)
    assert value == stored and type(value) is type(stored)


@pytest.mark.parametrize("raw", ["twelve", "1,5", "1.2.3", "", "nan", "inf", None, True, [1]])
def test_number_rejects_non_numbers(raw):
    rejects(MONEY, raw, MSG_NUMBER)


def test_number_range_and_whole_messages_carry_the_limits():
    error = rejects(MONEY, "-1", MSG_RANGE)
    assert error.params == {"min": "0", "max": "10000"}
    assert "0" in error.message("en") and "10000" in error.message("en")
    rejects(MONEY, "10000.01", MSG_RANGE)
    rejects(COUNT, "2.5", MSG_WHOLE)
    rejects(COUNT, "-3", MSG_AT_LEAST)
    assert rejects(CAPPED, "6", MSG_AT_MOST).params == {"max": "5"}
    assert parse(COUNT, "3.0") == 3


@pytest.mark.parametrize("raw", ["2026-03-05", "2026/3/5", "2026年3月5日", "２０２６年３月５日", "2026.3.5",
                                 dt.date(2026, 3, 5), dt.datetime(2026, 3, 5, 10, 0)])
def test_date_accepts_common_spellings(raw):
    assert parse(DATE, raw) == "2026-03-05"


def test_date_rejects_other_text_and_impossible_dates():
    rejects(DATE, "March 5", MSG_DATE)
    rejects(DATE, "2026-03", MSG_DATE)
    assert rejects(DATE, "2026-02-30", MSG_NO_SUCH_DATE).params == {"value": "2026-02-30"}


def test_text_is_trimmed_and_limited():
    assert parse(TEXT, "  roof  ") == "roof"
    rejects(TEXT, "   ", MSG_TEXT)
    rejects(TEXT, 5, MSG_TEXT)
    assert rejects(TEXT, "x" * 11, MSG_TOO_LONG).params == {"max": 10, "length": 11}


def test_location_needs_valid_coordinates():
    assert parse(LOCATION, {"lat": "31.4", "lon": 117.2}) == {"lat": 31.4, "lon": 117.2}
    for bad in ({"lat": 91, "lon": 0}, {"lat": 1}, "31.4,117.2", {"lat": "x", "lon": 1}, {"lat": float("nan"), "lon": 1}):
        rejects(LOCATION, bad, MSG_LOCATION)


def test_photo_ref_needs_sha256_and_id():
    assert parse_photo_ref(PHOTO, {"sha256": SHA, "photo_id": 7, "extra": 1}) == {"sha256": SHA, "photo_id": 7}
    for bad in (b"jpeg", {"sha256": "abc", "photo_id": 7}, {"sha256": SHA}, {"sha256": SHA, "photo_id": True}):
        rejects(PHOTO, bad, MSG_PHOTO)


def test_custom_error_replaces_the_generic_message():
    question = Question("n", "number", "N?", min=1, max=3, error="Choose 1, 2 or 3 ({min}-{max}).")
    error = rejects(question, "9", "Choose 1, 2 or 3 ({min}-{max}).")
    assert error.message("en") == "Choose 1, 2 or 3 (1-3)."


def test_format_answer_in_both_languages():
    assert format_answer(MONEY, 1234.5, "en") == "1,234.5 × 10,000 yuan"
    assert format_answer(MONEY, 1234.5, "zh_CN") == "1,234.5 万元"
    assert format_answer(YESNO, "no", "zh_CN") == "否"
    assert format_answer(MULTI, ["a", "c"], "en") == "A, C"
    assert format_answer(DATE, "2026-03-05", "zh_CN") == "2026年3月5日"
    assert format_answer(DATE, "2026-03-05", "en") == "March 5, 2026"
    assert format_answer(PHOTO, [{"sha256": SHA, "photo_id": 1}], "en") == "1 photo(s)"
    assert format_answer(TEXT, None, "zh_CN") == "已跳过"
    assert format_answer(LOCATION, {"lat": 31.4, "lon": 117.2}, "en") == "31.40000, 117.20000"
