"""What the public QR page of an asset discloses, and villagers' problem reports from it.

Disclosure whitelist (issue 4; seed 004 二(三)): only these facts leave the database —

- from ``Asset``: name, asset_type, industry_category, funds_total and funds by source
  (central/province/city/county/other), year_completed, owner, custodian, operator,
  contract_start, contract_end;
- the village, township and county names;
- this year's income received (``bot.services.income.year_totals``, the one reading of income, which the monthly
  checks feed), and households / poor households benefited, as answered in the latest submitted monthly report;
- the year's income received and how it was shared (``income_shared``, from ``bot.services.income.year_totals``):
  totals by category (planned and paid, 万元) and a number of households per category — never a household's
  name, ID or any personal data; the plan's status;
- the last monthly check: its date, and whether problems are being handled (any unresolved problem);
- the township's confirmed four-way class (四个一批), when one is set;
- the board and signboard photos (``PHOTO_KEYS``) of the latest submitted report that has them,
  served from the evidence store's display copies (EXIF removed);
- a disposal (issue 17, ``disposal_section``): during its public notice the reason, the valuation, the
  planned way and the notice's days; after its record the date, the way, the amount received and the
  counterpart (a company or body; personal numbers masked);
- the published supervision number (the nearest ``OrgUnit.supervision_phone`` up the tree, else
  ``settings.supervision_phone``).

Personal numbers in published free text (the asset's name, owner, custodian, operator, industry
category and the posted self-evaluation's summary, ``FREE_TEXT``) are masked by ``bot.services.pii``
(ID numbers, mobiles, bank cards: ``410***********1234``, ``138****5678``) before they leave.
The page and the API publish one thing: ``published(disclosure)`` is the API's body and the page's
``d``; the API's response model declares exactly its keys (``tests/security/test_exports_pii.py``).

Never disclosed: beneficiaries, ownership_shares, performance_targets, income_terms,
construction_content, responsible_unit, coordinates, any user's name or phone, report answers
other than the ones above, photos of other questions, villagers' reports.

Villager reports from the page are taken by ``bot.services.villager_reports`` (limits per hashed
address and device, duplicates folded, a moderation queue, spam muting); its names are re-exported
here for the callers that knew them from this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.clock import as_utc, utcnow
from bot.services import audit, pii
from bot.services.evidence import EvidenceStore
from bot.services.villager_reports import (  # noqa: F401  (re-exported)
    CATEGORIES,
    MAJOR_CATEGORIES,
    MAX_TEXT,
    REPORT_ACTION,
    PublicReportError,
    device_pseudonym,
    report_problem,
)
from bot.storage.models import FUND_SOURCES, Asset, AssetClass, OrgUnit, Photo, PhotoUse, Problem, Report

PHOTO_KEYS = ("board_photo", "sign_photo")
# Report answers summed (income) or taken from the latest report (households) for the year.
HOUSEHOLD_KEYS = ("households_benefited",)
POOR_HOUSEHOLD_KEYS = ("poor_households",)


@dataclass(frozen=True)
class LastCheck:
    """The latest submitted monthly check: local date and whether problems are being handled."""

    date: dt.date
    period: str
    problems_open: int


@dataclass(frozen=True)
class Disclosure:
    """Everything the public page shows of one asset, and nothing else."""

    token: str
    name: str
    asset_type: str
    industry_category: str | None
    village: str
    township: str | None
    county: str | None
    funds_total: Decimal
    funds: list[tuple[str, Decimal]]
    year_completed: int | None
    owner: str | None
    custodian: str | None
    operator: str | None
    contract_start: dt.date | None
    contract_end: dt.date | None
    year: int
    income_distributed: Decimal | None
    households_benefited: int | None
    poor_households_benefited: int | None
    last_check: LastCheck | None
    four_way_class: str | None
    photos: list[tuple[str, str]] = field(default_factory=list)  # (question key, sha256)
    supervision_phone: str | None = None
    posted_evaluation: dict | None = None  # the village's year-end self-evaluation while it is posted
    income_shared: dict | None = None  # the year's income and its distribution in totals (issue 17)
    disposal: dict | None = None  # a disposal's public notice, or what became of the asset (disposal_section)

    def as_dict(self) -> dict:
        """Return the disclosure as JSON-friendly data: what is published (``published``)."""
        return audit.jsonable({
            "token": self.token, "name": self.name, "asset_type": self.asset_type,
            "industry_category": self.industry_category, "village": self.village, "township": self.township,
            "county": self.county, "funds_total": format_money(self.funds_total),
            "funds": {source: format_money(amount) for source, amount in self.funds},
            "year_completed": self.year_completed,
            "owner": self.owner, "custodian": self.custodian, "operator": self.operator,
            "contract_start": self.contract_start, "contract_end": self.contract_end, "year": self.year,
            "income_distributed": format_money(self.income_distributed) or None,
            "households_benefited": self.households_benefited,
            "poor_households_benefited": self.poor_households_benefited,
            "last_check": None if self.last_check is None else {
                "date": self.last_check.date, "period": self.last_check.period,
                "problems_open": self.last_check.problems_open},
            "four_way_class": self.four_way_class,
            "photos": [{"question": key, "sha256": sha} for key, sha in self.photos],
            "supervision_phone": self.supervision_phone,
            "posted_evaluation": self.posted_evaluation,
            "income_shared": self.income_shared,
            "disposal": self.disposal,
        })


FREE_TEXT = ("name", "industry_category", "owner", "custodian", "operator")
POSTED_FREE_TEXT = ("summary",)


def published(facts: Disclosure) -> dict:
    """Return what the public page shows and the public API answers: the one body both publish."""
    return facts.as_dict()


def format_money(value: Decimal | None) -> str:
    """Return an amount in 万元 without trailing zeros: 100, 12.5 ('' for None)."""
    return "" if value is None else format(Decimal(value).normalize(), "f")


def find_asset(session: Session, token: str) -> Asset | None:
    """Return the asset with this public token (only active assets are shown)."""
    if not token or len(token) > 64:
        return None
    asset = session.exec(select(Asset).where(Asset.public_token == token)).first()
    return asset if asset is not None and asset.status != "deleted" else None


def _ancestors(session: Session, village: OrgUnit) -> list[OrgUnit]:
    """Return the units from the village up to the county (village first)."""
    ids = [int(p) for p in village.path.strip("/").split("/") if p]
    units = {u.id: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(ids)))} if ids else {}
    chain = [units[i] for i in reversed(ids) if i in units]
    return chain or [village]


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _first(answers: dict, keys: tuple[str, ...]) -> Decimal | None:
    for key in keys:
        number = _number(answers.get(key))
        if number is not None:
            return number
    return None


def _submitted(asset_id: int):
    # Monthly reports only ('YYYY-MM'): a quarterly form or an inspection is not the asset's monthly check.
    return (select(Report).where(Report.asset_id == asset_id, Report.current.is_(True),
                                 func.length(Report.period) == 7,
                                 Report.status != "draft", col(Report.submitted_at).is_not(None))
            .order_by(col(Report.submitted_at).desc(), col(Report.id).desc()))


def latest_photos(session: Session, asset_id: int) -> list[tuple[str, str]]:
    """Return (question key, sha256) of each disclosure photo from the latest submitted report having it.

    Only photos the report's answers still hold count (a photo replaced in the draft is not shown).
    """
    rows = session.exec(
        select(PhotoUse.question_key, Photo.sha256, Report.answers)
        .join(Photo, col(Photo.id) == PhotoUse.photo_id)
        .join(Report, col(Report.id) == PhotoUse.report_id)
        .where(PhotoUse.asset_id == asset_id, col(PhotoUse.question_key).in_(PHOTO_KEYS),
               Report.current.is_(True), Report.status != "draft", col(Report.submitted_at).is_not(None))
        .order_by(col(Report.submitted_at).desc(), col(PhotoUse.id).desc())
    ).all()
    found: dict[str, str] = {}
    for key, sha, answers in rows:
        kept = {ref.get("sha256") for ref in (answers or {}).get(key) or [] if isinstance(ref, dict)}
        if sha in kept:
            found.setdefault(key, sha)
    return [(key, found[key]) for key in PHOTO_KEYS if key in found]


def public_photo(session: Session, store: EvidenceStore, asset: Asset, sha256: str) -> bytes | None:
    """Return the display copy of a photo only if it is one of the asset's disclosed photos."""
    if sha256 not in {sha for _key, sha in latest_photos(session, asset.id)}:
        return None
    return store.display(sha256)


