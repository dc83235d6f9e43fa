"""Score an asset of the registry: the facts the system holds are filled in, judgments stay with people.

Filled from the registry (amounts in yuan, as the facts file wants; the ledger keeps 万元):

- ``funds.poverty_funds``: the ledger's fiscal poverty funds (central + province + city + county);
- ``income.received`` and ``income.annual_return``: the income received in the year, as
  ``bot.services.income.year_totals`` reads it (the monthly checks' answers, their latest version);
- ``income.agreed``: the income due in the year (entered on the web, or the contract's), when known;
- ``poor.households_benefiting``: the largest number of poor households benefiting in any monthly
  report of the year (the same households benefit month after month, so months are not added up).

Income and households are filled only when the year has submitted reports that ask about income
(the operating form). Everything else (budget, outputs, surveys, checklist judgments, …) comes from
the evaluator's file; a file value for a filled fact must equal it, or it is refused naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from bot.i18n import N_
from bot.scoring.engine import ScoreSheet, evaluate
from bot.scoring.errors import ScoringInputError
from bot.scoring.facts import parse_facts, require_mapping
from bot.scoring.numbers import plain
from bot.scoring.rubric import load_rubric
from bot.scoring.trace import Step
from bot.services import income
from bot.services.access import require_asset
from bot.services.assessment.common import month_label, number, submitted_reports
from bot.storage.models import Asset, OrgUnit, User

YUAN_PER_WAN = Decimal(10000)
# 到户类 has no year-end rubric: seed 004 三 "到户类资产产权归农户，由农户自行经营和处置" (issue 16).
RUBRIC_BY_TYPE = {"公益性": "qinbei-2023-public-welfare", "经营性": "qinbei-2023-operating"}
MSG_HOUSEHOLD = N_("{name} is a household asset (到户类): it belongs to the household and is not scored "
                   "on the village's rubrics.")


@dataclass
class RegistryFacts:
    """Facts of one asset and year taken from the registry, with where each one came from."""

    facts: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, tuple[Decimal, Step]] = field(default_factory=dict)

    def put(self, path: str, value: Decimal, source: Step) -> None:
        """Set the fact at dotted ``path`` (without the ``facts.`` prefix), noting where it came from."""
        node = self.facts
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
        self.sources[path] = (value, source)


@dataclass(frozen=True)
class AssetScore:
    """An asset's score sheet and the facts the registry filled into it."""

    asset: Asset
    sheet: ScoreSheet
    filled: RegistryFacts


def registry_facts(session: Session, asset: Asset, year: int) -> RegistryFacts:
    """Return the facts the registry holds about ``asset`` for ``year``."""
    found = RegistryFacts()
    fiscal = (asset.funds_central, asset.funds_province, asset.funds_city, asset.funds_county)
    poverty = sum(fiscal, Decimal(0))
    found.put("funds.poverty_funds", poverty * YUAN_PER_WAN,
              Step(N_("Ledger: fiscal poverty funds {amount} 万元 (central, province, city and county)."),
                   {"amount": poverty}))
    submitted = submitted_reports(session, [asset.id], [month_label(year, m) for m in range(1, 13)])
    # only reports of a form that asks about income (not the public-welfare form)
    reports = [s.report for s in submitted.values() if "income_distributed" in s.report.answers]
    totals = income.year_totals(session, asset.id, year)  # the one reading of income (bot.services.income)
    if totals.due is not None:
        found.put("income.agreed", totals.due * YUAN_PER_WAN, Step(
            N_("Income records: income due {amount} 万元 in {year}."), {"amount": totals.due, "year": year}))
    if not reports:
        return found
    received = totals.received or Decimal(0)
    counted = sum(1 for p in totals.periods if p.received is not None and len(p.period) == 7)
    income_source = Step(N_("Monthly reports: income distributed {amount} 万元 in {count} submitted reports "
                            "of {year}."), {"amount": received, "count": counted, "year": year})
    found.put("income.received", received * YUAN_PER_WAN, income_source)
    found.put("income.annual_return", received * YUAN_PER_WAN, income_source)
    households = [n for n in (number(r.answers, "poor_households") for r in reports) if n is not None]
    if households:
        most = max(households)
        found.put("poor.households_benefiting", most, Step(
            N_("Monthly reports: at most {count} poor households benefiting in one month of {year}."),
            {"count": most, "year": year}))
    return found


def merge_facts(given: Mapping[str, Any], filled: Mapping[str, Any], prefix: str = "facts") -> dict[str, Any]:
    """Return the evaluator's facts with the registry's added; a differing value is refused."""
    if not isinstance(given, Mapping):
        raise ScoringInputError(N_("{field} must be a mapping of names to values"), field=prefix)
    merged = dict(given)
    for key, value in filled.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            merged[key] = merge_facts(given.get(key) or {}, value, name)
        elif given.get(key) is None:
            merged[key] = value
        elif not same_number(given[key], value):
            raise ScoringInputError(
                N_("{field} is filled from the registry ({value}); remove it from the file or correct the "
                   "registry"), field=name, value=plain(value))
    return merged


def same_number(given: Any, value: Decimal) -> bool:
    """True when the file's value is the number ``value``."""
    if isinstance(given, bool) or not isinstance(given, (int, float, Decimal)):
        return False
    return Decimal(str(given)) == value


def score_asset(session: Session, asset_id: int, *, year: int, evaluation: Mapping[str, Any] | None = None,
                rubric: str | None = None, user: User | None = None) -> AssetScore:
    """Score one asset for ``year``: the evaluator's facts file ``evaluation`` plus the registry's facts.

    The rubric is ``rubric``, else the file's ``rubric``, else the one the county's profile chooses for the
    asset's type (``rubrics:``), else the year-end rubric of the asset's type.
    With a ``user``, they must be allowed to view the asset.
    """
    if user is not None:
        asset = require_asset(session, user, "asset.view", asset_id)
    else:
        asset = session.get(Asset, asset_id)
    data = dict(require_mapping(evaluation, "(file)"))
    rubric_id = rubric or data.get("rubric") or profile_rubric(session, asset) or RUBRIC_BY_TYPE.get(asset.asset_type)
    if rubric_id is None:  # 到户类 (seed 004 三): the household's own, never the operating rubric by default
        raise ScoringInputError(MSG_HOUSEHOLD, field="rubric", name=asset.name)
    filled = registry_facts(session, asset, year)
    village = session.get(OrgUnit, asset.village_id)
    project = {"name": asset.name, "code": asset.project_code, "village": village.name, "year": year}
    project.update(require_mapping(data.get("project"), "project"))
    data.update(rubric=rubric_id, project=project, facts=merge_facts(data.get("facts") or {}, filled.facts))
    facts = parse_facts(data)
    return AssetScore(asset, evaluate(load_rubric(facts.rubric), facts), filled)


def profile_rubric(session: Session, asset: Asset) -> str | None:
    """Return the rubric the county's profile chooses for the asset's type, if it chooses one."""
    from bot.policy.scoring import rubric_for
    from bot.services.orgs import county_of
    from bot.services.policies import county_profile

    village = session.get(OrgUnit, asset.village_id)
    return rubric_for(county_profile(session, county_of(session, village)), asset.asset_type)
