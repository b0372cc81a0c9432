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
    """End waiting-list holds that have run out (each slot goes to the next in line) and
    hold free times for waiting entries."""
    return service.release_due_slots()


@periodic("health.send_reminders", every=timedelta(minutes=5))
def send_reminders() -> int:
    """Queue the reminders due (the day before, two hours before), once each."""
    return service.send_due_reminders()
