"""Catalogues: every msgid in the sources is translated in zh_CN and en, with the same {placeholders}.

The completeness test covers every area that exists (core, flows, evidence, web, policy, scoring…):
whoever adds a user-facing string adds its translations to their own <area>.po.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot import i18n
from bot.i18n import (
    SUPPORTED,
    Translator,
    extract_messages,
    missing_translations,
    normalise_locale,
    translate,
)

PO_FILES = sorted(i18n.LOCALES_DIR.glob("*/LC_MESSAGES/*.po"))


def placeholders(text: str) -> set[str]:
    """Return the names of the {placeholders} in a format string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def placeholder_mismatches(po_path: Path) -> list[str]:
    """Return 'msgid -> msgstr' for each entry whose msgstr's placeholders differ from its msgid's."""
    with po_path.open("rb") as fh:
        catalogue = read_po(fh)
    bad = []
    for message in catalogue:
        if not message.id or not message.string:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        msgstr = message.string if isinstance(message.string, str) else message.string[0]
        if placeholders(msgid) != placeholders(msgstr):
            bad.append(f"{msgid!r} -> {msgstr!r}")
    return bad


def test_every_msgid_in_the_sources_is_translated_in_every_language():
    report = missing_translations()
    places = extract_messages()
    gaps = [f"{locale}: {msgid!r} ({', '.join(places[msgid][:2])})"
            for locale, msgids in report.items() for msgid in msgids]
    assert not gaps, "missing translations (add them to your area's .po in zh_CN and en):\n" + "\n".join(gaps)


@pytest.mark.parametrize("po_path", PO_FILES, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_translations_keep_the_placeholders_of_their_msgid(po_path):
    assert not placeholder_mismatches(po_path)


@pytest.mark.parametrize("locale", SUPPORTED)
def test_a_msgid_in_several_areas_has_one_translation(locale):
    """All catalogues of a language are merged, so two different translations would make one lose silently."""
    seen: dict[str, dict[str, str]] = {}
    for po_path in sorted((i18n.LOCALES_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as fh:
            for message in read_po(fh):
                if message.id and message.string and isinstance(message.id, str):
                    seen.setdefault(message.id, {})[po_path.name] = message.string
    conflicts = {msgid: areas for msgid, areas in seen.items() if len(set(areas.values())) > 1}
    assert not conflicts


@pytest.mark.parametrize("locale", SUPPORTED)
def test_the_core_catalogue_exists_in_every_language(locale):
    assert (i18n.LOCALES_DIR / locale / "LC_MESSAGES" / "core.po").is_file()


def test_the_placeholder_check_catches_a_renamed_or_dropped_placeholder(tmp_path):
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Wrote {n} assets to {path}."\nmsgstr "已导出 {count} 项资产到 {path}。"\n\n'
        'msgid "Invite code: {code}"\nmsgstr "邀请码"\n\n'
        'msgid "Database is up to date."\nmsgstr "数据库已是最新结构。"\n',
        encoding="utf-8",
    )
    assert placeholder_mismatches(po) == [
        "'Wrote {n} assets to {path}.' -> '已导出 {count} 项资产到 {path}。'",
        "'Invite code: {code}' -> '邀请码'",
    ]


def test_extraction_finds_every_marking_style(tmp_path):
    (tmp_path / "mod.py").write_text(
        "from bot.i18n import N_, translate\n"
        "A = N_('Marked')\n"
        "def f(ctx, _):\n"
        "    ctx.t('Via context {n}', n=1)\n"
        "    _('Via underscore')\n"
        "    return translate('en', 'Via translate')\n",
        encoding="utf-8",
    )
    assert set(extract_messages(tmp_path)) == {"Marked", "Via context {n}", "Via underscore", "Via translate"}


def test_the_completeness_check_reports_a_msgid_without_translation(monkeypatch):
    known = extract_messages()
    monkeypatch.setattr(i18n, "extract_messages", lambda: {**known, "A string nobody translated": ["x.py:1"]})
    report = missing_translations()
    assert all("A string nobody translated" in report[locale] for locale in SUPPORTED)


def test_chinese_is_the_default_and_english_is_available():
    assert normalise_locale(None) == "zh_CN"
    assert normalise_locale("en-US") == "en"
    assert normalise_locale("zh-Hans") == "zh_CN"
    assert translate(None, "Invite code: {code}", code="AB12") == "邀请码：AB12"
    assert Translator("en")("Wrote {n} assets to {path}.", n=3, path="a.xlsx") == "Wrote 3 assets to a.xlsx."
    assert translate("zh_CN", "A string with no translation") == "A string with no translation"
