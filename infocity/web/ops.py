"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
import ipaddress
import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from sqlalchemy import text

from infocity.core.db import get_engine
from infocity.core.errors import Forbidden, Unauthenticated
from infocity.core.i18n import N_
from infocity.core.migrate import is_current
from infocity.core.opsmetrics import DatabaseCollector
from infocity.core.settings import get_settings
from infocity.web.deps import client_ip

router = APIRouter(include_in_schema=False)

# Figures read from the database at scrape time; one registry of their own, so they are
# served once whether or not the processes' counters are summed through files.
_DATABASE_REGISTRY = CollectorRegistry(auto_describe=False)
_DATABASE_REGISTRY.register(DatabaseCollector())


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz() -> Response:
    """The process can serve: database reachable and migrations current."""
    checks: dict[str, str] = {}
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if is_current() else "pending"
    except Exception as exc:  # any failure means not ready, with the reason
        checks["database"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_metrics_access(request: Request) -> None:
    """With ``INFOCITY_METRICS_TOKEN`` set, the scraper must send it as a bearer token;
    without one, production answers only clients on this machine (the client address is
    the one the local reverse proxy forwards), other environments answer anyone."""
    token = get_settings().metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthenticated("invalid_token", N_("The access token is invalid or expired."))
        return
    if get_settings().environment == "production" and not _is_loopback(client_ip(request)):
        raise Forbidden("forbidden", N_("You do not have access to this."))


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus metrics: the processes' counters (with several processes, summed over
    all of them) and the figures read from the database."""
    _check_metrics_access(request)
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    body = generate_latest(registry) + generate_latest(_DATABASE_REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
