"""Periodic jobs of housing and utilities (run by ``infocity worker``)."""

from __future__ import annotations

from datetime import timedelta

from infocity.core.jobs import periodic
from infocity.housing import service


@periodic("housing.generate_bills", every=timedelta(hours=6), lease=timedelta(hours=1))
def generate_bills() -> int:
    """Bill the latest month whose readings window has closed; a month already billed
    makes nothing new (unique apartment and period), so running every few hours bills
    each month once, soon after its window closes."""
    return service.generate_last_month_bills().created
