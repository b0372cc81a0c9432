"""SMART Scheduling Links: ``$bulk-publish``, a manifest of NDJSON files of every
Location, Schedule and free Slot of the city, each Slot with the portal's booking link and
its capacity. Cheap to serve at city scale: the files are written out in batches (no long
transaction, bounded memory), and each publication lasts ``PUBLISH_SECONDS`` with an ETag
and ``max-age``, so a proxy or the client serves repeats without reaching the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from infocity.core.db import utcnow
from infocity.core.settings import get_settings
from infocity.health import service
from infocity.health.fhir import resources as fhir
from infocity.health.fhir.resources import Resource

PUBLISH_SECONDS = 300  # how stale a published file may be: bookings refuse a taken time
NDJSON = "application/fhir+ndjson"
KINDS = ("Location", "Schedule", "Slot")

router = APIRouter(include_in_schema=False)


def booking_link(slot_id: int) -> str:
    """The portal's page that books the slot (after logging in)."""
    return f"{_booking_prefix()}{slot_id}"


def _booking_prefix() -> str:
    return f"{get_settings().base_url.rstrip('/')}/health/book/confirm?slot="


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


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _slot_lines(now: datetime) -> Iterator[bytes]:
    """Every bookable slot as the NDJSON lines of ``fhir.slot`` (with its booking link),
    one chunk a batch. Millions of lines: each is one string template filled with the
    row's numbers and instants; the parts shared by many (a doctor's Schedule reference,
    a specialty's concept) are written once."""
    concepts = {s.id: _json([fhir.specialty_concept(s)]) for s in service.list_specialties()}
    schedules = {d.id: _json(fhir.ref("Schedule", d.id, d.name)) for d in service.list_doctors()}
    link = _json(_booking_prefix())[:-1]  # the opening quote and the escaped prefix
    opening = f'"extension":[{{"url":"{fhir.BOOKING_DEEP_LINK}","valueUrl":{link}'
    closing = f'"}},{{"url":"{fhir.SLOT_CAPACITY}","valueInteger":1}}]}}\n'
    after = 0
    while True:
        batch = service.published_slots(after, now=now)
        lines = [
            f'{{"resourceType":"Slot","id":"{s.id}","schedule":'
            f"{schedules.get(s.practitioner_id) or _json(fhir.ref('Schedule', s.practitioner_id))}"
            f',"status":"free","start":"{fhir.instant(s.starts_at)}"'
            f',"end":"{fhir.instant(s.ends_at)}","serviceType":{concepts[s.specialty_id]},'
            f"{opening}{s.id}{closing}"
            for s in batch
        ]
        if lines:
            yield "".join(lines).encode()
        if len(batch) < service.PUBLISH_BATCH:
            return
        after = batch[-1].id


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
    lines = _lines(resources()) if resources else _slot_lines(now)
    return StreamingResponse(lines, media_type=NDJSON, headers=headers)
