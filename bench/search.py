"""Scenario 3: slot search through the API, beside the same SQL run straight.

- "The first free slots of specialty S for patient P in the next 14 days": at P's own
  polyclinic and its branches for a directly booked specialty, anywhere in the city for a
  specialty booked by referral; the first 10.
- "Doctor D's free slots on day X": D's specialty on day X with ``practitioner_id = D``
  (served by the unique index on (practitioner_id, starts_at)); the SQL columns show that
  query and, for comparison, the one without the filter (D's specialty at D's polyclinic
  and its branches, the client keeping D's slots), which the API ran before it had one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bench.client import Request, drive, percentile
from bench.env import City
from infocity.analytics.synthetic import STAFFING
from infocity.core.settings import get_settings

SEARCH_PATH = "/api/v1/health/slots"
FIRST_SLOTS = 10

FREE = """SELECT slots.id, slots.clinic_id, slots.practitioner_id, slots.specialty_id,
    slots.starts_at, slots.ends_at FROM slots
WHERE slots.specialty_id = %(specialty)s AND slots.status = 'free'
  AND slots.release_at <= %(now)s AND slots.starts_at > %(now)s
  AND slots.starts_at >= %(lower)s AND slots.starts_at < %(upper)s {where}
ORDER BY slots.starts_at, slots.id LIMIT %(limit)s"""
# As the application asks: the first of each polyclinic of the group (``{found}``: one
# FREE, or one per polyclinic of the group), then the first of them all.
SQL = """SELECT f.id, f.clinic_id, f.practitioner_id, practitioners.name AS practitioner_name,
    practitioners.room, f.specialty_id, f.starts_at, f.ends_at
FROM ({found}) AS f JOIN practitioners ON practitioners.id = f.practitioner_id
ORDER BY f.starts_at, f.id LIMIT %(limit)s"""
DOCTOR = " AND slots.practitioner_id = %(doctor)s"


@dataclass(frozen=True)
class Query:
    kind: str  # first_slots | doctor_day
    specialty: int
    clinic: int | None
    first_day: date
    last_day: date
    limit: int
    doctor: int | None = None

    def request(self) -> Request:
        params: dict[str, Any] = {"specialty_id": self.specialty}
        if self.doctor is not None:
            params["practitioner_id"] = self.doctor
        elif self.clinic is not None:
            params["clinic_id"] = self.clinic
        params |= {
            "date_from": self.first_day.isoformat(),
            "date_to": self.last_day.isoformat(),
            "limit": self.limit,
        }
        return Request("GET", f"{SEARCH_PATH}?{urlencode(params)}", tag=str(self.doctor or ""))


def sample_queries(city: City, count: int, seed: int) -> list[Query]:
    """``count`` queries of each kind, for random patients and doctors (seeded)."""
    rng = random.Random(f"search:{seed}")
    tz = get_settings().city_tz
    today = datetime.now(tz).date()
    with city.connect() as connection:
        specialties = {
            code: (sid, mode)
            for sid, code, mode in connection.execute(
                "SELECT id, code, booking_mode FROM specialties"
            )
        }
        low, high = connection.execute("SELECT min(id), max(id) FROM persons").fetchone() or (0, 0)
        ids = [rng.randint(low, high) for _ in range(count * 2)]
        patients = connection.execute(
            "SELECT a.clinic_id, a.kind FROM clinic_attachments a "
            "WHERE a.person_id = ANY(%s) AND a.valid_to IS NULL",
            (ids,),
        ).fetchall()
        doctors = connection.execute(
            "SELECT id, clinic_id, specialty_id FROM practitioners ORDER BY id"
        ).fetchall()
    queries: list[Query] = []
    for clinic, kind in patients[:count]:
        staffing = STAFFING[kind]
        codes = [c for c in staffing if c in specialties]
        code = rng.choices(codes, weights=[staffing[c] for c in codes])[0]
        specialty, mode = specialties[code]
        queries.append(
            Query(
                "first_slots",
                specialty,
                clinic if mode == "direct" else None,
                today,
                today + timedelta(days=13),
                FIRST_SLOTS,
            )
        )
    for _ in range(count):
        doctor, clinic, specialty = rng.choice(doctors)
        day = today + timedelta(days=rng.randint(1, 13))
        queries.append(Query("doctor_day", specialty, clinic, day, day, 1000, doctor))
    return queries


def _bounds(query: Query) -> dict[str, Any]:
    tz = get_settings().city_tz
    lower = datetime.combine(query.first_day, datetime.min.time(), tzinfo=tz)
    upper = datetime.combine(query.last_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return {
        "specialty": query.specialty,
        "clinic": query.clinic,
        "doctor": query.doctor,
        "lower": lower,
        "upper": upper,
        "now": datetime.now(tz),
        "limit": query.limit,
    }


def _statement(query: Query, *, by_doctor: bool) -> str:
    doctor = DOCTOR if by_doctor else ""
    if query.clinic is None or by_doctor:
        return SQL.format(found=FREE.format(where=doctor))
    # As the application asks on PostgreSQL: the group read in the same statement, one
    # small scan per polyclinic.
    member = FREE.format(where=f"{doctor} AND slots.clinic_id = c.id")
    return SQL.format(
        found=f"SELECT m.* FROM clinics c CROSS JOIN LATERAL ({member}) m "
        f"WHERE c.id = %(clinic)s OR c.parent_clinic_id = %(clinic)s"
    )


def sql_latencies(city: City, queries: list[Query], *, by_doctor: bool = False) -> list[float]:
    """Milliseconds of each query run straight through psycopg (prepared, one
    connection): the database's share of a search."""
    latencies = []
    with city.connect() as connection:
        for query in queries:
            began = time.perf_counter()
            statement = _statement(query, by_doctor=by_doctor)
            connection.execute(statement, _bounds(query), prepare=True).fetchall()
            latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def doctor_day_plan(city: City, query: Query) -> list[str]:
    """EXPLAIN ANALYZE of the doctor's day with ``practitioner_id``: which index serves it."""
    with city.connect() as connection:
        rows = connection.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
            + SQL.format(found=FREE.format(where=DOCTOR)),
            _bounds(query),
        ).fetchall()
    return [str(row[0]) for row in rows]


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 2),
        "p95": round(percentile(values, 0.95), 2),
        "p99": round(percentile(values, 0.99), 2),
    }


