"""A Mosquitto broker of the tests' own, on a free port of 127.0.0.1, waited for by its
port answering (never a fixed sleep)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.servers import CEILING_SECONDS, ServerDidNotStart


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def mosquitto() -> Iterator[int | None]:
    """The port of a running broker, or None where Mosquitto is not installed."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if binary is None:
        yield None
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        log = (Path(directory) / "log").open("wb+")
        process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + CEILING_SECONDS
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise ServerDidNotStart(log.read().decode(errors="replace")[-2000:])
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()
