"""The yearly inventory and income settlement (seed 003 二(八) 年初清查、清算) of the jiaozuo-2020 profile: the
village's duty opens when the year counted has ended, is done (as the duty service says) only when every asset of
that year is confirmed with its income settled and the year is submitted; the township sees what is not
confirmed; a cadre of another village is refused; the export opens in openpyxl; the planner reminds the village
before the due date and stops once it is done."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from sqlmodel import Session, select

from bot.services import disposal, duties, inventory, ledger
from bot.services.access import AccessDenied
from bot.services.outbox import tick
from bot.storage.models import Asset, AuditEntry, OrgUnit, Report
from bot.storage.models_inventory import InventoryCheck
from bot.storage.models_schedule import OutboxMessage
from tests.duties.harness import local
from tests.factories import make_asset
from tests.policy.world import Recorder, build

ITEM = "yearly_inventory"
AT = local(2027, 1, 12, 10)  # the inventory of 2026 is done in January 2027


def world(session: Session):
    """The jiaozuo county: one operating asset per village since 2024, and in 新桥村 also a public-welfare
    asset (counted), a household asset (not covered), and an asset registered in 2027 (not of the year)."""
    found = build(session, "jiaozuo-2020")
    village = found.tree.village_a1
    road = make_asset(session, village, name="新桥村道路", asset_type="公益性", created_at=local(2025, 5, 1))
    make_asset(session, village, name="新桥村到户羊", asset_type="到户类", created_at=local(2025, 5, 1))
    make_asset(session, village, name="新桥村新厂房", created_at=local(2027, 1, 3))
    workshop = found.assets["village_a1"]
    for month, amount in ((3, "1.5"), (9, "2.25")):
        session.add(Report(asset_id=workshop.id, form_id="monthly-operating", period=f"2026-{month:02d}",
                           status="approved", submitted_at=local(2026, month, 20), current=True,
                           answers={"income_distributed": "yes", "income_amount": amount}))
    session.add(Report(asset_id=workshop.id, form_id="monthly-operating", period="2025-12", status="approved",
                       submitted_at=local(2025, 12, 20), current=True, answers={"income_amount": "9"}))
    session.commit()
    return found, road


def state_of(session: Session, village_id: int, now: dt.datetime) -> duties.DutyState:
    """The village's inventory duty of 2026 as the duty service (the one definition) says at ``now``."""
    found = duties.states(session, session.get(OrgUnit, village_id), local(2027, 1, 1), local(2027, 12, 31),
                          now=now, items=[ITEM])
    assert len(found) == 1, found
    return found[0]


def confirm_all(session: Session, cadre, assets, *, settled: bool = True) -> None:
    for asset in assets:
        inventory.confirm(session, cadre, asset.id, 2026, exists=True, state="operating", value="100",
                          income_settled=settled, income_received="3.75", now=AT)
    session.commit()


def test_the_duty_opens_at_year_start_and_is_done_only_when_every_asset_is_counted_and_settled(engine):
    with Session(engine, expire_on_commit=False) as session:
        w, road = world(session)
        a1, cadre = w.tree.village_a1, w.people["cadre_a1"]
        workshop = w.assets["village_a1"]
        # Open at the start of 2027 for the year 2026, listed for the village; not before.
        assert state_of(session, a1.id, local(2026, 12, 20)).state == duties.NOT_DUE
        opened = state_of(session, a1.id, local(2027, 1, 2))
        assert (opened.state, opened.period, opened.role) == (duties.DUE, "2026", "village_cadre")
        assert opened.due_at == local(2027, 3, 31, 23, 59)
        # The sheet: the workshop and the road (registered before 2027), not the household asset or the new one;
        # the workshop's value from the ledger, its income of 2026 from the monthly checks (not December 2025).
        sheet = inventory.sheet(session, cadre, a1, 2026, now=AT)
        assert [line.asset.name for line in sheet.lines] == [workshop.name, "新桥村道路"]
        assert (sheet.lines[0].value, sheet.lines[0].income) == (Decimal("100"), Decimal("3.75"))
        assert sheet.can_confirm and sheet.submitted is None and len(sheet.missing) == 2
        # One asset confirmed: not done, the submission refused with the count.
        confirm_all(session, cadre, [workshop])
        with pytest.raises(inventory.InventoryError) as refused:
            inventory.submit(session, cadre, a1, 2026, now=AT)
        assert refused.value.params == {"count": 1}
        # The road confirmed but its income not settled: still refused, still open.
        confirm_all(session, cadre, [road], settled=False)
        with pytest.raises(inventory.InventoryError):
            inventory.submit(session, cadre, a1, 2026, now=AT)
        session.rollback()
        assert state_of(session, a1.id, AT).state == duties.DUE
        # Settled and submitted: the duty service says done, by the inventory.
        confirm_all(session, cadre, [road])
        inventory.submit(session, cadre, a1, 2026, now=AT)
        session.commit()
        done = state_of(session, a1.id, AT)
        assert (done.state, done.done.by, done.on_time) == (duties.DONE, "inventory", True)
        # Final: no change after the submission, and every answer is in the audit log.
        with pytest.raises(inventory.InventoryError):
            inventory.confirm(session, cadre, road.id, 2026, exists=False, state="damaged", value="0",
                              income_settled=True, income_received="0", note="冲毁", now=AT)
        session.rollback()
        actions = session.exec(select(AuditEntry.action).where(
            AuditEntry.action.in_(("inventory.confirm", "duty.done")))).all()
        assert sorted(actions) == ["duty.done"] + ["inventory.confirm"] * 3
        # The other village of the township is still open.
        assert state_of(session, w.tree.village_a2.id, AT).state == duties.DUE


