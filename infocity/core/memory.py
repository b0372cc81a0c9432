"""A server process's long-lived objects kept out of the garbage collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def start_up_frozen() -> Iterator[None]:
    """Freeze what the process built at start-up (routes, models, compiled statements,
    templates: some 300,000 objects) for as long as it runs.

    Those objects live as long as the process, yet every full collection walked all of
    them again: 60-200 ms each, holding the GIL, set off by the allocations of ordinary
    requests and batches (docs/benchmarks.md, "Where the time goes"). Frozen, a
    collection walks only what was made since. Unfrozen at the end: tests start and stop
    many applications and workers in one process.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
