"""Periodic jobs of medical appointments (run by ``infocity worker``)."""

from __future__ import annotations

from datetime import timedelta

from infocity.core.jobs import periodic
from infocity.health import service
from infocity.health.fhir import publish


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


@periodic(
    "health.publish_scheduling_files",
    every=timedelta(seconds=publish.PUBLISH_SECONDS),
    lease=timedelta(seconds=publish.PUBLISH_SECONDS),
)
def publish_scheduling_files() -> int:
    """Write the period's SMART Scheduling Links files (FHIR ``$bulk-publish``) once, for
    every request of the period to send (nothing when no publication directory is set)."""
    return publish.write_publication()
