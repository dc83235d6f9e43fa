"""Profiles load from YAML; a wrong field fails with the file and the field's path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bot.policy import ProfileError, available, load

SHIPPED = ("jiaozuo-2020", "qinbei-2023", "yanshan-2024")


def _write(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((Path("bot/policy/profiles") / "yanshan-2024.yaml").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "county.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _error(tmp_path: Path, change) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        load(_write(tmp_path, change))
    return caught.value


def test_it_ships_the_three_calendars():
    assert set(SHIPPED) <= set(available())
    for name in SHIPPED:
        assert load(name).id == name


def test_it_reads_defaults_from_the_shipped_profile():
    profile = load("yanshan-2024")
    assert profile.reminders.offsets_days == (5, 1)
    assert profile.reminders.at == dt.time(9, 0)
    assert (profile.quiet_hours.start, profile.quiet_hours.end) == (dt.time(21), dt.time(8))
    assert [c.role for c in profile.escalation.chain] == ["township_leader", "county_officer"]
    assert profile.working_days.weekends_quiet is True


def test_it_fills_defaults_for_omitted_sections(tmp_path):
    def strip(data):
        for key in ("reminders", "escalation", "serious_problems", "quiet_hours", "working_days"):
            data.pop(key)

    profile = load(_write(tmp_path, strip))
    assert profile.reminders.offsets_days == (5, 1)
    assert profile.quiet_hours.contains(dt.time(22, 0)) and not profile.quiet_hours.contains(dt.time(8, 0))
    assert profile.serious.ack_timeout == dt.timedelta(hours=24)


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda d: d["items"][0]["due"].update(day=31), "items[0].due.day", "does not exist in every month"),
    (lambda d: d["items"][1]["due"].update(month=4), "items[1].due.month", "between 1 and 3"),
    (lambda d: d["items"][0].update(role="mayor"), "items[0].role", "Must be one of"),
    (lambda d: d["items"][0].update(frequency="weekly"), "items[0].frequency", "Must be one of"),
    (lambda d: d["items"][0]["due"].update(time="25:00"), "items[0].due.time", "HH:MM"),
    (lambda d: d["items"][0].update(colour="red"), "items[0].colour", "Unknown field"),
    (lambda d: d["items"][0].pop("label"), "items[0].label", "required"),
    (lambda d: d["reminders"].update(at="22:00"), "reminders.at", "quiet hours"),
    (lambda d: d["escalation"].update(chain=["county_officer", "township_leader"]), "escalation.chain[1]",
     "must climb"),
    (lambda d: d["escalation"].update(wait_hours=-1), "escalation.wait_hours", "hours"),
    (lambda d: d["working_days"].update(holidays=["2026-02-30"]), "working_days.holidays[0]", "YYYY-MM-DD"),
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "time zone"),
    (lambda d: d["items"].append(dict(d["items"][0])), "items[6].kind", "Duplicate"),
    (lambda d: d["items"][0].update(signed_by=["county_officer"]), "items[0].signed_by[0]", "level"),
])
def test_it_names_the_file_and_field_of_an_error(tmp_path, change, field, words):
    error = _error(tmp_path, change)
    assert error.field == field
    assert str(error).startswith(f"{tmp_path / 'county.yaml'}: {field}: ")
    assert words in str(error)


def test_it_explains_errors_in_chinese(tmp_path):
    error = _error(tmp_path, lambda d: d["items"][0]["due"].update(time="noon"))
    assert "items[0].due.time" in error.describe("zh_CN")
    assert error.describe("zh_CN") != error.describe("en")


def test_it_refuses_a_missing_file_and_broken_yaml(tmp_path):
    with pytest.raises(ProfileError, match="not found"):
        load("no-such-county")
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [unclosed", encoding="utf-8")
    with pytest.raises(ProfileError, match="broken.yaml: Not valid YAML"):
        load(broken)
