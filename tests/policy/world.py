"""A small county in the database for scheduler tests: tests/factories.make_tree plus people,
Telegram identities, one asset per village, a chosen profile; and a channel that records sends."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from sqlmodel import Session

from bot.storage.models import Asset, Problem, ProblemEvent, Report, TelegramIdentity, User
from tests.factories import Tree, make_asset, make_tree, make_user

UTC = dt.UTC
LEDGER_SINCE = dt.datetime(2024, 1, 1, tzinfo=UTC)

PEOPLE = {  # key: (role, unit attribute of the Tree)
    "cadre_a1": ("village_cadre", "village_a1"),
    "cadre_a2": ("village_cadre", "village_a2"),
    "cadre_b1": ("village_cadre", "village_b1"),
    "super_a1": ("village_supervisor", "village_a1"),
    "leader_a": ("township_leader", "township_a"),
    "leader_b": ("township_leader", "township_b"),
    "office": ("county_officer", "county"),
    "dept": ("department_officer", "county"),
}


@dataclass
class World:
    """The county's tree, people (by key), their Telegram chat ids and one asset per village."""

    tree: Tree
    people: dict[str, User]
    chats: dict[str, int]
    assets: dict[str, Asset]

    def who(self, chat_id: int) -> str:
        """Return the person key of a chat id."""
        return next(k for k, v in self.chats.items() if v == chat_id)


def build(session: Session, profile: str = "yanshan-2024", locales: dict[str, str] | None = None) -> World:
    """Create the county following ``profile``, with everybody reachable on Telegram."""
    tree = make_tree(session)
    tree.county.policy_profile = profile
    session.add(tree.county)
    people, chats = {}, {}
    for index, (key, (role, unit)) in enumerate(PEOPLE.items(), start=1):
        user = make_user(session, role, getattr(tree, unit), name=key)
        user.locale = (locales or {}).get(key, "zh_CN")
        chats[key] = 5000 + index
        session.add(TelegramIdentity(telegram_user_id=chats[key], chat_id=chats[key], user_id=user.id))
        people[key] = user
    # in the ledger since before the years the tests travel through (a month expects the assets it had)
    assets = {name: make_asset(session, getattr(tree, name), created_at=LEDGER_SINCE)
              for name in ("village_a1", "village_a2", "village_b1")}
    session.flush()
    return World(tree, people, chats, assets)


def submit(session: Session, asset: Asset, period: str, at: dt.datetime) -> Report:
    """Record a submitted monthly report of ``asset`` for ``period`` at ``at``."""
    report = Report(asset_id=asset.id, form_id="monthly", period=period, status="submitted", submitted_at=at,
                    created_at=at, updated_at=at)
    session.add(report)
    session.flush()
    return report


def serious_problem(session: Session, asset: Asset, at: dt.datetime) -> Problem:
    """Record a serious problem raised at ``at``, alerted at once (as the Telegram adapter does)."""
    problem = Problem(asset_id=asset.id, source="report", kind="unauthorised_transfer", severity="serious",
                      description="擅自转租", created_at=at)
    session.add(problem)
    session.flush()
    session.add(ProblemEvent(problem_id=problem.id, at=at, action="alerted"))
    session.flush()
    return problem


@dataclass
class Recorder:
    """A channel that records every send: (chat id or URL, text, button data)."""

    sent: list[tuple[object, str, tuple[str, ...]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, target, text: str, buttons=None) -> None:
        with self.lock:
            self.sent.append((target.chat_id if target.chat_id is not None else target.url, text,
                              tuple(b.data for b in buttons or ())))

    def close(self) -> None:
        """Nothing to close."""
