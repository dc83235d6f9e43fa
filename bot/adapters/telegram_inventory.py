"""``/inventory`` on Telegram: the yearly inventory and income settlement (seed 003 年初清查、清算) is kept on the
web — one card per asset, then a review before the final submission (``bot.web.inventory``) — so the command
answers with a single-use link to that page, as the year-end review does (``telegram_forms.on_review_button``).
"""

from __future__ import annotations

from urllib.parse import quote

from bot.adapters import telegram as tg
from bot.i18n import N_
from bot.services import weblinks

MSG_LINK = N_("The yearly inventory of the assets and the settlement of their income are on the web. Open them "
              "with this personal link (it works once; do not forward it): {link}")


async def _inventory(turn: tg.Turn) -> None:
    """``/inventory``: a single-use sign-in link that opens ``/inventory`` (the user's own village or area)."""
    settings = turn.deps.settings
    link = weblinks.create_link(turn.session, turn.user, secret=settings.secret_key, public_url=settings.public_url)
    turn.session.commit()
    await turn.say(turn.t(MSG_LINK, link=f"{link}?next={quote('/inventory', safe='')}"))


on_inventory = tg.signed_in(_inventory)

COMMANDS = (("inventory", on_inventory),)
