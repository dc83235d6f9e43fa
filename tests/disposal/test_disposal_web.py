"""A disposal from request to record on the web: every step by the right person after its confirmation, the notice
on the asset's public page for its days, the record only after them; the asset then leaves the monthly checklist,
stays in the ledger with its history, and its pages say what became of it. Steps out of order and people outside
a step's scope are refused, and nothing changes."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.services import reports
from bot.services.signboard import SignboardError, find_cjk_font
from bot.storage.models import Asset, AuditEntry, OrgUnit, User
from bot.storage.models_disposal import Disposal, DisposalStep
from bot.storage.models_schedule import OutboxMessage
from tests.disposal.conftest import csrf, text_of, token
from tests.factories import make_user

PDF = b"%PDF-1.4\n% valuation report\n"


def china_today() -> dt.date:
    """The county's day (the villages keep China's time; the tests may run in another)."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _disposal(town) -> Disposal:
    with Session(town.engine) as session:
        return session.exec(select(Disposal).where(Disposal.asset_id == town.asset.id)).one()


def _step(client, disposal_id: int, step: str, **data):
    page = client.get(f"/disposals/{disposal_id}")
    return client.post(f"/disposals/{disposal_id}/{step}", data={"csrf": csrf(page), "confirm": "1", **data})


def _post(client, town, disposal_id: int, step: str, **data):
    """A step posted by someone who may not even see the disposal's page (this browser's CSRF token)."""
    return client.post(f"/disposals/{disposal_id}/{step}", data={"csrf": token(client, town), "confirm": "1", **data})


def _flash(page) -> str:
    found = re.search(r'id="flash">([^<]*)<', page.text)
    return found.group(1) if found else ""


