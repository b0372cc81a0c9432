"""Scenario 1 and 2: the booking rush at release time, and its limit.

N slots of one day are released at once; M clients book them through the HTTP API
(kiosk booking by OMS policy and birth date, the path that needs no login) served by two
processes; 80 % of the demand falls on 20 % of the slots. Afterwards the database is
asked how many slots were booked twice (it must be none). Then the same booking
transaction is driven straight at PostgreSQL by pgbench on the same slots, with the same
distribution and the same number of attempts: the ratio API ÷ pgbench says how close the
application comes to the database's limit.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

from bench.client import Request, Result, drive, percentile
from bench.env import City, pgbench_path
from infocity.core.settings import get_settings

KIOSK_PATH = "/api/v1/health/kiosk/appointments"
SPECIALTY = "therapist"  # booked directly, adults, the busiest


@dataclass
class Release:
    """The slots released at once and the patients who will ask for them."""

    specialty_id: int
    day: date
    slot_ids: list[int]  # in demand order: the first ``hot`` are the popular ones
    heads: list[int]  # the head clinic of each slot (patients must be attached there)
    patients: dict[int, deque[tuple[str, str]]]  # head clinic -> (policy, birth date)


def prepare_release(
    city: City, slots: int, patients_per_clinic: int, seed: int, *, day_rank: int = 0
) -> Release:
    """Pick up to ``slots`` free therapist slots of one day (the latest materialised day,
    or ``day_rank`` days before it) and adult patients attached to their clinics who
    have never booked."""
    rng = random.Random(f"rush:{seed}:{day_rank}")
    with city.connect() as connection:
        tz = get_settings().city_timezone
        found = connection.execute(
            "SELECT id FROM specialties WHERE code = %s", (SPECIALTY,)
        ).fetchone()
        specialty_id = found[0] if found else None
        if specialty_id is None:
            raise RuntimeError("no therapist specialty: is the city loaded?")
        days = [
            row[0]
            for row in connection.execute(
                "SELECT DISTINCT (starts_at AT TIME ZONE %s)::date AS day "
                "FROM slots WHERE specialty_id = %s AND status = 'free' ORDER BY day DESC",
                (tz, specialty_id),
            )
        ]
        day = days[min(day_rank, len(days) - 1)]
        rows = connection.execute(
            "SELECT s.id, coalesce(c.parent_clinic_id, c.id) FROM slots s "
            "JOIN clinics c ON c.id = s.clinic_id "
            "WHERE s.specialty_id = %s AND s.status = 'free' "
            "AND (s.starts_at AT TIME ZONE %s)::date = %s ORDER BY s.id",
            (specialty_id, tz, day),
        ).fetchall()
        rng.shuffle(rows)
        rows = rows[:slots]
        heads = sorted({head for _, head in rows})
        offset = day_rank * patients_per_clinic
        patients: dict[int, deque[tuple[str, str]]] = {head: deque() for head in heads}
        for head, policy, birth in connection.execute(
            "SELECT h.head, x.oms_policy, x.birth_date FROM unnest(%s::bigint[]) AS h(head) "
            "CROSS JOIN LATERAL (SELECT p.oms_policy, p.birth_date FROM clinic_attachments a "
            "JOIN persons p ON p.id = a.person_id WHERE a.clinic_id = h.head "
            "AND a.valid_to IS NULL AND a.kind = 'adult' AND p.oms_policy IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM booking_quotas q WHERE q.person_id = p.id) "
            "ORDER BY a.id OFFSET %s LIMIT %s) AS x",
            (heads, offset, patients_per_clinic),
        ):
            patients[head].append((policy, birth.isoformat()))
        # A repeated run on the same database reuses patients whose bookings failed:
        # their identification counters of earlier runs must not throttle this one.
        connection.execute("DELETE FROM rate_limit_counters WHERE key LIKE 'identify%%'")
        # Not released until the run says so (a repeated run may find them released).
        connection.execute(
            "UPDATE slots SET release_at = now() + interval '1 day' WHERE id = ANY(%s)",
            ([slot_id for slot_id, _ in rows],),
        )
        vacuum(connection)
    return Release(
        specialty_id=specialty_id,
        day=day,
        slot_ids=[slot_id for slot_id, _ in rows],
        heads=[head for _, head in rows],
        patients=patients,
    )


def release_now(city: City, release: Release) -> None:
    """Open the slots for booking this instant (what 08:00 does to a new day)."""
    with city.connect() as connection:
        connection.execute(
            "UPDATE slots SET release_at = now() - interval '1 second' WHERE id = ANY(%s)",
            (release.slot_ids,),
        )


def demand(count: int, hot_share: float, hot_demand: float, seed: int) -> Callable[[], int]:
    """The slot index of each next attempt: the first ``hot_share`` of the slots get
    ``hot_demand`` of the attempts (every system driven with the rush's demand draws it
    here, so the same seed gives the same attempts)."""
    rng = random.Random(f"rush-demand:{seed}")
    hot = max(1, min(count, round(count * hot_share)))

    def pick() -> int:
        if hot == count or rng.random() < hot_demand:
            return rng.randrange(hot)
        return hot + rng.randrange(count - hot)

    return pick


def api_run(
    base_url: str,
    release: Release,
    *,
    clients: int,
    duration: float,
    hot_share: float,
    hot_demand: float,
    seed: int,
    release_slots: Callable[[], None] | None = None,
    warmup_rounds: int = 3,
) -> tuple[list[Result], float, float | None]:
    """Book until every slot is taken, the patients run out or time is up. Returns the
    results, the elapsed time and when the last slot went (None: not all went)."""
    count = len(release.slot_ids)
    pick = demand(count, hot_share, hot_demand, seed)
    booked: set[int] = set()
    sent = 0
    last_booking: list[float] = []

    def next_request(_client: int) -> Request | None:
        nonlocal sent
        if len(booked) >= count:
            return None
        index = pick()
        queue = release.patients[release.heads[index]]
        if not queue:
            return None
        policy, birth = queue.popleft()
        sent += 1
        # Every citizen books from their own address (as behind the city's proxy), so the
        # per-address identification limit, meant for guessing, does not throttle a rush.
        address = f"10.{(sent >> 16) & 255}.{(sent >> 8) & 255}.{sent & 255}"
        return Request(
            "POST",
            KIOSK_PATH,
            {"oms_policy": policy, "birth_date": birth, "slot_id": release.slot_ids[index]},
            (("X-Forwarded-For", address),),
            tag=str(release.slot_ids[index]),
        )

    # Warm up every connection and server thread with requests the rules refuse before
    # anything is written (the slots are not released yet): code paths, statement caches
    # and connection pools are then ready, as they are in a server that has been up.
    warmup = iter([next_request(0) for _ in range(clients * warmup_rounds)])
    asyncio.run(drive(base_url, clients, lambda _c: next(warmup, None), duration=60))
    if release_slots is not None:
        release_slots()
    began = time.perf_counter()

    def on_result(result: Result) -> None:
        if result.status == 201:
            booked.add(int(result.request.tag))
            if len(booked) == count:
                last_booking.append(time.perf_counter() - began)

    results, elapsed = asyncio.run(
        drive(base_url, clients, next_request, duration=duration, on_result=on_result)
    )
    return results, elapsed, (last_booking[0] if last_booking else None)


def summarise(results: list[Result], elapsed: float) -> dict[str, Any]:
    """Throughput, latency and answers of an API run."""
    latencies = [r.seconds * 1000 for r in results]
    bookings = [r for r in results if r.status == 201]
    codes = Counter(r.error_code or str(r.status) for r in results if r.status >= 400)
    return {
        "requests": len(results),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(results) / elapsed, 1) if elapsed else 0.0,
        "bookings": len(bookings),
        "bookings_per_second": round(len(bookings) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies, default=0.0), 1),
        },
        "conflicts": sum(n for code, n in codes.items() if code == "slot_taken"),
        "refusals": {code: n for code, n in codes.items() if not code.isdigit()},
        "errors": sum(1 for r in results if r.status == 0 or r.status >= 500),
        "error_samples": [r.body[:200].decode(errors="replace") for r in results if r.status == 0
                          or r.status >= 500][:3],
    }  # fmt: skip


def check_database(city: City, release: Release, results: list[Result]) -> dict[str, Any]:
    """Count from the database: slots booked twice (must be 0), booked slots without an
    appointment or the reverse, and accepted bookings that are missing."""
    accepted = [int(r.json()["id"]) for r in results if r.status == 201]
    with city.connect() as connection:
        double = connection.execute(
            "SELECT count(*) FROM (SELECT slot_id FROM appointments WHERE status = 'booked' "
            "GROUP BY slot_id HAVING count(*) > 1) AS d"
        ).fetchone()
        booked_slots = connection.execute(
            "SELECT count(*) FROM slots WHERE id = ANY(%s) AND status = 'booked'",
            (release.slot_ids,),
        ).fetchone()
        appointments = connection.execute(
            "SELECT count(*) FROM appointments WHERE slot_id = ANY(%s) AND status = 'booked'",
            (release.slot_ids,),
        ).fetchone()
        found = connection.execute(
            "SELECT count(*) FROM appointments WHERE id = ANY(%s)", (accepted,)
        ).fetchone()
    assert double is not None
    assert booked_slots is not None
    assert appointments is not None
    assert found is not None
    return {
        "double_bookings": int(double[0]),
        "booked_slots": int(booked_slots[0]),
        "appointments": int(appointments[0]),
        "slot_appointment_mismatch": abs(int(booked_slots[0]) - int(appointments[0])),
        "accepted_but_missing": len(accepted) - int(found[0]),
    }


# --- The limit: pgbench ----------------------------------------------------------------

PICK = r"""\set r random(1, 100)
\if :r <= :hot_demand
\set k random(1, :hot)
\else
\set k random(:hot + 1, :n)
\endif
"""

# The statement of health.service.slot_sql.TAKE_FREE_SLOT_PG (the take on PostgreSQL): the
# guarded UPDATE whose RETURNING feeds the INSERT, one round trip. The slot and the patient
# are looked up by key inside the same statement (two primary-key probes) so that the
# script needs no extra round trip to pick them.
TAKE = """WITH p AS MATERIALIZED (
    SELECT person_id FROM bench_patients WHERE k = (SELECT nextval('bench_patient_seq'))),
