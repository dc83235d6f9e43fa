"""The township's work on the web: a county with a report's problem and a villager's problem (with a photo),
the township leader, a leader of another township, the county officer and a village cadre."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bot.config import Settings
from bot.services import villager_reports, weblinks
from bot.services.evidence import EvidenceStore
from bot.storage.models import Asset, Problem, ProblemEvent, User
from bot.web.app import create_app
from tests.factories import make_asset, make_tree, make_user
from tests.services.images import make_jpeg

CHINESE_CODES = re.compile(r"\b(in_hand|acknowledged|escalated|resolved|created|alerted|reported_again|"
                           r"sha256|report \d+|20\d\d-\d\d(?!-\d)|2026Q\d|2026-Q\d|None)\b")


@dataclass
class Town:
    settings: Settings
    engine: object
    store: EvidenceStore
    asset: Asset
    other_asset: Asset
    leader: User
    outsider: User
    officer: User
    cadre: User
    report_problem_id: int
    villager_problem_id: int
    villager_photo: str

    def client(self, user: User) -> TestClient:
        """A browser signed in as ``user`` (by a sign-in link)."""
        client = TestClient(create_app(self.settings, self.engine))
        with Session(self.engine) as session:
            link = weblinks.create_link(session, session.get(User, user.id), secret=self.settings.secret_key,
                                        public_url="http://testserver")
            session.commit()
        assert client.get(link.removeprefix("http://testserver")).status_code == 200
        return client


def csrf(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def token(client: TestClient, town: Town) -> str:
    """The CSRF token of this browser (as every form of its pages carries it)."""
    from bot.web.common import DEVICE_COOKIE, csrf_token

    device = weblinks.unsign(town.settings.secret_key, "device", client.cookies.get(DEVICE_COOKIE))
    return csrf_token(town.settings.secret_key, device)


def text_of(html: str) -> str:
    """The visible text of a page, roughly: tags, attribute values and scripts removed."""
    body = re.split(r"<main[^>]*>", html, maxsplit=1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.fixture
def town(engine, tmp_path) -> Town:
    settings = Settings(data_dir=tmp_path / "data", telegram_token="", public_url="http://testserver",
                        secret_key="test-secret-key-0123456789")
    store = EvidenceStore.from_settings(settings)
    with Session(engine, expire_on_commit=False) as session:
        tree = make_tree(session)
        asset = make_asset(session, tree.village_a1, name="新桥村蔬菜大棚")
        other_asset = make_asset(session, tree.village_b1, name="梨树村光伏电站")
        cadre = make_user(session, "village_cadre", tree.village_a1, "李书记")
        leader = make_user(session, "township_leader", tree.township_a, "王镇长")
        outsider = make_user(session, "township_leader", tree.township_b, "北坡乡赵书记")
        officer = make_user(session, "county_officer", tree.county, "县乡村振兴局张科长")
        at = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
        problem = Problem(asset_id=asset.id, source="report", kind="idle", severity="serious",
                          description="大棚闲置三个月", created_at=at)
        session.add(problem)
        session.flush()
        session.add(ProblemEvent(problem_id=problem.id, at=at, actor_user_id=cadre.id, action="created",
                                 note="report 1 (2026-12)"))
        session.add(ProblemEvent(problem_id=problem.id, at=at, action="alerted", note=f"outbox: u{leader.id}/telegram"))
        session.commit()
        outcome = villager_reports.report_problem(
            session, asset, text="大棚的塑料膜被风刮破了", category="damaged", device_id="device-1",
            address="203.0.113.7", secret=settings.secret_key, photo=make_jpeg(640, 480, seed=7), store=store)
        session.commit()
        return Town(settings, engine, store, asset, other_asset, leader, outsider, officer, cadre, problem.id,
                    outcome.problem.id, outcome.report.photo_sha256)


GOOD = {"operating_normally": "yes", "intact": "yes", "at_risk": "no", "income_distributed": "not_due",
        "farmers_linked": "no", "effective": "yes", "unauthorised": "no", "has_difficulties": "no",
        "committee_studied": "yes"}


def submit_report(town: Town, asset: Asset | None = None) -> int:
    """The cadre's monthly check of ``asset`` (default: the township's greenhouse), submitted; its id."""
    from bot.services import reports

    with Session(town.engine, expire_on_commit=False) as session:
        cadre = session.get(User, town.cadre.id)
        report = reports.start_or_resume(session, cadre, (asset or town.asset).id, channel="web")
        for key, raw in GOOD.items():
            reports.answer(session, cadre, report.id, key, raw)
        for seed, key in ((1, "board_photo"), (2, "sign_photo")):
            reports.add_photo(session, cadre, report.id, key, make_jpeg(320, 240, seed=seed), town.store)
            reports.done(session, cadre, report.id, key)
        reports.skip(session, cadre, report.id, "location")
        reports.submit(session, cadre, report.id)
        return report.id
