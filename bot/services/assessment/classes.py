"""四个一批 over the registry: suggest a class per operating asset, the township leader confirms it.

``suggest_classes`` reads, for each active operating asset (经营性) of a township, its submitted
monthly reports of the last twelve months up to ``period`` and its serious problems still open at
the end of that month, turns them into ``MonthlySummary`` records and lets the pure rules of
``bot.scoring.classify`` decide. The result is stored in ``AssetClass`` (one row per asset and
month) with the reasons as ``{msgid, params, main}``; ``main`` is False for the weaker signals.
Classes are stored by their published names 巩固 / 提升 / 盘活 / 处置 (``STORED``).
``confirm_class`` records the leader's decision with a note (required when the class changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from bot.clock import utcnow
from bot.i18n import N_
from bot.scoring.classify import (
    CLASS_LABELS,
    CONSOLIDATE,
    DISPOSE,
    REVITALISE,
    UPGRADE,
    AssetFacts,
    Classification,
    ClassifyPolicy,
    MonthlySummary,
    classify,
)
from bot.scoring.trace import Step
from bot.services import audit, duties
from bot.services.access import require, require_asset
from bot.services.assessment.common import (
    IDLE,
    AssessmentError,
    choices,
    deadline_for,
    month_start,
    months_back,
    submitted_reports,
    yes,
)
from bot.storage.models import Asset, AssetClass, OrgUnit, Problem, Report, User

CLASSIFIED_TYPES = ("经营性",)   # 四个一批 is about assistance-industry (operating) projects, 002 第十条
LOOK_BACK_MONTHS = 12            # enough to count a year of idleness (ClassifyPolicy.dispose_idle_months)
STORED = {CONSOLIDATE: "巩固", UPGRADE: "提升", REVITALISE: "盘活", DISPOSE: "处置"}
CLASS_OF = {name: key for key, name in STORED.items()}


def class_label(stored: str) -> str:
    """Return the msgid of a stored class name, e.g. '盘活' → 'Revitalise (盘活一批)'."""
    return CLASS_LABELS[CLASS_OF[stored]]


@dataclass(frozen=True)
class Suggestion:
    """One asset's suggestion; ``row`` and ``classification`` are None when it has no reports to read."""

    asset: Asset
    row: AssetClass | None
    classification: Classification | None


def actor_of(user: User | None) -> audit.Actor:
    """Return the audit actor for a user, or the system (command line, scheduler)."""
    return audit.SYSTEM if user is None else audit.Actor(user.id, f"user:{user.id}")


def idle_in(report: Report) -> bool:
    """True when a report says the asset stands idle."""
    return IDLE in choices(report.answers, "risk_kinds")


def idle_months(report: Report, earlier_idle: int) -> int:
    """Return how many months the asset has been idle at this report.

    From the answered 'idle since' date when there is one, else by counting consecutive idle reports.
    """
    if not idle_in(report):
        return 0
    since = report.answers.get("idle_since")
    if isinstance(since, str):
        try:
            day = dt.date.fromisoformat(since)
        except ValueError:
            day = None
        if day is not None:
            start = month_start(report.period)
            return max(1, (start.year - day.year) * 12 + start.month - day.month)
    return earlier_idle + 1


def open_serious_at(problems: Sequence[Problem], moment: dt.datetime) -> int:
    """Count the serious problems created before ``moment`` and not resolved by then."""
    return sum(1 for p in problems if p.severity == "serious" and p.created_at < moment
               and (p.resolved_at is None or p.resolved_at >= moment))


def asset_summaries(session: Session, asset: Asset, period: str, tz: dt.tzinfo) -> list[MonthlySummary]:
    """Return the monthly summaries of ``asset`` from its submitted reports up to ``period``."""
    months = months_back(period, LOOK_BACK_MONTHS)
    found = submitted_reports(session, [asset.id], months)
    problems = session.exec(select(Problem).where(Problem.asset_id == asset.id)).all()
    summaries, idle = [], 0
    for month in months:
        submitted = found.get((asset.id, month))
        if submitted is None:
            idle = 0  # a month without a report breaks the count of consecutive idle months
            continue
        report = submitted.report
        idle = idle_months(report, idle)
        start = month_start(month)
        following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        month_end = dt.datetime.combine(following, dt.time(0), tzinfo=tz)
        answers = report.answers
        summaries.append(MonthlySummary(
            period=start,
            operating_normally=yes(answers, "operating_normally") is not False,
            intact=yes(answers, "intact") is not False,
            idle_risk=yes(answers, "at_risk") is True,
            idle_months=idle,
            income_distributed=yes(answers, "income_distributed") is not False,
            difficulties=tuple(choices(answers, "difficulties")),
            unauthorised_acts=tuple(choices(answers, "unauthorised_acts")),
            open_serious_problems=open_serious_at(problems, month_end),
            contract_end=asset.contract_end,
            year_completed=asset.year_completed,
            disaster_damage=yes(answers, "disaster_damage") is True,
        ))
    return summaries


def reasons_json(result: Classification) -> list[dict[str, Any]]:
    """Return the reasons (main) and weaker signals of a classification as JSON-ready data."""
    return ([{"msgid": s.msgid, "params": s.params, "main": True} for s in result.reasons]
            + [{"msgid": s.msgid, "params": s.params, "main": False} for s in result.other_signals])


def reason_steps(row: AssetClass, main: bool = True) -> list[Step]:
    """Return the stored reasons of a row (or its weaker signals) as trace steps to render."""
    return [Step(r["msgid"], r.get("params") or {}) for r in row.reasons if bool(r.get("main", True)) is main]


