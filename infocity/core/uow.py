"""Unit of work: one use case, one transaction.

Leaving the ``with`` block always rolls back, so only an explicit ``commit()`` saves.
Work that must happen only once the data is safely stored (waking the worker, say)
is registered with ``after_commit``.

The unit of work checks one connection out of the pool and keeps it to the end, across
commits: a use case that commits twice (a rate-limit count, then the work) pays for one
checkout (and its pre-ping) instead of one per transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from infocity.core.db import RECONNECT, end_transaction, session_factory


class UnitOfWork:
    session: Session

    def __init__(self, factory: sessionmaker[Session] | None = None) -> None:
        self._factory = factory
        self._after_commit: list[Callable[[], None]] = []
        self._depth = 0
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        # Re-entrant: a use case may call a helper that opens the same unit of work;
        # only the outermost block owns the transaction.
        if self._depth == 0:
            factory = self._factory or session_factory()
            bind = factory.kw.get("bind")
            if isinstance(bind, Engine):
                self._connection = bind.connect()
                self.session = factory(bind=self._connection)
                # The pooled connection may have died unseen: the first statement may be
                # retried on a fresh one (``db.RetryingSession``).
                self.session.info[RECONNECT] = self._reconnect
            else:
                self.session = factory()
            self._after_commit = []
        self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            try:
                if self._connection is not None:
                    end_transaction(self._connection)
                self.session.rollback()
                self.session.close()
            finally:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None

    def _reconnect(self) -> None:
        """Move the session, before its first statement ran, to a fresh connection."""
        dead = self._connection
        assert dead is not None
        self.session.rollback()
        self.session.close()
        dead.close()
        self._connection = dead.engine.connect()
        self.session.bind = self._connection

    @property
    def outermost(self) -> bool:
        """Inside the outermost ``with`` block: this block owns the transaction."""
        return self._depth == 1

    def commit(self) -> None:
        if self._depth > 1:
            return  # the outer block commits
        self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def rollback(self) -> None:
        self.session.rollback()

    def after_commit(self, hook: Callable[[], None]) -> None:
        self._after_commit.append(hook)
