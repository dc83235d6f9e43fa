"""Disposal tests run on the township's world (tests/township/conftest.py): a greenhouse of 新桥村 with its cadre,
the township leader of 新桥镇, a leader of another township and the county officer."""

from __future__ import annotations

from tests.township.conftest import Town, csrf, submit_report, text_of, token, town  # noqa: F401