def test_the_township_sees_what_is_not_confirmed_and_a_cadre_of_another_village_is_refused(engine):
    with Session(engine, expire_on_commit=False) as session:
        w, road = world(session)
        workshop = w.assets["village_a1"]
        confirm_all(session, w.people["cadre_a1"], [workshop])
        progress = {p.village.name: p for p in inventory.unconfirmed(session, w.tree.township_a, 2026)}
        assert {name: [a.name for a in p.missing] for name, p in progress.items()} == {
            "新桥村": ["新桥村道路"], "王庄村": [w.assets["village_a2"].name]}
        assert progress["新桥村"].total == 2 and progress["新桥村"].township == "新桥镇"
        # A cadre of 王庄村 may not confirm 新桥村's asset; the township leader reads but may not confirm.
        for person in ("cadre_a2", "leader_a"):
            with pytest.raises(AccessDenied):
                inventory.confirm(session, w.people[person], road.id, 2026, exists=True, state="operating",
                                  value="5", income_settled=True, income_received="0", now=AT)
        session.rollback()
        assert inventory.sheet(session, w.people["leader_a"], w.tree.village_a1, 2026, now=AT).can_confirm is False
        with pytest.raises(AccessDenied):
            inventory.sheet(session, w.people["cadre_a2"], w.tree.village_a1, 2026, now=AT)
        with pytest.raises(AccessDenied):
            inventory.sheet(session, w.people["leader_b"], w.tree.village_a1, 2026, now=AT)
        assert session.exec(select(InventoryCheck)).all()[0].asset_id == workshop.id


def test_the_export_opens_in_openpyxl_with_a_row_per_asset(engine):
    with Session(engine, expire_on_commit=False) as session:
        w, road = world(session)
        confirm_all(session, w.people["cadre_a1"], [w.assets["village_a1"]])
        out = io.BytesIO()
        count = inventory.export_xlsx(session, w.people["office"], w.tree.county, 2026, out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "2026年度扶贫资产清查和收益清算表" and rows[2][:4] == ["序号", "乡镇", "村", "项目编号"]
    body = {r[4]: r for r in rows[3:]}
    assert count == 4 and len(body) == 4  # the three villages' workshops and 新桥村's road
    workshop = body[w.assets["village_a1"].name]
    assert workshop[6:11] == ["是", "正常运营", 100, "是", 3.75] and workshop[-1] == "未提交"
    assert body["新桥村道路"][6] == "未确认"


def test_the_village_is_reminded_before_the_due_date_until_it_is_done(sqlite_engine):
    engine = sqlite_engine
    with Session(engine, expire_on_commit=False) as session:
        w, road = world(session)
        cadre = w.people["cadre_a1"]
        confirm_all(session, cadre, [w.assets["village_a1"], road])
        inventory.submit(session, cadre, w.tree.village_a1, 2026, now=AT)
        session.commit()
    recorder = Recorder()
    for day in (local(2027, 3, 20, 8), local(2027, 3, 27, 8), local(2027, 3, 31, 8)):
        tick(engine, {"telegram": recorder}, now=day)
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.item == ITEM,
                                                        OutboxMessage.kind == "reminder")).all()
    to = {(r.recipient, r.period) for r in rows}
    # 5 days and 1 day before 31 March, to the cadres of the villages that have not done it.
    assert (f"u{w.people['cadre_a2'].id}", "2026") in to and (f"u{w.people['cadre_b1'].id}", "2026") in to
    assert all(r.send_at < local(2027, 3, 31, 23, 59) for r in rows)
    assert len([r for r in rows if r.recipient == f"u{w.people['cadre_a2'].id}"]) == 2
    assert (f"u{w.people['cadre_a1'].id}", "2026") not in to  # done in January


