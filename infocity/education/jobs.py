"""Periodic jobs of education (run by ``infocity worker``)."""

from __future__ import annotations

from datetime import timedelta

from infocity.core.jobs import periodic
from infocity.education import service


@periodic("education.lapse_kindergarten_offers", every=timedelta(minutes=15))
def lapse_kindergarten_offers() -> int:
    """Return the places of offers not accepted in time; the children stay in the queue."""
    return service.lapse_overdue_offers()
