"""Rate limits kept in the database, so that they hold across every process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from prometheus_client import Counter as MetricCounter
from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from infocity.core.db import fetch_rows, get_engine, lost_connection, utcnow
from infocity.core.errors import RateLimited
from infocity.core.i18n import N_
from infocity.core.models import RateLimitCounter
from infocity.core.sql import upsert_insert

_TABLE = cast(Table, RateLimitCounter.__table__)
T = TypeVar("T")

REFUSALS = MetricCounter(
    "infocity_rate_limit_refusals_total",
    "Attempts refused by a rate limit, by limit (the key's prefix, never the client).",
    ["limit"],
)

# Several keys counted in one statement on PostgreSQL (one round trip): the upsert of this
# window's rows and, joined to what it returns, the previous window's counts. A key given n
# times counts n (an upsert may not touch one row twice, so the keys are grouped first).
_HIT_KEYS_PG = text(
    "WITH wanted AS (SELECT k, count(*) AS n FROM unnest(CAST(:keys AS text[])) AS k "
    "GROUP BY k), "
    "hit AS (INSERT INTO rate_limit_counters (key, window_start, count) "
    "SELECT k, :window, n FROM wanted "
    "ON CONFLICT (key, window_start) "
    "DO UPDATE SET count = rate_limit_counters.count + excluded.count "
    "RETURNING key, count) "
    "SELECT hit.key, hit.count AS hits, previous.count AS previous FROM hit "
    "LEFT JOIN rate_limit_counters AS previous "
    "ON previous.key = hit.key AND previous.window_start = :previous_window"
).bindparams(
    bindparam("window", type_=_TABLE.c.window_start.type),
    bindparam("previous_window", type_=_TABLE.c.window_start.type),
)


@dataclass(frozen=True)
class Limit:
    """One key counted by ``hit_many`` and its limit in the window."""

    key: str
    limit: int


def _window_start(now: datetime, window_seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, tz=now.tzinfo)


def _upsert_statement(dialect: str, key: str, window: datetime) -> Any:
    dialect_insert = upsert_insert(dialect)
    return (
        dialect_insert(_TABLE)
        .values(key=key, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"count": _TABLE.c.count + 1}
        )
        .returning(_TABLE.c.count)
    )


def _refuse_over(
    key: str,
    count: int,
    previous: int | None,
    limit: int,
    window: datetime,
    window_seconds: int,
    now: datetime,
) -> None:
    still_counted = 1 - (now - window).total_seconds() / window_seconds
    if count + (previous or 0) * still_counted > limit:
        retry_after = int((window + timedelta(seconds=window_seconds) - now).total_seconds()) + 1
        # Keys are "<limit>:<who>"; only the limit is a label, so the series stay few.
        REFUSALS.labels(key.partition(":")[0]).inc()
        raise RateLimited(
            "rate_limited",
            N_("Too many attempts. Please try again in %(minutes)s min."),
            minutes=max(1, (retry_after + 59) // 60),
        )


def _once_more_if_disconnected(work: Callable[[], T]) -> T:
    """Run ``work``; if the pooled connection it took was dead (PostgreSQL restarted),
    once more: SQLAlchemy has replaced the pool by then. At worst an attempt is counted
    twice, which a limit can afford."""
    try:
        return work()
    except DBAPIError as exc:
        if not lost_connection(exc):
            raise
        return work()


def hit(key: str, *, limit: int, window_seconds: int, now: datetime | None = None) -> int:
    """Count one attempt for ``key`` and refuse it once ``limit`` is passed in the window.

    Counted in its own committed transaction: a failed login must still count even
    though the use case that failed rolls back. The window slides: the previous fixed
    window's count weighs in by the share of it still inside the last ``window_seconds``
    (a sliding-window counter), so a burst cannot double at a window boundary.
    """
    now = now or utcnow()
    window = _window_start(now, window_seconds)
    engine = get_engine()
    statement = _upsert_statement(engine.dialect.name, key, window)
    previous_window = window - timedelta(seconds=window_seconds)

    def count_it() -> tuple[int, int | None]:
        with engine.begin() as connection:
            count = int(connection.execute(statement).scalar_one())
            previous = connection.execute(
                select(_TABLE.c.count).where(
                    _TABLE.c.key == key, _TABLE.c.window_start == previous_window
                )
            ).scalar_one_or_none()
        return count, previous

    count, previous = _once_more_if_disconnected(count_it)
    _refuse_over(key, count, previous, limit, window, window_seconds, now)
    return count


def peek(key: str, *, window_seconds: int, now: datetime | None = None) -> float:
    """The attempts counted for ``key`` in the last ``window_seconds`` (sliding, as
    ``hit`` weighs them), without counting one."""
    now = now or utcnow()
    window = _window_start(now, window_seconds)
    previous_window = window - timedelta(seconds=window_seconds)

    def read() -> list[Any]:
        with get_engine().connect() as connection:
            return list(
                connection.execute(
                    select(_TABLE.c.window_start, _TABLE.c.count).where(
                        _TABLE.c.key == key, _TABLE.c.window_start.in_((window, previous_window))
                    )
                ).all()
            )

    rows = _once_more_if_disconnected(read)
    counts: dict[datetime, int] = {start: int(count) for start, count in rows}
    still_counted = 1 - (now - window).total_seconds() / window_seconds
    return counts.get(window, 0) + counts.get(previous_window, 0) * still_counted


def hit_many(
    session: Session, limits: Sequence[Limit], *, window_seconds: int, now: datetime | None = None
) -> None:
    """``hit`` for several distinct keys at once, counted and committed in ``session``
    (which must have nothing else to commit): every key counts, then the first key over
    its limit refuses.

    On PostgreSQL one statement counts them all. A unit of work keeps its connection
    across commits, so the use case that goes on in the same session needs no second
    checkout from the pool; the counts are committed before this returns, so a use case
    that fails afterwards still counted.
    """
    if not limits:
        return
    now = now or utcnow()
    window = _window_start(now, window_seconds)
    previous_window = window - timedelta(seconds=window_seconds)
    counts: dict[str, tuple[int, int | None]] = {}
    if session.get_bind().dialect.name == "postgresql":
        # Committed by itself: one round trip (the session's transaction has not begun).
        rows = fetch_rows(
            session,
            _HIT_KEYS_PG,
            {
                "keys": [limit.key for limit in limits],
                "window": window,
                "previous_window": previous_window,
            },
            own_transaction=True,
        )
        counts = {row.key: (int(row.hits), row.previous) for row in rows}
    else:
        for limit in limits:
            count = session.execute(_upsert_statement("sqlite", limit.key, window)).scalar_one()
            previous = session.execute(
                select(_TABLE.c.count).where(
                    _TABLE.c.key == limit.key, _TABLE.c.window_start == previous_window
                )
            ).scalar_one_or_none()
            counts[limit.key] = (int(count), previous)
        session.commit()
    for limit in limits:
        count, previous = counts[limit.key]
        _refuse_over(limit.key, count, previous, limit.limit, window, window_seconds, now)


def hit_each(
    session: Session,
    attempts: Sequence[Sequence[Limit]],
    *,
    window_seconds: int,
    now: datetime | None = None,
) -> list[RateLimited | None]:
    """``hit_many`` for each of several attempts at once (a batch of bookings): every key
    of every attempt counts, and each attempt gets the refusal ``hit_many`` would have
    given it had the attempts come one after another in this order (None: let through).

    On PostgreSQL one statement counts the whole batch and commits by itself (the session
    must have no transaction in progress); elsewhere the attempts are counted one by one.
    """
    now = now or utcnow()
    if session.get_bind().dialect.name != "postgresql":
        refusals: list[RateLimited | None] = []
        for limits in attempts:
            try:
                hit_many(session, limits, window_seconds=window_seconds, now=now)
            except RateLimited as exc:
                refusals.append(exc)
            else:
                refusals.append(None)
        return refusals
    keys = [limit.key for limits in attempts for limit in limits]
    if not keys:
        return [None] * len(attempts)
    window = _window_start(now, window_seconds)
    previous_window = window - timedelta(seconds=window_seconds)
    rows = fetch_rows(
        session,
        _HIT_KEYS_PG,
        {"keys": keys, "window": window, "previous_window": previous_window},
        own_transaction=True,
    )
    totals = {row.key: (int(row.hits), row.previous) for row in rows}
    # The j-th of n hits of a key in this batch saw the count before the later ones.
    later = Counter(keys)
    answers: list[RateLimited | None] = []
    for limits in attempts:
        counts: dict[str, tuple[int, int | None]] = {}
        for limit in limits:
            total, previous = totals[limit.key]
            later[limit.key] -= 1
            counts[limit.key] = (total - later[limit.key], previous)
        try:
            for limit in limits:
                count, previous = counts[limit.key]
                _refuse_over(limit.key, count, previous, limit.limit, window, window_seconds, now)
        except RateLimited as exc:
            answers.append(exc)
        else:
            answers.append(None)
    return answers


def purge_expired(older_than: timedelta = timedelta(days=1)) -> int:
    """Delete counters of windows long gone (a periodic job)."""
    with get_engine().begin() as connection:
        result = connection.execute(
            _TABLE.delete().where(_TABLE.c.window_start < utcnow() - older_than)
        )
        return result.rowcount
