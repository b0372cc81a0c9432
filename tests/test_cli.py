"""The command line a city IT department uses: migrate, seed, create staff, serve."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from infocity.accounts import service as accounts
from infocity.accounts.schemas import CitizenCreate
from infocity.cli import app
from tests.builders import PASSWORD
from tests.conftest import ROOT, run_server
from tests.support.postgres import free_port
from tests.support.servers import tcp_sockets
from tests.support.users import wait_for

runner = CliRunner()


def test_db_upgrade_and_current_report_the_head(database: str) -> None:
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    current = runner.invoke(app, ["db", "current"])
    assert "(current)" in current.output


def test_user_create_makes_a_city_admin_who_can_log_in(database: str) -> None:
    result = runner.invoke(
        app,
        [
            "user",
            "create",
            "--email",
            "chief@city.example",
            "--name",
            "Главный Админ",
            "--role",
            "city_admin",
        ],
        input="a-long-password-1\na-long-password-1\n",
    )
    assert result.exit_code == 0, result.output
    token = accounts.login("chief@city.example", "a-long-password-1", user_agent=None, ip=None)
    principal = accounts.principal_from_session(token)
    assert principal is not None
    assert principal.is_city_admin()


def test_user_create_refuses_an_unknown_role_and_creates_nothing(database: str) -> None:
    result = runner.invoke(
        app,
        ["user", "create", "--email", "x@city.example", "--name", "X", "--role", "overlord"],
        input="a-long-password-1\na-long-password-1\n",
    )
    assert result.exit_code == 2
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal: the account must not exist
        accounts.login("x@city.example", "a-long-password-1", user_agent=None, ip=None)


def test_user_verify_confirms_a_citizen_without_the_link(database: str) -> None:
    user = accounts.register_citizen(
        CitizenCreate(
            phone="+79160001122", password=PASSWORD, last_name="Смирнова", first_name="Ольга"
        )
    )
    result = runner.invoke(app, ["user", "verify", "8 916 000-11-22"])
    assert result.exit_code == 0, result.output
    principal = accounts.principal_for_user(user.id)
    assert principal is not None
    assert principal.verified
    assert runner.invoke(app, ["user", "verify", "nobody@example.ru"]).exit_code == 2


def test_seed_demo_twice_is_harmless(database: str) -> None:
    first = runner.invoke(app, ["seed", "demo"])
    second = runner.invoke(app, ["seed", "demo"])
    assert first.exit_code == 0
    assert "loaded" in first.output
    assert second.exit_code == 0
    assert "already present" in second.output


@pytest.mark.slow
def test_serve_with_two_processes_answers_and_is_ready(database: str) -> None:
    with run_server(database, processes=2) as base_url:
        ready = httpx.get(f"{base_url}/readyz", timeout=5)
        assert ready.status_code == 200
        for _ in range(10):
            assert httpx.get(f"{base_url}/", timeout=5).status_code == 200
        for _ in range(6):
            assert httpx.get(f"{base_url}/api/v1/health/clinics", timeout=5).status_code == 200
        metrics = httpx.get(f"{base_url}/metrics", timeout=5).text
        assert "infocity_http_requests_total" in metrics
        # Summed over both processes, under the full route template.
        api = 'route="/api/v1/health/clinics",status="200"'
        assert (
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("infocity_http_requests_total{") and api in line
            )
            == 6
        )
        # The database figures once, not once per process.
        assert metrics.count("# TYPE infocity_outbox_undelivered gauge") == 1


def _children(pid: int) -> list[int]:
    """Ids of the live processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after it.
            state, ppid = stat.read_text().rpartition(")")[2].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_serve_with_worker_stops_the_worker(
    database: str, tmp_path: Path, stop: signal.Signals
) -> None:
    port = free_port()
    env = {**os.environ, "INFOCITY_DATABASE_URL": database, "INFOCITY_ENVIRONMENT": "test"}
    command = [sys.executable, "-m", "infocity", "serve", "--port", str(port), "--with-worker"]
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    workers: list[int] = []
    try:
        wait_for(lambda: bool(_children(serve.pid)), 60, "the worker to start")
        workers = _children(serve.pid)

        def answers() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success
            return False

        wait_for(answers, 60, "the server to answer")
        serve.send_signal(stop)
        serve.wait(timeout=60)
        wait_for(lambda: not any(_alive(pid) for pid in workers), 60, "the worker to stop")
    finally:
        for pid in [serve.pid, *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        serve.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_serve_spreads_keep_alive_connections_over_its_processes(
    database: str, tmp_path: Path
) -> None:
    # With one shared listening socket, one process may accept almost every connection
    # and keep it; each process listening on its own socket gets its share.
    port = free_port()
    env = {**os.environ, "INFOCITY_DATABASE_URL": database, "INFOCITY_ENVIRONMENT": "test"}
    command = [sys.executable, "-m", "infocity", "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    clients: list[httpx.Client] = []
    try:

        def listening() -> list[int]:
            # The supervisor may have other children (multiprocessing's resource tracker).
            return [pid for pid in _children(serve.pid) if tcp_sockets(pid, port, "0A")]

        wait_for(lambda: len(listening()) == 2, 120, "both processes to listen")
        processes = listening()
        # Each process accepts on a socket of its own, so the kernel spreads new
        # connections over them evenly instead of waking whichever process is awake.
        first, second = (tcp_sockets(pid, port, "0A") for pid in processes)
        assert first.isdisjoint(second)
        seen: dict[int, set[str]] = {pid: set() for pid in processes}
        for _ in range(40):
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            clients.append(client)
            assert client.get("/healthz").status_code == 200
            # Read at once: an idle keep-alive connection is closed after 5 seconds.
            for pid in processes:
                seen[pid] |= tcp_sockets(pid, port, "01")
        held = [len(seen[pid]) for pid in processes]
        assert sum(held) == 40
        # Each process is as likely to get a connection: fewer than 8 of 40 is a chance
        # of about one in 10^5.
        assert min(held) >= 8, held
    finally:
        for client in clients:
            client.close()
        serve.terminate()
        serve.wait(timeout=60)
