"""Periodic jobs of education (run by ``infocity worker``); thin: each calls the service."""

from __future__ import annotations

from datetime import timedelta

from infocity.core.auth import SYSTEM
from infocity.core.jobs import periodic
from infocity.education import service


@periodic("education.lapse_kindergarten_offers", every=timedelta(minutes=15))
def lapse_kindergarten_offers() -> int:
    """Return the places of offers not accepted in time; the children stay in the queue."""
    return service.lapse_overdue_offers()


# Prompt, as every job that tells people: never behind a long job of another service.
# Each bounds its own batches, so it runs once a period.
@periodic("education.kindergarten_notices", every=timedelta(minutes=1), prompt=True)
def kindergarten_offer_notices() -> int:
    """Tell the parents of the places an allocation run offered, in batches; the number
    told."""
    return service.notify_kindergarten_offers(SYSTEM)


@periodic("education.exam_publications", every=timedelta(minutes=1), prompt=True)
def exam_publications() -> int:
    """Announce the exam results whose publication time has passed (one event each),
    then tell their subscribers in small batches; the number told."""
    service.announce_exam_publications(SYSTEM)
    return service.notify_exam_subscribers(SYSTEM)
