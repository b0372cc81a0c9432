"""The hourly slot job on a loaded city (``bench slots``): one run of
``health.service.materialise_horizon`` in each state the job meets, its wall time, its
process's CPU time and the statements it sent. The city is left as loaded."""

from __future__ import annotations

import os
import time
from typing import Any

import psycopg

from bench.env import City, use_database
from tests.support.statements import statements_of

# What practitioners.slots_until is set to before each run, in days after today (the
# longest horizon is h): as the load leaves it, a day behind (a new day entered the
# horizon for everyone), and never planned (the first run after the migration).
STATES = (
    ("an hour with no new day", "current_date + %(h)s + 1"),
    ("a new day", "current_date + %(h)s"),
    ("from nothing", "NULL"),
)


def run_slot_job(city: City) -> dict[str, Any]:
    """The job's wall and CPU time and statements in each state of ``STATES``."""
    from infocity.health import service

    use_database(city.url)
    figures: dict[str, Any] = {}
    for state, slots_until in STATES:
        with psycopg.connect(city.url, autocommit=True) as connection:
            horizon = connection.execute("SELECT max(horizon_days) FROM specialties").fetchone()
            days = {"h": horizon[0] if horizon else 0} if "%(h)s" in slots_until else None
            connection.execute(f"UPDATE practitioners SET slots_until = {slots_until}", days)
        load = os.getloadavg()
        wall, cpu = time.perf_counter(), time.process_time()
        added, sent = statements_of(service.materialise_horizon)
        figures[state] = {
            "slots_added": added,
            "wall_seconds": round(time.perf_counter() - wall, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "statements": len(sent),
            "load_average": [round(x, 2) for x in load],
        }
    return figures
