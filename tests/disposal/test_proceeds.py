"""The proceeds of a disposal go to poverty-alleviation projects (seed 003 二(八)): the village or the township records
each use after the disposal is recorded, never more than was received, never with personal data, never by another
village; the disposal's page shows what is left, the township is told, the public page shows the uses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.i18n import translate
from bot.services import disposal, disposal_proceeds
from bot.services.access import AccessDenied
from bot.storage.models import Asset, AuditEntry, OrgUnit, User
from bot.storage.models_disposal import DisposalProceedsUse, DisposalStep
from bot.storage.models_schedule import OutboxMessage
from tests.disposal.conftest import text_of, token
from tests.factories import make_user

NOW = utcnow()
LATER = NOW + dt.timedelta(days=8)  # the default notice (7 days) has run


def _recorded(session: Session, town, amount: str = "10") -> int:
    """The greenhouse's disposal from the request to its record, sold for ``amount`` 万元."""
    cadre, leader = session.get(User, town.cadre.id), session.get(User, town.leader.id)
    row = disposal.request(session, cadre, town.asset.id, reason="idle", method="auction", description="闲置两年",
                           now=NOW)
    day = disposal.today(session, session.get(OrgUnit, town.asset.village_id), NOW)
    disposal.record_meeting(session, cadre, row.id, kind="villagers", held_on=day, attendees=60, result="agreed",
                            now=NOW)
    disposal.record_valuation(session, cadre, row.id, amount="12", valuer="桃源县评估所", valued_on=day, now=NOW)
    disposal.approve_township(session, leader, row.id, now=NOW)
    disposal.approve_county(session, session.get(User, town.officer.id), row.id, now=NOW)
    disposal.start_notice(session, leader, row.id, now=NOW)
    disposal.record_outcome(session, leader, row.id, done_on=day + dt.timedelta(days=7), method="auction",
                            amount=amount, counterpart="桃源县某农业公司", now=LATER)
    session.commit()
    return row.id


def test_uses_are_recorded_until_the_proceeds_are_spent_and_never_beyond(town):
    with Session(town.engine, expire_on_commit=False) as session:
        cadre = session.get(User, town.cadre.id)
        with pytest.raises(disposal.DisposalError) as early:  # nothing recorded yet: no proceeds
            request = disposal.request(session, cadre, town.asset.id, reason="idle", method="auction",
                                       description="闲置", now=NOW)
            disposal_proceeds.record_use(session, cadre, request.id, used_on=NOW.date(), amount="1",
                                         purpose="产业路", now=NOW)
        assert early.value.msgid == disposal_proceeds.MSG_NO_PROCEEDS
        session.rollback()

        disposal_id = _recorded(session, town)
        day = disposal.today(session, session.get(OrgUnit, town.asset.village_id), LATER)
        use = {"used_on": day, "now": LATER}
        with pytest.raises(disposal.DisposalError) as too_much:
            disposal_proceeds.record_use(session, cadre, disposal_id, amount="10.01", purpose="新建产业路", **use)
        assert too_much.value.msgid == disposal_proceeds.MSG_AMOUNT and too_much.value.params["left"] == "10"
        with pytest.raises(disposal.DisposalError) as personal:
            disposal_proceeds.record_use(session, cadre, disposal_id, amount="2",
                                         purpose="发给张三 410102199001011234", **use)
        assert personal.value.msgid == disposal_proceeds.MSG_PURPOSE
        with pytest.raises(disposal.DisposalError) as future:
            disposal_proceeds.record_use(session, cadre, disposal_id, amount="2", purpose="新建产业路",
                                         used_on=day + dt.timedelta(days=1), now=LATER)
        assert future.value.msgid == disposal_proceeds.MSG_USED_ON
        # Another village's cadre, a leader of another township: not theirs.
        other = make_user(session, "village_cadre", session.get(OrgUnit, town.other_asset.village_id), "外村干部")
        session.commit()
        with pytest.raises(AccessDenied):
            disposal_proceeds.record_use(session, other, disposal_id, amount="2", purpose="新建产业路", **use)
        with pytest.raises(AccessDenied):
            disposal_proceeds.record_use(session, session.get(User, town.outsider.id), disposal_id, amount="2",
                                         purpose="新建产业路", **use)

        disposal_proceeds.record_use(session, cadre, disposal_id, amount="6", purpose="新建村组产业路800米", **use)
        disposal_proceeds.record_use(session, session.get(User, town.leader.id), disposal_id, amount="4",
                                     purpose="补充村集体光伏电站运维资金", **use)
        session.commit()
        found = disposal_proceeds.proceeds_of(session, session.get(disposal.Disposal, disposal_id))
        assert (found.received, found.used, found.left) == (Decimal("10"), Decimal("10"), Decimal("0"))
        with pytest.raises(disposal.DisposalError):  # all of it is used: nothing more
            disposal_proceeds.record_use(session, cadre, disposal_id, amount="0.01", purpose="其他", **use)
        steps = session.exec(select(DisposalStep).where(DisposalStep.disposal_id == disposal_id,
                                                        DisposalStep.step == "proceeds")).all()
        assert len(steps) == 2
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "disposal.proceeds")).all()
        assert [Decimal(str(e.after["amount"])) for e in audited] == [Decimal("6"), Decimal("4")]
        assert [e.actor_user_id for e in audited] == [town.cadre.id, town.leader.id]
        # The township's leader heard of the village's use (not of their own), in words.
        told = session.exec(select(OutboxMessage).where(OutboxMessage.subject == f"disposal/{disposal_id}",
                                                        OutboxMessage.step.startswith("proceeds-"))).all()
        assert {m.recipient for m in told} == {f"u{town.leader.id}"}
        text = translate("zh_CN", told[0].body[0][0], **told[0].body[0][1])
        assert "用于：新建村组产业路800米" in text and "尚余4万元待使用" in text
        # The public page's facts: the uses in words, no person.
        from bot.services.public import disposal_section

        facts = disposal_section(session, session.get(Asset, town.asset.id), LATER)
        assert facts["proceeds"]["used"] == "10"
        assert [u["purpose"] for u in facts["proceeds"]["uses"]] == ["新建村组产业路800米", "补充村集体光伏电站运维资金"]


