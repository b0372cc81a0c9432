"""Bulk loading of the synthetic city: binary COPY on PostgreSQL (secondary indexes and
foreign keys set aside and built again before commit), big executemany batches on SQLite.

The one sanctioned exception to "every write goes through a service function": millions
of rows through the use cases (one transaction per resident) would take days, so the
loader writes the tables directly, in one transaction, with the ids it assigns itself.
What it writes is what the service functions would have written: the specialties come
from ``health.service.seed_specialties``, slots are planned by the same pure rules as
``health.service.materialise_slots`` (so running that job afterwards adds nothing), and
the tests book a generated slot for a generated patient through ``book_by_policy``.
"""

from __future__ import annotations

import multiprocessing
import time as clock
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection as Pipe
from typing import Any

from psycopg import adapt, pq

# The encoder psycopg's own binary COPY runs (C): here it runs in the producer process.
from psycopg._copy_base import BinaryFormatter
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
    # Seconds of each step on PostgreSQL: copy, constraints (indexes and foreign keys
    # built again), analyze.
    steps: dict[str, float] = field(default_factory=dict)

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
            "steps": {step: round(seconds, 1) for step, seconds in self.steps.items()},
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


# The type of each column, in the order asked for: binary COPY needs them.
_COLUMN_TYPES = """SELECT a.atttypid::int FROM unnest(CAST(:columns AS text[])) WITH ORDINALITY
    AS c(name, n) JOIN pg_attribute a ON a.attname = c.name
WHERE a.attrelid = CAST(:table AS regclass) ORDER BY c.n"""


def _column_types(connection: Connection, table: Table) -> list[int]:
    rows = connection.execute(
        text(_COLUMN_TYPES), {"columns": list(table.columns), "table": table.name}
    ).scalars()
    return [int(oid) for oid in rows]


# What the producer sends for a table: (rows encoded so far, binary COPY data); after its
# last chunk (None, b""); ("error", traceback) if generating failed.
Chunk = tuple[int | str | None, bytes | str]


def _produce(tables: Sequence[Table], types: Sequence[list[int]], pipe: Pipe) -> None:
    """The producer process: generates every table's rows in load order and encodes them
    as binary COPY data (signature, rows, trailer), sent in chunks of about 32 KiB.

    Generating and encoding the rows is most of the loader's CPU: in a process of its
    own it runs on one core while the database, parsing and writing the previous chunks,
    runs on the other, and the loader's own process only passes bytes on."""
    try:
        for table, oids in zip(tables, types, strict=True):
            transformer = adapt.Transformer()
            transformer.set_dumper_types(oids, pq.Format.BINARY)
            formatter = BinaryFormatter(transformer)
            written = 0
            for row in table.rows():
                written += 1
                chunk = formatter.write_row(row)
                if chunk:
                    pipe.send((written, bytes(chunk)))
            pipe.send((written, bytes(formatter.end())))
            pipe.send((None, b""))
    except BaseException:  # reported to the loader, which raises it
        pipe.send(("error", traceback.format_exc()))
    finally:
        pipe.close()


