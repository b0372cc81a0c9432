"""Rate limits kept in the database, so that they hold across every process."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from infocity.core.db import get_engine, utcnow
from infocity.core.errors import RateLimited
from infocity.core.i18n import N_
from infocity.core.models import RateLimitCounter


def _window_start(now: datetime, window_seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, tz=now.tzinfo)


def hit(key: str, *, limit: int, window_seconds: int, now: datetime | None = None) -> int:
    """Count one attempt for ``key`` and refuse it once ``limit`` is passed in the window.

    Counted in its own committed transaction: a failed login must still count even
    though the use case that failed rolls back. The window slides: the previous fixed
    window's count weighs in by the share of it still inside the last ``window_seconds``
    (a sliding-window counter), so a burst cannot double at a window boundary.
    """
    now = now or utcnow()
    window = _window_start(now, window_seconds)
    table = RateLimitCounter.__table__
    assert isinstance(table, Table)
    engine = get_engine()
    dialect_insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(table)
        .values(key=key, window_start=window, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"count": table.c.count + 1}
        )
        .returning(table.c.count)
    )
    previous_window = window - timedelta(seconds=window_seconds)
    with engine.begin() as connection:
        count = int(connection.execute(statement).scalar_one())
        previous = connection.execute(
            select(table.c.count).where(table.c.key == key, table.c.window_start == previous_window)
        ).scalar_one_or_none()
    still_counted = 1 - (now - window).total_seconds() / window_seconds
    if count + (previous or 0) * still_counted > limit:
        retry_after = int((window + timedelta(seconds=window_seconds) - now).total_seconds()) + 1
        raise RateLimited(
            "rate_limited",
            N_("Too many attempts. Please try again in %(minutes)s min."),
            minutes=max(1, (retry_after + 59) // 60),
        )
    return count


def purge_expired(older_than: timedelta = timedelta(days=1)) -> int:
    """Delete counters of windows long gone (a periodic job)."""
    table = RateLimitCounter.__table__
    assert isinstance(table, Table)
    with get_engine().begin() as connection:
        result = connection.execute(
            table.delete().where(table.c.window_start < utcnow() - older_than)
        )
        return result.rowcount
