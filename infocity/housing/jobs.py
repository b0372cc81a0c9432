"""Periodic jobs of housing and utilities (run by ``infocity worker``)."""

from __future__ import annotations

from datetime import timedelta

from infocity.core.jobs import periodic
from infocity.housing import service


@periodic("housing.generate_bills", every=timedelta(hours=6), lease=timedelta(hours=1))
def generate_bills() -> int:
    """Bill the latest month whose readings window has closed; a month already billed
    makes nothing new (unique apartment and period), so running every few hours bills
    each month once, soon after its window closes.

    Apartments that could not be billed fail the run after the others' bills are saved,
    so the run's record names them; the next run tries them again."""
    run = service.generate_last_month_bills()
    if run.failed:
        raise ApartmentsNotBilled(
            f"{len(run.failed)} apartments not billed for {run.period:%Y-%m} "
            f"({run.created} billed): "
            + "; ".join(f"apartment {f.apartment_id}: {f.reason}" for f in run.failed[:20])
        )
    return run.created


@periodic("housing.reading_reminders", every=timedelta(hours=1), lease=timedelta(minutes=30))
def reading_reminders() -> int:
    """Remind residents that the readings window is open, soon after it opens: each
    apartment once per period, in batches until none is left."""
    total = 0
    while True:
        reminded = service.send_reading_reminders()
        total += reminded
        if reminded < service.REMINDER_BATCH:
            return total


class ApartmentsNotBilled(RuntimeError):
    """Raised after a bill run that left apartments unbilled (recorded on the job run)."""
