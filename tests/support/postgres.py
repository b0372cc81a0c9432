"""A PostgreSQL server for the tests: the one named by INFOCITY_TEST_POSTGRES_URL, or a
throwaway cluster started from the local PostgreSQL binaries."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def find_pg_bin() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as(user: str | None, args: list[str], **kwargs: object) -> None:
    # PostgreSQL refuses to run as root; as root we run it as an unprivileged user.
    command = ["runuser", "-u", user, "--", *args] if user else args
    subprocess.run(command, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a fast, disposable PostgreSQL cluster; yield its admin URL."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL binaries (initdb) on this machine")
    run_user: str | None = None
    if os.geteuid() == 0:
        for candidate in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                pwd.getpwnam(candidate)
                run_user = candidate
                break
    base = Path(tempfile.mkdtemp(prefix="infocity-pg-"))
    data = base / "data"
    if run_user:
        entry = pwd.getpwnam(run_user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    base.chmod(0o755)
    port = free_port()
    _run_as(
        run_user,
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
        "-c shared_buffers=256MB -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=4GB"
    )
    _run_as(
        run_user,
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _run_as(
                run_user,
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            )
        shutil.rmtree(base, ignore_errors=True)
