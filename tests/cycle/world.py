"""A small county for the cycle tests: 桃源县 with its townships and villages, people and assets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.services import reports
from bot.storage.models import Asset, Report, User
from tests.factories import Tree, make_asset, make_tree, make_user

CST = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """Return a moment given in the county's time (Asia/Shanghai) as aware UTC."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=CST).astimezone(dt.UTC)


@dataclass
class County:
    tree: Tree
    cadre: User  # 新桥村
    supervisor: User  # 新桥村 (村务监督委员会主任)
    other_supervisor: User  # 王庄村 (村务监督委员会主任)
    leader: User  # 新桥镇
    other_leader: User  # 北坡乡
    officer: User  # department officer of the county
    county_officer: User
    workshop: Asset  # 新桥村, operating
    road: Asset  # 新桥村, public welfare
    pv: Asset  # 王庄村, operating
    household: Asset  # 新桥村, household asset (no checks)
    board: User | None = None  # 新桥村 (村民合作社监事会主任): Qinbei's second signer (issue 16)
    other_board: User | None = None  # 王庄村 (村民合作社监事会主任)


def make_county(session: Session, profile: str, *, boards: bool = False) -> County:
    """Create the county on the given policy profile, with one person per role and four assets; ``boards`` adds
    each village's second signer, the cooperative board's chair (Qinbei 五(二), 五(三)1)."""
    tree = make_tree(session)
    tree.county.policy_profile = profile
    session.add(tree.county)
    county = County(
        tree=tree,
        cadre=make_user(session, "village_cadre", tree.village_a1, "张村干"),
        supervisor=make_user(session, "village_supervisor", tree.village_a1, "李监委"),
        other_supervisor=make_user(session, "village_supervisor", tree.village_a2, "王监委"),
        leader=make_user(session, "township_leader", tree.township_a, "赵镇长"),
        other_leader=make_user(session, "township_leader", tree.township_b, "钱乡长"),
        officer=make_user(session, "department_officer", tree.county, "孙科长"),
        county_officer=make_user(session, "county_officer", tree.county, "周主任"),
        workshop=make_asset(session, tree.village_a1, name="新桥村扶贫车间"),
        road=make_asset(session, tree.village_a1, name="新桥村产业路", asset_type="公益性",
                        industry_category="其他", funds_total=Decimal(50), funds_central=Decimal(50),
                        funds_county=Decimal(0)),
        pv=make_asset(session, tree.village_a2, name="王庄村光伏电站", industry_category="光伏扶贫"),
        household=make_asset(session, tree.village_a1, name="新桥村到户养牛", asset_type="到户类"),
    )
    if boards:
        county.board = make_user(session, "village_supervisor", tree.village_a1, "钱监事")
        county.other_board = make_user(session, "village_supervisor", tree.village_a2, "孙监事")
    session.commit()
    return county


def fill(session: Session, user: User, report: Report, answers: dict) -> Report:
    """Answer every visible question of a draft from ``answers`` (None skips) and submit it."""
    for _ in range(50):
        question = reports.walker_for(session.get(Report, report.id)).current()
        if question is None:
            break
        value = answers[question.key]
        if value is None:
            reports.skip(session, user, report.id, question.key)
        else:
            reports.answer(session, user, report.id, question.key, value)
    return reports.submit(session, user, report.id).report


def sign_both(session: Session, first: User, second: User, report_id: int) -> Report:
    """Qinbei (seed 004 五(二), 五(三)1): the supervisory committee's chair signs, then the cooperative board's."""
    from bot.services import cycle

    cycle.sign_off(session, first, report_id, post="supervisory_committee")
    return cycle.sign_off(session, second, report_id, post="cooperative_board")


def post_on_board(session: Session, cadre: User, report_id: int, store_dir) -> None:
    """Record the photo of the self-evaluation posted on the village's notice board (its 10 days start now)."""
    from pathlib import Path

    from bot.services import cycle
    from bot.services.evidence import EvidenceStore
    from tests.services.images import make_jpeg

    cycle.record_posting(session, cadre, report_id, make_jpeg(), EvidenceStore(Path(store_dir), 5 * 1024 * 1024))
