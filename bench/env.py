"""What every scenario needs: a PostgreSQL database holding a synthetic city, the app
served by real processes on it, and a place for the results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from tests.support.postgres import find_pg_bin, free_port, throwaway_cluster
from tests.support.servers import stop_process, tcp_sockets, wait_until_ready

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass
class City:
    """A migrated database with the synthetic city at ``scale`` loaded."""

    url: str  # postgresql://...
    scale: float
    seed: int
    load: dict[str, Any] = field(default_factory=dict)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)


def use_database(url: str) -> None:
    """Point this process's settings and engines at ``url``."""
    from infocity.core.db import dispose_engines
    from infocity.core.settings import get_settings

    os.environ["INFOCITY_DATABASE_URL"] = url
    get_settings.cache_clear()
    dispose_engines()


def load_city(url: str, scale: float, seed: int, *, quiet: bool = False) -> dict[str, Any]:
    """Migrate ``url`` and load the synthetic city into it; the load report."""
    from infocity.analytics.loader import load_city as load
    from infocity.core import migrate

    use_database(url)
    migrate.upgrade(url)
    if not quiet:
        print(f"loading the synthetic city at scale {scale} ...", flush=True)
    report = load(scale, seed).as_dict()
    if not quiet:
        print(
            f"  {report['total_rows']:,} rows in {report['seconds']} s "
            f"({report['rows_per_second']:,} rows/s), "
            f"database {report['database_bytes'] / 2**20:,.0f} MiB",
            flush=True,
        )
    return report


@contextlib.contextmanager
def city_database(
    scale: float, seed: int = 1, *, database_url: str | None = None, quiet: bool = False
) -> Iterator[City]:
    """A city at ``scale``: in ``database_url`` when given (loaded there if it has no
    polyclinics yet), otherwise in a throwaway PostgreSQL cluster."""
    if database_url:
        url = database_url
        with psycopg.connect(url) as connection:
            # Two statements: a single one would be planned against a table that may not
            # exist yet (an empty database).
            exists = connection.execute("SELECT to_regclass('clinics') IS NOT NULL").fetchone()
            loaded = bool(exists and exists[0]) and bool(
                connection.execute("SELECT EXISTS (SELECT 1 FROM clinics)").fetchone()[0]  # type: ignore[index]
            )
        report = {} if loaded else load_city(url, scale, seed, quiet=quiet)
        use_database(url)
        yield City(url, scale, seed, report)
        return
    with throwaway_cluster() as admin:
        name = "infocity_bench"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + f"/{name}"
        report = load_city(url, scale, seed, quiet=quiet)
        yield City(url, scale, seed, report)


# Plain uvicorn (no access log), each process on a listening socket of its own as
# ``infocity serve`` runs them: with uvicorn's one shared socket one process may take
# every connection, and the comparison would measure that instead of the route.
_PLAIN_UVICORN = (
    "import sys, uvicorn; from infocity.web.serving import run_processes; "
    "app, host, port, processes = sys.argv[1:]; "
    "run_processes(uvicorn.Config(app, host=host, port=int(port), workers=int(processes), "
    "access_log=False))"
)


@contextlib.contextmanager
def serve(
    database_url: str,
    processes: int = 2,
    *,
    asgi_app: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``infocity serve --workers N`` on 127.0.0.1 as in production (its own secret,
    JSON access log to a file); yields the base URL and the server process.
    ``asgi_app``: serve this app with plain uvicorn instead (``bench.ceiling:app``,
    each process on its own socket as ``infocity serve`` does);
    ``env``: more environment (settings) for the server."""
    port = free_port()
    environment = {
        **os.environ,
        "INFOCITY_DATABASE_URL": database_url,
        "INFOCITY_ENVIRONMENT": "production",
        "INFOCITY_SECRET_KEY": secrets.token_hex(32),
        "INFOCITY_WEBHOOK_SECRET": secrets.token_hex(32),
        "INFOCITY_SECURE_COOKIES": "true",  # production refuses to start without
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "infocity", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(processes),
    ]  # fmt: skip
    if asgi_app is not None:
        command = [
            sys.executable, "-c", _PLAIN_UVICORN, asgi_app, "127.0.0.1", str(port),
            str(processes),
        ]  # fmt: skip
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe that could fill
    process = subprocess.Popen(
        command, env=environment, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{base_url}/healthz", log=log)
        # Every worker process must be up, not just the first to answer.
        time.sleep(1.0)
        yield base_url, process
    finally:
        stop_process(process, timeout=30)
        log.close()


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (the server processes of a supervisor)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and b"resource_tracker" not in _cmdline(entry):
            found.append(int(entry.name))
    return found


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def process_spread(server: subprocess.Popen[bytes], base_url: str) -> Iterator[dict[str, Any]]:
    """How the work spread over a server's processes while the block ran: for each, the
    CPU seconds it used and the client connections it held when the most were open
    (the latest such moment; keep-alive connections stay with the process that
    accepted them). Filled in
    when the block ends; on systems without /proc it stays empty."""
    spread: dict[str, Any] = {}
    if not Path("/proc/self/stat").exists():
        yield spread
        return
    port = int(base_url.rsplit(":", 1)[1])
    pids = _children(server.pid) or [server.pid]
    started = {pid: _cpu_seconds(pid) for pid in pids}
    held = dict.fromkeys(pids, 0)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            now = {pid: len(tcp_sockets(pid, port, "01")) for pid in pids}
            if sum(now.values()) >= sum(held.values()):  # the latest of the fullest
                held.update(now)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield spread
    finally:
        done.set()
        sampler.join()
        spread["processes"] = [
            {
                "pid": pid,
                "cpu_seconds": round(_cpu_seconds(pid) - started[pid], 2),
                "connections": held[pid],
            }
            for pid in pids
        ]


def pgbench_path() -> Path:
    bin_dir = find_pg_bin()
    if bin_dir is None or not (bin_dir / "pgbench").exists():
        raise FileNotFoundError("pgbench not found (PostgreSQL binaries)")
    return bin_dir / "pgbench"


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 2**20, 1)
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory,
        "python": platform.python_version(),
        "system": platform.platform(),
        # The machine is shared: how busy it was when the figures were written.
        "load_average": [round(n, 1) for n in os.getloadavg()],
    }


def write_result(name: str, payload: dict[str, Any], results_dir: Path | None = None) -> Path:
    """Write ``payload`` (with the date and machine) to ``<results>/<name>.json``."""
    directory = results_dir or RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "scenario": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **payload,
    }
    path = directory / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def table(title: str, rows: list[tuple[str, Any]]) -> str:
    """A two-column table for the terminal."""
    width = max(len(label) for label, _ in rows)
    lines = [title, "-" * len(title)]
    for label, value in rows:
        if isinstance(value, float):
            shown = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        elif isinstance(value, int):
            shown = f"{value:,}"
        else:
            shown = str(value)
        lines.append(f"  {label:<{width}}  {shown}")
    return "\n".join(lines)
