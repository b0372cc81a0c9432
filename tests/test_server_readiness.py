"""Waiting for a server under test: slow is waited for, dead or stalled fails at once."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO

import pytest

from tests.support.postgres import free_port
from tests.support.servers import ServerDidNotStart, wait_until_ready

# A server that keeps writing to its log (progress) for ``delay`` seconds, then answers.
SLOW_SERVER = """
import http.server, sys, time
port, delay = int(sys.argv[1]), float(sys.argv[2])
until = time.monotonic() + delay
while time.monotonic() < until:
    print("still importing", flush=True)
    time.sleep(0.2)
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", port), Ok).serve_forever()
"""


Start = Callable[..., tuple[subprocess.Popen[bytes], IO[bytes]]]


@pytest.fixture
def start() -> Iterator[Start]:
    started: list[subprocess.Popen[bytes]] = []

    def run(code: str, *args: str) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=log, stderr=subprocess.STDOUT
        )
        started.append(process)
        return process, log

    yield run
    for process in started:
        process.kill()
        process.wait()


def test_a_server_slower_than_the_stall_window_is_waited_for(start: Start) -> None:
    port = free_port()
    process, log = start(SLOW_SERVER, str(port), "3")
    began = time.monotonic()
    wait_until_ready(process, f"http://127.0.0.1:{port}/healthz", log=log, stall=1.5)
    assert time.monotonic() - began >= 2.5


def test_a_server_that_dies_fails_at_once_with_its_log(start: Start) -> None:
    process, log = start("print('port already in use'); raise SystemExit(3)")
    began = time.monotonic()
    with pytest.raises(ServerDidNotStart, match="port already in use"):
        wait_until_ready(process, f"http://127.0.0.1:{free_port()}/healthz", log=log)
    assert time.monotonic() - began < 30


def test_a_server_that_makes_no_progress_fails_before_the_ceiling(start: Start) -> None:
    process, log = start("import time; print('hung', flush=True); time.sleep(600)")
    began = time.monotonic()
    with pytest.raises(ServerDidNotStart, match="no progress"):
        wait_until_ready(process, f"http://127.0.0.1:{free_port()}/healthz", log=log, stall=2)
    assert time.monotonic() - began < 60