def test_the_disposal_page_and_the_public_page_show_the_uses(town, time_machine):
    with Session(town.engine, expire_on_commit=False) as session:
        disposal_id = _recorded(session, town, amount="8")
        public_token = session.get(Asset, town.asset.id).public_token
    time_machine.move_to(LATER)
    cadre = town.client(town.cadre)
    page = cadre.get(f"/disposals/{disposal_id}?lang=zh_CN")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "处置收入的使用" in text and "待使用 8万元" in text
    assert 'id="proceeds-form"' in page.text
    refused = cadre.post(f"/disposals/{disposal_id}/proceeds?lang=zh_CN", data={
        "csrf": token(cadre, town), "confirm": "1", "day": LATER.date().isoformat(), "amount": "9",
        "purpose": "新建产业路"}, follow_redirects=False)
    assert refused.status_code == 303
    again = cadre.get(refused.headers["location"]).text
    assert 'class="error"' in again and 'value="9"' in again and "新建产业路" in again  # kept to correct
    done = cadre.post(f"/disposals/{disposal_id}/proceeds?lang=zh_CN", data={
        "csrf": token(cadre, town), "confirm": "1", "day": LATER.date().isoformat(), "amount": "5",
        "purpose": "新建村组产业路800米"}, follow_redirects=True)
    assert done.status_code == 200
    text = text_of(done.text)
    assert "处置收入使用情况已登记" in text and "新建村组产业路800米" in text and "已登记处置收入使用" in text
    with Session(town.engine) as session:
        assert len(session.exec(select(DisposalProceedsUse)).all()) == 1
    public = town.client(town.cadre).get(f"/p/{public_token}?lang=zh_CN").text
    assert "处置收入用于扶贫项目" in public and "已用5万元（共8万元）" in public and "新建村组产业路800米" in public
    # The county office sees the page, with no form: the uses are the village's and the township's.
    office = town.client(town.officer).get(f"/disposals/{disposal_id}?lang=zh_CN").text
    assert "处置收入的使用" in office and 'id="proceeds-form"' not in office
