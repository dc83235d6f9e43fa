"""The FastAPI application; the bot and the scheduler run inside its lifespan."""

from __future__ import annotations

import inspect
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from bot import __version__
from bot.config import Settings
from bot.storage.db import make_engine

log = logging.getLogger(__name__)


def create_app(settings: Settings, engine=None) -> FastAPI:
    """Build the app on ``settings``; routes of later packages register in ``_include_routes``."""
    engine = engine or make_engine(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runners = []
        if not settings.telegram_token:
            log.warning("VILLAGEBOT_TELEGRAM_TOKEN is not set: running the web app and scheduler without the "
                        "Telegram bot")
        for start in _background_starters():
            runner = await _start(start, app, settings, engine)
            if runner is not None:
                runners.append(runner)
        try:
            yield
        finally:
            for runner in reversed(runners):
                await runner.stop()

    app = FastAPI(title="VillageBot", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict:
        """Answer whether the service and its database are up."""
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": engine.dialect.name}

    _include_routes(app, settings, engine)
    return app


def _include_routes(app: FastAPI, settings: Settings, engine) -> None:
    import importlib

    for module in ("bot.web.routes", "bot.web.review", "bot.web.problems", "bot.web.oversight",
                   "bot.web.duties",
                   "bot.adapters.telegram_webhook"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        mod.include(app, settings, engine)


async def _start(start, app: FastAPI, settings: Settings, engine):
    """Call a starter as ``start(app, settings, engine)`` or ``start(settings, engine)``, sync or async."""
    params = inspect.signature(start).parameters
    result = start(app, settings, engine) if len(params) >= 3 else start(settings, engine)
    return await result if inspect.isawaitable(result) else result


def _background_starters():
    """Return coroutines that start the bot and the scheduler, if those packages are present."""
    import importlib

    starters = []
    for module in ("bot.adapters.telegram_runner", "bot.services.scheduler_runner"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        starters.append(mod.start)
    return starters