def test_a_disposal_from_request_to_record(town, monkeypatch):
    cadre, leader, county = town.client(town.cadre), town.client(town.leader), town.client(town.officer)
    today = china_today()
    assert 'href="/disposals?' in cadre.get("/home").text and 'href="/disposals?' in leader.get("/home").text

    # The village asks; without the confirmation box nothing happens.
    listed = cadre.get("/disposals")
    assert f'/disposals/new?asset={town.asset.id}' in listed.text
    form = cadre.get(f"/disposals/new?asset={town.asset.id}")
    assert form.status_code == 200 and "长期闲置、无法盘活" in form.text
    data = {"csrf": csrf(form), "asset": str(town.asset.id), "reason": "damaged", "way": "scrap",
            "description": "大棚骨架锈蚀倒塌，无法修复"}
    unconfirmed = cadre.post("/disposals/new", data=data)
    assert "请勾选确认后再提交" in unconfirmed.text
    with Session(town.engine) as session:
        assert session.exec(select(Disposal)).first() is None
    sent = cadre.post("/disposals/new", data={**data, "confirm": "1"})
    row = _disposal(town)
    assert sent.url.path == f"/disposals/{row.id}" and "处置申请已提交" in _flash(sent)
    assert row.status == "requested" and row.reason == "damaged" and row.created_by == town.cadre.id
    assert "村级已申请" in sent.text and "下一步：村民会议决议" in text_of(sent.text)

    # The township cannot approve before the village meeting: a skipped step is refused, in words.
    skipped = _step(leader, row.id, "township", note="同意")
    assert "不能跳过步骤" in _flash(skipped) and "村民会议决议" in _flash(skipped)
    assert _disposal(town).status == "requested"

    # The village records its meeting; the township records the valuation with its report, then approves.
    meeting = _step(cadre, row.id, "meeting", kind="representatives", day=str(today), attendees="23",
                    result="agreed", note="到会23人，一致同意")
    assert "村民会议决议已登记" in _flash(meeting) and _disposal(town).status == "village_meeting"
    page = leader.get(f"/disposals/{row.id}")
    valued = leader.post(f"/disposals/{row.id}/valuation",
                         data={"csrf": csrf(page), "confirm": "1", "amount": "3.5", "valuer": "桃源县资产评估事务所",
                               "day": str(today)}, files={"attachment": ("评估报告.pdf", PDF, "application/pdf")})
    assert "评估结果已登记" in _flash(valued)
    assert leader.get(f"/disposals/{row.id}/valuation").content == PDF
    wrong_file = leader.post(f"/disposals/{row.id}/valuation",
                             data={"csrf": csrf(page), "confirm": "1", "amount": "3.5", "valuer": "某所",
                                   "day": str(today)}, files={"attachment": ("a.exe", b"MZ\x90", "application/pdf")})
    assert "评估报告须为PDF、JPEG或PNG文件" in _flash(wrong_file)
    approved = _step(leader, row.id, "township", note="同意报县审批")
    assert "乡镇已批准" in _flash(approved) and _disposal(town).status == "township_approved"

    # The township cannot approve for the county; the county office does.
    assert "这一步不由您办理，应由县乡村振兴部门或资产所属行业主管部门办理" in _flash(_step(leader, row.id, "county"))
    assert _disposal(town).status == "township_approved"
    assert "县级已批准" in _flash(_step(county, row.id, "county", note="同意"))

    # The public notice: on the asset's QR page for the profile's days (7 without a profile).
    started = _step(leader, row.id, "notice", day=str(today))
    until = today + dt.timedelta(days=6)
    assert f"资产公开页面展示至{until.isoformat()}" in _flash(started)
    public = town.client(town.cadre)
    public.cookies.clear()
    shown = text_of(public.get(f"/p/{town.asset.public_token}").text)
    assert "公示：该资产拟处置" in shown and "损毁或达到使用年限，报废" in shown and "3.5万元" in shown
    assert f"{today.isoformat()}至{until.isoformat()}" in shown and "报废" in shown
    assert "李书记" not in shown and "王镇长" not in shown
    body = public.get(f"/api/public/{town.asset.public_token}").json()
    assert body["disposal"]["stage"] == "notice" and body["disposal"]["notice_until"] == until.isoformat()

    # Not before the notice has run its days.
    early = _step(leader, row.id, "record", day=str(today), way="scrap", amount="0.8", counterpart="桃源县再生资源公司")
    assert f"公示期至{until.isoformat()}" in _flash(early) and _disposal(town).status == "notice"
    if find_cjk_font_or_none():
        pdf = leader.get(f"/disposals/{row.id}/notice.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # Eight days later the township records what became of the asset.
    later = utcnow() + dt.timedelta(days=8)
    monkeypatch.setattr("bot.services.disposal.utcnow", lambda: later)
    recorded = _step(leader, row.id, "record", day=str(today + dt.timedelta(days=7)), way="scrap", amount="0.8",
                     counterpart="桃源县再生资源回收有限公司", note="骨架作废品回收")
    assert "处置结果已登记" in _flash(recorded)
    with Session(town.engine) as session:
        asset = session.get(Asset, town.asset.id)
        assert asset.status == "disposed"
        done = session.exec(select(Disposal).where(Disposal.id == row.id)).one()
        assert (done.status, done.outcome_method, str(done.outcome_amount)) == ("recorded", "scrap", "0.8000")
        steps = [s.step for s in session.exec(select(DisposalStep).where(DisposalStep.disposal_id == row.id)
                                              .order_by(col(DisposalStep.id))).all()]
        assert steps == ["request", "meeting", "valuation", "township", "county", "notice", "record"]
        actions = [a.action for a in session.exec(select(AuditEntry).where(AuditEntry.entity == "asset_disposal")
                                                  .order_by(col(AuditEntry.id))).all()]
        assert actions == ["disposal.request", "disposal.meeting", "disposal.valuation", "disposal.township",
                           "disposal.county", "disposal.notice", "disposal.record"]
        told = {(m.step, m.recipient) for m in session.exec(select(OutboxMessage).where(
            OutboxMessage.subject == f"disposal/{row.id}")).all()}
        assert ("village-meeting", f"u{town.leader.id}") in told  # the township is told to approve
        assert ("township-approved", f"u{town.officer.id}") in told  # the county is told to approve
        assert ("recorded", f"u{town.cadre.id}") in told
        # Off the monthly checklist of the village.
        cadre_user = session.get(User, town.cadre.id)
        assert town.asset.id not in {m.asset.id for m in reports.month_overview(session, cadre_user)}

    # The public page says what became of it (a new process: each keeps the public facts 30 s); the ledger
    # keeps the asset with its history.
    public = town.client(town.cadre)
    public.cookies.clear()
    shown = text_of(public.get(f"/p/{town.asset.public_token}").text)
    assert "该资产已处置" in shown and "桃源县再生资源回收有限公司" in shown and "0.8万元" in shown
    assert "公示：该资产拟处置" not in shown
    ledger = leader.get(f"/ledger/assets/{town.asset.id}")
    words = text_of(ledger.text)
    assert ledger.status_code == 200 and "已于" in words and "处置收入0.8万元" in words
    assert f'/disposals/{row.id}' in ledger.text and "已处置" in words
    history = text_of(leader.get(f"/disposals/{row.id}").text)
    for line in ("已提交申请", "已登记村民会议决议", "已登记评估结果", "乡镇已批准", "县级已批准", "已开始公示",
                 "已登记处置结果", "李书记", "王镇长", "县乡村振兴局张科长"):
        assert line in history
    assert not re.search(r"\b(requested|village_meeting|township_approved|notice|recorded|scrap|damaged)\b", history)
    # Closed: no step is offered, and none is taken.
    assert 'id="next"' not in leader.get(f"/disposals/{row.id}").text
    closed = leader.post(f"/disposals/{row.id}/refuse", data={"csrf": token(leader, town), "confirm": "1",
                                                               "reason": "重复"})
    assert "不能再办理" in _flash(closed) and _disposal(town).status == "recorded"


def find_cjk_font_or_none():
    try:
        return find_cjk_font()
    except SignboardError:
        return None


def _requested(town) -> Disposal:
    cadre = town.client(town.cadre)
    form = cadre.get(f"/disposals/new?asset={town.asset.id}")
    cadre.post("/disposals/new", data={"csrf": csrf(form), "asset": str(town.asset.id), "reason": "idle",
                                       "way": "transfer", "description": "闲置两年", "confirm": "1"})
    return _disposal(town)


def test_people_outside_a_steps_scope_are_refused(town):
    row = _requested(town)
    with Session(town.engine, expire_on_commit=False) as session:
        other_village = session.exec(select(OrgUnit).where(OrgUnit.name == "王庄村")).one()
        neighbour = make_user(session, "village_cadre", other_village, "王庄村刘主任")
        session.commit()
    today = str(china_today())
    meeting = {"kind": "villagers", "day": today, "attendees": "40", "result": "agreed"}
    # A cadre of another village of the same township, and a leader of another township: refused, nothing changes.
    assert _post(town.client(neighbour), town, row.id, "meeting", **meeting).status_code == 403
    assert _post(town.client(town.outsider), town, row.id, "meeting", **meeting).status_code == 403
    assert town.client(town.outsider).get(f"/disposals/{row.id}").status_code == 404
    # The township leader is not the village: the meeting is the village's.
    assert "应由资产所在村的村干部办理" in _flash(_step(town.client(town.leader), row.id, "meeting", **meeting))
    assert _disposal(town).status == "requested"
    assert "村民会议决议已登记" in _flash(_step(town.client(town.cadre), row.id, "meeting", **meeting))
    # Without the valuation the township does not approve; another township's leader never.
    leader = town.client(town.leader)
    assert "请先登记资产评估结果" in _flash(_step(leader, row.id, "township"))
    assert _post(town.client(town.outsider), town, row.id, "township").status_code == 403
    assert _disposal(town).status == "village_meeting"
    # The village withdraws its request, saying why.
    withdrawn = _step(town.client(town.cadre), row.id, "withdraw", reason="村里决定先招租盘活")
    assert "申请已撤回" in _flash(withdrawn) and _disposal(town).status == "withdrawn"


def test_a_meeting_that_does_not_agree_refuses_the_disposal(town):
    row = _requested(town)
    done = _step(town.client(town.cadre), row.id, "meeting", kind="villagers", day=str(china_today()),
                 attendees="51", result="not_agreed")
    assert "村民会议决议已登记" in _flash(done)
    assert _disposal(town).status == "refused" and "未获批准" in done.text
    # The asset may be asked for again.
    form = town.client(town.cadre).get(f"/disposals/new?asset={town.asset.id}")
    assert form.status_code == 200


@pytest.mark.parametrize("field", ["reason", "description"])
def test_a_request_without_its_reason_is_refused(town, field):
    cadre = town.client(town.cadre)
    form = cadre.get(f"/disposals/new?asset={town.asset.id}")
    data = {"csrf": csrf(form), "asset": str(town.asset.id), "reason": "damaged", "way": "scrap",
            "description": "损毁", "confirm": "1", field: ""}
    refused = cadre.post("/disposals/new", data=data)
    assert refused.url.path == "/disposals/new" and 'role="alert"' in refused.text
    with Session(town.engine) as session:
        assert session.exec(select(Disposal)).first() is None
