"""Periodic jobs of medical appointments (run by ``infocity worker``)."""

from __future__ import annotations

from datetime import timedelta

from infocity.core.jobs import periodic
from infocity.health import service


@periodic("health.materialise_slots", every=timedelta(hours=1), lease=timedelta(minutes=30))
def materialise_slots() -> int:
    """Keep every practitioner's slots materialised up to the booking horizon."""
    return service.materialise_horizon()


@periodic("health.release_due_slots", every=timedelta(minutes=1))
def release_due_slots() -> int:
    """Return slots whose hold has expired to the free pool."""
    return service.release_due_slots()
