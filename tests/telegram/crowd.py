"""A crowd for the burst and follow-up tests: many villages of one township, a cadre and an asset each.

Built through the services (invites, drafts), on any database URL. Once the cadres have joined
(an invited cadre can do nothing before), ``open_drafts`` takes each cadre's draft of this month to
its first photo question, so a photo sent in the burst is an answer the bot must download, check and save.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from bot.config import Settings
from bot.flows import evaluate_risks
from bot.services import reports, users
from bot.services.orgs import ensure_unit
from bot.storage.models import User
from tests.factories import ACTOR, make_asset, make_tree
from tests.fakes.botapi import BotApiDouble
from tests.telegram.conftest import NORMAL, World


@dataclass
class Cadre:
    index: int
    user_id: int
    code: str
    asset_id: int
    tg_id: int
    report_id: int = 0  # set by open_drafts
    photo_key: str = ""


@dataclass
class Crowd:
    world: World
    cadres: list[Cadre] = field(default_factory=list)
    leader: tuple[int, str] | None = None  # (user id, invite code) of the township leader


def settings_for(db_url: str, data_dir, double: BotApiDouble, **extra) -> Settings:
    values = {"data_dir": data_dir, "database_url": db_url, "telegram_token": double.token,
              "telegram_api_url": double.url, "public_url": "http://testserver",
              "secret_key": "test-secret-key-0123456789", "max_upload_mb": 20}
    return Settings(**{**values, **extra})


def safe_value(form, q):
    """What a cadre answers for an asset in good order: the option that raises no risk, else a plain value."""
    if q.type in ("yesno", "choice"):
        return min(q.options, key=lambda option: len(evaluate_risks(form, {q.key: option.key}))).key
    if q.type == "number":
        low = q.min if q.min is not None else 0
        return str(max(low, min(2, q.max if q.max is not None else 2)))
    return NORMAL[q.type]


def to_first_photo(session: Session, user: User, asset_id: int) -> tuple[int, str]:
    """Open this month's draft and answer it up to its first photo question; return (report id, its key)."""
    report = reports.start_or_resume(session, user, asset_id, channel="telegram")
    for _ in range(80):
        walker = reports.walker_for(report)
        q = walker.current()
        assert q is not None, "the form has no photo question"
        if q.type == "photo":
            return report.id, q.key
        if q.type == "multi":
            report, _ = reports.toggle(session, user, report.id, q.key, q.options[0].key)
            report, _ = reports.done(session, user, report.id, q.key)
        elif q.type == "location":
            report, _ = reports.answer(session, user, report.id, q.key, {"lat": 28.2, "lon": 112.9})
        else:
            report, _ = reports.answer(session, user, report.id, q.key, safe_value(walker.form, q))
    raise AssertionError("no photo question reached")


def make_crowd(engine, settings: Settings, double: BotApiDouble, size: int, *, first_tg_id: int = 70_000,
               leader: bool = False) -> Crowd:
    """``size`` villages of 新桥镇, each with an operating asset and an invited cadre."""
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        crowd = Crowd(World(settings, engine, double, tree))
        for i in range(size):
            village, _ = ensure_unit(session, ACTOR, tree.township_a, "village", f"第{i + 1}村")
            asset = make_asset(session, village, name=f"第{i + 1}村扶贫车间", latitude=28.2, longitude=112.9)
            created = users.create_invite(session, None, scope=village, role="village_cadre", name=f"村干部{i + 1}")
            session.commit()
            crowd.cadres.append(Cadre(i, created.user.id, created.code, asset.id, first_tg_id + i))
        if leader:
            created = users.create_invite(session, None, scope=tree.township_a, role="township_leader",
                                          name="镇书记")
            crowd.leader = (created.user.id, created.code)
        session.commit()
    return crowd


def open_drafts(engine, crowd: Crowd) -> None:
    """Take every (joined) cadre's draft of this month to its first photo question."""
    with Session(engine, expire_on_commit=False) as session:
        for cadre in crowd.cadres:
            cadre.report_id, cadre.photo_key = to_first_photo(session, session.get(User, cadre.user_id),
                                                              cadre.asset_id)
        session.commit()
