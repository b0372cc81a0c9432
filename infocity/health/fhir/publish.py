"""SMART Scheduling Links: ``$bulk-publish``, a manifest of NDJSON files of every
Location, Schedule and free Slot of the city, each Slot with the portal's booking link and
its capacity. Cheap to serve at city scale: with a publication directory set
(``fhir_publication_dir``) the worker writes the files once a period
(``write_publication``) and a request sends a finished file, never waiting for one to be
written; without one (or when the worker's files are older than two periods) a request
writes its file as it is read, in ranges (no long transaction, bounded memory). Each
publication lasts ``PUBLISH_SECONDS`` with an ETag and ``max-age``, so a proxy or the
client serves repeats without reaching the database."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi import Path as PathParameter
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from infocity.core.db import utcnow
from infocity.core.settings import get_settings
from infocity.health import service
from infocity.health.fhir import resources as fhir
from infocity.health.fhir.resources import Resource
from infocity.health.fhir.slot_lines import slot_lines

PUBLISH_SECONDS = 300  # how stale a published file may be: bookings refuse a taken time
NDJSON = "application/fhir+ndjson"
KINDS = ("Location", "Schedule", "Slot")
CURRENT = "current.json"  # which files the latest publication wrote, and when

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


@dataclass(frozen=True)
class Publication:
    """The files of the latest publication written to the directory: each kind's file
    name (which carries a digest of its bytes) and when the writing began."""

    directory: Path
    written_at: datetime
    files: dict[str, str]


def _directory() -> Path | None:
    configured = get_settings().fhir_publication_dir
    return Path(configured) if configured else None


def _read_current(directory: Path) -> Publication | None:
    try:
        current = json.loads((directory / CURRENT).read_text(encoding="utf-8"))
        return Publication(
            directory, datetime.fromisoformat(current["written_at"]), current["files"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current_publication(now: datetime | None = None) -> Publication | None:
    """The worker's latest files, unless there is no directory, none written yet, or the
    latest are older than two periods (the worker has stopped: requests then write their
    own rather than send stale times)."""
    directory = _directory()
    publication = _read_current(directory) if directory else None
    now = now or utcnow()
    if publication is None or now - publication.written_at > timedelta(seconds=2 * PUBLISH_SECONDS):
        return None
    return publication


def _write_file(directory: Path, kind: str, chunks: Iterable[bytes]) -> str:
    """Write one kind's file and return its name, ``<kind>-<digest of its bytes>.ndjson``:
    a file unchanged since an earlier publication keeps its name, and so its ETag (a
    client holding it gets ``304``), and is not replaced."""
    digest = hashlib.sha256()
    temporary = directory / f".{kind}-{os.getpid()}.tmp"
    with temporary.open("wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    name = f"{kind}-{digest.hexdigest()[:32]}.ndjson"
    if (directory / name).exists():
        temporary.unlink()
    else:
        temporary.replace(directory / name)  # complete before anyone can open it
    return name


def write_publication(now: datetime | None = None) -> int:
    """Write the period's Location, Schedule and Slot files into the publication
    directory, then point ``current.json`` at them (replaced whole, so a reader sees the
    old publication or the new one); remove the files neither it nor the one before
    names (a request may still be sending those). The bytes of the files written; 0:
    no directory set."""
    directory = _directory()
    if directory is None:
        return 0
    directory.mkdir(parents=True, exist_ok=True)
    now = now or utcnow()
    writers: dict[str, Callable[[], Iterator[bytes]]] = {
        "Location": lambda: _lines(_locations()),
        "Schedule": lambda: _lines(_schedules()),
        "Slot": lambda: slot_lines()(now),
    }
    files = {kind: _write_file(directory, kind, write()) for kind, write in writers.items()}
    before = _read_current(directory)
    current = {"written_at": now.isoformat(), "files": files}
    temporary = directory / f".{CURRENT}-{os.getpid()}.tmp"
    temporary.write_text(json.dumps(current), encoding="utf-8")
    temporary.replace(directory / CURRENT)
    kept = {CURRENT, *files.values(), *(before.files.values() if before else ())}
    for path in directory.glob("*.ndjson"):
        if path.name not in kept:
            path.unlink(missing_ok=True)
    return sum((directory / name).stat().st_size for name in files.values())


def _locations() -> Iterator[Resource]:
    yield from (fhir.location(c) for c in service.list_clinics())


def _schedules() -> Iterator[Resource]:
    specialties = {s.id: s for s in service.list_specialties()}
    yield from (fhir.schedule(d, specialties[d.specialty_id]) for d in service.list_doctors())


def _file_headers(publication: Publication, name: str) -> dict[str, str]:
    """A finished file's caching headers: the ETag of its bytes, ``max-age`` up to the
    next publication's due time."""
    due = publication.written_at + timedelta(seconds=PUBLISH_SECONDS)
    left = int((due - utcnow()).total_seconds())
    return {
        "ETag": f'"{name.removesuffix(".ndjson")}"',
        "Cache-Control": f"public, max-age={max(left, 1)}",
    }


@router.get("/$bulk-publish")
def manifest(request: Request) -> Response:
    publication = current_publication()
    if publication is not None:
        written = publication.written_at
        headers = _file_headers(publication, f"manifest-{int(written.timestamp())}")
        fresh = headers["ETag"] in request.headers.get("if-none-match", "")
    else:
        written = _publication(utcnow())
        headers, fresh = _cached(request, "manifest")
    if fresh:
        return Response(status_code=304, headers=headers)
    base = str(request.base_url).rstrip("/") + "/fhir/R4"
    body = {
        "transactionTime": written.isoformat(),
        "request": f"{base}/$bulk-publish",
        "output": [{"type": kind, "url": f"{base}/$bulk-publish/{kind}.ndjson"} for kind in KINDS],
        "error": [],
    }
    return JSONResponse(body, headers=headers)


@router.get("/$bulk-publish/{kind}.ndjson")
def ndjson(
    request: Request, kind: str = PathParameter(pattern="^(Location|Schedule|Slot)$")
) -> Response:
    publication = current_publication()
    if publication is not None:
        name = publication.files[kind]
        headers = _file_headers(publication, name)
        if headers["ETag"] in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return FileResponse(publication.directory / name, media_type=NDJSON, headers=headers)
    headers, fresh = _cached(request, kind)
    if fresh:
        return Response(status_code=304, headers=headers)
    now = utcnow()
    resources = {"Location": _locations, "Schedule": _schedules}.get(kind)
    lines = _lines(resources()) if resources else slot_lines()(now)
    return StreamingResponse(lines, media_type=NDJSON, headers=headers)
