"""The profile's ``contracts`` section: the shipped profiles remind 90 and 30 days before; a county may set its own
days; a bad value is refused naming the field."""

from __future__ import annotations

import pytest
import yaml

from bot.policy.loading import PROFILES_DIR, available, load, parse
from bot.policy.profile import ContractRules
from bot.policy.validate import ProfileError


def _with(section) -> dict:
    data = yaml.safe_load((PROFILES_DIR / "qinbei-2023.yaml").read_text("utf-8"))
    if section is None:
        data.pop("contracts", None)
    else:
        data["contracts"] = section
    return data


def test_the_shipped_profiles_remind_90_and_30_days_before():
    assert {name: load(name).contracts.remind_days_before for name in available()} == {
        name: (90, 30) for name in available()}


def test_a_county_sets_its_own_days_and_a_profile_without_the_section_keeps_the_default():
    assert parse(_with({"remind_days_before": [30, 60, 7]})).contracts == ContractRules((60, 30, 7))
    assert parse(_with(None)).contracts == ContractRules((90, 30))


@pytest.mark.parametrize("section", [{"remind_days_before": [0]}, {"remind_days_before": [30, 30]},
                                     {"remind_days_before": 90}, {"remind_before": [90]}])
def test_a_bad_contracts_section_is_refused_naming_the_field(section):
    with pytest.raises(ProfileError) as exc:
        parse(_with(section))
    assert "contracts" in exc.value.describe("en")
