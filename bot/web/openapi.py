"""The published API description says what the API really answers.

Every error the app gives is ``{"detail": "<a sentence in the caller's language>"}`` (bot.web.common
``error_response``), validation errors included (422, not FastAPI's list of errors). This module
post-processes FastAPI's generated schema once: the validation error schema becomes that shape, and
every operation documents the error answers any request can get (400 refused input, 401 not signed
in, 403 outside the caller's area or no CSRF token, 404 unknown, 413 body too large, 422 invalid
input, 429 too many requests).
"""

from __future__ import annotations

from fastapi import FastAPI

ERROR = {"title": "Error", "type": "object", "required": ["detail"],
         "properties": {"detail": {"title": "Detail", "type": "string"}},
         "description": "An error, explained in the request's language."}
ANSWERS = {
    "400": "Refused input (the reason in words)",
    "401": "Not signed in",
    "403": "Outside your area, or no CSRF token",
    "404": "Unknown",
    "413": "Request body too large",
    "422": "Invalid input (the fields in words)",
    "429": "Too many requests",
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the post-processed schema."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR
        schemas.pop("ValidationError", None)
        schemas["HTTPValidationError"] = ERROR
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, description in ANSWERS.items():
                    documented = responses.setdefault(code, {"description": description})
                    documented.setdefault("content", ref)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
