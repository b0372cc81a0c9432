"""Group commit: requests of one kind that arrive together, handled together.

A server process collects the requests given to ``GroupCommit.submit`` for at most
``window`` seconds (or until ``size`` have come), then hands them to one call of a
synchronous function in a thread of ``limiter``, which answers each. Up to ``lanes``
batches run at once (each on its own thread and database connection): while they all
run, the next batch keeps collecting, so the busier the process, the fuller its batches;
when a lane is free, a batch goes as soon as its window ends. A request that is the only
one of its kind in flight in the process (none waiting, none in a running batch) does
not wait for the window: companions are unlikely to come, and at a few clients a
process every lone request paid the whole window (docs/benchmarks.md, section 2).

Why several lanes: a batch spends most of its time waiting on the database (its count,
its read, its take, its commit). With one batch at a time, a batch that waits for a slot
another process's batch has locked stalls every request of its process; with a few, the
others go on (docs/benchmarks.md, section 2).

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
        lanes: int = 1,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> None:
        self._handle = handle
        self._window = window
        self._size = size
        self._lanes = lanes
        self._limiter = limiter
        self._waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._collector: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._lane_freed: asyncio.Event | None = None
        self._in_flight = 0  # items submitted and not yet answered
        self.batches = 0  # how many batches ran (tests, figures)
        self.largest = 0  # the largest batch

    async def submit(self, item: Item) -> Answer:
        """Have ``item`` handled in the next batch; its answer (or its exception)."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._in_flight += 1
        try:
            if self._collector is None or self._collector.done():
                self._collector = asyncio.create_task(self._collect())
            return await future
        finally:
            self._in_flight -= 1

    async def _collect(self) -> None:
        """Cut batches while items wait: each waits out the window (unless full, or
        its one item is all that is in flight), then for a free lane (collecting
        meanwhile), then runs beside the others."""
        while self._waiting:
            if len(self._waiting) < self._size and self._in_flight > 1:
                await asyncio.sleep(self._window)
            while len(self._running) >= self._lanes:
                self._lane_freed = asyncio.Event()
                await self._lane_freed.wait()
            batch, self._waiting = self._waiting[: self._size], self._waiting[self._size :]
            self.batches += 1
            self.largest = max(self.largest, len(batch))
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._lane_done)

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._lane_freed is not None:
            self._lane_freed.set()

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        """Handle one batch in a thread and answer each of its callers."""
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
