"""The bare endpoint of the exam results benchmark: the look-up's own round trips from
a bare FastAPI app.

It sends exactly what a look-up sends (the count per code and per address, then the one
SELECT of the participant and their results, both compiled from the service's
statements) from an ``async def`` endpoint on psycopg's async driver, with none of
InfoCity around them: no unit of work, no validation beyond the body's model, no
translation, no middleware. It is served by ``uvicorn bench.exams_bare:app --workers 2``
and driven by the same clients and demand, so API ÷ bare is what InfoCity's own code
costs on the same stack. A measuring instrument: it answers what the query finds.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.dialects import postgresql

from infocity.core import ratelimit
from infocity.core.security import token_hash
from infocity.education.rules import exams as rules
from infocity.education.schemas.exams import ExamLookup
from infocity.education.service import exams as service

CONNECTIONS = 5  # per process
WINDOW_SECONDS = service.LOOKUP_WINDOW_SECONDS


def _sql(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


HIT = _sql(ratelimit._HIT_KEYS_PG)
LOOKUP = _sql(service.LOOKUP)

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


@app.post("/api/v1/education/exams/results/lookup")
async def look_up(data: ExamLookup, request: Request) -> Any:
    code, number = data.registration_code, data.document_number
    ip = request.client.host if request.client else ""
    connection = await _pool.get()
    try:
        now = datetime.now(UTC)
        epoch = int(now.timestamp())
        window = datetime.fromtimestamp(epoch - epoch % WINDOW_SECONDS, tz=UTC)
        keys = [f"exam-code:{token_hash(code)[:40]}", f"exam-ip:{token_hash(ip)[:40]}"]
        await connection.execute(
            HIT,
            {"keys": keys, "window": window,
             "previous_window": window - timedelta(seconds=WINDOW_SECONDS)},
        )  # fmt: skip
        cursor = await connection.execute(LOOKUP, {"code": code})
        rows = await cursor.fetchall()
    finally:
        _pool.put_nowait(connection)
    stored = rows[0][1] if rows else rules.ABSENT_DIGEST
    if not rows or not hmac.compare_digest(stored, rules.document_digest(code, number)):
        return JSONResponse({"error": {"code": "exam_results_not_found"}}, 404)
    return {
        "registration_code": code,
        "results": [
            {"subject": r[2], "score": r[4], "pass_mark": r[5], "passed": r[4] >= r[5],
             "version": r[3], "published_at": r[6].isoformat()}
            for r in rows if r[2] is not None and r[6] <= now
        ],
    }  # fmt: skip
