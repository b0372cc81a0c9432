"""Test fixtures. Every test that touches the database runs twice: on SQLite and on
PostgreSQL (the ``database`` fixture is parametrised). The schema comes from the
migrations, never from ``create_all``."""

from __future__ import annotations

import contextlib
import os
import shutil
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
from sqlalchemy import create_engine, text

from infocity.core import migrate
from infocity.core.db import dispose_engines
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.models import metadata
from tests.support.clock import FIXED_TODAYS
from tests.support.postgres import free_port, throwaway_cluster
from tests.support.servers import wait_until_ready

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


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_database: str | None,
) -> Iterator[str]:
    """The URL of an empty, migrated database; the process is configured to use it."""
    if request.param == "sqlite":
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
    if request.param == "postgresql":
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as connection:
            tables = ", ".join(f'"{t}"' for t in TABLES if t != "alembic_version")
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            # Tables a test made of its own (the benchmarks' work tables) go too, so the
            # next test on this database sees exactly the migrated schema.
            extra = connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
            for table in set(extra) - {*TABLES, "alembic_version"}:
                connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        engine.dispose()


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


def start_server(
    database_url: str,
    port: int,
    log: IO[bytes],
    processes: int = 1,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``infocity serve`` on ``port`` in a real process writing to ``log``; ready once
    ``wait_until_ready`` says so (the caller stops it)."""
    environment = {
        **os.environ,
        "INFOCITY_DATABASE_URL": database_url,
        "INFOCITY_ENVIRONMENT": "test",
        **(env or {}),
    }
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
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


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


@pytest.fixture
def live_server(database: str) -> Iterator[str]:
    """The app served by a real server process on the test database."""
    with run_server(database) as base_url:
        yield base_url
