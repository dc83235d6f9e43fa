"""四个一批: suggest 巩固 / 提升 / 盘活 / 处置 for one operating asset from its recent monthly reports.

Seed 002 第十至十三条. The township leader confirms or changes the suggestion; this only proposes it,
with every reason as a translatable msgid. The rules (docs/scoring.md) are checked from the most
severe class down, and the first class with a reason wins: 处置 > 盘活 > 提升 > 巩固.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bot.i18n import N_
from bot.scoring.errors import ScoringInputError
from bot.scoring.numbers import HUNDRED, round_half_up
from bot.scoring.trace import Step

CONSOLIDATE, UPGRADE, REVITALISE, DISPOSE = "consolidate", "upgrade", "revitalise", "dispose"
CLASS_LABELS = {
    CONSOLIDATE: N_("Consolidate (巩固一批)"),
    UPGRADE: N_("Upgrade (提升一批)"),
    REVITALISE: N_("Revitalise (盘活一批)"),
    DISPOSE: N_("Dispose (处置一批)"),
}


@dataclass(frozen=True)
class MonthlySummary:
    """What one monthly report said about an operating asset (002 第四条)."""

    period: dt.date                      # any day of the reported month
    operating_normally: bool = True
    intact: bool = True
    idle_risk: bool = False
    idle_months: int = 0                 # consecutive months idle up to this report
    income_distributed: bool = True
    difficulties: Sequence[str] = ()     # e.g. facilities, sales, technology, funding, labour
    unauthorised_acts: Sequence[str] = ()  # transfer, sublease, mortgage, financing, operator_change
    open_serious_problems: int = 0
    contract_end: dt.date | None = None
    year_completed: int | None = None
    disaster_damage: bool = False        # force majeure (自然灾害等不可抗力)


@dataclass(frozen=True)
class ClassifyPolicy:
    """The thresholds: the county's profile sets them (``bot.policy.scoring.classify_policy``); these defaults
    hold where it is silent. The seed 000 workshop and PV thresholds are checked only where a profile gives them."""

    service_life_years: int = 15         # 到达报废处置年限: none is published for all assets
    seasonal_idle_months: int = 3        # 000 三(二)1: seasonal idleness at most 3 months
    dispose_idle_months: int = 12        # idle a whole year and damaged: nothing left to revitalise
    poor_months: int = 2                 # abnormal operation or undistributed income this often → 盘活
    renewal_warning_days: int = 180      # 000 三(二)3: arrange renewal before the contract ends
    window: int = 6                      # how many recent reports are read
    idle_rate_max: Decimal | None = None            # 000 三(二)1 "闲置率不得超过15%" (workshops)
    workers_per_100m2: Decimal | None = None        # 000 三(二)1 "每百平方米就业人数15人左右"
    workshop_workers_tolerance: Decimal = Decimal("0.2")  # "左右": our reading, flagged below 80 % of it
    poverty_share_min_new: Decimal | None = None    # 000 三(二)1 带贫比例 ≥ 30 % (government-funded, from 2018-07-05)
    poverty_share_min_old: Decimal | None = None    # ≥ 10 % (older, or built by social capital alone)
    pv_public_jobs_share_min: Decimal | None = None  # 000 三(二)2 80 % of PV income to 公益岗位 and public works


WORKSHOP_RULES_FROM = dt.date(2018, 7, 5)  # 《河南省扶贫车间管理办法（试行）》 (000 三(二)1)


@dataclass(frozen=True)
class AssetFacts:
    """What the ledger says about a workshop or a PV station (optional fields; None: not recorded)."""

    workshop_area_m2: Decimal | None = None
    workers: int | None = None
    poor_workers: int | None = None
    in_use_since: dt.date | None = None
    government_funded: bool = True       # any fiscal funds (中央/省/市/县): else built by social capital alone
    pv_income: Decimal | None = None
    pv_income_public_jobs: Decimal | None = None


@dataclass(frozen=True)
class Classification:
    """The suggested class, the reasons for it, and weaker signals seen on the way."""

    suggested: str
    reasons: tuple[Step, ...]
    other_signals: tuple[Step, ...] = field(default=())

    @property
    def label(self) -> str:
        return CLASS_LABELS[self.suggested]


def classify(reports: Sequence[MonthlySummary], policy: ClassifyPolicy = ClassifyPolicy(),
             asset: AssetFacts | None = None) -> Classification:
    """Return the suggested 四个一批 class of one asset from its monthly summaries (any order) and, when given,
    the ledger's facts of a workshop or PV station (seed 000 三(二) thresholds)."""
    if not reports:
        raise ScoringInputError(N_("No monthly reports to classify: {field}"), field="reports")
    ordered = sorted(reports, key=lambda r: r.period)
    recent = ordered[-policy.window:]
    found = {
        DISPOSE: dispose_reasons(recent, policy),
        REVITALISE: revitalise_reasons(recent, policy),
        UPGRADE: upgrade_reasons(recent, policy) + threshold_reasons(ordered, policy, asset or AssetFacts()),
    }
    for cls in (DISPOSE, REVITALISE, UPGRADE):
        if found[cls]:
            weaker = [s for c in (DISPOSE, REVITALISE, UPGRADE) if c != cls for s in found[c]]
            return Classification(cls, tuple(found[cls]), tuple(weaker))
    return Classification(CONSOLIDATE, (Step(N_("Operating normally, intact and income distributed in the "
                                                "last {months} reports."), {"months": len(recent)}),))


