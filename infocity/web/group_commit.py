"""Group commit: requests of one kind that arrive together, handled together.

A server process collects the requests given to ``GroupCommit.submit`` for at most
``window`` seconds (or until ``size`` have come), then hands them to one call of a
synchronous function in the booking threads, which answers each; the next batch
collects while one runs, so the busier the process, the fuller its batches. When
requests come one at a time, each waits at most the window.

Used for the kiosk bookings of a release rush (``health.service.book_many_by_policy``):
one transaction and one commit for a batch instead of one each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio
import anyio.to_thread

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class GroupCommit(Generic[Item, Answer]):
    """Collects items and hands them in batches to ``handle``, which returns, for each
    item in order, its answer or the exception to raise to its caller."""

    def __init__(
        self,
        handle: Callable[[Sequence[Item]], Sequence[Answer | Exception]],
        *,
        window: float,
        size: int,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> None:
        self._handle = handle
        self._window = window
        self._size = size
        self._limiter = limiter
        self._waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches ran (tests, figures)
        self.largest = 0  # the largest batch

    async def submit(self, item: Item) -> Answer:
        """Have ``item`` handled in the next batch; its answer (or its exception)."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        """Run batches while items wait: the first waits out the window (unless full)."""
        while self._waiting:
            if len(self._waiting) < self._size:
                await asyncio.sleep(self._window)
            batch, self._waiting = self._waiting[: self._size], self._waiting[self._size :]
            self.batches += 1
            self.largest = max(self.largest, len(batch))
            items = [item for item, _ in batch]
            try:
                answers = await anyio.to_thread.run_sync(self._handle, items, limiter=self._limiter)
            except Exception as exc:
                answers = [exc] * len(batch)
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # the caller went away
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
