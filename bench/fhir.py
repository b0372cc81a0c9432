"""Scenario 11: FHIR R4 for other systems, beside the JSON API on the same city.

- Slot search through ``/fhir/R4/Slot`` and the JSON API's same search
  (``/api/v1/health/slots``), the two requests of each question sent in turn by one
  client, so both see the same machine: the first free slots of specialty S for patient P
  over 14 days (``service-type`` + ``location``), doctor D's day (``schedule``); and, FHIR
  only, a polyclinic's free times of a day (``location`` alone) followed three pages deep
  by the ``next`` links' ``_cursor``.
- The city-wide SMART Scheduling Links publication: each ``$bulk-publish`` NDJSON file
  read in full through the server, beside the same rows read straight from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.client import Request, Result, drive
from bench.env import City
from bench.search import Query, sample_queries
from bench.search import _stats as stats
from infocity.core.db import utcnow
from infocity.health.fhir import slot_lines

FHIR = "/fhir/R4"
PAGES = 3  # how deep the polyclinic's day is followed

SLOT_ROWS = """SELECT slots.id, slots.clinic_id, slots.practitioner_id, practitioners.name,
    practitioners.room, slots.specialty_id, slots.starts_at, slots.ends_at
FROM slots JOIN practitioners ON practitioners.id = slots.practitioner_id
WHERE slots.status = 'free' AND slots.release_at <= now() AND slots.starts_at > now()
ORDER BY slots.id"""


def _fhir_request(query: Query, codes: dict[int, str]) -> Request:
    """The FHIR search that asks what ``query`` asks the JSON API."""
    params: list[tuple[str, Any]] = []
    if query.doctor is not None:
        params.append(("schedule", f"Schedule/{query.doctor}"))
    else:
        params.append(("service-type", codes[query.specialty]))
        if query.clinic is not None:
            params.append(("location", f"Location/{query.clinic}"))
    params += [
        ("start", f"ge{query.first_day.isoformat()}"),
        ("start", f"lt{(query.last_day + timedelta(days=1)).isoformat()}"),
        ("_count", min(query.limit, 200)),
    ]
    return Request("GET", f"{FHIR}/Slot?{urlencode(params)}", tag="fhir")


def _interleaved(requests: list[Request]) -> Callable[[int], Request | None]:
    pending = iter(requests)
    return lambda _client: next(pending, None)


def _latencies(results: list[Any], tag: str) -> list[float]:
    return [r.seconds * 1000 for r in results if r.request.tag == tag and r.status == 200]


def _errors(results: list[Any]) -> int:
    return sum(1 for r in results if r.status != 200)


def _day_pages(base_url: str, city: City, count: int, seed: int) -> dict[str, Any]:
    """A polyclinic's free times of one day by ``location`` alone, 50 a page, followed
    ``PAGES`` deep through the ``next`` links (each page is the client's next request)."""
    day = sample_queries(city, 1, seed)[0].first_day + timedelta(days=2)
    with city.connect() as connection:
        clinics = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM clinics WHERE parent_clinic_id IS NULL ORDER BY id"
            )
        ]
    window = f"start=ge{day.isoformat()}&start=lt{(day + timedelta(days=1)).isoformat()}"
    firsts = iter(
        Request("GET", f"{FHIR}/Slot?location=Location/{clinic}&{window}&_count=50", tag="0")
        for clinic in (clinics[n % len(clinics)] for n in range(count))
    )
    deeper: list[Request] = []

    def follow(result: Result) -> None:
        depth = int(result.request.tag) + 1
        if result.status != 200 or depth >= PAGES:
            return
        links = {x["relation"]: x["url"] for x in result.json()["link"]}
        if "next" in links:
            parts = urlsplit(links["next"])
            deeper.append(Request("GET", f"{parts.path}?{parts.query}", tag=str(depth)))

    results, _ = asyncio.run(
        drive(
            base_url,
            1,
            lambda _client: deeper.pop() if deeper else next(firsts, None),
            duration=300,
            on_result=follow,
        )
    )
    ok = [r for r in results if r.status == 200]
    return {
        "searches": count,
        "errors": _errors(results),
        "first_page_ms": stats([r.seconds * 1000 for r in ok if r.request.tag == "0"]),
        "deeper_pages_ms": stats([r.seconds * 1000 for r in ok if r.request.tag != "0"]),
        "deeper_pages": sum(1 for r in ok if r.request.tag != "0"),
        "slots_found": sum(len(r.json().get("entry", [])) for r in ok),
    }


