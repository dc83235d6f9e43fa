"""A realistic, fictional demo county: 3 townships, 12 villages, 40 assets, users of every role.

The county follows a shipped policy profile (``DEMO_PROFILE``, Qinbei 2023: yearly forms that a village
supervisor signs off), so that forms fall due and the whole cycle can be tried. Every demo user is
created by an invite and so is inactive until the invite is redeemed (on the web at ``/join/<code>`` or
in Telegram), like anyone else; only the first user of each role (``SHOWCASE_ROLES``: the cadre and the
supervisor of the same village, its township's leader, the county's officers and administrator) is
activated by the demo itself, and ``sign_in_lines`` prints a web sign-in link for each of them, on the
address the service will answer (``base_url``: the chosen host and port unless
``VILLAGEBOT_PUBLIC_URL`` is set).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import Session, select

from bot.config import Settings
from bot.i18n import translate
from bot.services import audit, departments, policies, weblinks
from bot.services.orgs import ensure_unit
from bot.services.users import activate_for_demo, create_invite, join_link
from bot.storage.models import Asset, OrgUnit, User

COUNTY = ("青山县", "990101000000")
SHOWCASE_ROLES = ("village_cadre", "village_supervisor", "township_leader", "county_officer", "department_officer",
                  "admin")
DEMO_PROFILE = "qinbei-2023"
WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]", "")
TOWNSHIPS = {
    "青山镇": ["石桥村", "枫林村", "竹园村", "王庄村"],
    "柳溪乡": ["柳溪村", "梨树村", "河湾村", "桃花村"],
    "石门镇": ["石门村", "李家村", "红岩村", "北坡村"],
}
OPERATING = [
    ("种植业", "无花果温室大棚", "建设无花果温室大棚{n}座及配套设施"),
    ("种植业", "茶叶种植基地", "建设高标准茶园{n}亩"),
    ("养殖业", "肉牛养殖场", "建设标准化牛舍{n}栋及配套设施"),
    ("养殖业", "生态养鸡场", "建设鸡舍{n}栋及饲料间"),
    ("加工业", "扶贫车间", "建设标准化扶贫车间{n}平方米"),
    ("加工业", "农产品加工厂房", "建设农产品初加工厂房{n}平方米"),
    ("旅游业", "采摘园游客中心", "建设游客服务中心及停车场"),
    ("电子商务", "电商服务站", "建设村级电商服务站及冷链仓储"),
    ("光伏扶贫", "村级光伏电站", "建设村级光伏电站{n}千瓦"),
    ("其他", "村集体商铺", "建设村集体商铺{n}间用于出租"),
]
PUBLIC = [
    ("村组道路硬化", "硬化村组道路{n}公里"),
    ("安全饮水工程", "新建蓄水池及铺设供水管网{n}米"),
    ("灌溉水渠", "新建灌溉水渠{n}米"),
    ("村卫生室", "新建标准化村卫生室"),
]
HOUSEHOLD = [("到户产业奖补(养羊)", "为{n}户脱贫户发放种羊"), ("到户庭院经济", "支持{n}户发展庭院经济")]
OPERATORS = ["青山县绿源农业发展有限公司", "{village}种养专业合作社", "青山县光伏运维有限公司", "{village}股份经济合作社",
             "青山县兴农食品有限公司"]


@dataclass
class DemoSummary:
    county: str
    created: bool = False
    townships: int = 0
    villages: int = 0
    assets: int = 0
    invites: list[str] = field(default_factory=list)


def _funds(rng: random.Random) -> dict[str, Decimal]:
    parts = [Decimal(rng.randint(0, 12000)) / 100 for _ in range(5)]
    parts[0] += Decimal(rng.randint(2000, 9000)) / 100
    names = ("funds_central", "funds_province", "funds_city", "funds_county", "funds_other")
    values = dict(zip(names, parts))
    values["funds_total"] = sum(parts, Decimal("0"))
    return values


def base_url(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> str:
    """Return the address links should use: ``VILLAGEBOT_PUBLIC_URL`` when it is set, else the address the
    service answers on this machine (``host``:``port``; a wildcard host is reached as 127.0.0.1)."""
    if "public_url" in settings.model_fields_set:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def load_demo(session: Session, settings: Settings, base: str | None = None) -> DemoSummary:
    """Create the demo county unless it exists; return what was created (with invite links on ``base``)."""
    summary = DemoSummary(county=COUNTY[0])
    existing = session.exec(select(OrgUnit).where(OrgUnit.code == COUNTY[1])).first()
    if existing is not None:
        showcase_users(session, existing)  # a demo loaded before invites needed redeeming
        _follow_profile(session, existing)  # a demo loaded before it followed a profile
        return summary
    rng = random.Random(2026)
    actor = audit.Actor(None, "demo")
    county, _ = ensure_unit(session, actor, None, "county", COUNTY[0], COUNTY[1])
    villages = []
    for t_index, (township_name, village_names) in enumerate(TOWNSHIPS.items(), start=1):
        township, _ = ensure_unit(session, actor, county, "township", township_name, f"990101{t_index:03d}000")
        summary.townships += 1
        for v_index, name in enumerate(village_names, start=1):
            village, _ = ensure_unit(session, actor, township, "village", name,
                                     f"990101{t_index:03d}{v_index:03d}")
            villages.append((township, village))
    summary.villages = len(villages)
    assets = _demo_assets(rng, villages)
    session.add_all(assets)
    session.flush()
    audit.record_many(session, actor, [("asset.create", "asset", a.id, None, {"project_code": a.project_code,
                                                                            "name": a.name}) for a in assets])
    summary.assets = len(assets)
    summary.invites = _demo_users(session, settings, county, villages, base or settings.public_url)
    showcase = showcase_users(session, county)
    _follow_profile(session, county)
    _demo_life(session, actor, assets, showcase, rng)
    summary.created = True
    return summary


def _demo_life(session: Session, actor: audit.Actor, assets: list[Asset], showcase: list[User],
               rng: random.Random) -> None:
    """What the year after the monthly check looks like (issue 17), through the services that people use: every
    asset owned by its village's cooperative; each operating asset's contract, with a yearly income of 6 % of the
    investment; in the showcase cadre's village, last year's income received month by month and its distribution
    plan waiting for the township's approval, and a request to dispose of a worn-out asset."""
    from bot.services import contracts, disposal, income

    for asset in assets:
        contracts.write_shares(session, asset, [(asset.owner or "村股份经济合作社", Decimal(100))], actor=actor)
        if asset.asset_type == "经营性" and asset.operator:
            clean = contracts.clean_contract({
                "operator": asset.operator, "mode": rng.choice(["lease", "contracting", "entrusted"]),
                "start": asset.contract_start.isoformat() if asset.contract_start else "",
                "end": asset.contract_end.isoformat() if asset.contract_end else "",
                "income_amount": str((asset.funds_total * Decimal("0.06")).quantize(Decimal("0.01"))),
                "income_terms": asset.income_terms or "", "poverty_mechanism": "优先吸纳脱贫户务工，收益按方案分配到户"})
            contracts.write_contract(session, asset, clean, new=True, actor=actor)
    cadre = next((u for u in showcase if u.role == "village_cadre"), None)
    if cadre is None:
        return
    year = dt.date.today().year - 1
    own = [a for a in assets if a.village_id == cadre.org_unit_id]
    operating = [a for a in own if a.asset_type == "经营性"]
    if operating:
        asset = operating[0]
        monthly = (asset.funds_total * Decimal("0.005")).quantize(Decimal("0.01"))
        for month in range(1, 13):
            session.add(income.AssetIncome(asset_id=asset.id, period=f"{year}-{month:02d}", received=monthly))
        session.flush()
        total = monthly * 12
        plan = income.draft_plan(session, cadre, asset.id, year, str(total), [
            income.ShareIn("households", "60", rng.randint(20, 60)), income.ShareIn("public_jobs", "20", 6),
            income.ShareIn("reinvest", "20")])
        income.submit_plan(session, cadre, plan.id)
    worn = [a for a in own if a.asset_type != "经营性"] or own
    if worn:
        disposal.request(session, cadre, worn[-1].id, reason="damaged", method="scrap",
                         description="设施使用多年，主体结构老化损坏，经村两委初步查看已无法修复使用。")


