"""Rows loaded in bulk (``core.bulk.insert_new``) through a staging table that each
connection creates once: a use case that failed after staging its rows must not leave
the next one on the same connection without that table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session, sessionmaker

from infocity.core import bulk, db
from infocity.core.models import RateLimitCounter
from infocity.core.uow import UnitOfWork

TABLE = cast(Table, RateLimitCounter.__table__)
WINDOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Refused(Exception):
    """The use case fails after its rows were staged."""


@pytest.fixture
def units(database: str) -> Iterator[sessionmaker[Session]]:
    # An engine of its own, used by one unit of work at a time: its pool holds one
    # connection (on PostgreSQL), so every unit of work below runs on the same one.
    engine = db.make_engine(database)
    try:
        yield sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    finally:
        engine.dispose()


def _store(uow: UnitOfWork, *keys: str) -> list[str]:
    """The keys stored now (not those stored before)."""
    return sorted(
        bulk.insert_new(
            uow.session,
            TABLE,
            ["key", "window_start", "count"],
            ([key, WINDOW, 1] for key in keys),
            unique=["key", "window_start"],
            returning="key",
        )
    )


def _connection(uow: UnitOfWork) -> object:
    if uow.session.get_bind().dialect.name == "postgresql":
        return uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return None  # SQLite opens a connection per use: nothing kept to compare


def _stored(units: sessionmaker[Session]) -> list[str]:
    with UnitOfWork(units) as uow:
        return sorted(uow.session.scalars(select(TABLE.c.key)))


def _refused_after_staging(units: sessionmaker[Session], *keys: str) -> None:
    """A use case that stages ``keys`` and then fails: its transaction rolls back, and
    the staging table it created with it. Raises Refused with its connection."""
    with UnitOfWork(units) as uow:
        assert _store(uow, *keys) == sorted(keys)
        raise Refused(_connection(uow))


def _refused_in_savepoint(uow: UnitOfWork, *keys: str) -> None:
    """``keys`` staged in a savepoint that is then rolled back (the table created in it
    with it), the transaction going on."""
    with uow.session.begin_nested():
        assert _store(uow, *keys) == sorted(keys)
        raise Refused


def test_a_batch_after_one_that_failed_on_the_same_connection_is_stored(
    units: sessionmaker[Session],
) -> None:
    with pytest.raises(Refused) as refused:
        _refused_after_staging(units, "a", "b")
    first = refused.value.args[0]
    with UnitOfWork(units) as uow:
        assert _connection(uow) == first
        assert _store(uow, "b", "c") == ["b", "c"]
        uow.commit()
    with UnitOfWork(units) as uow:  # the table now outlives the transaction
        assert _connection(uow) == first
        assert _store(uow, "c", "d") == ["d"]
        uow.commit()
    assert _stored(units) == ["b", "c", "d"]


def test_a_batch_after_a_savepoint_rolled_back_is_stored(
    units: sessionmaker[Session],
) -> None:
    with UnitOfWork(units) as uow:
        with pytest.raises(Refused):
            _refused_in_savepoint(uow, "a")
        first = _connection(uow)
        uow.commit()
    with UnitOfWork(units) as uow:
        assert _connection(uow) == first
        assert _store(uow, "a", "b") == ["a", "b"]
        uow.commit()
    assert _stored(units) == ["a", "b"]
