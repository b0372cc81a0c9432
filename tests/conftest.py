"""Test fixtures. Every test that touches the database runs twice: on SQLite and on
PostgreSQL (the ``database`` fixture is parametrised). The schema comes from the
migrations, never from ``create_all``."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

import psycopg
import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from infocity.core import migrate
from infocity.core.db import dispose_engines
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.models import metadata
from tests.support.clock import FIXED_TODAYS
from tests.support.postgres import free_port, throwaway_cluster
from tests.support.servers import stop_process, wait_until_ready

# Property tests judge the code, not the machine: on a slow, busy machine generating inputs
# or running an example may take seconds, which is no failure of the rule under test.
settings.register_profile(
    "city", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("city")

ROOT = Path(__file__).resolve().parents[1]
# Fixtures shared by test modules, kept in tests/support beside their helpers.
pytest_plugins = ["tests.support.browser", "tests.support.fixtures", "tests.support.kannel"]
TABLES = [t.name for t in reversed(metadata.sorted_tables)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each ``calendar`` test at the real time and at every fixed "today" (each
    fixed "today" on one database: ``FIXED_TODAY_DATABASE``)."""
    if metafunc.definition.get_closest_marker("calendar"):
        metafunc.parametrize(
            "fixed_today", [None, *FIXED_TODAYS.values()], ids=["now", *FIXED_TODAYS], indirect=True
        )


