"""Photos sent in WeCom go through the same checks as on the other channels: fetched with media/get in
original quality, refused with the reason when they are not photos or are sent twice, and flagged under
the question when their EXIF place is far from the asset."""

from __future__ import annotations

from sqlmodel import Session

from bot.i18n import translate
from bot.services import reports
from bot.storage.models import Report, User
from tests.outbox.helpers import SERIOUS
from tests.services.images import make_jpeg, make_pdf
from tests.wecom.conftest import card_text


def _to_the_photo_question(world) -> int:
    """Bind the cadre, start the greenhouse's check in WeCom and answer (through the services, as the web
    form would: the draft is shared) up to the first photo question."""
    world.text("LiSi", f"绑定 {world.codes['cadre']}")
    world.text("LiSi", "1")  # no draft active: picks the first asset of the list (新桥村扶贫车间)
    world.text("LiSi", "稍后")
    with Session(world.engine) as session:
        user = session.get(User, world.users["cadre"])
        report = reports.start_or_resume(session, user, world.assets["greenhouse"], channel="web")
        report_id = report.id
        while (q := reports.walker_for(session.get(Report, report_id)).current()).type != "photo":
            reports.answer(session, user, report_id, q.key, SERIOUS[q.key])
    world.text("LiSi", "填报")
    world.deliver()
    listing = card_text(world.double.sent_to("LiSi")[-2])
    number = next(line.split(".")[0] for line in listing.splitlines() if "新桥村蔬菜大棚" in line)
    assert "📝" in listing  # the draft started elsewhere shows as started
    world.text("LiSi", number)  # resumes the shared draft at its current question
    world.deliver()
    assert "公开栏" in card_text(world.last("LiSi")) or "disclosure" in card_text(world.last("LiSi"))
    return report_id


def test_photos_are_checked_as_on_the_other_channels(world):
    double = world.double
    report_id = _to_the_photo_question(world)
    double.media["PDF"] = make_pdf()
    world.image("LiSi", "PDF")
    world.deliver()
    refused = card_text(world.last("LiSi"))
    assert translate("zh_CN", "This file is not a photo. Please send a JPEG, PNG or WebP picture.") in refused
    far = make_jpeg(120, 90, exif_gps=(40.0, 100.0), seed=3)  # far from the greenhouse (28.2, 112.9)
    double.media["FAR"] = far
    world.image("LiSi", "FAR")
    world.deliver()
    assert "⚠ 照片拍摄地点距资产登记位置" in card_text(world.last("LiSi"))
    double.media["AGAIN"] = far
    world.image("LiSi", "AGAIN")  # the same photo again
    world.deliver()
    assert translate("zh_CN", "This photo has already been added here.") in card_text(world.last("LiSi"))
    world.image("LiSi", "GONE")  # WeCom no longer has the file
    world.deliver()
    assert translate("zh_CN", "The photo could not be fetched from WeCom. Please send it again.") in \
        card_text(world.last("LiSi"))
    with Session(world.engine) as session:
        photos = session.get(Report, report_id).answers["board_photo"]
    assert len(photos) == 1