def _follow_profile(session: Session, county: OrgUnit) -> None:
    if county.policy_profile is None:
        policies.use(session, audit.Actor(None, "demo"), county, DEMO_PROFILE)


def sign_in_lines(session: Session, settings: Settings, base: str, locale: str = "zh_CN") -> list[str]:
    """Return one line per showcase user: role, unit, name and a fresh single-use web sign-in link on ``base``
    (valid ``weblinks.LINK_TTL``); no line when the demo county is not loaded."""
    from bot.services.reach import ROLE_LABELS

    county = session.exec(select(OrgUnit).where(OrgUnit.code == COUNTY[1])).first()
    if county is None:
        return []
    lines = []
    for user in showcase_users(session, county):
        unit = session.get(OrgUnit, user.org_unit_id)
        link = weblinks.create_link(session, user, secret=settings.secret_key, public_url=base)
        lines.append(f"{translate(locale, ROLE_LABELS[user.role])} · {unit.name} · {user.name}: {link}")
    return lines


def showcase_users(session: Session, county: OrgUnit) -> list[User]:
    """Return (activating them if needed) the demo county's first user of each of ``SHOWCASE_ROLES``."""
    found = []
    for role in SHOWCASE_ROLES:
        user = session.exec(select(User).join(OrgUnit, OrgUnit.id == User.org_unit_id)
                            .where(User.role == role, OrgUnit.path.startswith(county.path))
                            .order_by(User.id)).first()
        if user is not None:
            activate_for_demo(session, user)
            found.append(user)
    return found


