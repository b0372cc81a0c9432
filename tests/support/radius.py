"""A real FreeRADIUS with the repository's configuration (deploy/freeradius), started on
loopback on free ports against the test's PostgreSQL database, and ``radclient`` to drive
it. Skipped with a reason where FreeRADIUS is not installed; CI must have it
(scripts/ensure-test-deps.sh installs it)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.support.servers import stop_process

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "freeradius"
FREERADIUS = shutil.which("freeradius") or shutil.which("radiusd")
RADCLIENT = shutil.which("radclient")
READY_WITHIN = 60.0


def require_freeradius() -> None:
    """Skip the test where FreeRADIUS or radclient is missing; fail it in CI."""
    if FREERADIUS and RADCLIENT:
        return
    reason = "FreeRADIUS (freeradius, freeradius-utils) is not installed"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the RADIUS tests: {reason}")
    pytest.skip(reason)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Radius:
    """A running FreeRADIUS: where to send requests, and its log so far."""

    auth_port: int
    acct_port: int
    log_path: Path
    pid: int = 0  # FreeRADIUS's process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass(frozen=True)
class Reply:
    code: str  # Access-Accept, Access-Reject, Accounting-Response, or "" (no answer)
    attributes: dict[str, str]


def radclient(
    port: int, kind: str, secret: str, attributes: dict[str, str], *, timeout: float = 2
) -> Reply:
    """Send one request with ``radclient`` (kind: auth, acct, status); the reply's code and
    attributes ("" when nothing answered: an unknown client is not answered)."""
    assert RADCLIENT is not None
    text = ", ".join(f'{name} = "{value}"' for name, value in attributes.items())
    done = subprocess.run(
        [RADCLIENT, "-x", "-r", "1", "-t", str(timeout), f"127.0.0.1:{port}", kind, secret],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    code = ""
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if line.startswith("Received "):
            code = line.split()[1]
        elif code and "=" in line:
            name, _, value = line.strip().partition(" = ")
            values[name.strip()] = value.strip().strip('"')
    return Reply(code, values)


@contextlib.contextmanager
def running_freeradius(
    database_url: str, probe: tuple[str, str], *, config: Path = CONFIG
) -> Iterator[Radius]:
    """FreeRADIUS in a configuration directory of its own (a copy of ``config``, by
    default deploy/freeradius), on free loopback ports; ready once it answers an
    Access-Request sent as the hotspot ``probe`` (NAS identifier, secret), whose
    controller must be at 127.0.0.1."""
    assert FREERADIUS is not None
    base = Path(tempfile.mkdtemp(prefix="infocity-radius-"))
    confdir = base / "raddb"
    shutil.copytree(config, confdir)
    conninfo = " ".join(f"{key}={value}" for key, value in conninfo_to_dict(database_url).items())
    radius = Radius(free_udp_port(), free_udp_port(), base / "radius.log")
    environment = {
        **os.environ,
        "INFOCITY_RADIUS_DB": conninfo,
        "INFOCITY_RADIUS_ADDRESS": "127.0.0.1",
        "INFOCITY_RADIUS_AUTH_PORT": str(radius.auth_port),
        "INFOCITY_RADIUS_ACCT_PORT": str(radius.acct_port),
        "INFOCITY_RADIUS_RUN_DIR": str(base),
    }
    with radius.log_path.open("wb") as log:
        process = subprocess.Popen(
            [FREERADIUS, "-f", "-d", str(confdir), "-l", "stdout"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    radius = dataclasses.replace(radius, pid=process.pid)
    try:
        _wait_until_answering(process, radius, probe)
        yield radius
    finally:
        stop_process(process)
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_answering(
    process: subprocess.Popen[bytes], radius: Radius, probe: tuple[str, str]
) -> None:
    nas, secret = probe
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"FreeRADIUS exited ({process.returncode}):\n{radius.log()}")
        reply = radclient(
            radius.auth_port,
            "auth",
            secret,
            {
                "User-Name": "probe",
                "Calling-Station-Id": "00-00-5e-00-53-00",
                "NAS-Identifier": nas,
            },
            timeout=0.5,
        )
        if reply.code:
            return
    raise RuntimeError(f"FreeRADIUS did not answer within {READY_WITHIN:.0f} s:\n{radius.log()}")