# Each fixed "today" runs on one database, alternating: the calendar is the process's
# clock (the database is never asked the time), while what the databases store and compare
# differently is run on both at the real time.
FIXED_TODAY_DATABASE = {
    name: ("sqlite", "postgresql")[index % 2] for index, name in enumerate(FIXED_TODAYS)
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out each fixed "today" on the database ``FIXED_TODAY_DATABASE`` does not give
    it."""
    by_instant = {instant: name for name, instant in FIXED_TODAYS.items()}
    kept, left_out = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        name = by_instant.get(params.get("fixed_today"))  # type: ignore[arg-type]
        database = params.get("database")
        if name is not None and database is not None and FIXED_TODAY_DATABASE[name] != database:
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def _session_today() -> datetime | None:
    """``INFOCITY_TEST_TODAY``: run every test at this instant, one of the names in
    ``tests/support/clock.py`` or an ISO date-time with its offset."""
    value = os.environ.get("INFOCITY_TEST_TODAY", "")
    if not value:
        return None
    if value in FIXED_TODAYS:
        return FIXED_TODAYS[value]
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise pytest.UsageError("INFOCITY_TEST_TODAY needs an offset, e.g. +03:00")
    return instant


@pytest.fixture(autouse=True)
def fixed_today(request: pytest.FixtureRequest) -> Iterator[datetime | None]:
    """The instant a test runs at: a ``calendar`` test's parameter, else
    ``INFOCITY_TEST_TODAY``, else None (the real time). Autouse, so it is set up before
    the fixtures that build schedules "from today"."""
    instant: datetime | None = getattr(request, "param", None) or _session_today()
    if instant is None:
        yield None
        return
    with time_machine.travel(instant, tick=True):
        yield instant


def _configure(url: str) -> None:
    os.environ["INFOCITY_DATABASE_URL"] = url
    os.environ["INFOCITY_ENVIRONMENT"] = "test"
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str | None]:
    """The admin URL of a PostgreSQL server, or None with the reason recorded."""
    url = os.environ.get("INFOCITY_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    try:
        with throwaway_cluster() as cluster_url:
            yield cluster_url
    except FileNotFoundError:
        yield None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def sqlite_shared(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This process's SQLite database for the tests that share a server: emptied after
    each test, never replaced, as the server has it open."""
    path = tmp_path_factory.mktemp("sqlite-shared") / "infocity.db"
    shutil.copy(sqlite_template, path)
    _SHARED_SQLITE_URLS.add(f"sqlite:///{path}")
    return path


_SHARED_SQLITE_URLS: set[str] = set()


def _empty_sqlite(path: Path) -> None:
    """Empty every table of the SQLite database at ``path`` in place, back to the migrated
    template's state (only ``alembic_version`` has rows there, and it is kept); tables a
    test made of its own are dropped."""
    with contextlib.closing(sqlite3.connect(path, timeout=60, isolation_level=None)) as db:
        # Outside a transaction, as SQLite ignores this pragma inside one.
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("BEGIN IMMEDIATE")
        present = {
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        for table in present - {*TABLES, "alembic_version"}:
            db.execute(f'DROP TABLE "{table}"')
        for table in TABLES:
            if table != "alembic_version" and table in present:
                db.execute(f'DELETE FROM "{table}"')
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
            db.execute("DELETE FROM sqlite_sequence")
        db.execute("COMMIT")


@pytest.fixture(scope="session")
def postgres_database(postgres_admin_url: str | None, worker_id: str) -> Iterator[str | None]:
    """A migrated database of its own for this test process."""
    if postgres_admin_url is None:
        yield None
        return
    name = f"infocity_test_{worker_id}"
    admin = postgres_admin_url.replace("postgresql://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)
    dispose_engines()
    yield url


# One statement naming the migrated tables that hold rows (a test writes to a handful).
_TABLES_HOLDING_ROWS = " UNION ALL ".join(
    f"SELECT '{t}' WHERE EXISTS (SELECT FROM \"{t}\")" for t in TABLES if t != "alembic_version"
)
# The engine emptying each PostgreSQL test database, kept: a new one per test cost a
# connection's start-up each time.
_EMPTYING_ENGINES: dict[str, Engine] = {}


def empty_database(url: str) -> None:
    """Empty the test database at ``url`` in place, as the ``database`` fixture does after
    each test on a database kept for the next test (PostgreSQL's, a shared server's
    SQLite): the next test sees exactly the migrated schema, without rows."""
    if url.startswith("sqlite:///"):
        _empty_sqlite(Path(url.removeprefix("sqlite:///")))
        return
    engine = _EMPTYING_ENGINES.get(url)
    if engine is None:
        engine = _EMPTYING_ENGINES[url] = create_engine(
            url.replace("postgresql://", "postgresql+psycopg://", 1),
            pool_size=1,
            # Some tests end every connection to the database (a restart's drill).
            pool_pre_ping=True,
        )
    with engine.begin() as connection:
        # The rows go by DELETE, and only from the tables holding some: TRUNCATE gives
        # each table (and each table it cascades to: nearly all) new files and reads the
        # whole buffer pool for each, 0.6-1 s after every test, when a test writes to a
        # handful of tables. Referencing tables first (TABLES' order).
        holding = set(connection.execute(text(_TABLES_HOLDING_ROWS)).scalars())
        try:
            with connection.begin_nested():
                for table in (t for t in TABLES if t in holding):
                    connection.execute(text(f'DELETE FROM "{table}"'))
        except IntegrityError:  # rows referring to each other in a way DELETE refuses
            tables = ", ".join(f'"{t}"' for t in holding)
            connection.execute(text(f"TRUNCATE {tables} CASCADE"))
        # Every sequence belongs to a table's key (none stands alone): each one a test
        # used starts again, as TRUNCATE's RESTART IDENTITY did.
        connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
                "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
        )
        # Tables a test made of its own (the benchmarks' work tables) go too, so the
        # next test on this database sees exactly the migrated schema.
        extra = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        for table in set(extra) - {*TABLES, "alembic_version"}:
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_database: str | None,
) -> Iterator[str]:
    """The URL of an empty, migrated database; the process is configured to use it."""
    # A browser test's server is shared with the next ones (``shared_server``), so its
    # SQLite database is one file for the whole process, emptied after each test.
    shared_sqlite = request.param == "sqlite" and (
        request.node.get_closest_marker("browser") is not None
        or "live_server" in request.fixturenames
    )
    if shared_sqlite:
        path = request.getfixturevalue("sqlite_shared")
        url = f"sqlite:///{path}"
    elif request.param == "sqlite":
        path = tmp_path / "infocity.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        if postgres_database is None:
            reason = "PostgreSQL half skipped: no INFOCITY_TEST_POSTGRES_URL and no initdb"
            if os.environ.get("CI"):
                pytest.fail(f"CI must run the PostgreSQL half ({reason})")
            pytest.skip(reason)
        url = postgres_database
    _configure(url)
    yield url
    dispose_engines()
    if shared_sqlite or request.param == "postgresql":
        empty_database(url)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set INFOCITY_* variables for one test (``settings_env.setenv``, then
    ``get_settings.cache_clear()``); after it the variables are undone and the settings
    read afresh, so no later test in the process sees them."""
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def uow(database: str) -> UnitOfWork:
    return UnitOfWork()


_APPS: dict[str, FastAPI] = {}


def shared_app() -> FastAPI:
    """This process's application for the current settings, built once: FastAPI builds the
    routes of each new application on its first requests, which costs as much as a whole
    test. The database is left out of the key: the application finds it in the settings at
    each request, and each ``TestClient`` block runs the lifespan again (its state anew)."""
    from infocity.app import create_app

    key = get_settings().model_dump_json(exclude={"database_url"})
    if key not in _APPS:
        _APPS[key] = create_app()
    return _APPS[key]


@pytest.fixture
def client(database: str) -> Iterator[TestClient]:
    """The whole application in-process, on the test database."""
    with TestClient(shared_app(), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def browser(database: str) -> Iterator[TestClient]:
    """Another browser on the same application (its own cookies), beside ``client``."""
    from infocity.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as second:
        yield second


def _server_environment(database_url: str, env: dict[str, str] | None) -> dict[str, str]:
    """The environment of ``infocity serve`` on ``database_url``: this process's, with the
    test settings and ``env`` on top."""
    return {
        **os.environ,
        "INFOCITY_DATABASE_URL": database_url,
        "INFOCITY_ENVIRONMENT": "test",
        **(env or {}),
    }


def start_server(
    database_url: str,
    port: int,
    log: IO[bytes],
    processes: int = 1,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``infocity serve`` on ``port`` in a real process writing to ``log``; ready once
    ``wait_until_ready`` says so (the caller stops it)."""
    environment = _server_environment(database_url, env)
    command = [
        sys.executable,
        "-m",
        "infocity",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(processes),
    ]
    return subprocess.Popen(
        command, env=environment, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    stop_process(process)


@contextlib.contextmanager
def run_server(database_url: str, processes: int = 1, **env: str) -> Iterator[str]:
    """Serve the app with ``infocity serve`` in real processes; yield its base URL."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe, which could fill and block
    process = start_server(database_url, port, log, processes, env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{base_url}/healthz", log=log)
        yield base_url
    finally:
        stop_server(process)
        log.close()


class _SharedServers:
    """The ``infocity serve`` processes this test process keeps for its browser tests,
    one per database and environment, the last few used.

    Why: starting a server costs about five seconds of CPU (imports, routes, the message
    catalogues), more than many a browser test's own steps. A server keeps nothing a test
    can see between tests: what it serves is in the database, which the ``database``
    fixture empties after every test (in place, so the server's database stays the same
    one), and what it reads at start (the settings) is in its key. The variable pytest
    changes at every test is left out of the key; every other one is in it, so a test
    that sets a variable gets a server started with it."""

    # Beside the PostgreSQL and the SQLite server, two started with other settings or
    # processes (the concurrency tests' two).
    LIMIT = 4

    def __init__(self) -> None:
        self._running: dict[tuple[object, ...], tuple[subprocess.Popen[bytes], IO[bytes], str]]
        self._running = {}

    def base_url(self, database_url: str, processes: int, env: dict[str, str]) -> str:
        environment = _server_environment(database_url, env)
        key = (
            processes,
            *sorted(item for item in environment.items() if item[0] != "PYTEST_CURRENT_TEST"),
        )
        running = self._running.pop(key, None)
        if running is not None and running[0].poll() is None:
            self._running[key] = running  # the last used goes last: evicted last
            return running[2]
        if running is not None:  # it died: its log goes with it, a new one is started
            running[1].close()
        while len(self._running) >= self.LIMIT:
            self._stop(next(iter(self._running)))
        port = free_port()
        log = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe, which could fill and block
        process = start_server(database_url, port, log, processes, env)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(process, f"{base_url}/healthz", log=log)
        except BaseException:
            stop_server(process)
            log.close()
            raise
        self._running[key] = (process, log, base_url)
        return base_url

    def _stop(self, key: tuple[object, ...]) -> None:
        process, log, _ = self._running.pop(key)
        stop_server(process)
        log.close()

    def stop_all(self) -> None:
        for key in list(self._running):
            self._stop(key)


_SHARED_SERVERS = _SharedServers()


@pytest.fixture(scope="session", autouse=True)
def _shared_servers_stopped_at_the_end() -> Iterator[None]:
    yield
    _SHARED_SERVERS.stop_all()


@contextlib.contextmanager
def shared_server(database_url: str, processes: int = 1, **env: str) -> Iterator[str]:
    """``run_server`` for tests that only use the server, on the ``database`` fixture's
    URL: a server this process started already for the same database and environment is
    used again (``_SharedServers``). A test that stops, signals or times the server's
    start needs its own: ``run_server``. A test's own SQLite file (the tests that are not
    browser tests) is served by a server of its own, as nothing else will use it."""
    if database_url.startswith("sqlite") and database_url not in _SHARED_SQLITE_URLS:
        with run_server(database_url, processes, **env) as base_url:
            yield base_url
        return
    yield _SHARED_SERVERS.base_url(database_url, processes, env)


@pytest.fixture
def live_server(database: str) -> Iterator[str]:
    """The app served by a real server process on the test database (``shared_server``)."""
    with shared_server(database) as base_url:
        yield base_url
