"""Loading many rows at once inside a unit of work: a staging table and a fast load.

A file of a million rows is loaded into a temporary staging table and checked and
merged with set-based statements, instead of a statement per row or one statement with
a parameter per row (PostgreSQL takes at most 65,535 parameters in a statement).
On PostgreSQL the rows go in through ``COPY``; elsewhere by ``executemany`` in chunks.
Everything runs in the session's transaction: a rollback leaves nothing behind.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    MetaData,
    Select,
    String,
    Table,
    any_,
    bindparam,
    delete,
    event,
    insert,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session, SessionTransaction
from sqlalchemy.schema import CreateTable

from infocity.core.sql import upsert_insert

CHUNK = 10_000


def is_one_of(
    session: Session, column: QueryableAttribute[str], values: Iterable[str], name: str
) -> ColumnElement[bool]:
    """``column`` equals one of many ``values`` (a batch's hundreds): on PostgreSQL one
    array parameter, as an ``IN`` of 500 values is expanded into 500 parameters at every
    execution (12-17 ms a device batch against 3-5 ms); elsewhere ``IN``."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(name, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


def staging_table(session: Session, name: str, *columns: Column[Any]) -> Table:
    """Create a temporary table for this transaction and return it. Call
    ``drop_staging`` before committing: SQLite keeps a temporary table for as long as
    the connection lives, and pooled connections live long (PostgreSQL drops it at the
    end of the transaction anyway)."""
    table = Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    table.create(session.connection())
    return table


def drop_staging(session: Session, table: Table) -> None:
    table.drop(session.connection())


def load_rows(
    session: Session, table: Table, rows: Iterable[Sequence[Any]], *, analyse: bool = True
) -> int:
    """Insert ``rows`` (values in the order of the table's columns) into ``table`` in
    the session's transaction; how many were loaded. ``analyse=False`` when the rows
    are only read once, whole (nothing to plan for)."""
    connection = session.connection()
    names = [column.name for column in table.columns]
    count = 0
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        preparer = connection.dialect.identifier_preparer
        columns = ", ".join(preparer.quote(name) for name in names)
        sql = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN"
        # COPY takes a JSON column's value as its text.
        as_json = [isinstance(column.type, JSON) for column in table.columns]
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                if any(as_json):
                    row = [
                        json.dumps(value) if is_json and value is not None else value
                        for value, is_json in zip(row, as_json, strict=True)
                    ]
                copy.write_row(row)
                count += 1
        if analyse:
            # A temporary table has no statistics until analysed: the checks and the
            # merge that follow would be planned for a handful of rows.
            connection.execute(text(f"ANALYZE {preparer.format_table(table)}"))
        return count
    iterator = iter(rows)
    statement = insert(table)
    while chunk := [dict(zip(names, row, strict=True)) for row in islice(iterator, CHUNK)]:
        connection.execute(statement, chunk)
        count += len(chunk)
    return count


# CSV with a delimiter and a quote a text line never holds (C0 control characters that
# JSON escapes): each row's one text comes out as it is, unquoted and unescaped.
_LINES = "(FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"


def copy_lines(session: Session, query: Select[Any], block: int = 1 << 20) -> Iterator[bytes]:
    """PostgreSQL only: the rows of ``query`` (one text column, never empty, with no
    newline and no control character raw, as a JSON text) as lines, each ending in a
    newline, byte for byte the text, streamed from ``COPY (query) TO STDOUT`` in the
    session's transaction and handed on in blocks of about ``block`` bytes (not a row
    at a time: millions of rows never become Python objects). The statement's
    parameters go as they are (no type of SQLAlchemy's processes them)."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None
    compiled = query.compile(dialect=connection.dialect)
    sql = f"COPY ({compiled}) TO STDOUT {_LINES}"
    pending: list[bytes] = []
    size = 0
    with driver.cursor() as cursor, cursor.copy(sql, compiled.params) as copy:
        for data in copy:
            pending.append(bytes(data))
            size += len(data)
            if size >= block:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


# insert_new's staging tables, one per table and columns: each is created once per
# connection (a temporary table is the connection's own, so pooled connections keep
# theirs) and emptied after each use, so that a busy path writes no catalog rows per
# call. PostgreSQL empties it at commit too (``ON COMMIT DELETE ROWS``), which also
# frees the space the deleted rows took.
_kept: dict[tuple[str, tuple[str, ...]], Table] = {}
# The names of the staging tables a connection holds, in its ``info`` (kept for the DBAPI
# connection's life, cleared when it is replaced): the CREATE is issued once per
# connection, not per call (a profile of the cards' ingest put 5.7 % of a server process
# in it). A table counts only once the transaction that created it committed: one created
# in a transaction that rolled back is gone. Until then the session holds it as pending.
_CREATED = "infocity.bulk.staging_created"
_PENDING = "infocity.bulk.staging_pending"


def _kept_staging(session: Session, table: Table, columns: Sequence[str]) -> Table:
    key = (table.name, tuple(columns))
    staged = _kept.get(key)
    if staged is None:
        suffix = zlib.crc32(",".join(columns).encode())
        staged = Table(
            f"staging_{table.name}_{suffix:08x}",
            MetaData(),
            *(Column(name, table.c[name].type) for name in columns),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DELETE ROWS",
        )
        _kept[key] = staged
    created: set[str] = session.connection().info.setdefault(_CREATED, set())
    if staged.name not in created:
        session.execute(CreateTable(staged, if_not_exists=True))
        session.info.setdefault(_PENDING, []).append((created, staged.name))
    return staged


@event.listens_for(Session, "after_commit")
def _staging_committed(session: Session) -> None:
    # Also called when a savepoint is released: only the outermost commit makes it last.
    if session.in_nested_transaction():
        return
    for created, name in session.info.pop(_PENDING, ()):
        created.add(name)


@event.listens_for(Session, "after_rollback")
def _staging_rolled_back(session: Session) -> None:
    # A savepoint's rollback too: the table may have been created inside it, so forget
    # it (the next call issues ``CREATE … IF NOT EXISTS``, harmless if it is there).
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _staging_ended(session: Session, transaction: SessionTransaction) -> None:
    # A failed COMMIT calls neither of the two above.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def insert_new(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    unique: Sequence[str],
    returning: str,
) -> list[Any]:
    """Insert the ``rows`` (values of ``columns``, in that order) that ``table`` does not
    hold yet by its ``unique`` columns, the first of equal ones within ``rows``; the
    ``returning`` column of the rows inserted now. The rows are staged (``COPY`` on
    PostgreSQL) and moved with one ``INSERT … SELECT … ON CONFLICT DO NOTHING``: one
    statement whatever their number, instead of a parameter set per row."""
    staged = _kept_staging(session, table, columns)
    load_rows(session, staged, rows, analyse=False)
    # SQLite reads ``ON CONFLICT`` after a SELECT without WHERE as a join's ``ON``.
    moved = session.execute(
        upsert_insert(session)(table)
        .from_select(list(columns), select(*staged.c).where(true()))
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(table.c[returning])
    )
    inserted = list(moved.scalars())
    session.execute(delete(staged))
    return inserted