def dispose_reasons(recent: Sequence[MonthlySummary], policy: ClassifyPolicy) -> list[Step]:
    """Reasons for 处置 (第十三条): end of service life, disaster damage, long idle and not intact."""
    latest, reasons = recent[-1], []
    if latest.year_completed and latest.period.year - latest.year_completed >= policy.service_life_years:
        reasons.append(Step(N_("Completed in {year}: {age} years old, at or past the service life of {life} years."),
                            {"year": latest.year_completed, "age": latest.period.year - latest.year_completed,
                             "life": policy.service_life_years}))
    if latest.disaster_damage and not latest.intact:
        reasons.append(Step(N_("Damaged by a natural disaster or other force majeure and no longer intact."), {}))
    if latest.idle_months >= policy.dispose_idle_months and not latest.intact:
        reasons.append(Step(N_("Idle for {months} months and no longer intact."), {"months": latest.idle_months}))
    return reasons


def revitalise_reasons(recent: Sequence[MonthlySummary], policy: ClassifyPolicy) -> list[Step]:
    """Reasons for 盘活 (第十二条): idle, badly run, poor returns, loss risk, contract ended."""
    latest, reasons = recent[-1], []
    if latest.idle_months > policy.seasonal_idle_months:  # the county's profile (000 三(二)1: 3 months)
        reasons.append(Step(N_("Idle for {months} months, longer than the {limit} months of seasonal idleness."),
                            {"months": latest.idle_months, "limit": policy.seasonal_idle_months}))
    elif latest.idle_risk:
        reasons.append(Step(N_("The latest report sees a risk of idleness or loss."), {}))
    abnormal = sum(not r.operating_normally for r in recent)
    if abnormal >= policy.poor_months:
        reasons.append(Step(N_("Not operating normally in {count} of the last {months} reports."),
                            {"count": abnormal, "months": len(recent)}))
    undistributed = sum(not r.income_distributed for r in recent)
    if undistributed >= policy.poor_months:
        reasons.append(Step(N_("Income not distributed as agreed in {count} of the last {months} reports."),
                            {"count": undistributed, "months": len(recent)}))
    acts = sorted({a for r in recent for a in r.unauthorised_acts})
    if acts:
        reasons.append(Step(N_("Unauthorised acts reported ({acts}): refer to the county at once."),
                            {"acts": ", ".join(acts)}))
    if latest.contract_end and latest.contract_end < latest.period:
        reasons.append(Step(N_("The operating contract ended on {date}."), {"date": latest.contract_end.isoformat()}))
    return reasons


