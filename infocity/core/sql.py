"""Statement helpers every service's SQL shares: a change's row count and the
insert that can say ``ON CONFLICT`` on either database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, Executable
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def dml(session: Session | Connection, statement: Executable) -> CursorResult[Any]:
    """Run an UPDATE, DELETE or INSERT and keep its row count (guarded transitions check it)."""
    return cast(CursorResult[Any], session.execute(statement))


def upsert_insert(target: Session | Connection | Engine | str) -> Callable[[Any], Any]:
    """The ``insert`` of the database behind ``target`` (or of the dialect it names): it
    takes a table or a model and has ``on_conflict_do_nothing``/``_update`` on both
    PostgreSQL and SQLite, the two databases the city runs on."""
    if isinstance(target, Session):
        name = target.get_bind().dialect.name
    elif isinstance(target, str):
        name = target
    else:
        name = target.dialect.name
    return cast(Callable[[Any], Any], pg_insert if name == "postgresql" else sqlite_insert)
