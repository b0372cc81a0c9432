"""What the PostgreSQL connection layer promises the services: hand-written hot-path
statements behave as if SQLAlchemy ran them, and a connection that died while idle in
the pool is replaced before a citizen's request meets it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from infocity.core import db
from infocity.core.uow import UnitOfWork
from tests.builders import api_token, bearer, make_citizen
from tests.support.users import wait_for

INSERT_COUNTER = text(
    "INSERT INTO rate_limit_counters (key, window_start, count) VALUES (:key, :window, 1) "
    "RETURNING key, window_start, count"
)
COUNTERS = text("SELECT count(*) FROM rate_limit_counters WHERE key = :key")
WINDOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def postgresql(database: str) -> str:
    if database.startswith("sqlite"):
        pytest.skip(
            "SQLite opens a connection per use (no pool to keep alive) and runs SQLAlchemy's "
            "statements only: these promises are PostgreSQL's"
        )
    return database


def _backend_pid(uow: UnitOfWork) -> int:
    return int(uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_rows_come_back_as_named_tuples_with_utc_timestamps(postgresql: str) -> None:
    # The database's own time zone is the city's: the answer must still be UTC, as
    # SQLAlchemy's UTCDateTime gives it elsewhere.
    with psycopg.connect(postgresql, autocommit=True) as admin:
        found = admin.execute("SELECT current_database()").fetchone()
        assert found is not None
        name = found[0]
        admin.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'Europe/Moscow'")
    try:
        db.dispose_engines()
        moscow = WINDOW.astimezone(ZoneInfo("Europe/Moscow"))
        with UnitOfWork() as uow:
            (row,) = db.fetch_rows(uow.session, INSERT_COUNTER, {"key": "k", "window": moscow})
            uow.commit()
    finally:
        with psycopg.connect(postgresql, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" RESET timezone')
        db.dispose_engines()
    assert (row.key, row.count) == ("k", 1)
    assert row.window_start == WINDOW
    assert row.window_start.utcoffset().total_seconds() == 0


def test_a_duplicate_is_sqlalchemys_integrity_error_and_nothing_is_kept(postgresql: str) -> None:
    with UnitOfWork() as uow:
        db.fetch_rows(uow.session, INSERT_COUNTER, {"key": "dup", "window": WINDOW})
        uow.commit()
    with UnitOfWork() as uow:
        db.fetch_rows(uow.session, INSERT_COUNTER, {"key": "other", "window": WINDOW})
        with pytest.raises(IntegrityError):
            db.fetch_rows(uow.session, INSERT_COUNTER, {"key": "dup", "window": WINDOW})
    with UnitOfWork() as uow:
        assert uow.session.execute(COUNTERS, {"key": "other"}).scalar_one() == 0
        assert uow.session.execute(COUNTERS, {"key": "dup"}).scalar_one() == 1


def test_own_transaction_stays_committed_when_the_use_case_rolls_back(postgresql: str) -> None:
    with UnitOfWork() as uow:
        db.fetch_rows(
            uow.session, INSERT_COUNTER, {"key": "counted", "window": WINDOW}, own_transaction=True
        )
        db.fetch_rows(uow.session, INSERT_COUNTER, {"key": "undone", "window": WINDOW})
        # no commit: the unit of work rolls back what followed the counted statement
    with UnitOfWork() as uow:
        assert uow.session.execute(COUNTERS, {"key": "counted"}).scalar_one() == 1
        assert uow.session.execute(COUNTERS, {"key": "undone"}).scalar_one() == 0


def test_a_connection_killed_while_idle_is_replaced_before_use(
    postgresql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with UnitOfWork() as uow:
        first = _backend_pid(uow)
    with UnitOfWork() as uow:  # reused at once: no ping, the same connection
        assert _backend_pid(uow) == first
    with psycopg.connect(postgresql, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with UnitOfWork() as uow:
        assert _backend_pid(uow) != first


def _terminate_every_other_backend(url: str) -> None:
    """As a database restart does: every connection of the app is cut; returns once
    they are all gone (bounded)."""
    with psycopg.connect(url, autocommit=True) as admin:
        killed = [
            row[0]
            for row in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ]
        assert killed, "the app had no connection to cut"
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (killed,))
        wait_for(
            lambda: (
                admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (killed,)
                ).fetchone()
                == (0,)
            ),
            timeout=10,
            what="the terminated backends to exit",
        )


def test_requests_after_the_database_dropped_every_connection_all_succeed(
    postgresql: str, client: TestClient
) -> None:
    citizen = make_citizen()
    headers = bearer(api_token(client, citizen.identifier, citizen.password))

    def request(n: int) -> int:
        paths = ("/api/v1/me", "/api/v1/inbox", "/api/v1/health/specialties")
        status: int = client.get(paths[n % 3], headers=headers).status_code
        return status

    # Several connections in the pool, each soon to be dead.
    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(request, range(12))) == {200}
    _terminate_every_other_backend(postgresql)
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(request, range(60)))
    assert statuses == [200] * 60
    # A log-in counts its attempt on a connection of its own first: that one too.
    _terminate_every_other_backend(postgresql)
    assert api_token(client, citizen.identifier, citizen.password)


def test_only_the_first_statement_is_retried(postgresql: str) -> None:
    with UnitOfWork() as uow:
        pid = _backend_pid(uow)
        with psycopg.connect(postgresql, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_for(
                lambda: (
                    admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                    ).fetchone()
                    == (0,)
                ),
                timeout=10,
                what="the terminated backend to exit",
            )
        # Something already ran in this unit of work: its loss is an error, not a retry.
        with pytest.raises(OperationalError):
            uow.session.execute(text("SELECT 1"))


def test_a_hand_written_first_statement_is_retried_too(postgresql: str) -> None:
    with UnitOfWork() as uow:
        _backend_pid(uow)  # a connection in the pool, used a moment ago: no ping
    _terminate_every_other_backend(postgresql)
    with UnitOfWork() as uow:  # the kiosk's rate-limit count opens its unit of work
        (row,) = db.fetch_rows(
            uow.session, INSERT_COUNTER, {"key": "k", "window": WINDOW}, own_transaction=True
        )
    assert row.count == 1
