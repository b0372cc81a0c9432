"""A real RTSP server on loopback for the camera probes: GStreamer's RTSP server driven by
``deploy/rtsp_test_server.py`` (Debian's python3-gi and gir1.2-gst-rtsp-server-1.0), plus
a silent host (a TCP listener that never answers) and a closed port.

Skipped with a reason where GStreamer or ffmpeg is missing; CI must have them
(``scripts/ensure-test-deps.sh`` installs them as root)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
READY_SECONDS = 30.0


def _missing() -> str | None:
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (Debian's ffmpeg)"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import GstRtspServer",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return "GStreamer's RTSP server is not installed (gir1.2-gst-rtsp-server-1.0, python3-gi)"
    return None


def require_rtsp() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the camera probe tests: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Cameras:
    good: str
    frozen: str
    closed: str
    silent: str


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready_line(process: subprocess.Popen[str]) -> str:
    """The server's first line, read in a thread so a hung start fails after a bound."""
    found: list[str] = []
    reader = threading.Thread(
        target=lambda: found.append(process.stdout.readline() if process.stdout else "")
    )
    reader.start()
    reader.join(READY_SECONDS)
    return found[0] if found else ""


@pytest.fixture(scope="session")
def rtsp_cameras() -> Iterator[Cameras]:
    """One good stream, one frozen, a closed port and a silent host, on loopback."""
    require_rtsp()
    process = subprocess.Popen(
        [SYSTEM_PYTHON, str(ROOT / "deploy" / "rtsp_test_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    silent = socket.socket()
    try:
        line = _ready_line(process)
        if not line.startswith("READY "):
            raise RuntimeError(f"the RTSP test server did not start: {line!r}")
        port = int(line.split()[1])
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # accepts connections and never says a word
        yield Cameras(
            good=f"rtsp://127.0.0.1:{port}/good",
            frozen=f"rtsp://127.0.0.1:{port}/frozen",
            closed=f"rtsp://127.0.0.1:{_closed_port()}/cam",
            silent=f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam",
        )
    finally:
        silent.close()
        process.kill()
        process.wait()