def _four_way(session: Session, asset_id: int) -> str | None:
    return session.exec(
        select(AssetClass.confirmed)
        .where(AssetClass.asset_id == asset_id, col(AssetClass.confirmed).is_not(None))
        .order_by(col(AssetClass.period).desc(), col(AssetClass.id).desc())
    ).first()


def disclosure(session: Session, asset: Asset, *, tz: dt.tzinfo, supervision_phone: str = "",
               now: dt.datetime | None = None) -> Disclosure:
    """Return the public facts of ``asset`` (see the module docstring for the whitelist)."""
    now = now or utcnow()
    year = as_utc(now).astimezone(tz).year
    chain = _ancestors(session, session.get(OrgUnit, asset.village_id))
    by_level = {unit.level: unit.name for unit in chain}
    published = next((u.supervision_phone for u in chain if u.supervision_phone), None)
    phone = published or supervision_phone or None

    from bot.services import income as income_records

    reports = session.exec(_submitted(asset.id)).all()
    this_year = [r for r in reports if r.period.startswith(f"{year:04d}-")]
    income = income_records.year_totals(session, asset.id, year).received  # the one reading of income
    latest_answers = this_year[0].answers if this_year else {}
    households = _first(latest_answers or {}, HOUSEHOLD_KEYS)
    poor = _first(latest_answers or {}, POOR_HOUSEHOLD_KEYS)

    last_check = None
    if reports:
        open_count = session.exec(select(func.count()).select_from(Problem).where(
            Problem.asset_id == asset.id, col(Problem.resolved_at).is_(None))).one()
        latest = reports[0]
        local_day = as_utc(latest.submitted_at).astimezone(tz).date()
        last_check = LastCheck(local_day, latest.period, int(open_count))

    text = {key: pii.mask(getattr(asset, key)) for key in FREE_TEXT}
    return Disclosure(
        token=asset.public_token, name=text["name"], asset_type=asset.asset_type,
        industry_category=text["industry_category"], village=by_level.get("village", ""),
        township=by_level.get("township"), county=by_level.get("county"),
        funds_total=asset.funds_total,
        funds=[(s, getattr(asset, f"funds_{s}")) for s in FUND_SOURCES if getattr(asset, f"funds_{s}")],
        year_completed=asset.year_completed, owner=text["owner"], custodian=text["custodian"],
        operator=text["operator"], contract_start=asset.contract_start, contract_end=asset.contract_end,
        year=year, income_distributed=income,
        households_benefited=int(households) if households is not None else None,
        poor_households_benefited=int(poor) if poor is not None else None,
        last_check=last_check, four_way_class=_four_way(session, asset.id),
        photos=latest_photos(session, asset.id), supervision_phone=phone,
        posted_evaluation=_posted(session, asset, now),
        income_shared=income_shared(session, asset, year),
        disposal=disposal_section(session, asset, now),
    )