def _dispose(session: Session, w, asset, *, notice_on: dt.date, done_on: dt.date, recorded_at: dt.datetime) -> None:
    """Dispose of ``asset`` through every step of ``bot.services.disposal``: the village asks and its meeting
    agrees, the township values and approves, the county approves, the notice runs its 7 days from
    ``notice_on``, and the township records the disposal at ``recorded_at`` as done on ``done_on``."""
    cadre, leader, office = w.people["cadre_a1"], w.people["leader_a"], w.people["office"]
    asked = local(notice_on.year, notice_on.month, notice_on.day, 9)
    row = disposal.request(session, cadre, asset.id, reason="damaged", method="scrap", description="损毁无法修复",
                           now=asked)
    disposal.record_meeting(session, cadre, row.id, kind="villagers", held_on=notice_on, attendees=60,
                            result="agreed", now=asked)
    disposal.record_valuation(session, leader, row.id, amount="0.5", valuer="桃源县评估所", valued_on=notice_on,
                              now=asked)
    disposal.approve_township(session, leader, row.id, now=asked)
    disposal.approve_county(session, office, row.id, now=asked)
    disposal.start_notice(session, leader, row.id, now=asked)
    disposal.record_outcome(session, leader, row.id, done_on=done_on, method="scrap", amount="0.3",
                            counterpart="桃源县再生资源公司", now=recorded_at)
    session.commit()


def _names(session: Session, cadre, village, year: int, now: dt.datetime) -> list[str]:
    return [line.asset.name for line in inventory.sheet(session, cadre, village, year, now=now).lines]


def test_a_disposed_asset_counts_until_the_year_of_its_disposal_whatever_changed_it_later(engine):
    """The inventory of a year counts an asset disposed of on a day of that year or later, by the day its
    disposal's record gives — not by when the asset's row last changed (the record entered weeks late, a
    correction of the ledger years later)."""
    with Session(engine, expire_on_commit=False) as session:
        w, road = world(session)
        a1, cadre, office = w.tree.village_a1, w.people["cadre_a1"], w.people["office"]
        workshop = w.assets["village_a1"]
        pond = make_asset(session, a1, name="新桥村蓄水池", asset_type="公益性", created_at=local(2024, 3, 1))
        session.commit()
        # The road is disposed of in March 2026; a correction of its ledger entry in June 2027 changes its row.
        _dispose(session, w, road, notice_on=dt.date(2026, 3, 2), done_on=dt.date(2026, 3, 15),
                 recorded_at=local(2026, 3, 20, 10))
        with time_machine.travel(local(2027, 6, 1, 10), tick=False):
            changed, issues = ledger.edit_asset(session, office, road.id, {"custodian": "新桥村村民委员会"})
            assert changed and not issues
            session.commit()
        # The pond is scrapped on 2025-12-20, and the record is entered only on 2026-01-12.
        _dispose(session, w, pond, notice_on=dt.date(2025, 12, 1), done_on=dt.date(2025, 12, 20),
                 recorded_at=local(2026, 1, 12, 10))
        assert {session.get(Asset, a).status for a in (road.id, pond.id)} == {"disposed"}

        # Each year's inventory is made once the year has ended (the year counted is the one before).
        assert _names(session, cadre, a1, 2025, local(2026, 1, 20)) == [workshop.name, "新桥村道路", "新桥村蓄水池"]
        assert _names(session, cadre, a1, 2026, local(2027, 1, 12)) == [workshop.name, "新桥村道路"]
        assert _names(session, cadre, a1, 2027, local(2028, 1, 12)) == [workshop.name, "新桥村新厂房"]
        # The duty asks the same assets (one definition): the road is not missing from 2027, nor the pond from 2026.
        new_hall = session.exec(select(Asset.id).where(Asset.name == "新桥村新厂房")).one()
        for year, expected in ((2025, [workshop.id, road.id, pond.id]), (2026, [workshop.id, road.id]),
                               (2027, [workshop.id, new_hall])):
            assets, _missing = duties.inventory_missing(session, a1.id, year, inventory.asset_types(session, a1),
                                                        inventory.tz_of(session, a1))
            assert sorted(assets) == sorted(expected), year
        with pytest.raises(inventory.InventoryError) as refused:
            inventory.confirm(session, cadre, road.id, 2027, exists=False, state="disposed", value="0",
                              income_settled=True, income_received="0", note="2026年3月已报废", now=local(2028, 1, 12))
        assert refused.value.msgid == inventory.MSG_NOT_IN_YEAR
