"""Every message of the web side is translated into Chinese and English (web.po)."""

from __future__ import annotations

from bot.i18n import catalogue, extract_messages

MINE = ("web/api.py", "web/auth.py", "web/cli.py", "web/common.py", "web/form.py", "web/labels.py",
        "web/public.py", "web/routes.py", "services/public.py", "services/weblinks.py",
        "services/signboard.py",
        *(f"templates/{name}.html" for name in ("base", "error", "miniapp", "overview", "public", "question",
                                                "review", "submitted")))


def test_web_messages_are_translated():
    mine = sorted(msgid for msgid, places in extract_messages().items()
                  if any(place.split(":")[0].endswith(MINE) for place in places))
    assert len(mine) > 80
    catalogue.cache_clear()
    for locale in ("zh_CN", "en"):
        known = catalogue(locale)
        assert [m for m in mine if m not in known] == [], locale
