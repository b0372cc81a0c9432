"""Results day: participants look their exam results up through the JSON API (no
login) served by two processes, then through a bare endpoint sending the same round
trips on the same stack (``bench.exams_bare``). Every client request comes through
"the proxy" with its own participant's address (``X-Forwarded-For``, which ``infocity
serve`` trusts from 127.0.0.1), so the limits per address and per code hold as on the
day and refuse no one.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

from bench.client import Request, Result, drive, percentile
from bench.env import City
from infocity.analytics.synthetic import (
    CityPlan,
    exam_document_number,
    exam_registration_code,
)

LOOKUP_PATH = "/api/v1/education/exams/results/lookup"


def participants(city: City) -> int:
    return CityPlan.at(city.scale).exam_participants


def clear_counts(city: City) -> None:
    """Forget the look-ups counted by a run before (so runs do not share limits)."""
    with city.connect() as connection:
        connection.execute("DELETE FROM rate_limit_counters WHERE key LIKE 'exam-%%'")


def look_ups(
    base_url: str, count: int, *, clients: int, duration: float, seed: int, tag: str
) -> tuple[list[Result], float]:
    """Closed-loop look-ups of random participants for ``duration`` seconds."""
    rng = random.Random(f"exams:{seed}:{tag}")

    def next_request(_client: int) -> Request:
        n = rng.randrange(count)
        address = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{1 + rng.randrange(254)}"
        return Request(
            "POST",
            LOOKUP_PATH,
            {"registration_code": exam_registration_code(n),
             "document_number": exam_document_number(n)},
            headers=(("X-Forwarded-For", address),),
        )  # fmt: skip

    return asyncio.run(drive(base_url, clients, next_request, duration=duration))


def summarise(results: list[Result], elapsed: float) -> dict[str, Any]:
    """Look-ups a second, latency, and every answer that is not 200 (errors)."""
    latencies = [r.seconds * 1000 for r in results]
    found = [r for r in results if r.status == 200]
    statuses = Counter(str(r.status) for r in results if r.status != 200)
    with_results = sum(1 for r in found if r.json()["results"])
    return {
        "look_ups": len(results),
        "seconds": round(elapsed, 2),
        "look_ups_per_second": round(len(results) / elapsed, 1) if elapsed else 0.0,
        "answered_with_results": with_results,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
        },
        "errors": len(results) - len(found),
        "errors_by_status": dict(statuses),
        "error_samples": [r.body[:200].decode(errors="replace") for r in results
                          if r.status != 200][:3],
    }  # fmt: skip
