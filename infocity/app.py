"""The ASGI application: every service's routers and pages under one roof.

It lives above the web kit (``infocity.web``), which every service's routes import: the
kit imports no service, and is handed here the accounts service's look-ups of who is
asking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
import swagger_ui_bundle
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from infocity import __version__, web
from infocity.accounts import api as accounts_api
from infocity.accounts import pages as accounts_pages
from infocity.accounts import service as accounts
from infocity.cards import api as cards_api
from infocity.cards import pages as cards_pages
from infocity.city import api as city_api
from infocity.connectivity import api as connectivity_api
from infocity.connectivity import pages as connectivity_pages
from infocity.core import i18n
from infocity.core.memory import start_up_frozen
from infocity.core.settings import get_settings
from infocity.education import api as education_api
from infocity.education import pages as education_pages
from infocity.health import api as health_api
from infocity.health import pages as health_pages
from infocity.health import service as health_service
from infocity.health.fhir import bundles as fhir_bundles
from infocity.health.fhir import routes as fhir_routes
from infocity.housing import open311
from infocity.housing import pages as housing_pages
from infocity.portal import api as portal_api
from infocity.portal import pages as portal_pages
from infocity.portal import service as portal_service
from infocity.safety import api as safety_api
from infocity.safety import pages as safety_pages
from infocity.web import errors, openapi, ops, pages, sms_reports
from infocity.web.deps import PrincipalSources, install_principal_sources
from infocity.web.limits import BodyLimitMiddleware, refuse_control_characters
from infocity.web.middleware import RequestContextMiddleware, SecurityHeadersMiddleware

API_PREFIX = "/api/v1"
DOCS_URL = f"{API_PREFIX}/docs"
# Routes that take a file (application attachments, API and page; housing requests'
# photos): a larger body limit, and only a logged-in caller's body is read.
UPLOAD_PATHS = (
    re.compile(rf"^({API_PREFIX}/portal)?/applications/\d+/attachments$"),
    re.compile(r"^/housing/requests/\d+/photos$"),
    re.compile(r"^/my/documents$"),
    re.compile(rf"^({API_PREFIX}/education/exams/imports|/education/exams/import)$"),
    re.compile(rf"^{API_PREFIX}/cards/payment-files$"),
    re.compile(rf"^({API_PREFIX}/wifi/hotspots/imports|/wifi/operator/import)$"),
)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Synchronous endpoints run in anyio's default thread pool: size it once per process.
    settings = get_settings()
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
    app.state.booking_limiter = anyio.CapacityLimiter(settings.booking_threads)
    app.state.kiosk_bookings = health_api.kiosk_group_commit(settings)
    i18n.warm_up()
    health_service.warm_up_booking()
    with start_up_frozen():
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
        docs_url=None,  # served below, from the package's files rather than a CDN
        redoc_url=None,
        lifespan=_lifespan,
        dependencies=[Depends(refuse_control_characters)],
        generate_unique_id_function=openapi.operation_id,
    )
    install_principal_sources(
        app,
        PrincipalSources(
            from_session=accounts.principal_from_session,
            from_api_token=accounts.principal_from_api_token,
            unread_count=portal_service.unread_count,
        ),
    )
    openapi.install(app)
    errors.install(app)
    errors.register_error_renderer(f"{open311.PREFIX}/", open311.error_response)
    errors.register_error_renderer(f"{fhir_routes.PREFIX}/", fhir_bundles.error_response)
    app.add_exception_handler(open311.Open311Error, open311.open311_errors)  # type: ignore[arg-type]
    settings = get_settings()
    # Inside the request context (added before it), so refusals are in the user's language.
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
        upload_paths=UPLOAD_PATHS,
    )
    app.add_middleware(
        RequestContextMiddleware,
        cookieless_prefixes=(f"{API_PREFIX}/", f"{open311.PREFIX}/", f"{fhir_routes.PREFIX}/"),
    )
    # Added last, so it is the outermost: every response gets the headers, errors too.
    app.add_middleware(SecurityHeadersMiddleware, docs_prefix=DOCS_URL)
    app.mount(
        "/static",
        StaticFiles(directory=Path(web.__file__).resolve().parent / "static"),
        name="static",
    )
    app.mount(
        f"{DOCS_URL}/files",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-ui",
    )

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{DOCS_URL}/files/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_URL}/files/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_URL}/files/favicon-32x32.png",
        )

    app.include_router(ops.router)
    app.include_router(sms_reports.router)
    # The JSON API first: routes are matched in order, and the API carries the load.
    for router in (
        health_api.router,
        accounts_api.router,
        city_api.router,
        portal_api.router,
        education_api.router,
        cards_api.router,
        connectivity_api.router,
        safety_api.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(open311.router)
    app.include_router(fhir_routes.router)
    app.include_router(pages.router)
    for router in (
        accounts_pages.router,
        health_pages.router,
        housing_pages.router,
        portal_pages.router,
        education_pages.router,
        cards_pages.router,
        connectivity_pages.router,
        safety_pages.router,
    ):
        app.include_router(router)
    return app
