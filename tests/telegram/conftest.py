"""Fixtures for the Telegram adapter: a Bot API double, a small county, and a bot that long-polls it."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field

import pytest
from sqlmodel import Session, select

from bot.adapters.telegram_app import build_application
from bot.config import Settings
from bot.flows import Walker, form_for_asset_type
from bot.services import outbox, users
from bot.services.channels import build_channels
from bot.storage.models import Asset, OrgUnit, Report
from tests.factories import make_asset, make_tree
from tests.fakes.botapi import BotApiDouble, Sent
from tests.services.images import Gps, make_jpeg


@pytest.fixture
def double():
    with BotApiDouble() as running:
        yield running


@dataclass
class World:
    settings: Settings
    engine: object
    double: BotApiDouble
    tree: object
    invites: dict = field(default_factory=dict)  # name -> (user id, code)
    assets: dict = field(default_factory=dict)  # name -> asset id


@pytest.fixture
def world(sqlite_engine, sqlite_url, tmp_path, double) -> World:
    """新桥村 (two operating assets, one public-welfare) and 王庄村 (one), their cadres and township leader."""
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, telegram_token=double.token,
                        telegram_api_url=double.url, public_url="http://testserver",
                        secret_key="test-secret-key-0123456789", max_upload_mb=20)
    with Session(sqlite_engine) as session:
        tree = make_tree(session)
        w = World(settings, sqlite_engine, double, tree)
        w.assets["greenhouse"] = make_asset(session, tree.village_a1, name="新桥村蔬菜大棚", project_code="XQ-001",
                                            latitude=28.20, longitude=112.90).id
        w.assets["workshop"] = make_asset(session, tree.village_a1, name="新桥村扶贫车间", project_code="XQ-002").id
        w.assets["road"] = make_asset(session, tree.village_a1, name="新桥村产业路", project_code="XQ-003",
                                      asset_type="公益性", industry_category="基础设施").id
        w.assets["pv"] = make_asset(session, tree.village_a2, name="王庄村光伏电站", project_code="WZ-001",
                                    industry_category="光伏", latitude=28.3, longitude=112.8).id
        w.assets["far"] = make_asset(session, tree.village_b1, name="梨树村果园", project_code="LS-001").id
        for name, unit, role in (("cadre_a", tree.village_a1, "village_cadre"),
                                 ("cadre_b", tree.village_a2, "village_cadre"),
                                 ("cadre_c", tree.village_b1, "village_cadre"),
                                 ("leader", tree.township_a, "township_leader")):
            created = users.create_invite(session, None, scope=unit, role=role, name=name)
            w.invites[name] = (created.user.id, created.code)
        session.commit()
    return w


@contextlib.asynccontextmanager
async def running_bot(world: World, *, rate_limit: bool = False):
    """Run our real Application with long polling against the double for the duration of the block,
    beside the outbox's courier (as the service runs them): notices the services write are delivered
    when their transaction commits."""
    application = build_application(world.settings, world.engine, rate_limit=rate_limit)
    channels = build_channels(world.settings)
    courier = outbox.Courier(world.engine, channels)
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await courier.start()
        try:
            yield application
        finally:
            await courier.stop()
            for channel in channels.values():
                channel.close()
            await application.updater.stop()
            await application.stop()


async def reply(double: BotApiDouble, user, count: int = 1, timeout: float = 10.0) -> Sent:
    """Wait for the bot's next message(s) to `user`; return the last."""
    sent = await double.wait_reply(user.id, count=count, timeout=timeout)
    return sent[-1]


async def sign_in(world: World, name: str, tg_id: int, language: str = "zh-hans"):
    """Create the Telegram user and redeem the named invite; return the double's user."""
    tg = world.double.user(tg_id, name, language)
    world.double.send_command(tg, "start", world.invites[name][1])
    await reply(world.double, tg)
    return tg


def data_of(sent: Sent) -> list[str]:
    return [b.callback_data for b in sent.buttons]


