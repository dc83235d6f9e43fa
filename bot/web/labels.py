"""People-facing labels (English msgids) for stored codes and values shown on the pages."""

from __future__ import annotations

from bot.i18n import N_
from bot.scoring.classify import CLASS_LABELS

ASSET_TYPES = {
    "公益性": N_("Public-welfare asset"),
    "经营性": N_("Income-generating asset"),
    "到户类": N_("Household asset"),
}
INDUSTRIES = {
    "种植业": N_("Crop farming"),
    "养殖业": N_("Livestock farming"),
    "加工业": N_("Processing"),
    "旅游业": N_("Tourism"),
    "电子商务": N_("E-commerce"),
    "光伏扶贫": N_("Solar power"),
    "其他": N_("Other"),
}
FUND_SOURCES = {
    "central": N_("Central funds"),
    "province": N_("Provincial funds"),
    "city": N_("City funds"),
    "county": N_("County funds"),
    "other": N_("Other funds"),
}
PHOTO_KEYS = {
    "board_photo": N_("Disclosure board"),
    "sign_photo": N_("Permanent signboard"),
}
# The four-way class may be stored as the scoring code or as its Chinese short name.
_CLASS_BY_CHINESE = {"巩固": "consolidate", "提升": "upgrade", "盘活": "revitalise", "处置": "dispose"}


def four_way_label(value: str | None) -> str | None:
    """Return the msgid naming a stored four-way class, or None when none is set."""
    if not value:
        return None
    code = _CLASS_BY_CHINESE.get(value.removesuffix("一批"), value)
    return CLASS_LABELS.get(code, value)


def label(mapping: dict[str, str], value: str | None) -> str:
    """Return the msgid for ``value`` in ``mapping`` (the value itself when unknown, '' for None)."""
    if value is None:
        return ""
    return mapping.get(value, value)