taken AS (
    UPDATE slots SET status = 'booked', version = slots.version + 1
    WHERE slots.id = (SELECT slot_id FROM bench_slots WHERE k = :k)
      AND slots.status = 'free' AND slots.release_at <= now() AND slots.starts_at > now()
      AND (SELECT count(*) FROM appointments
           WHERE appointments.person_id = (SELECT person_id FROM p)
             AND appointments.specialty_id = :spec AND appointments.status = 'booked'
             AND appointments.starts_at > now()) < 1
    RETURNING slots.id, slots.clinic_id, slots.specialty_id, slots.practitioner_id,
              slots.starts_at, slots.ends_at, slots.ticket_code)
INSERT INTO appointments (slot_id, clinic_id, specialty_id, practitioner_id, starts_at,
    ends_at, ticket_number, person_id, status, channel, referral_id, rescheduled_from_id,
    booked_by_user_id, created_at)
SELECT taken.id, taken.clinic_id, taken.specialty_id, taken.practitioner_id, taken.starts_at,
    taken.ends_at, taken.ticket_code, (SELECT person_id FROM p), 'booked', 'kiosk', NULL, NULL,
    NULL, now()
FROM taken
RETURNING appointments.id, appointments.slot_id, appointments.clinic_id,
    appointments.person_id, appointments.specialty_id, appointments.practitioner_id,
    appointments.starts_at, appointments.status, appointments.channel,
    appointments.ticket_number, appointments.referral_id, appointments.rescheduled_from_id,
    appointments.created_at, appointments.cancelled_at;