def class_row(session: Session, asset_id: int, period: str) -> AssetClass | None:
    """Return the stored class of an asset for a month, if any."""
    return session.exec(select(AssetClass).where(AssetClass.asset_id == asset_id, AssetClass.period == period)
                        .order_by(col(AssetClass.id))).first()


DEFAULT_POLICY = ClassifyPolicy()


def county_policy(session: Session, unit: OrgUnit) -> ClassifyPolicy:
    """Return the 四个一批 parameters of the profile the unit's county follows (the defaults without one)."""
    from bot.policy.scoring import classify_policy
    from bot.services.orgs import county_of
    from bot.services.policies import county_profile

    return classify_policy(county_profile(session, county_of(session, unit)))


def asset_facts(asset: Asset) -> AssetFacts:
    """Return the ledger's facts of a workshop or PV station for seed 000's thresholds."""
    fiscal = sum((v or 0 for v in (asset.funds_central, asset.funds_province, asset.funds_city,
                                   asset.funds_county)), 0)
    return AssetFacts(workshop_area_m2=asset.workshop_area_m2, workers=asset.workers,
                      poor_workers=asset.poor_workers, in_use_since=asset.in_use_since,
                      government_funded=bool(fiscal), pv_income=asset.pv_income,
                      pv_income_public_jobs=asset.pv_income_public_jobs)


def suggest_classes(session: Session, township: OrgUnit, period: str, *, user: User | None = None,
                    policy: ClassifyPolicy | None = None) -> list[Suggestion]:
    """Suggest (and store) the class of every active operating asset of ``township`` for ``period``.

    The thresholds are the county's profile's (``bot.policy.scoring.classify_policy``) unless ``policy`` is given.

    A confirmed class is kept; only the suggestion and its reasons are refreshed (audited when they
    change). With a ``user``, they need 'asset.classify' over the township.
    """
    if township.level != "township":
        raise AssessmentError(N_("{name} is not a township."), name=township.name)
    if user is not None:
        require(session, user, "asset.classify", township)
    month_start(period)
    tz = deadline_for(session, township).tz
    policy = policy or county_policy(session, township)
    assets = session.exec(select(Asset).join(OrgUnit, col(Asset.village_id) == col(OrgUnit.id))
                          .where(col(OrgUnit.path).startswith(township.path),
                                 col(Asset.asset_type).in_(CLASSIFIED_TYPES), Asset.status == "active")
                          .order_by(col(Asset.name), col(Asset.id))).all()
    results = []
    for asset in assets:
        summaries = asset_summaries(session, asset, period, tz)
        if not summaries:
            results.append(Suggestion(asset, None, None))
            continue
        result = classify(summaries, policy, asset_facts(asset))
        results.append(Suggestion(asset, store_suggestion(session, user, asset, period, result), result))
    return results


def store_suggestion(session: Session, user: User | None, asset: Asset, period: str,
                     result: Classification) -> AssetClass:
    """Create or refresh the row of one asset and month; audit a changed suggestion."""
    reasons = audit.jsonable(reasons_json(result))
    row = class_row(session, asset.id, period)
    suggested = STORED[result.suggested]
    before = None if row is None else {"suggested": row.suggested, "reasons": row.reasons}
    if row is None:
        row = AssetClass(asset_id=asset.id, period=period)
    if before == {"suggested": suggested, "reasons": reasons}:
        return row
    row.suggested, row.reasons = suggested, reasons
    session.add(row)
    session.flush()
    audit.record(session, actor_of(user), "asset_class.suggest", "asset_class", row.id, before,
                 {"asset_id": asset.id, "period": period, "suggested": row.suggested, "reasons": reasons})
    return row


def confirm_class(session: Session, user: User, asset_id: int, period: str, chosen: str,
                  note: str | None = None) -> AssetClass:
    """Record the township leader's class for an asset and month (audited).

    ``chosen`` is 巩固 / 提升 / 盘活 / 处置 (or consolidate / upgrade / revitalise / dispose); a note
    is required when it differs from the suggestion. Needs 'asset.classify' over the asset's village;
    a leader of another township is refused as for an unknown asset.
    """
    require_asset(session, user, "asset.classify", asset_id)
    row = class_row(session, asset_id, period)
    if row is None:
        raise AssessmentError(N_("There is no suggested class for this asset and month yet."))
    chosen = STORED.get(chosen, chosen)
    if chosen not in CLASS_OF:
        raise AssessmentError(N_("Unknown class {value}: choose 巩固, 提升, 盘活 or 处置."),
                              value=chosen)
    note = (note or "").strip() or None
    if chosen != row.suggested and note is None:
        raise AssessmentError(N_("Please add a note saying why you change the suggested class."))
    before = {"confirmed": row.confirmed, "note": row.note, "confirmed_by": row.confirmed_by}
    row.confirmed, row.note, row.confirmed_by, row.confirmed_at = chosen, note, user.id, utcnow()
    session.add(row)
    audit.record(session, actor_of(user), "asset.classify", "asset_class", row.id, before,
                 {"asset_id": asset_id, "period": period, "suggested": row.suggested, "confirmed": chosen,
                  "note": note, "confirmed_by": user.id})
    duties.classification_done(session, user, asset_id, period)  # the township's 四个一批 duty (002 第六条)
    from bot.services import disposal

    disposal.follow_class(session, user, row)  # 处置 opens a disposal request, 盘活 a contract task (issue 17)
    return row
