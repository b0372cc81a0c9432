"""Database engine, declarative base and the column types every service shares."""

from __future__ import annotations

import functools
import threading
import time
from collections import namedtuple
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    Select,
    TextClause,
    TextualSelect,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from infocity.core.settings import get_settings

# Stable constraint names, so migrations can name what they alter on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zones; storing naive UTC there and attaching UTC on the way out
    gives both backends the same behaviour. Naive datetimes are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time in UTC (one place to read the clock)."""
    return datetime.now(UTC)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy emits BEGIN itself (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front: with several processes a
        # deferred transaction that reads then writes could fail with "database is locked"
        # instead of waiting its turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Any]] = {}
_engines_lock = threading.Lock()


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` with the settings InfoCity relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool if ":memory:" not in url else None)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _configure_postgresql(engine)
    return engine


# A pooled connection idle longer than this is checked with a ping before it is handed
# out (PostgreSQL may have restarted, or a firewall dropped it).
PING_AFTER_IDLE_SECONDS = 5.0


def end_transaction(connection: Connection) -> None:
    """Roll back what ``connection`` has in progress on PostgreSQL while keeping the
    statements prepared on it (SQLite and idle connections: nothing to do).

    psycopg forgets every prepared statement on ROLLBACK, and deallocates them with a
    further round trip, in case the transaction created objects they refer to. InfoCity
    changes no schema in a request, and a refused booking ends in a rollback: in the
    release rush three answers in four are refusals, and each then cost two more round
    trips and the re-preparing of every statement of the next booking on the connection.
    """
    if connection.dialect.name != "postgresql" or connection.closed or connection.invalidated:
        return  # a lost connection has nothing to roll back (the session's rollback ends it)
    driver = connection.connection.driver_connection
    if driver is None or driver.closed:
        return
    if driver.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        driver.pgconn.exec_(b"ROLLBACK")  # libpq's own call: psycopg's cache stays


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Timestamps come back in UTC whatever the server's time zone, so statements run
        # by ``fetch_rows`` (below SQLAlchemy's types) return what UTCDateTime would.
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()

    # Instead of pool_pre_ping, which pings on every checkout: a busy server reuses
    # connections within milliseconds, and the ping was one of a booking's six round
    # trips. A connection that has been idle is still pinged; a dead one is replaced
    # (SQLAlchemy retries the checkout on DisconnectionError).
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except psycopg.Error as exc:
            raise DisconnectionError() from exc


# What a session keeps in ``info`` while a first statement may still be retried: the
# unit of work's callback that moves it to a fresh connection (see ``UnitOfWork``).
RECONNECT = "reconnect"


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` says the database connection died (a restart, a killed backend)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class RetryingSession(Session):
    """A session whose first statement, if it finds the pooled connection dead, is tried
    once more on a fresh one.

    Pooled connections are not pinged on every checkout (see ``_configure_postgresql``),
    so after PostgreSQL drops its connections the next request on each would fail.
    Before anything ran, the use case has done nothing the database knows of, so running
    its first statement again is safe; after that, a lost connection is an error.
    """

    def _execute_internal(self, *args: Any, **kwargs: Any) -> Any:
        reconnect = self.info.pop(RECONNECT, None)
        if reconnect is None:
            return super()._execute_internal(*args, **kwargs)
        try:
            return super()._execute_internal(*args, **kwargs)
        except DBAPIError as exc:
            if not lost_connection(exc):
                raise
            reconnect()
            return super()._execute_internal(*args, **kwargs)


@event.listens_for(RetryingSession, "after_begin")
def _first_statement_ran(session: Session, _transaction: Any, _connection: Any) -> None:
    # Anything else that begins the transaction (a flush) ends the chance of a retry too:
    # what it wrote would be lost with the dead connection.
    session.info.pop(RECONNECT, None)


# The SQL of each statement given to ``fetch_rows``, compiled once for psycopg.
_compiled: dict[int, tuple[TextClause | TextualSelect | Select[Any], str]] = {}


@functools.cache
def _row_type(names: tuple[str, ...]) -> Any:
    return namedtuple("Row", names, rename=True)


def _named_rows(cursor: Any) -> Any:
    """psycopg's namedtuple_row without building cursor.description (a Column object per
    column per statement, a tenth of a booking's CPU): names straight from the result."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple
    return _row_type(tuple(result.fname(i).decode() for i in range(result.nfields)))._make


