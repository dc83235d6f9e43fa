"""The scores and 附件3 read income from bot.services.income: received from the monthly checks, due as entered."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session

from bot.services import exports, income
from bot.services.assessment.facts import registry_facts
from bot.storage.models import Asset, OrgUnit, User
from tests.fidelity.conftest import MONTHLY as FIDELITY_MONTHLY
from tests.fidelity.conftest import submit_monthly
from tests.income.conftest import NOW

MONTHLY = {**FIDELITY_MONTHLY, "board_missing": "missing", "sign_missing": "missing"}


def _april(engine, world, received: str, due: str | None):
    submit_monthly(engine, world.cadre, world.greenhouse,
                   {**MONTHLY, "income_distributed": "yes", "income_amount": received})
    if due is not None:
        with Session(engine) as session:
            income.set_due(session, session.get(User, world.leader), world.greenhouse, "2026-04", due, now=NOW)
            session.commit()


def test_the_asset_score_takes_income_received_and_due(engine, world):
    _april(engine, world, "1.25", "2")
    with Session(engine) as session:
        filled = registry_facts(session, session.get(Asset, world.greenhouse), 2026)
        assert filled.facts["income"] == {"received": Decimal("12500"), "annual_return": Decimal("12500"),
                                          "agreed": Decimal("20000")}
        assert "2 万元" in filled.sources["income.agreed"][1].render("en")


def test_annex_3_says_the_income_received_and_that_it_fell_short_of_the_due(engine, world):
    _april(engine, world, "0.5", "2")
    with Session(engine) as session:
        county = session.get(User, world.county)
        projects = exports.project_quarters(session, county, session.get(OrgUnit, world.tree.township_a.id),
                                            "2026Q2")
        project = next(p for p in projects if p.asset.id == world.greenhouse)
        assert (project.received, project.due) == (Decimal("0.5"), Decimal("2"))
        cells = exports.benefit_values(project)
        assert cells[4] == 0.5  # 项目年净收益 (万元): the quarter's income received
        assert cells[7] == "未落实（应收2万元，实收0.5万元）"
        assert exports.monitoring_values(project)[1] == "分配收益0.5万元"


def test_annex_3_without_a_due_keeps_the_monthly_reading(engine, world):
    _april(engine, world, "1.5", None)
    with Session(engine) as session:
        projects = exports.project_quarters(session, session.get(User, world.county),
                                            session.get(OrgUnit, world.tree.township_a.id), "2026Q2")
        cells = exports.benefit_values(next(p for p in projects if p.asset.id == world.greenhouse))
        assert cells[4] == 1.5 and cells[7] == "已按约定落实"