def _demo_assets(rng: random.Random, villages: list[tuple[OrgUnit, OrgUnit]]) -> list[Asset]:
    kinds = [("经营性", item) for item in OPERATING] * 2 + [("公益性", item) for item in PUBLIC] * 4 + [
        ("到户类", item) for item in HOUSEHOLD] * 2
    assets = []
    for index, (asset_type, item) in enumerate(kinds[:40], start=1):
        township, village = villages[index % len(villages)]
        year = rng.randint(2016, 2024)
        if asset_type == "经营性":
            category, label, content = item
        else:
            category, (label, content) = None, item
        operator = rng.choice(OPERATORS).format(village=village.name) if asset_type == "经营性" else None
        assets.append(Asset(
            project_code=f"QS-{year}-{index:04d}", name=f"{year}年{village.name}{label}项目", village_id=village.id,
            asset_type=asset_type, industry_category=category, **_funds(rng),
            construction_type=rng.choice(["新建", "改扩建"]), year_completed=year,
            year_in_production=year + rng.choice([0, 1]) if asset_type == "经营性" else None,
            responsible_unit=f"{township.name}人民政府", construction_content=content.format(n=rng.randint(2, 30)),
            beneficiaries=f"脱贫户{rng.randint(12, 90)}户", performance_targets=f"带动脱贫户年增收{rng.randint(500, 3000)}元",
            owner=f"{village.name}股份经济合作社", custodian=f"{village.name}村委会", operator=operator,
            contract_start=dt.date(year + 1, 1, 1) if operator else None,
            contract_end=dt.date(year + rng.choice([3, 5, 8, 10]), 12, 31) if operator else None,
            income_terms="按投资额的6%保底收益，年底分配" if operator else None,
            latitude=round(28.9 + rng.random() * 0.3, 6), longitude=round(111.3 + rng.random() * 0.4, 6),
            public_token=secrets.token_urlsafe(16),
        ))
    return assets


def _demo_users(session: Session, settings: Settings, county: OrgUnit,
                villages: list[tuple[OrgUnit, OrgUnit]], base: str) -> list[str]:
    lines = []

    def invite(scope: OrgUnit, role: str, name: str):
        created = create_invite(session, None, scope=scope, role=role, name=name,
                                actor=audit.Actor(None, "demo"), ttl=dt.timedelta(days=365))
        lines.append(f"{role:<19} {scope.name:<6} {name:<4} {join_link(base, created.code)} "
                     f"{created.deep_link(settings.telegram_bot_username)}")
        return created

    invite(county, "admin", "管理员")
    invite(county, "county_officer", "周科长")
    agriculture = invite(county, "department_officer", "农业农村局吴股长")
    # problems on planting and breeding assets reach the agriculture department (002 第七条, docs/policy.md)
    departments.set_categories(session, None, agriculture.user.id, ["种植业", "养殖业"])
    seen = set()
    surnames = "张王李赵刘陈杨黄"
    for i, (township, village) in enumerate(villages):
        if township.id not in seen:
            seen.add(township.id)
            invite(township, "township_leader", f"{surnames[len(seen)]}镇长")
        invite(village, "village_cadre", f"{surnames[i % 8]}书记")
        invite(village, "village_supervisor", f"{surnames[(i + 3) % 8]}主任")
    return lines
