"""The ceiling of the stack: the kiosk booking's own statements from a bare FastAPI app.

The API ÷ pgbench ratio mixes two costs: what any Python web application on this stack
spends per request (uvicorn, FastAPI, pydantic, psycopg) and what InfoCity adds (rules,
refusals in the user's language, the unit of work, logging, metrics). This app sends
exactly the round trips of a kiosk booking (the identification count, then BEGIN, the
one read, the take, COMMIT), built from the service's statements like pgbench's script,
from an ``async def`` endpoint on psycopg's async driver, with none of InfoCity around
them. It is served by ``uvicorn bench.ceiling:app --workers 2`` and driven by the same
clients, demand and slots as the API, so ceiling ÷ pgbench is the most a Python
application can reach here, and API ÷ ceiling is what InfoCity's own code costs.

It is a measuring instrument, not a booking service: it checks nothing the database does
not check by itself (the guarded take still makes double bookings impossible).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.dialects import postgresql

from infocity.core import ratelimit
from infocity.core.security import token_hash
from infocity.health.schemas import AnonymousBookingCreate
from infocity.health.service import taking

CONNECTIONS = 5  # per process: more only queue on the hot slots' row locks
WINDOW_SECONDS = 600


def _sql(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


HIT = _sql(ratelimit._HIT_MANY_PG)
FACTS = _sql(taking._FACTS_BY_POLICY)
TAKE = _sql(taking._TAKE_FREE_SLOT_PG)

_pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
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


app = FastAPI(lifespan=_lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/health/kiosk/appointments", status_code=201)
async def book(data: AnonymousBookingCreate) -> Any:
    connection = await _pool.get()
    try:
        now = datetime.now(UTC)
        epoch = int(now.timestamp())
        window = datetime.fromtimestamp(epoch - epoch % WINDOW_SECONDS, tz=UTC)
        keys = [f"identify:{token_hash(data.oms_policy)[:40]}"]
        await connection.execute(
            HIT,
            {"keys": keys, "window": window,
             "previous_window": window - timedelta(seconds=WINDOW_SECONDS)},
        )  # fmt: skip
        async with connection.transaction():
            cursor = await connection.execute(
                FACTS,
                {"oms_policy": data.oms_policy, "birth_date": data.birth_date,
                 "slot_id": data.slot_id, "now": now},
            )  # fmt: skip
            facts = await cursor.fetchone()
            if facts is None:
                return JSONResponse({"error": {"code": "patient_not_found"}}, 404)
            if facts[7] != "free":  # as the application, refused from what was read
                return JSONResponse({"error": {"code": "slot_taken"}}, 409)
            cursor = await connection.execute(
                TAKE,
                {"slot_id": data.slot_id, "now": now, "person_id": facts[0],
                 "specialty_id": facts[6], "active_limit": facts[12], "channel": "kiosk",
                 "referral_id": None, "booked_by_user_id": None},
            )  # fmt: skip
            taken = await cursor.fetchone()
        if taken is None:
            return JSONResponse({"error": {"code": "slot_taken"}}, 409)
        return {"id": taken[0], "slot_id": taken[1]}
    finally:
        _pool.put_nowait(connection)