def run_searches(
    base_url: str, city: City, *, requests: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Each question through the JSON API and through FHIR, in turn, one client."""
    queries = sample_queries(city, requests, seed)
    with city.connect() as connection:
        codes = {sid: code for sid, code in connection.execute("SELECT id, code FROM specialties")}
    figures: dict[str, dict[str, Any]] = {}
    for kind in ("first_slots", "doctor_day"):
        chosen = [q for q in queries if q.kind == kind]
        pairs = [
            r
            for q in chosen
            for r in (Request("GET", q.request().path, tag="api"), _fhir_request(q, codes))
        ]
        asyncio.run(drive(base_url, 1, _interleaved(pairs[:60]), duration=60))  # warm-up
        results, _elapsed = asyncio.run(drive(base_url, 1, _interleaved(pairs), duration=300))
        api, fhir = _latencies(results, "api"), _latencies(results, "fhir")
        figures[kind] = {
            "requests_each": len(chosen),
            "errors": _errors(results),
            "api_ms": stats(api),
            "fhir_ms": stats(fhir),
            "fhir_over_api_p95": round(stats(fhir)["p95"] / stats(api)["p95"], 2)
            if api and fhir
            else None,
        }
    figures["location_day"] = _day_pages(base_url, city, max(1, requests // 3), seed)
    return figures


def _read_all(url: str) -> tuple[float, int, int]:
    """Seconds to read a whole NDJSON file, its lines and bytes."""
    began = time.perf_counter()
    lines = size = 0
    with urllib.request.urlopen(url, timeout=600) as answer:  # noqa: S310 - 127.0.0.1
        while block := answer.read(1 << 20):
            lines += block.count(b"\n")
            size += len(block)
    return time.perf_counter() - began, lines, size


def _writers() -> dict[str, Any]:
    """The Slot file written in this process by each writer, no HTTP: Python filling a
    template per row (as every request did before), PostgreSQL writing the lines through
    one session, and through two at once (what the worker and a request use)."""
    now = utcnow()
    figures: dict[str, Any] = {}
    writers = (
        ("python", slot_lines.in_python),
        ("postgresql", slot_lines.in_postgres),
        ("postgresql_2_sessions", slot_lines.in_parallel),
    )
    for name, write in writers:
        began = time.perf_counter()
        size = sum(len(chunk) for chunk in write(now))
        figures[name] = {"seconds": round(time.perf_counter() - began, 2), "bytes": size}
    return figures


def run_bulk_publish(base_url: str, city: City) -> dict[str, Any]:
    """Every ``$bulk-publish`` file read in full, and the Slot rows straight from SQL."""
    with urllib.request.urlopen(f"{base_url}{FHIR}/$bulk-publish") as answer:  # noqa: S310
        manifest = json.loads(answer.read())
    files: dict[str, Any] = {}
    for output in manifest["output"]:
        seconds, lines, size = _read_all(output["url"])
        files[output["type"]] = {
            "seconds": round(seconds, 2),
            "resources": lines,
            "mib": round(size / 2**20, 1),
            "resources_per_second": round(lines / seconds) if seconds else 0,
        }
    began = time.perf_counter()
    rows = 0
    with (
        city.connect() as connection,
        connection.transaction(),
        connection.cursor(name="published") as cursor,
    ):
        cursor.itersize = 5000
        cursor.execute(SLOT_ROWS)
        for _row in cursor:
            rows += 1
    sql = time.perf_counter() - began
    total = sum(f["seconds"] for f in files.values())
    return {
        "files": files,
        "slot_writers": _writers(),
        "all_files_seconds": round(total, 2),
        "slot_rows_sql_seconds": round(sql, 2),
        "slot_rows_sql": rows,
        "slot_file_over_sql": round(files["Slot"]["seconds"] / sql, 1) if sql else None,
    }
