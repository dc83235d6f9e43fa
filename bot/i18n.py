"""Gettext catalogues (locales/<lang>/LC_MESSAGES/*.po) and per-user language choice.

Source strings (msgids) are English; zh_CN is the default language shown to users.
Each area of the code keeps its own catalogue file (core.po, flows.po, telegram.po, …)
so that work on one area does not collide with another; at run time all files of a
language are merged. Mark literal strings with ``N_`` where they are defined and
translate them with ``translate(locale, msgid, **params)`` where they are shown.
YAML files (forms, rubrics, profiles) are extracted for the keys in ``YAML_KEYS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path

SUPPORTED = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALES_DIR = Path(os.environ.get("VILLAGEBOT_LOCALES_DIR", Path(__file__).resolve().parent.parent / "locales"))
SOURCE_DIR = Path(__file__).resolve().parent
YAML_KEYS = ("label", "prompt", "help", "web_help", "telegram_help", "error", "title", "text", "description", "message", "option_label")


def N_(message: str) -> str:
    """Mark a literal for extraction without translating it here."""
    return message


def normalise_locale(value: str | None) -> str:
    """Map 'zh', 'zh-CN', 'zh_Hans', 'en-US'… to a supported locale, defaulting to zh_CN."""
    if not value:
        return DEFAULT_LOCALE
    v = value.replace("-", "_").lower()
    if v.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


@cache
def catalogue(locale: str) -> dict[str, str]:
    """Return msgid → msgstr for a locale, merged from every .po file of that language."""
    from babel.messages.pofile import read_po

    merged: dict[str, str] = {}
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as fh:
            cat = read_po(fh, locale=locale)
        for msg in cat:
            if msg.id and msg.string and not msg.fuzzy:
                key = msg.id if isinstance(msg.id, str) else msg.id[0]
                value = msg.string if isinstance(msg.string, str) else msg.string[0]
                merged[key] = value
    return merged


class Label(str):
    """A msgid given as a parameter of another message (a status, say): translated along with it."""


# How some message parameters are shown, by parameter name: ``bot.periods`` registers ``words`` for the
# parameters that name a reporting period (period, month, quarter, half), so that a stored label in them
# (2026-12, 2026-Q4, 2026-H2) reads 2026年12月, 2026年第四季度, 2026年下半年 in every message. (Registered by
# bot.periods rather than imported here: bot.periods uses this module, and imports go one way.)
PARAM_FORMATTERS: dict[str, Callable[[object, str], object]] = {}


def shown(locale: str | None, params: dict[str, object]) -> dict[str, object]:
    """Return message parameters as people read them: ``Label`` values translated, periods in words."""
    locale = normalise_locale(locale)
    messages = catalogue(locale)
    out = {}
    for key, value in params.items():
        if isinstance(value, Label):
            value = messages.get(value, value)
        elif key in PARAM_FORMATTERS and isinstance(value, str):
            value = PARAM_FORMATTERS[key](value, locale)
        out[key] = value
    return out


def translate(locale: str | None, message: str, /, **params: object) -> str:
    """Translate ``message`` into ``locale`` and fill its named {placeholders} (``Label`` values translated too,
    periods in words)."""
    messages = catalogue(normalise_locale(locale))
    text = messages.get(message, message)
    if not params:
        return text
    return text.format(**shown(locale, params))


class UserError(Exception):
    """A refusal meant for people: an English msgid with its parameters, translated when shown."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(translate("en", msgid, **params) if params else msgid)
        self.msgid = msgid
        self.params = params

    def message(self, locale: str | None) -> str:
        """Return the message in ``locale``."""
        return translate(locale, self.msgid, **self.params)


class Translator:
    """A translator bound to one locale: ``_ = Translator('en'); _('Done')``."""

    def __init__(self, locale: str | None) -> None:
        self.locale = normalise_locale(locale)

    def __call__(self, message: str, /, **params: object) -> str:
        return translate(self.locale, message, **params)


# --- extraction -------------------------------------------------------------------------------

def extract_yaml(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for our YAML data files: yields the values of YAML_KEYS."""
    import yaml

    text = fileobj.read().decode("utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:
        return
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if (isinstance(key, yaml.ScalarNode) and key.value in YAML_KEYS
                        and isinstance(value, yaml.ScalarNode) and value.value.strip()):
                    yield value.start_mark.line + 1, "_", value.value, []
                else:
                    stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


METHOD_MAP = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
    ("**.yaml", "bot.i18n:extract_yaml"),
]
KEYWORDS = {"_": None, "N_": None, "translate": (2,), "gettext": None, "t": None}


def extract_messages(source: Path = SOURCE_DIR) -> dict[str, list[str]]:
    """Return every msgid in the source tree with the places it comes from."""
    from babel.messages.extract import extract_from_dir

    found: dict[str, list[str]] = {}
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
        str(source), METHOD_MAP, options_map=options, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def missing_translations(locales: Iterable[str] = SUPPORTED) -> dict[str, list[str]]:
    """Return, per locale, the extracted msgids that have no translation."""
    messages = extract_messages()
    report: dict[str, list[str]] = {}
    for locale in locales:
        catalogue.cache_clear()
        known = catalogue(locale)
        report[locale] = sorted(m for m in messages if m not in known)
    return report
