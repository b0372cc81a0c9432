"""Counters of the booking use cases, per process (summed over processes by /metrics when
``infocity serve`` runs several). A use case is counted once it has committed, or once it
has refused with a user's error; nothing is counted for a bug."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal, ParamSpec, Protocol, TypeVar

from prometheus_client import Counter

from infocity.core.errors import AppError

BOOKINGS = Counter(
    "infocity_health_bookings_total", "Appointments booked, by channel.", ["channel"]
)
BOOKINGS_REFUSED = Counter(
    "infocity_health_bookings_refused_total",
    "Booking attempts refused, by the error code the user was shown.",
    ["code"],
)
CANCELLATIONS = Counter("infocity_health_cancellations_total", "Appointments cancelled.")
MOVES = Counter("infocity_health_moves_total", "Appointments moved to another slot.")
MOVES_REFUSED = Counter(
    "infocity_health_moves_refused_total",
    "Attempts to move an appointment refused, by error code.",
    ["code"],
)


class _HasChannel(Protocol):
    @property
    def channel(self) -> str: ...


P = ParamSpec("P")
R = TypeVar("R", bound=_HasChannel)


def counted(kind: Literal["book", "cancel", "move"]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Count each call of the decorated use case by its outcome."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                result = func(*args, **kwargs)
            except AppError as exc:
                if kind == "book":
                    BOOKINGS_REFUSED.labels(exc.code).inc()
                elif kind == "move":
                    MOVES_REFUSED.labels(exc.code).inc()
                raise
            if kind == "book":
                BOOKINGS.labels(result.channel).inc()
            elif kind == "cancel":
                CANCELLATIONS.inc()
            else:
                MOVES.inc()
            return result

        return run

    return decorate