def _posted(session: Session, asset: Asset, now: dt.datetime) -> dict | None:
    from bot.services import cycle

    posted = cycle.posted_evaluation(session, asset, now)
    if posted is None:
        return None
    shown = posted.as_dict()
    for key in POSTED_FREE_TEXT:
        shown[key] = pii.mask(shown[key])
    return shown



# --- income and its distribution (issue 17 item 2) -----------------------------------------------------------


def income_shared(session: Session, asset: Asset, year: int) -> dict | None:
    """The year's income received and how it was shared, in totals by category (万元) with at most a number of
    households each; None when there is neither income nor a plan to show."""
    from bot.services import income

    totals = income.year_totals(session, asset.id, year)
    if totals.received is None and totals.plan_id is None:
        return None
    shares = [{"category": category, "planned": format_money(planned),
               "paid": format_money(totals.distributed.get(category, Decimal(0))),
               "households": totals.households.get(category)} for category, planned in totals.planned.items()]
    return {"year": year, "received": format_money(totals.received) or None,
            "distributed": format_money(totals.distributed_total), "plan_status": totals.plan_status,
            "shares": shares}
# --- issue 17: disposal (处置), one section of its own ------------------------------------------------------

def disposal_section(session: Session, asset: Asset, now: dt.datetime) -> dict | None:
    """The disposal's public notice, or what became of the asset (``bot.services.disposal.public_facts``) and
    how its proceeds were used (``bot.services.disposal_proceeds.public_facts``)."""
    from bot.services import disposal, disposal_proceeds

    facts = disposal.public_facts(session, asset, now)
    if facts is not None and facts["stage"] == "recorded":
        latest = disposal.latest_for(session, asset.id)
        facts["proceeds"] = disposal_proceeds.public_facts(session, latest) if latest is not None else None
    return facts