def fetch_rows(
    session: Session,
    statement: TextClause | TextualSelect | Select[Any],
    params: Mapping[str, Any],
    *,
    own_transaction: bool = False,
) -> list[Any]:
    """Run a statement of a hot path (the booking rush, the validators' question) on the
    session's own psycopg connection; its rows as named tuples.

    Why: for these few statements SQLAlchemy's execution layer (building result metadata,
    type processing, events) costs the application more CPU than PostgreSQL spends
    running them. The statement is compiled once and prepared by the server; it runs in
    the session's transaction, so the unit of work commits or rolls it back as usual.
    Timestamps passed must be aware; they come back in UTC (see ``_configure_postgresql``).

    ``own_transaction``: the statement commits by itself, in one round trip instead of
    BEGIN, statement, COMMIT (a rate-limit count that must stay counted even if the use
    case then fails). The session must have no transaction in progress at the server.

    On SQLite (development and tests) the statement runs through the session as any
    other, its rows typed by SQLAlchemy; ``own_transaction`` then commits it.
    """
    if session.get_bind().dialect.name != "postgresql":
        rows = list(session.execute(statement, params))
        if own_transaction:
            session.commit()
        return rows
    key = id(statement)
    entry = _compiled.get(key)
    if entry is None or entry[0] is not statement:
        sql = str(statement.compile(dialect=session.get_bind().dialect))
        entry = _compiled[key] = (statement, sql)
    reconnect = session.info.pop(RECONNECT, None)
    try:
        return _fetch(session, entry[1], params, own_transaction)
    except DBAPIError as exc:
        # The unit of work's first statement, on a connection found dead: once more on
        # a fresh one (see ``RetryingSession``).
        if reconnect is None or not lost_connection(exc):
            raise
        reconnect()
        return _fetch(session, entry[1], params, own_transaction)


def _fetch(
    session: Session, sql: str, params: Mapping[str, Any], own_transaction: bool
) -> list[Any]:
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None
    if own_transaction:
        driver.autocommit = True
    try:
        cursor = driver.cursor(row_factory=_named_rows)
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall() if cursor.pgresult and cursor.pgresult.nfields else []
    except psycopg.Error as exc:
        # As SQLAlchemy would: its exception classes (callers catch IntegrityError), and
        # a lost connection is invalidated so the pool does not hand it out again.
        dialect = connection.dialect
        lost = dialect.is_disconnect(cast(Any, exc), driver, None)
        if lost:
            connection.invalidate(exc)
            # As SQLAlchemy does on a disconnect: the rest of the pool is likely dead too
            # (the server restarted), so it is replaced; connections in use are dropped
            # when returned.
            connection.engine.dispose(close=False)
        raise DBAPIError.instance(
            sql, params, exc, psycopg.Error, connection_invalidated=lost, dialect=dialect
        ) from exc
    finally:
        if own_transaction and not driver.closed:
            driver.autocommit = False


def get_engine(url: str | None = None) -> Engine:
    """The shared engine of this process for ``url`` (default: the configured database)."""
    url = url or get_settings().database_url
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests and shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()


def session_factory(url: str | None = None) -> sessionmaker[Any]:
    """The shared session factory of this process for ``url``.

    Built once per engine: a ``sessionmaker`` creates a Session subclass and registers
    its events, which cost about 5 % of a booking's CPU when done per request.
    """
    url = url or get_settings().database_url
    factory = _factories.get(url)
    if factory is None:
        engine = get_engine(url)
        with _engines_lock:
            factory = _factories.get(url)
            if factory is None or factory.kw.get("bind") is not engine:
                factory = _factories[url] = sessionmaker(
                    bind=engine, class_=RetryingSession, expire_on_commit=False, autoflush=False
                )
    return factory