def _copy_postgres(
    connection: Connection,
    table: Table,
    pipe: Pipe,
    advance: Advance,
    done: int,
    *,
    freeze: bool = False,
) -> int:
    """COPY one table from the producer's chunks; the rows it wrote."""
    columns = ", ".join(table.columns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    written = 0
    reported = 0
    # Binary: a fifth of the client's time of the text format, and nothing for the
    # server to parse. FREEZE: the rows of a table emptied in this transaction are
    # written frozen and all-visible, so nothing rewrites them when they are first read.
    options = "FORMAT BINARY, FREEZE" if freeze else "FORMAT BINARY"
    with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN WITH ({options})") as copy:
        while True:
            rows, data = pipe.recv()
            if rows is None:
                break
            if rows == "error":
                raise RuntimeError(f"generating the city failed:\n{data}")
            copy.write(data)
            written = int(rows)
            if written - reported >= BATCH:
                reported = written
                advance(table.name, done + written)
    advance(table.name, done + written)
    return written


# Foreign keys from or to the tables the city writes, with their definitions.
_FOREIGN_KEYS = """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'f' AND (c.conrelid = ANY(CAST(:tables AS regclass[]))
                           OR c.confrelid = ANY(CAST(:tables AS regclass[])))
ORDER BY 1, 2"""
# Their indexes but the primary keys (kept: ids arrive in order, so cheap to maintain),
# with the unique constraint an index backs, if any.
_INDEXES = """SELECT i.indrelid::regclass::text, x.relname, pg_get_indexdef(i.indexrelid),
       c.conname, pg_get_constraintdef(c.oid)
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                          AND c.contype IN ('u', 'x')
WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND NOT i.indisprimary
ORDER BY 1, 2"""


def _set_aside_constraints(connection: Connection, tables: list[str]) -> list[str]:
    """Drop the secondary indexes and the foreign keys of ``tables`` (in this
    transaction); the statements that put them back, indexes first.

    Maintaining three unique indexes of 12 million persons row by row and checking two
    foreign keys for each of 12 million attachments was most of a full city's load;
    built once after COPY (sorted, in parallel) and checked by one join each, the same
    constraints take a fraction of it, and the transaction still commits only a city
    that satisfies all of them."""
    names = {"tables": "{" + ",".join(tables) + "}"}
    keys = connection.execute(text(_FOREIGN_KEYS), names).all()
    indexes = connection.execute(text(_INDEXES), names).all()
    for table, name, _definition in keys:
        connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    restore = []
    for table, index, definition, constraint, backing in indexes:
        if constraint is None:
            connection.execute(text(f'DROP INDEX "{index}"'))
            restore.append(definition)
        else:
            connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"'))
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {backing}')
    restore += [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in keys
    ]
    return restore


def _empty_tables(connection: Connection, tables: list[str]) -> list[str]:
    """Those of ``tables`` with no rows yet."""
    return [
        name
        for name in tables
        if not connection.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {name})"))  # noqa: S608
    ]


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


def _load_postgres(
    connection: Connection, tables: list[Table], report: LoadReport, advance: Advance
) -> None:
    """COPY every table with its secondary indexes and foreign keys set aside, then
    build them again and move the id sequences past the rows. The tables stay locked
    until the load commits: it is meant for a database being set up, not a live one."""
    began = clock.perf_counter()
    names = list(dict.fromkeys(table.name for table in tables))
    # Sorting 12 million keys in memory rather than in temporary files.
    connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    restore = _set_aside_constraints(connection, names)
    empty = _empty_tables(connection, names)
    if empty:
        # Nothing refers to them now: emptied in this transaction, they take frozen rows.
        connection.execute(text(f"TRUNCATE {', '.join(empty)}"))
    types = [_column_types(connection, table) for table in tables]
    # Forked: the producer starts with the generator as planned here (the same city).
    receiving, sending = multiprocessing.Pipe(duplex=False)
    producer = multiprocessing.get_context("fork").Process(
        target=_produce, args=(tables, types, sending), name="city-producer", daemon=True
    )
    producer.start()
    sending.close()
    try:
        for table in tables:
            done = report.rows.get(table.name, 0)
            written = _copy_postgres(
                connection, table, receiving, advance, done, freeze=table.name in empty
            )
            report.rows[table.name] = done + written
    finally:
        receiving.close()
        if producer.is_alive():
            producer.kill()
        producer.join()
    report.steps["copy"] = clock.perf_counter() - began
    began = clock.perf_counter()
    for statement in restore:
        connection.execute(text(statement))
    for name in ID_TABLES:
        # The ids were given explicitly: move each sequence past them.
        # (``name`` is one of our own table names, not input.)
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {name}))"
            )
        )
    report.steps["constraints"] = clock.perf_counter() - began


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
    tables = city.tables()
    began = clock.perf_counter()
    with engine.begin() as connection:
        if backend == "postgresql":
            _load_postgres(connection, tables, report, advance)
        else:
            for table in tables:
                done = report.rows.get(table.name, 0)
                report.rows[table.name] = done + _insert_batches(connection, table, advance, done)
    analyzing = clock.perf_counter()
    with engine.connect() as connection:
        if backend == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()
    report.seconds = clock.perf_counter() - began
    report.steps["analyze"] = clock.perf_counter() - analyzing
    if backend == "postgresql":
        with engine.connect() as connection:
            report.database_bytes = int(
                connection.scalar(text("SELECT pg_database_size(current_database())")) or 0
            )
            for name in report.rows:
                size = connection.scalar(text(f"SELECT pg_total_relation_size('{name}')"))
                report.table_bytes[name] = int(size or 0)
    return report
