"""The ceiling of the stack: the kiosk booking's own statements from a bare Starlette route.

The API ÷ pgbench ratio mixes two costs: what any Python web application on this stack
spends per request (uvicorn, FastAPI, pydantic, psycopg) and what InfoCity adds (rules,
refusals in the user's language, the unit of work, logging, metrics). This app sends
exactly the round trips of a kiosk booking (the identification count, then BEGIN, the
one read, the take, COMMIT), built from the service's statements like pgbench's script,
from the plainest route the stack allows (a Starlette route reading the JSON body
itself, no validation layer) on psycopg's async driver, with none of InfoCity around
them; with ``BENCH_GROUP_COMMIT_MS`` set, the requests of each window share one count
and one transaction (group commit, as the application does). It is served by
``uvicorn bench.ceiling:app --workers 2`` and driven by the same clients, demand and
slots as the API, so ceiling ÷ pgbench is the most a Python application can reach here,
and API ÷ ceiling is what InfoCity's own code costs.

It is a measuring instrument, not a booking service: it checks nothing the database does
not check by itself (the guarded take still makes double bookings impossible).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infocity.core import ratelimit
from infocity.core.security import token_hash
from infocity.health.service import slot_sql

CONNECTIONS = 5  # per process: more only queue on the hot slots' row locks
WINDOW_SECONDS = 600
# Group commit (``BENCH_GROUP_COMMIT_MS`` > 0): the requests of a window share one count
# and one transaction, as ``health.service.batch_booking`` does in the application.
GROUP_COMMIT = float(os.environ.get("BENCH_GROUP_COMMIT_MS", "0")) / 1000
BATCH = 32


def _sql(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


HIT = _sql(ratelimit._HIT_KEYS_PG)
FACTS = _sql(slot_sql.FACTS_BY_POLICY)
TAKE = _sql(slot_sql.TAKE_FREE_SLOT_PG)

_pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
Booking = tuple[str, date, int]  # policy, birth date, slot


@asynccontextmanager
async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
    url = os.environ["INFOCITY_DATABASE_URL"]
    connections = [
        await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0)
        for _ in range(CONNECTIONS)
    ]
    for connection in connections:
        _pool.put_nowait(connection)
    yield
    for connection in connections:
        await connection.close()


def _windows(now: datetime) -> dict[str, Any]:
    epoch = int(now.timestamp())
    window = datetime.fromtimestamp(epoch - epoch % WINDOW_SECONDS, tz=UTC)
    return {"window": window, "previous_window": window - timedelta(seconds=WINDOW_SECONDS)}


async def _take(connection: psycopg.AsyncConnection[Any], booking: Booking, now: datetime) -> Any:
    """The read and the take of one booking in the connection's transaction: the answer."""
    policy, birth, slot_id = booking
    cursor = await connection.execute(
        FACTS, {"oms_policy": policy, "birth_date": birth, "slot_id": slot_id, "now": now}
    )
    facts = await cursor.fetchone()
    if facts is None:
        return 404, {"error": {"code": "patient_not_found"}}
    if facts[7] != "free":  # as the application, refused from what was read
        return 409, {"error": {"code": "slot_taken"}}
    cursor = await connection.execute(
        TAKE,
        {"slot_id": slot_id, "now": now, "person_id": facts[0], "specialty": facts[6],
         "active_limit": facts[12], "channel": "kiosk", "referral_id": None,
         "booked_by_user_id": None},
    )  # fmt: skip
    taken = await cursor.fetchone()
    if taken is None:
        return 409, {"error": {"code": "slot_taken"}}
    return 201, {"id": taken[0], "slot_id": taken[1]}


async def _book_together(bookings: list[Booking]) -> list[Any]:
    """One count for the batch, then one transaction, slots taken in id order."""
    connection = await _pool.get()
    try:
        now = datetime.now(UTC)
        keys = [f"identify:{token_hash(policy)[:40]}" for policy, _, _ in bookings]
        await connection.execute(HIT, {"keys": keys, **_windows(now)})
        answers: dict[int, Any] = {}
        async with connection.transaction():
            for index in sorted(range(len(bookings)), key=lambda i: bookings[i][2]):
                answers[index] = await _take(connection, bookings[index], now)
        return [answers[index] for index in range(len(bookings))]
    finally:
        _pool.put_nowait(connection)


_waiting: list[tuple[Booking, asyncio.Future[Any]]] = []
_collector: list[asyncio.Task[None]] = []


async def _collect() -> None:
    while _waiting:
        await asyncio.sleep(GROUP_COMMIT)
        batch = _waiting[:BATCH]
        del _waiting[:BATCH]
        asyncio.get_running_loop().create_task(_answer(batch))


async def _answer(batch: list[tuple[Booking, asyncio.Future[Any]]]) -> None:
    try:
        answers = await _book_together([booking for booking, _ in batch])
    except Exception as exc:
        answers = [(500, {"error": {"code": type(exc).__name__}})] * len(batch)
    for (_, future), answer in zip(batch, answers, strict=True):
        future.set_result(answer)


async def book(request: Request) -> Response:
    body = json.loads(await request.body())
    booking = (body["oms_policy"], date.fromisoformat(body["birth_date"]), int(body["slot_id"]))
    if GROUP_COMMIT:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        _waiting.append((booking, future))
        if not _collector or _collector[0].done():
            _collector[:] = [asyncio.get_running_loop().create_task(_collect())]
        status, answer = await future
        return JSONResponse(answer, status)
    connection = await _pool.get()
    try:
        now = datetime.now(UTC)
        keys = [f"identify:{token_hash(booking[0])[:40]}"]
        await connection.execute(HIT, {"keys": keys, **_windows(now)})
        async with connection.transaction():
            status, answer = await _take(connection, booking, now)
    finally:
        _pool.put_nowait(connection)
    return JSONResponse(answer, status)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    lifespan=_lifespan,
    routes=[
        Route("/healthz", healthz),
        Route("/api/v1/health/kiosk/appointments", book, methods=["POST"]),
    ],
)
