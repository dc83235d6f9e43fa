"""Registers the web side on the app: static files, public pages, sign-in, the form, the JSON API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.config import Settings
from bot.web import api, assets, auth, form, public
from bot.web.common import HTTP_MESSAGES, WebError, error_response, invalid_input, make_web


def include(app: FastAPI, settings: Settings, engine) -> None:
    """Add every route of bot/web to ``app`` (called by bot.web.app.create_app)."""
    app.state.web = make_web(settings, engine)
    app.state.public_cache = {}
    assets.include(app)  # /static with fingerprints, /favicon.ico, HEAD on every GET address

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError):
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        """A bad id in the address is a page that does not exist; bad fields get 422, both in words."""
        return error_response(request, invalid_input(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        """Unknown addresses and wrong methods answer in the user's language, like every other error."""
        message = HTTP_MESSAGES.get(exc.status_code)
        if message is None:
            return await http_exception_handler(request, exc)
        response = error_response(request, WebError(exc.status_code, message))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    for module in (public, auth, form, api):
        app.include_router(module.router)
