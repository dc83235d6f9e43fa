"""Every msgid of bot/scoring has a non-empty translation in the scoring catalogues (scoring.po, and
scoring2.po for the evaluators' deductions and unknown facts of issue 16) of both languages."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, SOURCE_DIR, extract_messages


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_it_translates_every_scoring_msgid(locale):
    known = {}
    for name in ("scoring.po", "scoring2.po"):
        with (LOCALES_DIR / locale / "LC_MESSAGES" / name).open("rb") as fh:
            known.update({m.id: m.string for m in read_po(fh) if m.id})
    wanted = extract_messages(Path(SOURCE_DIR) / "scoring")
    assert wanted and not [m for m in wanted if not known.get(m)]
