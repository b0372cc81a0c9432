"""One reader answers "what are my appointments?" for the API, the pages and the portal:
all of them latest first, or the booked ones from now on, soonest first."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from infocity.health import reads, service
from infocity.health.schemas import BookingCreate
from tests.health_builders import get_slot, make_practitioner, make_slots, make_world


@pytest.fixture
def booked(database: str) -> dict[str, Any]:
    """Tomorrow: a cancelled therapist visit at 09:00, a booked one at 09:30 and a
    surgeon at 11:00."""
    world = make_world()
    patient = world["patient"]
    surgeon = make_practitioner(world["clinic"].id, "surgeon")
    [surgery, *_] = make_slots(surgeon.id, start=time(11, 0), end=time(12, 0))

    def book(slot_id: int) -> int:
        return service.book_slot(patient.principal, BookingCreate(slot_id=slot_id)).id

    cancelled = book(world["slots"][0])
    service.cancel_appointment(patient.principal, cancelled)
    therapist, surgery_id = book(world["slots"][2]), book(surgery)
    return {
        "patient": patient,
        "cancelled": cancelled,
        "therapist": therapist,
        "surgeon": surgery_id,
        "therapist_at": get_slot(world["slots"][2]).starts_at,
    }


def _ids(appointments: list[Any]) -> list[int]:
    return [a.id for a in appointments]


def test_all_appointments_come_latest_first_up_to_the_limit(booked: dict[str, Any]) -> None:
    actor = booked["patient"].principal
    everything = [booked["surgeon"], booked["therapist"], booked["cancelled"]]
    assert _ids(service.list_my_appointments(actor)) == everything
    assert _ids(service.list_my_appointments(actor, limit=1)) == [booked["surgeon"]]


def test_upcoming_are_the_booked_ones_from_now_on_soonest_first(booked: dict[str, Any]) -> None:
    actor, at = booked["patient"].principal, booked["therapist_at"]
    upcoming = service.list_my_appointments(actor, upcoming=True, now=at)
    assert _ids(upcoming) == [booked["therapist"], booked["surgeon"]]  # starting now counts
    later = service.list_my_appointments(actor, upcoming=True, now=at + timedelta(minutes=1))
    assert _ids(later) == [booked["surgeon"]]
    soonest = service.list_my_appointments(actor, upcoming=True, limit=1)
    assert _ids(soonest) == [booked["therapist"]]


def test_the_appointments_page_splits_the_same_rows_as_the_reader(booked: dict[str, Any]) -> None:
    actor, at = booked["patient"].principal, booked["therapist_at"]
    mine = reads.my_appointments(actor, now=at)
    assert _ids(mine.upcoming) == _ids(service.list_my_appointments(actor, upcoming=True, now=at))
    assert _ids(mine.past) == [booked["cancelled"]]
