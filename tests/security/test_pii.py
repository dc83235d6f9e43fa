"""bot.services.pii: ID numbers (GB 11643), mainland mobiles and Luhn bank cards are found and masked."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services import pii

FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def make_id(region: str, born: dt.date, seq: str) -> str:
    first17 = region + born.strftime("%Y%m%d") + seq
    return first17 + pii.id_check_char(first17)


def luhn_complete(prefix: str) -> str:
    """Return ``prefix`` plus the digit that makes it pass the Luhn check."""
    return next(prefix + d for d in "0123456789" if pii.luhn_ok(prefix + d))


regions = st.from_regex(r"[1-8][0-9]{5}", fullmatch=True)
dates = st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31))
seqs = st.from_regex(r"[0-9]{3}", fullmatch=True)
ids = st.builds(make_id, regions, dates, seqs)
mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
cards = st.integers(15, 18).flatmap(
    lambda n: st.from_regex(rf"[1-9][0-9]{{{n - 1}}}", fullmatch=True)).map(luhn_complete)
filler = st.text(st.characters(blacklist_categories=("Nd",), blacklist_characters="-Xx *＊ｘＸ"), max_size=8)


def test_known_examples():
    assert pii.id_check_char("11010519491231002") == "X"  # the standard's own example
    assert pii.is_id_number("11010519491231002X") and pii.is_id_number("11010519491231002x")
    assert not pii.is_id_number("110105194912310021")  # wrong check character
    assert pii.is_id_number("410821900101123")  # 15 digits, born 1990-01-01
    assert not pii.is_id_number("410821901301123")  # month 13
    assert not pii.is_id_number("910821900101123")  # no region starts with 9
    assert pii.luhn_ok("4111111111111111") and not pii.luhn_ok("4111111111111112")
    assert pii.mask("身份证11010519491231002X，电话13812345678") == "身份证110***********002X，电话138****5678"
    card = luhn_complete("622202123456789012")  # 19 digits
    assert pii.mask(f"卡号 {card[:4]} {card[4:8]} {card[8:12]} {card[12:16]} {card[16:]} 收") == \
        f"卡号 {card[:4]} **** **** ***{card[15]} {card[16:]} 收"
    assert pii.mask("4111-1111-1111-1111") == "4111-****-****-1111"
    assert pii.mask("+86 138 1234 5678") == "+86 138 **** 5678"
    assert pii.mask("0086-13812345678") == "0086-138****5678"
    assert pii.mask("１３８１２３４５６７８") == "１３８****５６７８"
    assert pii.mask("13812345678Xiaoming") == "138****5678Xiaoming"


def test_not_personal_numbers_are_left_alone():
    for text in ("监督电话12317", "0391-5551234", "2026-11-20", "投资120.5万元，45户", "项目编号 2019-0042",
                 "12812345678",  # 12x is no mobile prefix
                 "138123456789",  # 12 digits: glued to a further digit
                 "110105194912310021",  # an 18-digit number with a wrong check character
                 "4111111111111112",  # Luhn fails
                 "41111111111111111111111",  # too long for anything
                 "", "没有数字"):
        assert pii.find(text) == [], text
        assert pii.mask(text) == text
    assert pii.mask(None) is None


@given(ids, filler, filler)
def test_every_valid_id_number_is_masked(number, before, after):
    text = before + number + after
    [found] = pii.find(text)
    assert found.kind == pii.ID_NUMBER and found.original == number
    masked = pii.mask(text)
    assert number not in masked
    assert masked == before + number[:3] + "*" * 11 + number[-4:] + after


@given(ids)
def test_a_changed_check_character_is_no_id_number(number):
    wrong = number[:17] + next(c for c in "0123456789X" if c != number[17])
    assert not pii.is_id_number(wrong)


@given(regions, st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31)), seqs)
def test_fifteen_digit_ids(region, born, seq):
    number = region + born.strftime("%y%m%d") + seq
    assert pii.mask(f"证号{number}。") == f"证号{number[:3]}{'*' * 8}{number[-4:]}。"


@given(mobiles, filler, filler, st.sampled_from(["", " ", "-"]), st.booleans())
def test_every_mobile_is_masked(number, before, after, sep, full_width):
    written = sep.join((number[:3], number[3:7], number[7:]))
    if full_width:
        written = written.translate(FULL)
    text = before + written + after
    [found] = pii.find(text)
    assert found.kind == pii.MOBILE
    masked = pii.mask(text)
    assert written not in masked and number not in masked.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    assert masked.count("*") == 4 and len(masked) == len(text)


@given(cards, filler, filler)
def test_every_luhn_card_is_masked(number, before, after):
    text = before + number + after
    found = pii.find(text)
    assert [f.original for f in found] == [number]
    masked = pii.mask(text)
    assert number not in masked
    if not pii.is_id_number(number):  # an 18-digit card can also be a valid ID number: masked as one
        assert masked == before + number[:4] + "*" * (len(number) - 8) + number[-4:] + after


@settings(max_examples=50)
@given(st.lists(st.one_of(ids, mobiles, cards), min_size=1, max_size=4), st.sampled_from(["，", "、", " ", "；"]))
def test_several_numbers_in_one_text(numbers, sep):
    text = "联系：" + sep.join(numbers) + "。"
    masked = pii.mask(text)
    for number in numbers:
        assert number not in masked
    assert len(pii.find(text)) == len(numbers)


@given(st.text(max_size=200))
def test_mask_is_idempotent_and_keeps_length(text):
    masked = pii.mask(text)
    assert len(masked) == len(text)
    assert pii.mask(masked) == masked
    assert pii.find(masked) == []