def upgrade_reasons(recent: Sequence[MonthlySummary], policy: ClassifyPolicy) -> list[Step]:
    """Reasons for 提升 (第十一条): difficulties, open serious problems, a bad month, contract ending soon."""
    latest, reasons = recent[-1], []
    difficulties = sorted({d for r in recent for d in r.difficulties})
    if difficulties:
        reasons.append(Step(N_("The operator reported difficulties: {difficulties}."),
                            {"difficulties": ", ".join(difficulties)}))
    if latest.open_serious_problems:
        reasons.append(Step(N_("{count} serious problems are still open."), {"count": latest.open_serious_problems}))
    if not latest.operating_normally:
        reasons.append(Step(N_("Not operating normally in the latest report."), {}))
    if not latest.income_distributed:
        reasons.append(Step(N_("Income not distributed as agreed in the latest report."), {}))
    if latest.contract_end and 0 <= (latest.contract_end - latest.period).days <= policy.renewal_warning_days:
        reasons.append(Step(N_("The operating contract ends on {date}: arrange its renewal."),
                            {"date": latest.contract_end.isoformat()}))
    return reasons


def share(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """Return part ÷ whole as a percentage with one decimal."""
    return round_half_up(Decimal(part) * HUNDRED / Decimal(whole), 1)


def threshold_reasons(reports: Sequence[MonthlySummary], policy: ClassifyPolicy, asset: AssetFacts) -> list[Step]:
    """Reasons for 提升 from seed 000 三(二)'s thresholds, each checked only where the profile gives it and the
    ledger records the facts: a workshop's idle rate, workers per 100 m², poverty share; a PV station's income use.
    """
    reasons: list[Step] = []
    if asset.workshop_area_m2 and policy.idle_rate_max is not None and reports:
        idle = sum(1 for r in reports if r.idle_months > 0)
        if Decimal(idle) / len(reports) > policy.idle_rate_max:
            reasons.append(Step(N_("The workshop stood idle in {count} of {months} reported months ({rate}%), more "
                                   "than the {limit}% allowed."),
                                {"count": idle, "months": len(reports), "rate": share(idle, len(reports)),
                                 "limit": share(policy.idle_rate_max, 1)}))
    if asset.workshop_area_m2 and asset.workers is not None and policy.workers_per_100m2 is not None:
        per_100 = round_half_up(Decimal(asset.workers) * HUNDRED / asset.workshop_area_m2, 1)
        if per_100 < policy.workers_per_100m2 * (1 - policy.workshop_workers_tolerance):
            reasons.append(Step(N_("The workshop employs {workers} people on {area} m², {per} per 100 m², well "
                                   "below the about {norm} per 100 m² expected."),
                                {"workers": asset.workers, "area": asset.workshop_area_m2, "per": per_100,
                                 "norm": policy.workers_per_100m2}))
    if asset.workshop_area_m2 and asset.workers and asset.poor_workers is not None:
        newer = (asset.government_funded and asset.in_use_since is not None
                 and asset.in_use_since >= WORKSHOP_RULES_FROM)
        minimum = policy.poverty_share_min_new if newer else policy.poverty_share_min_old
        if minimum is not None and Decimal(asset.poor_workers) / asset.workers < minimum:
            reasons.append(Step(N_("Of the workshop's {workers} workers {poor} are from poor households "
                                   "({rate}%), below the {limit}% required."),
                                {"workers": asset.workers, "poor": asset.poor_workers,
                                 "rate": share(asset.poor_workers, asset.workers), "limit": share(minimum, 1)}))
    if asset.pv_income and asset.pv_income_public_jobs is not None and policy.pv_public_jobs_share_min is not None:
        if asset.pv_income_public_jobs / asset.pv_income < policy.pv_public_jobs_share_min:
            reasons.append(Step(N_("Only {rate}% of the PV station's income paid for public-welfare jobs and "
                                   "village public works, below the {limit}% required."),
                                {"rate": share(asset.pv_income_public_jobs, asset.pv_income),
                                 "limit": share(policy.pv_public_jobs_share_min, 1)}))
    return reasons
