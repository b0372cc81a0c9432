"""SMART Scheduling Links: ``$bulk-publish``, a manifest of NDJSON files of every
Location, Schedule and free Slot of the city, each Slot with the portal's booking link and
its capacity. Cheap to serve at city scale: the files are written out in batches (no long
transaction, bounded memory), and each publication lasts ``PUBLISH_SECONDS`` with an ETag
and ``max-age``, so a proxy or the client serves repeats without reaching the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from infocity.core.db import utcnow
from infocity.health import service
from infocity.health.fhir import resources as fhir
from infocity.health.fhir.resources import Resource
from infocity.health.fhir.slot_lines import slot_lines

PUBLISH_SECONDS = 300  # how stale a published file may be: bookings refuse a taken time
NDJSON = "application/fhir+ndjson"
KINDS = ("Location", "Schedule", "Slot")

router = APIRouter(include_in_schema=False)


def _publication(now: datetime) -> datetime:
    """The start of the publication period ``now`` falls in."""
    seconds = int(now.timestamp()) // PUBLISH_SECONDS * PUBLISH_SECONDS
    return datetime.fromtimestamp(seconds, UTC)


def _cached(request: Request, name: str) -> tuple[dict[str, str], bool]:
    """The caching headers of this period's file, and whether the client has it."""
    now = utcnow()
    period = _publication(now)
    etag = f'W/"{name}-{int(period.timestamp())}"'
    left = PUBLISH_SECONDS - int((now - period).total_seconds())
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max(left, 1)}"}
    return headers, etag in request.headers.get("if-none-match", "")


def _lines(resources: Iterator[Resource]) -> Iterator[bytes]:
    for resource in resources:
        yield json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _locations() -> Iterator[Resource]:
    yield from (fhir.location(c) for c in service.list_clinics())


def _schedules() -> Iterator[Resource]:
    specialties = {s.id: s for s in service.list_specialties()}
    yield from (fhir.schedule(d, specialties[d.specialty_id]) for d in service.list_doctors())


@router.get("/$bulk-publish")
def manifest(request: Request) -> Response:
    headers, fresh = _cached(request, "manifest")
    if fresh:
        return Response(status_code=304, headers=headers)
    base = str(request.base_url).rstrip("/") + "/fhir/R4"
    body = {
        "transactionTime": _publication(utcnow()).isoformat(),
        "request": f"{base}/$bulk-publish",
        "output": [{"type": kind, "url": f"{base}/$bulk-publish/{kind}.ndjson"} for kind in KINDS],
        "error": [],
    }
    return JSONResponse(body, headers=headers)


@router.get("/$bulk-publish/{kind}.ndjson")
def ndjson(request: Request, kind: str = Path(pattern="^(Location|Schedule|Slot)$")) -> Response:
    headers, fresh = _cached(request, kind)
    if fresh:
        return Response(status_code=304, headers=headers)
    now = utcnow()
    resources = {"Location": _locations, "Schedule": _schedules}.get(kind)
    lines = _lines(resources()) if resources else slot_lines()(now)
    return StreamingResponse(lines, media_type=NDJSON, headers=headers)
