"""The ASGI application: every service's routers and pages under one roof."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from infocity import __version__
from infocity.accounts import api as accounts_api
from infocity.accounts import pages as accounts_pages
from infocity.city import api as city_api
from infocity.core.settings import get_settings
from infocity.health import api as health_api
from infocity.health import pages as health_pages
from infocity.housing import open311
from infocity.housing import pages as housing_pages
from infocity.portal import api as portal_api
from infocity.portal import pages as portal_pages
from infocity.web import errors, openapi, ops, pages
from infocity.web.middleware import RequestContextMiddleware

API_PREFIX = "/api/v1"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Synchronous endpoints run in anyio's default thread pool: size it once per process.
    settings = get_settings()
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
    app.state.booking_limiter = anyio.CapacityLimiter(settings.booking_threads)
    yield


def create_app() -> FastAPI:
    """Build the application (uvicorn calls this in every worker process)."""
    app = FastAPI(
        title="InfoCity API",
        version=__version__,
        description="JSON API of the city's electronic public services. Errors have the "
        'shape {"error": {"code", "message"}} with the message in the language of '
        "the Accept-Language header (Russian by default).",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=_lifespan,
        generate_unique_id_function=openapi.operation_id,
    )
    openapi.install(app)
    errors.install(app)
    errors.register_error_renderer(f"{open311.PREFIX}/", open311.error_response)
    app.add_exception_handler(open311.Open311Error, open311.open311_errors)  # type: ignore[arg-type]
    app.add_middleware(
        RequestContextMiddleware, cookieless_prefixes=(f"{API_PREFIX}/", f"{open311.PREFIX}/")
    )
    app.mount(
        "/static",
        StaticFiles(directory=Path(__file__).resolve().parent / "static"),
        name="static",
    )
    app.include_router(ops.router)
    # The JSON API first: routes are matched in order, and the API carries the load.
    for router in (health_api.router, accounts_api.router, city_api.router, portal_api.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(open311.router)
    app.include_router(pages.router)
    for router in (
        accounts_pages.router,
        health_pages.router,
        housing_pages.router,
        portal_pages.router,
    ):
        app.include_router(router)
    return app
