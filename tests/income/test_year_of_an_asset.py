"""A year of one operating asset (issue 17): the contract comes in with the ledger, the income is received month by
month through the monthly check, the distribution plan is approved, filed and paid, the public page shows the
totals and nobody's name, the contract's end comes near with its reminders, and the next year starts with the
inventory that settles the year's income — every reader asking the same income records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.clock import UTC
from bot.config import Settings
from bot.services import contracts, income, inventory, ledger, outbox
from bot.services.income import ShareIn
from bot.storage.models import Asset, OrgUnit, User
from bot.storage.models_schedule import OutboxMessage
from bot.web.app import create_app
from tests.fidelity.conftest import MONTHLY as FIDELITY_MONTHLY
from tests.fidelity.conftest import submit_monthly

TZ = ZoneInfo("Asia/Shanghai")
END = dt.date(2027, 3, 31)
MONTHLY = {**FIDELITY_MONTHLY, "board_missing": "missing", "sign_missing": "missing"}
PEOPLE = ("张村干", "李镇长", "王主任", "农业农村局吴股长")


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ).astimezone(UTC)


def _import_contract(engine, world, tmp_path: Path) -> None:
    """Export the county's ledger, write the greenhouse's contract and shares into its new columns, import it."""
    exported, edited = tmp_path / "ledger.xlsx", tmp_path / "ledger-with-contract.xlsx"
    with Session(engine) as session:
        county = session.get(User, world.county)
        ledger.export_ledger(session, county, exported)
        code = session.get(Asset, world.greenhouse).project_code
    book = openpyxl.load_workbook(exported)
    sheet = book.active
    header_row, columns = next((row[0].row, {c.value: c.column for c in row if c.value})
                               for row in sheet.iter_rows() if any(c.value == "项目编号" for c in row))
    row = next(r for r in range(header_row + 1, sheet.max_row + 1)
               if sheet.cell(r, columns["项目编号"]).value == code)
    for header, value in (("经营主体", "桃源县农业发展有限公司"), ("合同起始日", "2024-04-01"),
                          ("合同到期日", END.isoformat()), ("经营方式", "租赁"), ("年收益（万元）", 12),
                          ("收益约定", "每月支付租金1万元"), ("带贫机制", "吸纳脱贫户务工，收益60%分红到户"),
                          ("占股比例", "新桥村股份经济合作社 100%")):
        sheet.cell(row, columns[header]).value = value
    book.save(edited)
    with Session(engine) as session:
        result = ledger.import_ledger(session, session.get(User, world.county), edited)
        assert result.ok, result.errors
        session.commit()


def test_a_year_of_one_operating_asset(engine, world, tmp_path, time_machine):
    with Session(engine) as session:  # the county follows 砚山's monthly checks (seed 002)
        county = session.get(OrgUnit, world.tree.county.id)
        county.policy_profile = "yanshan-2024"
        session.add(county)
        session.commit()
    _import_contract(engine, world, tmp_path)
    with Session(engine) as session:
        contract = contracts.current_contract(session, world.greenhouse)
        assert (contract.operator, contract.end, contract.income_amount) == (
            "桃源县农业发展有限公司", END, Decimal(12))
        # The due comes from the contract: the whole of 2026 is covered.
        assert income.year_totals(session, world.greenhouse, 2026).due == Decimal(12)

    # The rent comes in every month and the monthly check says so.
    for month in range(1, 13):
        submit_monthly(engine, world.cadre, world.greenhouse,
                       {**MONTHLY, "income_distributed": "yes", "income_amount": "1"},
                       now=at(dt.date(2026, month, 20)))
    with Session(engine) as session:
        totals = income.year_totals(session, world.greenhouse, 2026)
        assert (totals.due, totals.received) == (Decimal(12), Decimal(12))
        # All due was received: the year raises no unpaid-income problem.
        assert income.raise_overdue(session, at(dt.date(2027, 2, 20)), tz=TZ) == []

    # The plan: the village drafts it, the township approves, the department files it, the village pays.
    december = at(dt.date(2026, 12, 28))
    shares = [ShareIn("households", "60", "45"), ShareIn("public_jobs", "30", "6"), ShareIn("reinvest", "10")]
    with Session(engine, expire_on_commit=False) as session:
        def user(user_id: int) -> User:
            return session.get(User, user_id)
        plan = income.draft_plan(session, user(world.cadre), world.greenhouse, 2026, "12", shares, now=december)
        income.submit_plan(session, user(world.cadre), plan.id, now=december)
        income.approve_plan(session, user(world.leader), plan.id, now=december)
        income.file_plan(session, user(world.department), plan.id, now=december)
        for category, amount in (("households", "7.2"), ("public_jobs", "3.6"), ("reinvest", "1.2")):
            income.record_distribution(session, user(world.cadre), plan.id, date="2026-12-28", amount=amount,
                                       category=category, now=december, tz=TZ)
        session.commit()
        totals = income.year_totals(session, world.greenhouse, 2026)
        assert totals.plan_status == "distributed"
        assert totals.distributed == {"households": Decimal("7.2"), "public_jobs": Decimal("3.6"),
                                      "reinvest": Decimal("1.2")}
        token = session.get(Asset, world.greenhouse).public_token

    # The public page shows the year's totals, how they were shared, and no one's name.
    time_machine.move_to(december)
    settings = Settings(data_dir=tmp_path / "data", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    page = TestClient(create_app(settings, engine)).get(f"/p/{token}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    section = page.text[page.text.index('id="income-shared"'):]
    section = section[:section.index("</section>")]
    assert "12" in section and "7.2" in section and "45" in section
    assert not [name for name in PEOPLE if name in page.text]

    # The contract's end comes near: reminded 90 and 30 days before, once each, to the village and the township.
    for day in (END - dt.timedelta(days=90), END - dt.timedelta(days=90), END - dt.timedelta(days=30)):
        outbox.tick(engine, {}, now=at(day, 10))
    with Session(engine) as session:
        reminders = session.exec(select(OutboxMessage).where(
            OutboxMessage.key.startswith("n|contract/"), ~OutboxMessage.key.contains(">"))).all()
        assert sorted((r.recipient, r.step) for r in reminders) == sorted(
            (f"u{person}", f"remind-{days}-{END.isoformat()}")
            for person in (world.cadre, world.leader) for days in (90, 30))

    # The next year starts with the inventory: the asset is confirmed, and the year's income settles at the
    # figure the income records hold.
    january = at(dt.date(2027, 1, 15))
    with Session(engine, expire_on_commit=False) as session:
        cadre = session.get(User, world.cadre)
        village = session.get(OrgUnit, session.get(Asset, world.greenhouse).village_id)
        before = inventory.sheet(session, cadre, village, 2026, now=january)
        line = next(x for x in before.lines if x.asset.id == world.greenhouse)
        assert line.check is None and line.income == Decimal(12)
        inventory.confirm(session, cadre, world.greenhouse, 2026, exists=True, state="operating", value="100",
                          income_settled=True, income_received=str(line.income), now=january)
        session.commit()
        after = inventory.sheet(session, cadre, village, 2026, now=january)
        assert next(x for x in after.lines if x.asset.id == world.greenhouse).settled
