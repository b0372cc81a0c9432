"""Waiting for a server process to answer, on a machine that may be slow or busy.

A fixed timeout turns a loaded machine into red tests. Here the wait lasts as long as the
process is alive and making progress (using CPU, or writing to its log), up to a generous
ceiling; a process that dies fails at once with the end of its log.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx

CEILING_SECONDS = 300.0
STALL_SECONDS = 120.0
PROGRESS_LOOK_SECONDS = 1.0


class ServerDidNotStart(RuntimeError):
    """The server process died, stalled, or passed the ceiling before answering."""


def _tail(log: IO[bytes] | None) -> str:
    if log is None:
        return "(no log)"
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def _log_size(log: IO[bytes] | None) -> int:
    if log is None:
        return 0
    with contextlib.suppress(OSError, ValueError):
        return os.fstat(log.fileno()).st_size
    return 0


def _cpu_ticks(pid: int) -> int | None:
    """CPU time (clock ticks) of ``pid`` and its descendants, from /proc; None where
    there is no /proc (then only the log and the process being alive count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            # The command name may hold spaces and parentheses: split after the last ')'.
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    family, total, frontier = {pid}, 0, [pid]
    while frontier:
        current = frontier.pop()
        total += ticks.get(current, 0)
        children = [child for child, parent in parents.items() if parent == current]
        frontier.extend(child for child in children if child not in family)
        family.update(children)
    return total


def wait_until_ready(
    process: subprocess.Popen[bytes],
    url: str,
    *,
    log: IO[bytes] | None = None,
    ceiling: float = CEILING_SECONDS,
    stall: float = STALL_SECONDS,
    poll: float = 0.1,
) -> None:
    """Return once ``url`` answers 200; raise ``ServerDidNotStart`` (with the log's end)
    if ``process`` exits, shows no progress for ``stall`` seconds, or ``ceiling`` passes."""

    # One client for every try: a new one per try builds a TLS context each time, which
    # cost more CPU than the try itself, taken from the server being waited for.
    with httpx.Client(timeout=5) as client:

        def answers() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return client.get(url).status_code == 200
            return False

        wait_until(answers, process, log=log, ceiling=ceiling, stall=stall, poll=poll)


def wait_until(
    condition: Callable[[], bool],
    process: subprocess.Popen[bytes],
    *,
    log: IO[bytes] | None = None,
    ceiling: float = CEILING_SECONDS,
    stall: float = STALL_SECONDS,
    poll: float = 0.1,
) -> None:
    """Return once ``condition()`` holds, while ``process`` (the server it depends on)
    lives and makes progress; raise ``ServerDidNotStart`` as ``wait_until_ready``."""
    started = time.monotonic()
    last_progress = last_look = started
    look_every = min(PROGRESS_LOOK_SECONDS, stall / 4)
    progress = (_cpu_ticks(process.pid), _log_size(log))
    while True:
        if process.poll() is not None:
            raise ServerDidNotStart(
                f"server exited with {process.returncode} before answering:\n{_tail(log)}"
            )
        if condition():
            return
        now = time.monotonic()
        # Progress is looked for once a second (more often for a short stall window), not at
        # every poll: reading every process's /proc entry costs milliseconds of the CPU the
        # server is starting with.
        if now - last_look >= look_every:
            last_look = now
            current = (_cpu_ticks(process.pid), _log_size(log))
            if current != progress:
                progress, last_progress = current, now
        if now - last_progress > stall:
            raise ServerDidNotStart(f"server made no progress for {stall:.0f} s:\n{_tail(log)}")
        if now - started > ceiling:
            raise ServerDidNotStart(f"server did not answer within {ceiling:.0f} s:\n{_tail(log)}")
        time.sleep(poll)


def tcp_sockets(pid: int, port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` (``0A`` listening, ``01``
    established) that process ``pid`` holds, read from /proc (empty where there is none):
    which server process listens, and which holds a client's connection."""
    held: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    held.add(target[len("socket:[") : -1])
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == state and fields[9] in held:
                    found.add(fields[9])
    return found


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Ask ``process`` to stop (SIGTERM) and wait for it; kill it if it has not stopped
    within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
