"""``/income`` and ``/disposals`` on Telegram (issue 17).

``/income``: the year's income of the operating assets the person sees, in words (received, due, the plan's state),
what waits for their step (plans to approve or to file), and a button with a single-use link to the income pages,
where the amounts, plans and payments are entered (a form with shares and receipts is a web page's work).
``/disposals``: the disposals in the person's area and their next steps are on the web: a single-use link.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlmodel import col
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.adapters import telegram as tg
from bot.clock import utcnow
from bot.i18n import N_
from bot.services import income, weblinks
from bot.services.access import PERMISSIONS, AccessDenied, visible_assets
from bot.storage.models import Asset

SHOWN = 15  # assets listed in a message; the page has them all
MSG_TITLE = N_("Income of the assets in {year} (10k yuan):")
MSG_LINE = N_("{asset}: received {received}, due {due}; plan: {plan}")
MSG_NONE = N_("No operating asset in your area.")
MSG_MORE = N_("… and {count} more on the web page.")
MSG_NO_PLAN = N_("none yet")
MSG_UNKNOWN = N_("not known")
MSG_TO_APPROVE = N_("Distribution plans waiting for your approval: {count}.")
MSG_TO_FILE = N_("Distribution plans waiting for their filing: {count}.")
MSG_OPEN = N_("Open the income pages")
MSG_DISPOSALS = N_("Disposals of assets (requests, approvals, public notices and records) are on the web.")
MSG_OPEN_DISPOSALS = N_("Open the disposals")
MSG_ONCE = N_("The button's link works once; do not forward it.")


def _money(value) -> str:
    return format(value.normalize(), "f") if value is not None else ""


def _link(turn: tg.Turn, path: str) -> str:
    settings = turn.deps.settings
    link = weblinks.create_link(turn.session, turn.user, secret=settings.secret_key, public_url=settings.public_url)
    turn.session.commit()
    return f"{link}?next={quote(path, safe='')}"


async def _income(turn: tg.Turn) -> None:
    """``/income``: the year in words, what waits for the person, and the link to the pages."""
    year = utcnow().astimezone(turn.deps.settings.tz).year
    try:
        assets = turn.session.exec(visible_assets(turn.session, turn.user).where(
            Asset.status == "active", Asset.asset_type == "经营性").order_by(col(Asset.name), col(Asset.id))).all()
    except AccessDenied:
        assets = []
    totals = income.year_totals_many(turn.session, [a.id for a in assets[:SHOWN]], year)
    unknown = turn.t(MSG_UNKNOWN)
    lines = [turn.t(MSG_TITLE, year=year)] if assets else [turn.t(MSG_NONE)]
    for asset in assets[:SHOWN]:
        found = totals[asset.id]
        plan = turn.t(income.STATUS_LABELS[found.plan_status]) if found.plan_status else turn.t(MSG_NO_PLAN)
        lines.append(turn.t(MSG_LINE, asset=asset.name, received=_money(found.received) or unknown,
                            due=_money(found.due) or unknown, plan=plan))
    if len(assets) > SHOWN:
        lines.append(turn.t(MSG_MORE, count=len(assets) - SHOWN))
    path = "/income"
    for action, status, msgid, show in (("income.approve", income.SUBMITTED, MSG_TO_APPROVE, "approve"),
                                        ("income.file", income.APPROVED, MSG_TO_FILE, "file")):
        if action in PERMISSIONS.get(turn.user.role, ()):
            waiting = income.waiting(turn.session, turn.user, status)
            if waiting:
                lines.append(turn.t(msgid, count=len(waiting)))
                path = f"/income?show={show}"
    lines.append(turn.t(MSG_ONCE))
    button = InlineKeyboardMarkup([[InlineKeyboardButton(turn.t(MSG_OPEN), url=_link(turn, path))]])
    await turn.say("\n".join(lines), button)


async def _disposals(turn: tg.Turn) -> None:
    """``/disposals``: the link to the disposals page of the person's area."""
    button = InlineKeyboardMarkup([[InlineKeyboardButton(turn.t(MSG_OPEN_DISPOSALS), url=_link(turn, "/disposals"))]])
    await turn.say(f"{turn.t(MSG_DISPOSALS)}\n{turn.t(MSG_ONCE)}", button)


on_income = tg.signed_in(_income)
on_disposals = tg.signed_in(_disposals)

COMMANDS = (("income", on_income), ("disposals", on_disposals))
