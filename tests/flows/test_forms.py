"""Form files: validation errors name the file and key; the shipped forms load and can always be completed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.flows import (
    REVIEW,
    FormError,
    Walker,
    all_forms,
    evaluate_risks,
    form_for_asset_type,
    load_form,
    parse_form,
    risk_labels,
)
from bot.flows.form import _registry
from bot.i18n import extract_messages, missing_translations

HEAD = "id: t\nversion: 1\ntitle: T\napplies_to: [经营性]\n"


def error_of(body: str, name: str = "broken.yaml") -> str:
    with pytest.raises(FormError) as caught:
        parse_form(HEAD + body, Path(name))
    return str(caught.value)


@pytest.mark.parametrize("body, expected", [
    ("questions:\n  - {key: a, type: slider, prompt: A}\n", "question 'a': unknown type 'slider'"),
    ("questions:\n  - {key: a, type: yesno, prompt: A}\n  - {key: a, type: text, prompt: B}\n",
     "question 'a': duplicate key"),
    ("questions:\n  - {key: a, type: yesno, prompt: A, show_if: {key: b, equals: 'yes'}}\n"
     "  - {key: b, type: yesno, prompt: B}\n", "question 'a' show_if: refers to 'b', which is not an earlier"),
    ("questions:\n  - {key: a, type: yesno, prompt: A}\n"
     "  - {key: b, type: text, prompt: B, show_if: {key: zz, equals: 'yes'}}\n", "refers to 'zz'"),
    ("questions:\n  - {key: a, type: yesno, prompt: A}\n"
     "  - {key: b, type: text, prompt: B, show_if: {key: a, equals: no}}\n", "read as a boolean"),
    ("questions:\n  - {key: a, type: yesno, prompt: A}\n"
     "  - {key: b, type: text, prompt: B, show_if: {key: a, equals: maybe}}\n", "'a' has no option 'maybe'"),
    ("questions:\n  - {key: a, type: text, prompt: A}\n"
     "  - {key: b, type: text, prompt: B, show_if: {key: a, contains: x}}\n", "'contains' needs a multi"),
    ("questions:\n  - {key: A-1, type: text, prompt: A}\n", "must be lower-case ascii"),
    ("questions:\n  - {key: a, type: choice, prompt: A, options: [{key: x, label: X}]}\n", "at least two options"),
    ("questions:\n  - {key: a, type: number, prompt: A, min: 5, max: 1}\n", "'min' is greater than 'max'"),
    ("questions:\n  - {key: a, type: number, prompt: A, unit: furlongs}\n", "unit 'furlongs'"),
    ("questions:\n  - {key: a, type: photo, prompt: A, min_count: 3, max_count: 2}\n", "min_count must not exceed"),
    ("questions:\n  - {key: a, type: text}\n", "question 'a': 'prompt' must be a non-empty string"),
    ("questions:\n  - {key: a, type: text, prompt: A, colour: red}\n", "unknown fields ['colour']"),
    ("questions:\n  - {key: a, type: yesno, prompt: A}\nrisks:\n"
     "  - {kind: k, severity: fatal, when: {key: a, equals: 'yes'}, label: K, message: M}\n",
     "risk 'k': severity must be one of"),
    ("questions:\n  - {key: a, type: yesno, prompt: A}\nrisks:\n"
     "  - {kind: k, severity: major, when: {key: a, equals: 'yes'}, label: K, message: 'M {x}'}\n",
     "placeholders ['x'] have no params"),
    ("questions:\n  - {key: a, type: yesno, prompt: A}\nrisks:\n"
     "  - {kind: k, severity: major, when: {key: q, equals: 'yes'}, label: K, message: M}\n",
     "risk 'k' when: refers to 'q'"),
    ("questions: []\n", "questions: must be a non-empty list"),
    ("questions: [\n", "not valid YAML"),
])
def test_validation_errors_name_the_file_and_the_key(body, expected):
    message = error_of(body)
    assert message.startswith("broken.yaml: ")
    assert expected in message


def test_duplicate_form_version_in_a_folder_is_refused(tmp_path):
    text = HEAD + "questions:\n  - {key: a, type: yesno, prompt: A}\n"
    (tmp_path / "one.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "two.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(FormError, match="two.yaml: id: form t version 1 is defined twice"):
        _registry(tmp_path)


def test_versions_latest_by_default_and_old_on_request(tmp_path):
    for version, prompt in ((1, "Old"), (2, "New")):
        (tmp_path / f"t.v{version}.yaml").write_text(
            f"id: t\nversion: {version}\ntitle: T\napplies_to: [公益性]\n"
            f"questions:\n  - {{key: a, type: yesno, prompt: {prompt}}}\n", encoding="utf-8")
    assert load_form("t", folder=tmp_path).version == 2
    assert load_form("t", 1, folder=tmp_path).questions[0].prompt == "Old"
    assert form_for_asset_type("公益性", folder=tmp_path).version == 2
    with pytest.raises(KeyError):
        load_form("t", 3, folder=tmp_path)


def test_shipped_forms_and_asset_types():
    # The monthly checklists are chosen by asset type; the calendar's other forms (docs/cycle.md) by name.
    assert [f.id for f in all_forms() if f.applies_to] == ["monthly-operating", "monthly-public-welfare"]
    assert form_for_asset_type("经营性").id == "monthly-operating"
    assert form_for_asset_type("到户类").id == "monthly-operating"
    assert form_for_asset_type("公益性").id == "monthly-public-welfare"
    for form in (f for f in all_forms() if f.applies_to):
        # A photo of each, or the answer that the board or sign is missing (issue 16, tests/fidelity).
        assert [q.key for q in form.questions][-5:] == ["board_photo", "board_missing", "sign_photo",
                                                        "sign_missing", "location"]
        assert not form.question("board_photo").required and form.question("board_missing").required
        assert not form.question("location").required
    operating = load_form("monthly-operating")
    assert [o.key for o in operating.question("difficulties").options] == [
        "facilities", "land", "labour", "power", "water", "funds", "sales", "technology", "other"]
    assert [o.key for o in operating.question("unauthorised_acts").options] == [
        "transfer", "sublease", "mortgage", "financing", "operator_change"]


PHOTO = {"sha256": "c" * 64, "photo_id": 9}
OPERATING_OK = {"operating_normally": "yes", "intact": "yes", "at_risk": "no", "income_distributed": "not_due",
                "farmers_linked": "yes", "households_benefited": "40", "poor_households": "12", "effective": "yes",
                "unauthorised": "no", "has_difficulties": "no", "committee_studied": "yes"}


def finish(w: Walker, script: dict) -> Walker:
    """Answer what the walker asks from ``script``; photos and location at the end."""
    while (q := w.current()) is not None:
        if q.type == "photo":
            w.answer(q.key, PHOTO)
            w.done(q.key)
        elif q.type == "location":
            w.skip(q.key)
        elif q.type == "multi":
            for option in script[q.key]:
                w.toggle(q.key, option)
            w.done(q.key)
        else:
            w.answer(q.key, script[q.key])
    return w


def test_operating_form_every_rule_fires_on_a_bad_month():
    script = {**OPERATING_OK, "operating_normally": "no", "abnormality_kind": "insolvent",
              "abnormality_note": "破产", "intact": "no", "damage_note": "设备丢失", "disaster_damage": "no",
              "at_risk": "yes", "risk_kinds": ["idle", "loss"], "idle_since": "2026年3月1日",
              "loss_risk_note": "被占用", "income_distributed": "no", "income_not_distributed_reason": "亏损",
              "farmers_linked": "no", "effective": "no", "effect_note": "无", "unauthorised": "yes",
              "unauthorised_acts": ["transfer", "sublease", "mortgage", "financing", "operator_change"],
              "unauthorised_since": "2026-04-01", "has_difficulties": "yes", "difficulties": ["land", "sales"],
              "difficulty_description": "缺地"}
    w = finish(Walker(load_form("monthly-operating")), script)
    assert w.complete and w.position == REVIEW
    hits = {h.kind: h for h in evaluate_risks(w.form, w.answers)}
    assert {k for k, h in hits.items() if h.severity == "serious"} == {
        "unauthorised_transfer", "unauthorised_sublease", "unauthorised_mortgage", "unauthorised_financing",
        "unauthorised_operator_change", "asset_lost_or_damaged", "operator_insolvent"}
    assert {k for k, h in hits.items() if h.severity == "major"} == {"idle", "loss_risk", "income_not_distributed"}
    assert {k for k, h in hits.items() if h.severity == "minor"} == {"no_farmer_linkage", "difficulties"}
    assert hits["idle"].params == {"since": "2026-03-01"}
    assert hits["difficulties"].note == "缺地"
    assert hits["unauthorised_sublease"].params == {"since": "2026-04-01"}


def test_operating_form_good_month_has_no_risks_and_abnormal_is_major():
    w = finish(Walker(load_form("monthly-operating")), OPERATING_OK)
    assert w.answers["households_benefited"] == 40 and evaluate_risks(w.form, w.answers) == []
    w.goto("operating_normally")
    w.answer("operating_normally", "no")
    w.answer("abnormality_kind", "losses")
    w.answer("abnormality_note", "连续亏损")
    assert w.position == REVIEW
    # A loss is its own finding (issue 16: two in a row reach the county, tests/fidelity).
    assert [(h.kind, h.severity) for h in evaluate_risks(w.form, w.answers)] == [("operating_loss", "major")]


def test_public_welfare_rules():
    form = load_form("monthly-public-welfare")
    ok = {"in_use": "yes", "intact": "yes", "upkeep_done": "yes", "custodian_in_place": "yes", "upkeep_funded": "yes",
          "complaints": "no"}
    assert evaluate_risks(form, finish(Walker(form), ok).answers) == []
    bad = {"in_use": "no", "not_in_use_reason": "水毁", "intact": "no", "damage_kind": "destroyed",
           "damage_note": "桥面坍塌", "damage_reported": "no", "repair_needed": "yes", "repair_cost": "3.5",
           "upkeep_done": "no", "upkeep_note": "无人", "custodian_in_place": "no", "upkeep_funded": "no",
           "complaints": "yes", "complaint_note": "无法通行"}
    w = finish(Walker(form), bad)
    assert w.answers["repair_cost"] == 3.5
    assert [(h.kind, h.severity) for h in evaluate_risks(form, w.answers)] == [
        ("asset_lost_or_damaged", "serious"), ("idle", "major"), ("no_custodian", "major"),
        ("damage_not_reported", "major"), ("upkeep_not_done", "minor"), ("no_upkeep_funds", "minor"),
        ("complaints", "minor")]


def test_risk_labels_name_every_kind_once():
    labels = risk_labels(all_forms())
    assert labels["asset_lost_or_damaged"] == "Asset lost or damaged"  # in both forms, one label
    assert labels["no_custodian"] == "Nobody responsible for upkeep"
    assert set(labels) == {r.kind for f in all_forms() for r in f.risks}


def valid_raw(q, draw):
    """Draw a valid raw answer for a question (as a transport would send it)."""
    if q.type in ("yesno", "choice"):
        return draw(st.sampled_from([o.key for o in q.options]))
    if q.type == "number":
        low, high = int(q.min or 0), int(min(q.max or 1000, 1000))
        return str(draw(st.integers(low, high)))
    if q.type == "date":
        return draw(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)).map(lambda d: f"{d.year}/{d.month}/{d.day}"))
    if q.type == "text":
        return draw(st.text("村路桥 abc1", min_size=1, max_size=20).filter(str.strip))
    if q.type == "location":
        return {"lat": draw(st.floats(-90, 90)), "lon": draw(st.floats(-180, 180))}
    raise AssertionError(q.type)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form_id=st.sampled_from(["monthly-operating", "monthly-public-welfare"]), data=st.data())
def test_random_valid_paths_always_reach_review(form_id, data):
    """Random valid answers, skips, back and goto steps: the walk always ends at a complete review."""
    form = load_form(form_id)
    w = Walker(form)
    sent = 0
    for _ in range(300):
        q = w.current()
        if q is None:
            break
        move = data.draw(st.sampled_from(["answer", "answer", "answer", "back", "goto", "skip"]))
        if move == "back":
            w.back()
            continue
        if move == "goto":
            reached = [v.key for v in w.visible() if w.is_answered(v)]
            if reached:
                w.goto(data.draw(st.sampled_from(reached)))
            continue
        if move == "skip" and not q.required:
            w.skip(q.key)
        elif q.type == "photo" and len(w.answers.get(q.key) or []) >= q.max_count:
            w.done(q.key)
        elif q.type == "photo":
            sent += 1
            w.answer(q.key, {"sha256": f"{sent:064x}", "photo_id": sent})
            if q.key in w.answers and w.current() == q and w.is_answered(q):
                w.done(q.key)
        elif q.type == "multi":
            wanted = set(data.draw(st.lists(st.sampled_from([o.key for o in q.options]), min_size=1,
                                            max_size=q.max_count, unique=True)))
            for option in wanted.symmetric_difference(w.answers.get(q.key) or []):
                w.toggle(q.key, option)
            w.done(q.key)
        else:
            w.answer(q.key, valid_raw(q, data.draw))
        # Invariant: nothing hidden is kept.
        assert set(w.answers) <= {v.key for v in w.visible()}
    assert w.current() is None and w.position == REVIEW
    assert w.complete and w.missing() == []
    restored = Walker(form, w.answers, w.position)
    assert restored.position == REVIEW
    evaluate_risks(form, w.answers)


def test_every_form_string_is_extracted_and_translated():
    found = extract_messages()
    for form in all_forms():
        strings = [form.title] + [s for q in form.questions for s in (q.prompt, q.help, q.unit, q.error) if s]
        strings += [o.label for q in form.questions for o in q.options]
        strings += [s for r in form.risks for s in (r.label, r.message)]
        assert set(strings) <= set(found), set(strings) - set(found)
    ours = set(m for m, places in found.items() if any("flows" in p or "reports.py" in p for p in places))
    missing = missing_translations()
    assert {locale: sorted(ours & set(msgs)) for locale, msgs in missing.items()} == {"zh_CN": [], "en": []}
