"""Unit of work: one use case, one transaction.

Leaving the ``with`` block always rolls back, so only an explicit ``commit()`` saves.
Work that must happen only once the data is safely stored (waking the worker, say)
is registered with ``after_commit``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from infocity.core.db import session_factory


class UnitOfWork:
    session: Session

    def __init__(self, factory: sessionmaker[Session] | None = None) -> None:
        self._factory = factory
        self._after_commit: list[Callable[[], None]] = []
        self._depth = 0

    def __enter__(self) -> Self:
        # Re-entrant: a use case may call a helper that opens the same unit of work;
        # only the outermost block owns the transaction.
        if self._depth == 0:
            factory = self._factory or session_factory()
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
            self.session.rollback()
            self.session.close()

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
