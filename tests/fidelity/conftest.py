"""What the seeds require that issue 16 found missing (tests/fidelity), on the shared county of ``tests.worlds``:
a township leader, a county officer, a department officer for 种植业/养殖业, and operating assets."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.services import reports
from bot.storage.models import Problem, Report, User
from tests.worlds import NOW, outbox_to, world  # noqa: F401


def fill(engine, user_id: int, report_id: int, script: dict, now=NOW) -> None:
    """Answer everything the walker asks from ``script``; a photo question not in it is skipped."""
    while True:
        with Session(engine) as session:
            user = session.get(User, user_id)
            q = reports.walker_for(session.get(Report, report_id)).current()
            if q is None:
                return
            if q.type in ("photo", "location") and q.key not in script:
                reports.skip(session, user, report_id, q.key, now=now)
            elif q.type == "multi":
                for option in script[q.key]:
                    reports.toggle(session, user, report_id, q.key, option, now=now)
                reports.done(session, user, report_id, q.key, now=now)
            else:
                reports.answer(session, user, report_id, q.key, script[q.key], now=now)


def submit_form(engine, user_id: int, form_id: str, period: str, asset_id: int, script: dict, now=NOW):
    """Open, fill and submit a form of the calendars about an asset; return the SubmitResult."""
    with Session(engine) as session:
        report_id = reports.start_or_resume_form(session, session.get(User, user_id), form_id, period,
                                                 channel="web", asset_id=asset_id, now=now).id
    fill(engine, user_id, report_id, script, now)
    with Session(engine, expire_on_commit=False) as session:
        return reports.submit(session, session.get(User, user_id), report_id, now=now)


def submit_monthly(engine, user_id: int, asset_id: int, script: dict, now=NOW):
    with Session(engine) as session:
        report_id = reports.start_or_resume(session, session.get(User, user_id), asset_id, channel="web",
                                            now=now).id
    fill(engine, user_id, report_id, script, now)
    with Session(engine, expire_on_commit=False) as session:
        return reports.submit(session, session.get(User, user_id), report_id, now=now)


def problems(engine, asset_id: int) -> dict[str, Problem]:
    with Session(engine, expire_on_commit=False) as session:
        return {p.kind: p for p in session.exec(select(Problem).where(Problem.asset_id == asset_id)).all()}


MONITORING = {"operating_normally": "yes", "last_quarter_result": "profit", "publicly_disclosed": "yes",
              "market": "good", "sales_link": "average", "benefit_model_sound": "yes",
              "employment_as_agreed": "yes", "insured": "yes", "loss_safeguards": "yes"}
BENEFIT = {"output_value": "86.5", "net_income": "12.25", "income_per_household": "1800",
           "households_benefiting": "45", "benefit_as_agreed": "yes", "income_years": "15",
           "agreement_years": "10", "after_agreement": "到期后由村集体续签或公开发包", "satisfaction": "satisfied",
           "operator_satisfaction": "mostly", "conclusion": "效益良好，带贫作用明显"}
MONTHLY = {"operating_normally": "yes", "intact": "yes", "at_risk": "no", "income_distributed": "not_due",
           "farmers_linked": "yes", "households_benefited": "40", "poor_households": "12", "effective": "yes",
           "unauthorised": "no", "has_difficulties": "no", "committee_studied": "yes"}
