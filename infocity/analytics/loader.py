"""Bulk loading of the synthetic city: COPY on PostgreSQL, big executemany batches on
SQLite.

The one sanctioned exception to "every write goes through a service function": millions
of rows through the use cases (one transaction per resident) would take days, so the
loader writes the tables directly, in one transaction, with the ids it assigns itself.
What it writes is what the service functions would have written: the specialties come
from ``health.service.seed_specialties``, slots are planned by the same pure rules as
``health.service.materialise_slots`` (so running that job afterwards adds nothing), and
the tests book a generated slot for a generated patient through ``book_by_policy``.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from infocity.analytics.synthetic import (
    COLUMNS,
    CityBase,
    CityPlan,
    SpecialtyInfo,
    SyntheticCity,
    Table,
)
from infocity.core.db import get_engine, utcnow
from infocity.core.settings import get_settings
from infocity.health import rules
from infocity.health import service as health
from infocity.models import metadata

BATCH = 10_000
# Tables whose ids the city assigns: it numbers its rows after the database's.
ID_TABLES = tuple(name for name, columns in COLUMNS.items() if columns[0] == "id")


class CityAlreadyLoaded(Exception):
    """The database already has polyclinics: the synthetic city goes into an empty one."""


@dataclass
class LoadReport:
    scale: float
    seed: int
    start: date
    backend: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    database_bytes: int | None = None
    table_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "backend": self.backend,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.rows_per_second),
            "database_bytes": self.database_bytes,
            "table_bytes": self.table_bytes,
        }


# Called with (table, rows written so far in it); the CLI draws a progress bar with it.
Advance = Callable[[str, int], None]


def _specialties(connection: Connection) -> dict[str, SpecialtyInfo]:
    table = metadata.tables["specialties"]
    return {
        row.code: SpecialtyInfo(
            id=row.id,
            code=row.code,
            slot_minutes=row.slot_minutes,
            horizon_days=row.horizon_days,
            release_time=row.release_time,
            audience=row.audience,
        )
        for row in connection.execute(select(table))
    }


def _id_base(connection: Connection) -> dict[str, int]:
    """The largest id of each table the city numbers."""
    return {
        name: int(
            connection.scalar(select(func.coalesce(func.max(metadata.tables[name].c.id), 0))) or 0
        )
        for name in ID_TABLES
    }


def plan_city(scale: float, seed: int, start: date | None = None) -> SyntheticCity:
    """The generator for this database (its specialties, ids after its existing rows);
    refuses a database that already has polyclinics."""
    health.seed_specialties()  # through the service: idempotent
    engine = get_engine()
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(metadata.tables["clinics"])):
            raise CityAlreadyLoaded(
                "this database already has polyclinics: load the synthetic city into an "
                "empty (migrated) database"
            )
        specialties = _specialties(connection)
        ids = _id_base(connection)
    tz = get_settings().city_tz
    return SyntheticCity(
        plan=CityPlan.at(scale),
        seed=seed,
        start=start or rules.city_date(utcnow(), tz),
        tz=tz,
        specialties=specialties,
        ids=ids,
    )


def row_counts(city: SyntheticCity) -> dict[str, int]:
    """How many rows each table will get (for the progress bar)."""
    counts: dict[str, int] = {}
    for table in city.tables():
        counts[table.name] = counts.get(table.name, 0) + table.count()
    return counts


def _copy_postgres(connection: Connection, table: Table, advance: Advance, done: int) -> int:
    columns = ", ".join(table.columns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    written = 0
    with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in table.rows():
            copy.write_row(row)
            written += 1
            if written % BATCH == 0:
                advance(table.name, done + written)
    advance(table.name, done + written)
    return written


def _insert_batches(connection: Connection, table: Table, advance: Advance, done: int) -> int:
    target = metadata.tables[table.name]
    columns = table.columns
    batch: list[dict[str, object]] = []
    written = 0
    for row in table.rows():
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) == BATCH:
            connection.execute(target.insert(), batch)
            written += len(batch)
            batch = []
            advance(table.name, done + written)
    if batch:
        connection.execute(target.insert(), batch)
        written += len(batch)
    advance(table.name, done + written)
    return written


def load_city(
    scale: float,
    seed: int = 1,
    *,
    start: date | None = None,
    advance: Advance | None = None,
    city: CityBase | None = None,
) -> LoadReport:
    """Generate the city at ``scale`` and load it into the configured database in one
    transaction; then refresh the planner's statistics. ``city``: a generator planned by
    ``plan_city``, or one part of it (the Wi-Fi benchmark loads ``WifiCity`` alone)."""
    city = city or plan_city(scale, seed, start)
    engine: Engine = get_engine()
    backend = engine.dialect.name
    report = LoadReport(scale=scale, seed=seed, start=city.start, backend=backend)
    advance = advance or (lambda _table, _rows: None)
    write = _copy_postgres if backend == "postgresql" else _insert_batches
    began = clock.perf_counter()
    with engine.begin() as connection:
        for table in city.tables():
            done = report.rows.get(table.name, 0)
            report.rows[table.name] = done + write(connection, table, advance, done)
        if backend == "postgresql":
            for name in ID_TABLES:
                # The ids were given explicitly: move each sequence past them.
                # (``table`` is one of our own table names, not input.)
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    with engine.connect() as connection:
        if backend == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()
    report.seconds = clock.perf_counter() - began
    if backend == "postgresql":
        with engine.connect() as connection:
            report.database_bytes = int(
                connection.scalar(text("SELECT pg_database_size(current_database())")) or 0
            )
            for name in report.rows:
                size = connection.scalar(text(f"SELECT pg_total_relation_size('{name}')"))
                report.table_bytes[name] = int(size or 0)
    return report
