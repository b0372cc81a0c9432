"""The SQL statements a piece of code sends (counted, never timed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from infocity.core.db import get_engine

# SQLite's driver sends these as statements; psycopg does not: neither is counted.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements_of(run: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What ``run`` returned and the statements it sent through the app's engine (other
    than the transactions' own)."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, _parameters: object,
               _context: object, _many: bool) -> None:  # fmt: skip
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            sent.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        result = run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return result, sent
