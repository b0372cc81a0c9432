"""A small HTTP/1.1 keep-alive client on asyncio streams, a closed-loop driver and an
open-loop one (requests at scheduled moments).

Why not httpx: on a 2-core machine the load generator shares the CPU with the servers
and PostgreSQL, and a client that costs a tenth of httpx per request leaves more of it
to what is measured. It speaks only what the benchmarks need: JSON requests, responses
with Content-Length, to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None  # JSON-serialisable, or None
    headers: tuple[tuple[str, str], ...] = ()
    tag: str = ""  # what the scenario wants back with the result (e.g. the slot id)


@dataclass(frozen=True)
class Result:
    request: Request
    status: int  # 0: transport error
    body: bytes
    started: float  # time.perf_counter()
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def error_code(self) -> str | None:
        if self.status < 400 or not self.body:
            return None
        try:
            return str(self.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None


class Connection:
    """One keep-alive connection to ``base_url`` (reopened when the server closes it)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the benchmarks load only 127.0.0.1")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None

    async def send(self, request: Request) -> tuple[int, bytes]:
        if self.reader is not None and self.reader.at_eof():
            # The server closed it while it was idle (its keep-alive timeout: a till
            # waits 10-20 s between asks): open another, as a browser would.
            await self.close()
        if self.writer is None:
            await self._open()
        assert self.reader is not None
        assert self.writer is not None
        body = b"" if request.body is None else json.dumps(request.body).encode()
        head = [
            f"{request.method} {request.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: application/json",
            "Accept-Language: en",
        ]
        if request.body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in request.headers]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
            elif name == "transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the bench client")
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, payload


async def drive(
    base_url: str,
    clients: int,
    next_request: Callable[[int], Request | None],
    *,
    duration: float,
    on_result: Callable[[Result], None] | None = None,
) -> tuple[list[Result], float]:
    """``clients`` connections, each sending ``next_request(client)`` as soon as its
    previous answer arrived (closed loop), until it gives None or ``duration`` is up.
    Returns every result and the elapsed seconds."""
    results: list[Result] = []
    began = time.perf_counter()
    deadline = began + duration

    async def client(index: int) -> None:
        connection = Connection(base_url)
        try:
            while time.perf_counter() < deadline:
                request = next_request(index)
                if request is None:
                    return
                started = time.perf_counter()
                try:
                    status, body = await connection.send(request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    status, body = 0, str(exc).encode()
                    await connection.close()
                result = Result(request, status, body, started, time.perf_counter() - started)
                results.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            await connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return results, time.perf_counter() - began


async def drive_schedules(
    base_url: str, schedules: list[list[tuple[float, Request]]]
) -> tuple[list[Result], float]:
    """Open loop: each schedule is one client's requests, each with its moment (seconds
    from now); a client sends each at its moment on a connection of its own, one at a
    time (a till serves one pupil at a time). A request is never sent because an answer
    came, so a slow server cannot thin out the demand; and each result is timed from its
    scheduled moment (``started``), not from when it left: a request that had to wait for
    the one before it counts that wait (no coordinated omission). Returns every result
    and the elapsed seconds."""
    results: list[Result] = []
    began = time.perf_counter()

    async def client(schedule: list[tuple[float, Request]]) -> None:
        connection = Connection(base_url)
        try:
            for moment, request in schedule:
                due = began + moment
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    status, body = await connection.send(request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    status, body = 0, str(exc).encode()
                    await connection.close()
                results.append(Result(request, status, body, due, time.perf_counter() - due))
        finally:
            await connection.close()

    await asyncio.gather(*(client(schedule) for schedule in schedules))
    return results, time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]