def _feeder(queries: list[Query]) -> Callable[[int], Request | None]:
    """Each query's request once, to whichever client asks next."""
    pending = iter([q.request() for q in queries])
    return lambda _client: next(pending, None)


def run_search(
    base_url: str, city: City, *, requests: int, clients: int, seed: int
) -> dict[str, Any]:
    """Latency of both searches through the API and straight in SQL."""
    queries = sample_queries(city, requests, seed)
    figures: dict[str, Any] = {}
    for kind in ("first_slots", "doctor_day"):
        chosen = [q for q in queries if q.kind == kind]
        asyncio.run(drive(base_url, 1, _feeder(chosen[:30]), duration=60))  # warm-up
        results, elapsed = asyncio.run(drive(base_url, clients, _feeder(chosen), duration=120))
        latencies = [r.seconds * 1000 for r in results if r.status == 200]
        found = []
        for result in results:
            if result.status != 200:
                continue
            rows = result.json()
            if kind == "doctor_day":
                rows = [r for r in rows if str(r["practitioner_id"]) == result.request.tag]
            found.append(len(rows))
        figures[kind] = {
            "requests": len(results),
            "errors": sum(1 for r in results if r.status != 200),
            "requests_per_second": round(len(results) / elapsed, 1) if elapsed else 0.0,
            "api_ms": _stats(latencies),
            "sql_ms": _stats(sql_latencies(city, chosen, by_doctor=kind == "doctor_day")),
            "slots_found_avg": round(sum(found) / len(found), 1) if found else 0.0,
        }
        if kind == "doctor_day":
            figures[kind]["sql_without_practitioner_filter_ms"] = _stats(
                sql_latencies(city, chosen)
            )
            figures[kind]["plan"] = doctor_day_plan(city, chosen[0])
    return figures