def current_report(world: World, asset_id: int) -> Report | None:
    with Session(world.engine) as session:
        return session.exec(select(Report).where(Report.asset_id == asset_id, Report.current.is_(True))).first()


def current_question(world: World, asset_id: int):
    report = current_report(world, asset_id)
    return report, Walker(form_for_asset_type(_asset_type(world, asset_id)), dict(report.answers),
                          report.position).current()


def _asset_type(world: World, asset_id: int) -> str:
    with Session(world.engine) as session:
        return session.get(Asset, asset_id).asset_type


def photo_bytes(seed: int, gps=None) -> bytes:
    """A distinct photo per seed (different content, so perceptual hashes differ)."""
    return make_jpeg(640 + seed * 8, 480, exif_gps=gps, seed=seed) if gps else make_jpeg(640 + seed * 8, 480,
                                                                                          seed=seed)


# The answers of an asset in good order: anything not listed takes its form's "normal" choice.
NORMAL = {"yesno": "yes", "number": "2", "text": "一切正常", "date": "2026-11-01"}


async def walk_to_review(world: World, tg, asset_id: int, *, choices: dict | None = None, seed: int = 0,
                         photo: bytes | None = None, max_steps: int = 60) -> Sent:
    """Answer every question of the asset's current checklist as a cadre would; return the review message.

    `choices` maps question keys to the option key (or text) to give; otherwise yes/no questions are
    answered with the option that raises no risk, numbers with 2, texts with a sentence.
    """
    double = world.double
    choices = choices or {}
    last = None
    for step in range(max_steps):
        report, q = current_question(world, asset_id)
        if q is None:
            return last
        rid = report.id
        if q.key in choices and q.type in ("yesno", "choice"):
            double.press(tg, double._latest_bot_message_id(tg.id), f"v:{rid}:{q.key}:{choices[q.key]}")
        elif q.type in ("yesno", "choice"):
            option = safe_option(world, asset_id, q)
            double.press(tg, double._latest_bot_message_id(tg.id), f"v:{rid}:{q.key}:{option}")
        elif q.type == "multi":
            option = choices.get(q.key, q.options[0].key)
            double.press(tg, double._latest_bot_message_id(tg.id), f"t:{rid}:{q.key}:{option}")
            await reply(double, tg)
            double.press(tg, double._latest_bot_message_id(tg.id), f"n:{rid}:done:{q.key}")
        elif q.type == "number":
            double.send_text(tg, str(choices.get(q.key, _number_for(q))))
        elif q.type in ("text", "date"):
            double.send_text(tg, choices.get(q.key, NORMAL[q.type]))
        elif q.type == "photo":
            double.send_photo(tg, photo or photo_bytes(seed * 10 + step))
            await reply(double, tg)
            double.press(tg, double._latest_bot_message_id(tg.id), f"n:{rid}:done:{q.key}")
        elif q.type == "location":
            double.send_location(tg, 28.2001, 112.9001)
        last = await reply(double, tg)
    raise AssertionError("the checklist did not reach its review")


def _number_for(q) -> str:
    low = q.min if q.min is not None else 0
    return str(max(low, min(2, q.max if q.max is not None else 2)))


def safe_option(world: World, asset_id: int, q) -> str:
    """The option of a yes/no or choice question a cadre gives for an asset in good order.

    Read from the form, not assumed: the option that raises no risk and opens the fewest follow-ups.
    """
    from bot.flows import evaluate_risks

    form = form_for_asset_type(_asset_type(world, asset_id))

    def cost(option) -> tuple[int, int]:
        answers = {q.key: option.key}
        opened = sum(1 for other in form.questions if other.show_if and q.key in other.show_if.keys()
                     and other.show_if.holds(answers))
        return (len(evaluate_risks(form, answers)), opened)

    return min(q.options, key=cost).key


def today() -> dt.date:
    return dt.date.today()


__all__ = ["Gps", "OrgUnit"]
