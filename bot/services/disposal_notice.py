"""The printable notice of a disposal for the village board (A4 PDF, Chinese), like the signboards.

Seed 003 二(八) "处置结果要在本区域内公开": during the public notice the board shows what is to be disposed of,
why, its valuation, the approvals and until when objections are heard (the supervision telephone); after the
record, the same sheet says what became of the asset. The QR code opens the asset's public page, where the
same notice shows. Only what the public page discloses is printed: no person's name or number.
"""

from __future__ import annotations

from typing import BinaryIO

from sqlmodel import Session

from bot.i18n import N_, translate
from bot.services import disposal as service
from bot.services import pii, public, signboard
from bot.storage.models_disposal import Disposal, DisposalStep

LOCALE = "zh_CN"
TITLE_NOTICE = N_("Public notice of the disposal of a poverty-alleviation project asset")
TITLE_RESULT = N_("Public notice of the result of disposing of a poverty-alleviation project asset")
OBJECTIONS = N_("Anyone who objects may tell the township or call the supervision telephone before {until}.")
SIGNED = N_("{village} villagers' committee · {date}")


def _t(msgid: str, **params: object) -> str:
    return translate(LOCALE, msgid, **params)


def _approved_on(session: Session, disposal: Disposal, step: str):
    from sqlmodel import col, select

    row = session.exec(select(DisposalStep).where(DisposalStep.disposal_id == disposal.id, DisposalStep.step == step)
                       .order_by(col(DisposalStep.id).desc())).first()
    return row.at.date() if row is not None else None


def lines(session: Session, disposal: Disposal, place: service.Place, supervision_phone: str = "") -> list:
    """The notice's (label, value) lines in Chinese."""
    money = public.format_money
    facts = public.disclosure(session, place.asset, tz=service.tz_of(session, place.village),
                              supervision_phone=supervision_phone)
    found = [
        (_t(N_("Asset name")), facts.name),
        (_t(N_("Location")), " ".join(x for x in (facts.county, facts.township, facts.village) if x)),
        (_t(N_("Funds")), _t(N_("{amount} ten-thousand yuan in total"), amount=money(facts.funds_total))),
        (_t(N_("Reason for the disposal")), _t(service.REASONS[disposal.reason])),
        (_t(N_("Planned way of disposal")), _t(service.METHODS[disposal.method])),
    ]
    if disposal.valuation is not None:
        found.append((_t(N_("Valuation")), _t(N_("{amount} ten-thousand yuan ({valuer}, {date})"),
                                             amount=money(disposal.valuation), valuer=pii.mask(disposal.valuer) or "",
                                             date=signboard.date_words(disposal.valued_on))))
    if disposal.meeting_on is not None and disposal.meeting_kind in service.MEETINGS:
        found.append((_t(N_("Village meeting")), _t(N_("{meeting}, {date}, {n} attended: {result}"),
                                                   meeting=_t(service.MEETINGS[disposal.meeting_kind]),
                                                   date=signboard.date_words(disposal.meeting_on),
                                                   n=disposal.meeting_attendees or 0,
                                                   result=_t(service.RESULTS.get(disposal.meeting_result or "",
                                                                                 N_("Agreed"))))))
    for step, label in (("township", N_("Approved by the township")), ("county", N_("Approved by the county"))):
        day = _approved_on(session, disposal, step)
        if day is not None:
            found.append((_t(label), signboard.date_words(day)))
    if disposal.notice_from and disposal.notice_until:
        found.append((_t(N_("Notice period")), f"{signboard.date_words(disposal.notice_from)} – "
                                               f"{signboard.date_words(disposal.notice_until)}"))
    if disposal.status == "recorded":
        found.append((_t(N_("Disposed of on")), signboard.date_words(disposal.outcome_on)))
        found.append((_t(N_("Way of disposal")), _t(service.METHODS.get(disposal.outcome_method or "",
                                                                          N_("Other way")))))
        found.append((_t(N_("Amount received")), _t(N_("{amount} ten-thousand yuan"),
                                                    amount=money(disposal.outcome_amount))))
        if disposal.counterpart:
            found.append((_t(N_("Counterpart")), pii.mask(disposal.counterpart) or ""))
    if facts.supervision_phone:
        found.append((_t(N_("Supervision telephone")), facts.supervision_phone))
    return [(label, value) for label, value in found if value]


def write_pdf(session: Session, disposal: Disposal, place: service.Place, out: BinaryIO, *, base_url: str,
              supervision_phone: str = "") -> None:
    """Write the A4 notice (a CJK font is needed: ``signboard.find_cjk_font`` says which to install)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen import canvas

    from bot.services.qr import qr_image

    name = signboard._reportlab_font(str(signboard.find_cjk_font()))
    width, height = signboard.A4_PT
    margin, body, leading, qr_size = 48.0, 14.0, 1.45, 150.0
    page = canvas.Canvas(out, pagesize=signboard.A4_PT)
    title = _t(TITLE_RESULT if disposal.status == "recorded" else TITLE_NOTICE)
    page.setTitle(title)

    def measure(text: str, size: float) -> float:
        return pdfmetrics.stringWidth(text, name, size)

    def text(x: float, y: float, s: str, size: float) -> None:
        page.setFont(name, size)
        page.drawString(x, height - y - size, s)

    y = margin
    for part in signboard.wrap(title, width - 2 * margin, lambda s: measure(s, 20)):
        text((width - measure(part, 20)) / 2, y, part, 20)
        y += 20 * leading
    y += 12
    found = lines(session, disposal, place, supervision_phone)
    label_w = max(measure(label + "：", body) for label, _ in found)
    for label, value in found:
        text(margin, y, label + "：", body)
        for part in signboard.wrap(value, width - 2 * margin - label_w, lambda s: measure(s, body)):
            text(margin + label_w, y, part, body)
            y += body * leading
        y += body * 0.3
    if disposal.status == "notice" and disposal.notice_until:
        y += 8
        for part in signboard.wrap(_t(OBJECTIONS, until=signboard.date_words(disposal.notice_until)),
                                   width - 2 * margin, lambda s: measure(s, body)):
            text(margin, y, part, body)
            y += body * leading
    url = signboard.public_url(base_url, place.asset.public_token)
    qr_top = max(y + 16, height - margin - qr_size - body * 4)
    page.drawImage(ImageReader(qr_image(url)), (width - qr_size) / 2, height - qr_top - qr_size, qr_size, qr_size)
    small = body * 0.8
    text((width - measure(url, small)) / 2, qr_top + qr_size + 6, url, small)
    signed = _t(SIGNED, village=place.village.name,
                date=signboard.date_words(disposal.outcome_on if disposal.status == "recorded" else disposal.notice_from))
    text(width - margin - measure(signed, body), qr_top + qr_size + 6 + small * 2, signed, body)
    page.showPage()
    page.save()
