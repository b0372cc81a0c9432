"""The city-wide kindergarten allocation: every queued child of the synthetic city (three
kindergartens each) and every free place of the coming school year, through the service
layer (``preview_allocation``, then ``run_allocation`` as a city official would), in
this process on the city's database. Afterwards the database is asked whether any place
was given twice, any child got two places or any group gave more than it had; then the
run is undone so that the scenario can be repeated on the same city.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from bench.env import City, use_database

# Checked after the run: each must be 0.
CHECKS = {
    "places_given_twice_over": (
        "SELECT count(*) FROM (SELECT o.group_id FROM kindergarten_offers o "
        "JOIN bench_free_before b ON b.id = o.group_id WHERE o.run_id = %(run)s "
        "GROUP BY o.group_id, b.free_places HAVING count(*) > b.free_places) AS x"
    ),
    "children_with_two_open_offers": (
        "SELECT count(*) FROM (SELECT application_id FROM kindergarten_offers "
        "WHERE status = 'open' GROUP BY application_id HAVING count(*) > 1) AS x"
    ),
    "free_places_not_matching_offers": (
        "SELECT count(*) FROM kindergarten_groups g JOIN bench_free_before b ON b.id = g.id "
        "WHERE g.free_places <> b.free_places - (SELECT count(*) FROM kindergarten_offers o "
        "WHERE o.group_id = g.id AND o.run_id = %(run)s)"
    ),
    "offers_outside_the_age_group": (
        "SELECT count(*) FROM kindergarten_offers o "
        "JOIN kindergarten_applications a ON a.id = o.application_id "
        "JOIN kindergarten_groups g ON g.id = o.group_id "
        "WHERE o.run_id = %(run)s AND g.age_group <> a.age_group"
    ),
    "offers_outside_the_choices": (
        "SELECT count(*) FROM kindergarten_offers o "
        "JOIN kindergarten_groups g ON g.id = o.group_id WHERE o.run_id = %(run)s "
        "AND NOT EXISTS (SELECT 1 FROM kindergarten_choices c "
        "WHERE c.application_id = o.application_id AND c.kindergarten_id = g.kindergarten_id)"
    ),
}


def run_for(city: City) -> date:
    """The coming school year's 1 September: the day the synthetic queue asks for."""
    with city.connect() as connection:
        row = connection.execute("SELECT max(year) FROM kindergarten_groups").fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("the city has no kindergartens")
    return date(int(row[0]), 9, 1)


@contextmanager
def timed(target: Any, name: str, spent: list[float]) -> Iterator[None]:
    """Add the seconds spent in ``target.name`` (a function) to ``spent``."""
    original: Callable[..., Any] = getattr(target, name)

    def measured(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - began)

    setattr(target, name, measured)
    try:
        yield
    finally:
        setattr(target, name, original)


def allocate(city: City) -> dict[str, Any]:
    """Preview and run the allocation for the coming 1 September; the figures."""
    from infocity.core.auth import SYSTEM
    from infocity.education import service
    from infocity.education.rules import kindergarten as rules

    use_database(city.url)
    day = run_for(city)
    with city.connect() as connection:
        connection.execute("DROP TABLE IF EXISTS bench_free_before")
        connection.execute(
            "CREATE TABLE bench_free_before AS SELECT id, free_places FROM kindergarten_groups"
        )
        facts = connection.execute(
            "SELECT (SELECT count(*) FROM kindergarten_applications WHERE status = 'queued' "
            "AND desired_start <= %(day)s), (SELECT count(*) FROM kindergarten_choices), "
            "(SELECT coalesce(sum(free_places), 0) FROM kindergarten_groups "
            "WHERE year = %(year)s)",
            {"day": day, "year": day.year},
        ).fetchone()
    assert facts is not None
    matching: list[float] = []
    with timed(rules, "deferred_acceptance", matching):
        began = time.perf_counter()
        preview = service.preview_allocation(SYSTEM, day)
        preview_seconds = time.perf_counter() - began
        began = time.perf_counter()
        result = service.run_allocation(SYSTEM, day)
        run_seconds = time.perf_counter() - began
    assert result.offers == preview.offers, "the run gave what the preview did not show"
    began = time.perf_counter()
    told = service.notify_kindergarten_offers(SYSTEM)
    notify_seconds = time.perf_counter() - began
    with city.connect() as connection:
        checks = {
            name: int((connection.execute(sql, {"run": result.run_id}).fetchone() or (0,))[0])
            for name, sql in CHECKS.items()
        }
        undo(connection, result.run_id)
    return {
        "run_for": day.isoformat(),
        "queued_for_the_day": int(facts[0]),
        "choices": int(facts[1]),
        "free_places": int(facts[2]),
        "offers": len(result.offers),
        "preview_seconds": round(preview_seconds, 2),
        "run_seconds": round(run_seconds, 2),
        "matching_seconds": [round(s, 2) for s in matching],
        "notices": {
            "told_in_one_job_run": told,
            "seconds": round(notify_seconds, 2),
            "per_second": round(told / notify_seconds) if notify_seconds else None,
        },
        "database": checks,
    }


def undo(connection: Any, run_id: int | None) -> None:
    """Take the run back: its offers, the applications' status, the groups' places."""
    connection.execute("DELETE FROM outbox_messages WHERE kind = 'kindergarten_offer'")
    connection.execute(
        "UPDATE kindergarten_applications SET status = 'queued' WHERE id IN "
        "(SELECT application_id FROM kindergarten_offers WHERE run_id = %(run)s)",
        {"run": run_id},
    )
    connection.execute("DELETE FROM kindergarten_offers WHERE run_id = %(run)s", {"run": run_id})
    connection.execute(
        "DELETE FROM kindergarten_allocation_runs WHERE id = %(run)s", {"run": run_id}
    )
    connection.execute(
        "UPDATE kindergarten_groups g SET free_places = b.free_places "
        "FROM bench_free_before b WHERE b.id = g.id"
    )
    connection.execute("DROP TABLE bench_free_before")
