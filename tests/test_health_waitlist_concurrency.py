"""A waiting-list hold is given once: however many slots are freed at once and however
many workers run, no slot is held for two entries and no entry holds two slots. Proven
on PostgreSQL (SQLite runs one writer at a time: there is no race to prove)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import time
from typing import Any

import pytest
from sqlalchemy import func, select

from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Slot, WaitlistEntry, WaitlistOffer
from infocity.health.schemas import BookingCreate, WaitlistEntryCreate
from tests.conftest import shared_server
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots
from tests.test_health_concurrency import postgres_only, race


def holds() -> dict[str, Any]:
    """The state of every hold, read from the three places that record it."""
    with UnitOfWork() as uow:
        s = uow.session
        held_slots = s.execute(
            select(Slot.id, Slot.held_for_entry_id).where(Slot.status == "held")
        ).all()
        offers = s.execute(
            select(WaitlistOffer.slot_id, WaitlistOffer.entry_id).where(
                WaitlistOffer.outcome == "held"
            )
        ).all()
        holding = set(s.scalars(select(WaitlistEntry.id).where(WaitlistEntry.status == "holding")))
        free = s.scalar(select(func.count()).select_from(Slot).where(Slot.status == "free"))
    return {"slots": held_slots, "offers": offers, "holding": holding, "free": free}


def assert_one_to_one(state: dict[str, Any], expected: int) -> None:
    slots, offers = state["slots"], state["offers"]
    assert len(slots) == expected
    # No entry holds two slots; no slot is held for two entries.
    assert Counter(entry for _, entry in slots).most_common(1)[0][1] == 1
    assert Counter(slot for slot, _ in offers).most_common(1)[0][1] == 1
    assert Counter(entry for _, entry in offers).most_common(1)[0][1] == 1
    # The slot, the offer and the entry tell the same story.
    assert sorted(slots) == sorted(offers)
    assert {entry for _, entry in slots} == state["holding"]


@pytest.mark.slow
def test_many_cancellations_at_once_hold_each_slot_for_one_entry(database: str) -> None:
    postgres_only(database)
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slot_ids = make_slots(therapist.id, end=time(11, 0), slot_minutes=10)
    assert len(slot_ids) == 12
    appointments = []
    for slot_id in slot_ids:
        holder = make_patient()
        attach(holder.person_id, clinic.id)  # type: ignore[arg-type]
        appointments.append(service.book_slot(holder.principal, BookingCreate(slot_id=slot_id)))
    waiting = 5
    for _ in range(waiting):
        patient = make_patient()
        attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
        entry = service.join_waitlist(
            patient.principal, WaitlistEntryCreate(specialty_id=therapist.specialty_id)
        )
        assert entry.status == "waiting"
    # Every patient cancels at the same moment, through a reminder's one-click link, on
    # two server processes: every cancel offers its slot to the waiting list.
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (
            f"/api/v1/health/appointments/{a.id}/cancel?token="
            + service.appointment_link_token(a.id, "cancel", a.starts_at),
            {},
            {},
        )
        for a in appointments
    ]
    with shared_server(database, processes=2) as base_url:
        results = race(requests, base_url)

    assert Counter(status for status, _ in results) == {200: len(slot_ids)}, results
    state = holds()
    assert_one_to_one(state, waiting)
    assert state["free"] == len(slot_ids) - waiting


@pytest.mark.slow
def test_many_workers_offering_at_once_give_each_entry_one_slot(database: str) -> None:
    postgres_only(database)
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    entries = 10
    for _ in range(entries):
        patient = make_patient()
        attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
        service.join_waitlist(
            patient.principal, WaitlistEntryCreate(specialty_id=therapist.specialty_id)
        )
    # The slots appear after everyone joined (materialised, as the hourly job does):
    # every worker's run now finds ten waiting entries and twelve free slots.
    slot_ids = make_slots(therapist.id, end=time(11, 0), slot_minutes=10)
    workers = 8
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            service.release_due_slots()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    state = holds()
    assert_one_to_one(state, entries)
    assert state["free"] == len(slot_ids) - entries