"""

CORE_SCRIPT = PICK + TAKE

# Every statement one kiosk booking sends, taken from the code itself so that the script
# follows it: the rate-limit counters of the policy and the address (one statement that
# commits by itself: core.ratelimit.hit_many), then in one transaction the patient, the
# slot's context, the suspension, the accounts to notify and the patient's lock (one
# statement: health.service.taking._self_book_facts), and the take (_take_slot). 5 round trips,
# as the application sends them (it pings a pooled connection only after it sat idle).
WINDOW = "to_timestamp(floor(extract(epoch FROM now()) / 600) * 600)"


def _full_script() -> str:
    from infocity.core import ratelimit
    from infocity.health.service import slot_sql

    hit = (
        ratelimit._HIT_KEYS_PG.text.replace(
            "CAST(:keys AS text[])",
            "ARRAY['identify:' || md5(:oms_policy::text), 'identify-ip:' || md5(random()::text)]",
        )
        .replace(":previous_window", f"{WINDOW} - interval '600 seconds'")
        .replace(":window", WINDOW)
    )
    facts = cast(Any, slot_sql.FACTS_BY_POLICY).element.text.replace(":now", "now()")
    take = (
        cast(Any, slot_sql.TAKE_FREE_SLOT_PG)
        .element.text.replace(":now", "now()")
        .replace(":specialty", ":spec")
        .replace(":active_limit", "1")
        .replace(":channel", "'kiosk'")
        .replace(":referral_id", "NULL")
        .replace(":booked_by_user_id", "NULL")
    )
    return (
        PICK
        + "SELECT person_id, oms_policy, birth_date FROM bench_patients\n"
        + "WHERE k = (SELECT nextval('bench_patient_seq')) \\gset\n"
        + "SELECT slot_id FROM bench_slots WHERE k = :k \\gset\n"
        + f"{hit};\nBEGIN;\n{facts};\n{take};\nCOMMIT;\n"
    )


FULL_SCRIPT = _full_script()


def reset(city: City, release: Release) -> None:
    """Free the released slots again and forget the bookings made of them."""
    with city.connect() as connection:
        connection.execute("DELETE FROM appointments WHERE slot_id = ANY(%s)", (release.slot_ids,))
        connection.execute(
            "UPDATE slots SET status = 'free', version = 0 WHERE id = ANY(%s)",
            (release.slot_ids,),
        )
        connection.execute("DELETE FROM booking_quotas WHERE specialty_id = %s",
                           (release.specialty_id,))  # fmt: skip
        vacuum(connection)


def vacuum(connection: Any) -> None:
    """Every run starts from tables without the dead rows of the run before (a repeated
    run, or pgbench after the API, would otherwise wade through them)."""
    connection.execute("VACUUM (ANALYZE) slots, appointments, booking_quotas, rate_limit_counters")


def prepare_pgbench(city: City, release: Release, patients: int) -> None:
    """The slots in demand order and fresh adult patients, keyed 1..n for the script."""
    with city.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS bench_slots, bench_patients")
        connection.execute("DROP SEQUENCE IF EXISTS bench_patient_seq")
        connection.execute("CREATE TABLE bench_slots (k int PRIMARY KEY, slot_id bigint)")
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY bench_slots (k, slot_id) FROM STDIN") as copy,
        ):
            for k, slot_id in enumerate(release.slot_ids, start=1):
                copy.write_row((k, slot_id))
        connection.execute(
            "CREATE TABLE bench_patients AS SELECT row_number() OVER (ORDER BY a.id DESC) AS k, "
            "p.id AS person_id, p.oms_policy, p.birth_date FROM clinic_attachments a "
            "JOIN persons p ON p.id = a.person_id WHERE a.valid_to IS NULL "
            "AND a.kind = 'adult' AND p.oms_policy IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM booking_quotas q WHERE q.person_id = p.id) "
            f"ORDER BY a.id DESC LIMIT {int(patients)}"
        )
        connection.execute("ALTER TABLE bench_patients ADD PRIMARY KEY (k)")
        connection.execute("CREATE SEQUENCE bench_patient_seq")
        connection.execute("ANALYZE bench_slots")
        connection.execute("ANALYZE bench_patients")


def run_pgbench(
    city: City,
    release: Release,
    script: str,
    *,
    attempts: int,
    clients: int,
    hot_share: float,
    hot_demand: float,
    seed: int,
) -> dict[str, Any]:
    """Drive ``script`` with pgbench for ``attempts`` transactions; tps, latency and
    bookings counted from the database."""
    count = len(release.slot_ids)
    hot = max(1, min(count - 1, round(count * hot_share))) if count > 1 else 1
    per_client = max(1, -(-attempts // clients))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "booking.sql"
        path.write_text(script)
        command = [
            str(pgbench_path()), "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
            "-t", str(per_client), "-f", str(path), f"--random-seed={seed}",
            "-D", f"hot={hot}", "-D", f"n={max(count, hot + 1)}",
            "-D", f"hot_demand={round(hot_demand * 100)}",
            "-D", f"spec={release.specialty_id}", city.url,
        ]  # fmt: skip
        began = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - began
    if completed.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{completed.stdout}\n{completed.stderr}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", completed.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", completed.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", completed.stdout)
    with city.connect() as connection:
        booked = connection.execute(
            "SELECT count(*) FROM appointments WHERE slot_id = ANY(%s) AND status = 'booked'",
            (release.slot_ids,),
        ).fetchone()
        double = connection.execute(
            "SELECT count(*) FROM (SELECT slot_id FROM appointments WHERE status = 'booked' "
            "GROUP BY slot_id HAVING count(*) > 1) AS d"
        ).fetchone()
    transactions = per_client * clients
    rate = float(tps.group(1)) if tps else transactions / elapsed
    bookings = int(booked[0]) if booked else 0
    return {
        "clients": clients,
        "transactions": transactions,
        "transactions_per_second": round(rate, 1),
        "latency_average_ms": float(latency.group(1)) if latency else None,
        "failed_transactions": int(failed.group(1)) if failed else 0,
        "bookings": bookings,
        "bookings_per_second": round(bookings / (transactions / rate), 1) if rate else 0.0,
        "double_bookings": int(double[0]) if double else 0,
    }
