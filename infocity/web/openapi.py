"""The OpenAPI document as client generators need it: what the API really answers.

FastAPI documents every invalid input as its own ``HTTPValidationError``, but the API
answers ``ErrorRead`` (``infocity.web.errors``); it does not document the 400 for a
body that cannot be read; and its operation ids are built from paths. This module
fixes the three once, for every route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

ERROR_REF = {"$ref": "#/components/schemas/ErrorRead"}
# FastAPI's own shapes, which the API never answers.
FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def operation_id(route: APIRoute) -> str:
    """A stable, readable operation id: the tag and the function, ``health_book``."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _fix(document: dict[str, Any]) -> dict[str, Any]:
    for path in document.get("paths", {}).values():
        for method, operation in path.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error("Invalid input; nothing was changed")
            # Every route refuses control characters in the path and the query (and a
            # value the database cannot store) with a 400; a body may also be unreadable.
            responses.setdefault(
                "400",
                _error(
                    "Characters no text may hold, a value out of range, or a body that "
                    "could not be read (not UTF-8); nothing was changed"
                ),
            )
            if "requestBody" in operation:
                responses.setdefault("413", _error("The body is larger than the API accepts"))
    schemas = document.get("components", {}).get("schemas", {})
    for name in FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    return document


def install(app: FastAPI) -> None:
    """Serve the corrected document (built once, on first request, as FastAPI does)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _fix(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
