"""Turning refusals and invalid input into answers in the user's language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from infocity.core.audit import request_id_var
from infocity.core.errors import AppError, Unauthenticated
from infocity.core.i18n import N_, gettext
from infocity.web.deps import render

logger = logging.getLogger("infocity.errors")

# /metrics: a scraper refused gets a JSON error, not the login page.
MACHINE_PREFIXES = ("/api/", "/open311/", "/fhir/", "/metrics")

# Machine paths whose standard has its own error shape (Open311's list of {code,
# description}): prefix -> renderer(request, status, code, message).
ErrorRenderer = Callable[[Request, int, str, str], Response]
ERROR_RENDERERS: dict[str, ErrorRenderer] = {}


def register_error_renderer(prefix: str, renderer: ErrorRenderer) -> None:
    """Answer every error under ``prefix`` with ``renderer`` instead of ``ErrorRead``."""
    ERROR_RENDERERS[prefix] = renderer


def _renderer(request: Request) -> ErrorRenderer | None:
    for prefix, renderer in ERROR_RENDERERS.items():
        if request.url.path.startswith(prefix):
            return renderer
    return None


HTTP_MESSAGES = {
    400: ("bad_request", N_("The request could not be understood.")),
    401: ("login_required", N_("Please log in to continue.")),
    403: ("forbidden", N_("You do not have access to this.")),
    404: ("not_found", N_("Nothing was found at this address.")),
    405: ("method_not_allowed", N_("This method is not allowed here.")),
    406: ("not_acceptable", N_("This format is not available.")),
    413: ("too_large", N_("The request is too large.")),
    415: ("unsupported_media_type", N_("This content type is not supported.")),
    422: ("invalid_input", N_("Some fields are filled in incorrectly.")),
    429: ("rate_limited", N_("Too many attempts. Please try again later.")),
}


class FieldErrorRead(BaseModel):
    field: str
    message: str


class ErrorDetailRead(BaseModel):
    code: str
    message: str
    field: str | None = None
    fields: list[FieldErrorRead] | None = None


class ErrorRead(BaseModel):
    """Every JSON error: a machine code, a message in the user's language, the field."""

    error: ErrorDetailRead


ERROR_DESCRIPTIONS = {
    401: "Not logged in, or the token is invalid or expired",
    403: "Not allowed for this user",
    404: "Not found",
    409: "Conflicts with what is already recorded",
    422: "Invalid input; nothing was changed",
    429: "Too many attempts; try again later",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route's possible errors, all of shape ``ErrorRead``."""
    return {
        status: {"model": ErrorRead, "description": ERROR_DESCRIPTIONS.get(status, "Error")}
        for status in statuses
    }


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(MACHINE_PREFIXES)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(location[-1] if location else "")


def validation_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    """Each invalid field with a message in the user's language."""
    fields = []
    for error in exc.errors():
        kind = error.get("type", "")
        if kind == "missing":
            message = gettext(N_("This field is required."))
        elif kind.startswith("string_too_long"):
            message = gettext(N_("This value is too long."))
        elif kind.startswith("string_too_short"):
            message = gettext(N_("This value is too short."))
        elif kind in ("value_error", "assertion_error") and "ctx" in error:
            # Our validators raise ValueError with an English message id.
            message = gettext(str(error["ctx"].get("error", "")))
        else:
            message = gettext(N_("This value is not valid."))
        fields.append({"field": _field_name(error.get("loc", ())), "message": message})
    return fields


def retry_after(exc: AppError) -> dict[str, str]:
    """``Retry-After`` (seconds) of a rate-limit refusal, whose message gives minutes."""
    minutes = exc.params.get("minutes")
    seconds = int(minutes) * 60 if isinstance(minutes, int) and minutes > 0 else 60
    return {"Retry-After": str(seconds)}


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """Every method some route of this path answers: the router's own 405 names only
    those of the first route that matched the path. Each method is tried on the routes."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def _with_headers(response: Response, headers: dict[str, str] | None) -> Response:
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        headers = retry_after(exc) if exc.status == 429 else None
        if (renderer := _renderer(request)) is not None:
            # Formats without a field of their own (Open311) name it in the text.
            message = f"{exc.field}: {exc.translated()}" if exc.field else exc.translated()
            response = renderer(request, exc.status, exc.code, message)
            return _with_headers(response, headers)
        if wants_json(request):
            if exc.status == 401:
                headers = {"WWW-Authenticate": "Bearer"}
            return JSONResponse({"error": exc.to_dict()}, status_code=exc.status, headers=headers)
        if isinstance(exc, Unauthenticated):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return render(
            request,
            "error.html",
            {"message": exc.translated(), "code": exc.code},
            status_code=exc.status,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = validation_fields(exc)
        message = gettext(HTTP_MESSAGES[422][1])
        if (renderer := _renderer(request)) is not None:
            return renderer(request, 400, "invalid_input", message)
        if wants_json(request):
            return JSONResponse(error_body("invalid_input", message, fields=fields), 422)
        return render(
            request,
            "error.html",
            {"message": message, "code": "invalid_input", "fields": fields},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, message_id = HTTP_MESSAGES.get(exc.status_code, ("error", N_("Request failed.")))
        message = gettext(message_id)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        if (renderer := _renderer(request)) is not None:
            return _with_headers(renderer(request, exc.status_code, code, message), headers)
        if wants_json(request):
            return JSONResponse(error_body(code, message), exc.status_code, headers=headers)
        page = render(
            request, "error.html", {"message": message, "code": code}, status_code=exc.status_code
        )
        return _with_headers(page, headers)

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        # A value the database cannot hold (out of a column's range, bytes it refuses)
        # that no check caught: the caller's input, refused, and the transaction is
        # already rolled back. Logged, since it means a check is missing.
        logger.warning("database refused a value: %s", exc.orig)
        code, message_id = HTTP_MESSAGES[400]
        message = gettext(message_id)
        if (renderer := _renderer(request)) is not None:
            return renderer(request, 400, code, message)
        if wants_json(request):
            return JSONResponse(error_body(code, message), 400)
        return render(request, "error.html", {"message": message, "code": code}, 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error")
        message = gettext(N_("Something went wrong on our side. Please try again later."))
        body = error_body("internal_error", message, request_id=request_id_var.get())
        if (renderer := _renderer(request)) is not None:
            return renderer(request, 500, "internal_error", message)
        if wants_json(request):
            return JSONResponse(body, 500)
        return render(request, "error.html", {"message": message, "code": "internal_error"}, 500)
