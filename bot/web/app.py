"""The FastAPI application; the bot and the scheduler run inside its lifespan."""

from __future__ import annotations

import inspect
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from bot import __version__
from bot.config import Settings, resolve_secret_key
from bot.storage.db import make_engine
from bot.web.limits import BodyLimit, RequestTimer

log = logging.getLogger(__name__)


def create_app(settings: Settings, engine=None) -> FastAPI:
    """Build the app on ``settings``; routes of later packages register in ``_include_routes``.

    Without VILLAGEBOT_SECRET_KEY the key comes from (or is created in) the data directory's key file.
    """
    settings = resolve_secret_key(settings)
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

    from fastapi import Depends

    from bot.web.common import refuse_nul

    app = FastAPI(title="VillageBot", version=__version__, lifespan=lifespan, dependencies=[Depends(refuse_nul)])
    app.state.settings = settings
    app.state.engine = engine
    app.add_middleware(BodyLimit, max_upload_mb=settings.max_upload_mb)  # bodies bounded before any route
    app.add_middleware(RequestTimer)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict:
        """Answer whether the service and its database are up, and which counties' planning fails."""
        from sqlmodel import Session

        from bot.services.outbox import planning_errors

        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with Session(engine) as session:
            errors = planning_errors(session)
        return {"status": "degraded" if errors else "ok", "version": __version__,
                "database": engine.dialect.name, "schedule_errors": errors}

    from bot.services import metrics

    metrics.attach(engine)

    @app.get("/readyz", tags=["meta"])
    def readyz() -> JSONResponse:
        """Answer 200 when this process can work: database and file store reachable, scheduler ticking;
        else 503 with what is wrong (for a load balancer's health check)."""
        runner = getattr(app.state, "scheduler_runner", None)
        state = metrics.ready(engine, app.state.web.store.blobs,
                              scheduler_started_at=getattr(runner, "started_at", None),
                              last_tick_at=getattr(runner, "last_tick_at", None))
        return JSONResponse({"ready": state.ok, "checks": state.checks}, status_code=200 if state.ok else 503)

    @app.get("/metrics", tags=["meta"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
    def prometheus_metrics() -> Response:
        """Operational figures in the Prometheus text format (docs/operations.md lists them)."""
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    _include_routes(app, settings, engine)
    from bot.web import openapi

    openapi.install(app)
    return app


def _include_routes(app: FastAPI, settings: Settings, engine) -> None:
    import importlib

    for module in ("bot.web.routes", "bot.web.menu", "bot.web.review", "bot.web.problems", "bot.web.oversight",
                   "bot.web.people", "bot.web.duties", "bot.web.signboards", "bot.web.policy_pages",
                   "bot.web.audit_pages", "bot.web.ledger", "bot.web.classify", "bot.web.posting", "bot.web.income",
                   "bot.web.inventory", "bot.web.disposal", "bot.adapters.telegram_webhook", "bot.adapters.wecom_app"):
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
