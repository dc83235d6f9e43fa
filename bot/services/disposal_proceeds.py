"""Where a disposal's proceeds go (seed 003 二(八): "处置收入按照资产处置有关规定进行管理，按程序全部用于扶贫项目").

After the disposal is recorded with an amount received, the village (a cadre of the asset's village) or the
township (a leader over it) records each use of the money: the date, the amount (万元) and the poverty-alleviation
project or purpose it went to, in words (no person's name or ID, as every published text). The uses never add up to
more than was received; what is left is shown on the disposal's page, and the public QR page shows the amount
received, how much of it is used and for what. Each use is a ``DisposalStep`` ("proceeds"), an audit entry and a
notice to the township, in the caller's transaction, like every step of ``bot.services.disposal``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.i18n import N_
from bot.services import pii
from bot.services.disposal import (
    NAME_MAX,
    DisposalError,
    _money,
    _notify,
    _require,
    _step,
    _text,
    load,
    today,
)
from bot.storage.models import User
from bot.storage.models_disposal import Disposal, DisposalProceedsUse

MSG_NO_PROCEEDS = N_("This disposal has no proceeds to account for: it is not recorded yet, or nothing was received.")
MSG_AMOUNT = N_("Give the amount used in 10k yuan, more than 0 and at most what is left ({left}).")
MSG_PURPOSE = N_("Say which poverty-alleviation project or purpose the money went to (at most {max} characters), "
                 "without any name, ID number or phone number.")
MSG_USED_ON = N_("Give the date the money was used: not before the disposal ({start}) and not in the future.")
TO_TOWNSHIP = N_("{village} used {amount} 万元 of the proceeds of disposing of {asset} for: {purpose}. "
                 "{left} 万元 is left to use.")


@dataclass
class Proceeds:
    """A recorded disposal's proceeds: received, used (and how), left."""

    received: Decimal
    uses: list[DisposalProceedsUse] = field(default_factory=list)

    @property
    def used(self) -> Decimal:
        return sum((u.amount for u in self.uses), Decimal(0))

    @property
    def left(self) -> Decimal:
        return max(self.received - self.used, Decimal(0))


def proceeds_of(session: Session, disposal: Disposal) -> Proceeds | None:
    """The proceeds of a recorded disposal that received money, with their uses (oldest first); else None."""
    if disposal.status != "recorded" or not disposal.outcome_amount:
        return None
    uses = session.exec(select(DisposalProceedsUse).where(DisposalProceedsUse.disposal_id == disposal.id)
                        .order_by(col(DisposalProceedsUse.used_on), col(DisposalProceedsUse.id))).all()
    return Proceeds(Decimal(disposal.outcome_amount), list(uses))


def _words(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def record_use(session: Session, user: User, disposal_id: int, *, used_on: dt.date | None, amount: object,
               purpose: str, note: str = "", now: dt.datetime | None = None) -> DisposalProceedsUse:
    """The village or the township records one use of the proceeds; refused in words when the disposal has none,
    the amount exceeds what is left, the date is before the disposal or in the future, or the purpose is missing
    or carries personal data."""
    now = as_utc(now or utcnow())
    disposal, place = load(session, user, disposal_id)
    _require(session, user, place, "proceeds")
    found = proceeds_of(session, disposal)
    if found is None:
        raise DisposalError(MSG_NO_PROCEEDS)
    value = _money(amount)
    if value is None or value <= 0 or value > found.left:
        raise DisposalError(MSG_AMOUNT, left=_words(found.left))
    day = today(session, place.village, now)
    if used_on is None or used_on > day or (disposal.outcome_on is not None and used_on < disposal.outcome_on):
        raise DisposalError(MSG_USED_ON, start=(disposal.outcome_on or day).isoformat())
    text = _text(purpose, NAME_MAX + 1)
    if text is None or len(text) > NAME_MAX or pii.mask(text) != text:
        raise DisposalError(MSG_PURPOSE, max=NAME_MAX)
    use = DisposalProceedsUse(disposal_id=disposal.id, used_on=used_on, amount=value, purpose=text,
                              note=_text(note), recorded_by=user.id, created_at=now)
    session.add(use)
    session.flush()
    left = found.left - value
    _step(session, user, disposal, "proceeds", {"proceeds_used": found.used},
          {"use_id": use.id, "used_on": used_on, "amount": value, "purpose": text, "proceeds_used": found.used + value,
           "proceeds_left": left}, now, note=text)
    _notify(session, user, place, disposal, f"proceeds-{use.id}", ("township",), TO_TOWNSHIP, now,
            amount=_words(value), purpose=text, left=_words(left))
    return use


def public_facts(session: Session, disposal: Disposal) -> dict | None:
    """What the QR page shows of the proceeds: received, used, and each use's date, amount and purpose."""
    found = proceeds_of(session, disposal)
    if found is None:
        return None
    return {"used": _words(found.used), "left": _words(found.left),
            "uses": [{"on": u.used_on.isoformat(), "amount": _words(u.amount), "purpose": pii.mask(u.purpose)}
                     for u in found.uses]}
