"""Registers the web side on the app: static files, public pages, sign-in, the form, the JSON API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from bot.config import Settings
from bot.web import api, auth, form, public
from bot.web.common import STATIC, WebError, error_response, make_web


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add every route of bot/web to ``app`` (called by bot.web.app.create_app)."""
    app.state.web = make_web(settings, engine)
    app.state.public_cache = {}
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError):
        return error_response(request, exc)

    for module in (public, auth, form, api):
        app.include_router(module.router)
