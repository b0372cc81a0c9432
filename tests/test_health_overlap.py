"""A patient's booked appointments never overlap, whatever the channel: the app, the
kiosk, the registry, a reschedule and a waiting-list hold all meet the same guard (on
SQLite and PostgreSQL). The race of two processes is in test_health_concurrency.py."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infocity.accounts.models import Person
from infocity.core.errors import AppError
from infocity.core.i18n import use_locale
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Appointment, Slot
from infocity.health.schemas import (
    AnonymousBookingCreate,
    BookingCreate,
    IdentifiedBookingCreate,
    RegistryBookingCreate,
    RescheduleCreate,
    WaitlistEntryCreate,
)
from tests.builders import make_staff
from tests.health_builders import (
    attach,
    get_slot,
    health_snapshot,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)


@pytest.fixture
def busy(database: str) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """``with busy():`` the block is refused ``patient_busy`` (409, in Russian by
    default) and changes nothing."""

    @contextlib.contextmanager
    def check() -> Iterator[None]:
        before = health_snapshot()
        with pytest.raises(AppError) as caught:
            yield
        refusal = caught.value
        assert (refusal.code, refusal.status) == ("patient_busy", 409)
        with use_locale("ru"):
            assert refusal.translated() == "У вас уже есть запись на это время."
        with use_locale("en"):
            assert refusal.translated() == "You already have an appointment at this time."
        assert health_snapshot() == before

    return check


@pytest.fixture
def day(database: str) -> dict[str, Any]:
    """Tomorrow 09:00-10:00 at one polyclinic: a surgeon and a therapist in 15-minute
    slots, an otolaryngologist in 20-minute ones (09:00, 09:20, 09:40); an attached
    patient."""
    clinic = make_clinic()
    surgeon = make_practitioner(clinic.id, "surgeon")
    therapist = make_practitioner(clinic.id, "therapist")
    ent = make_practitioner(clinic.id, "otolaryngologist")
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    return {
        "clinic": clinic,
        "patient": patient,
        "surgeon": make_slots(surgeon.id),
        "therapist": make_slots(therapist.id),
        "therapist_id": therapist.id,
        "ent": make_slots(ent.id, slot_minutes=20),
    }


def book(patient: Any, slot_id: int) -> Any:
    return service.book_slot(patient.principal, BookingCreate(slot_id=slot_id))


def test_the_app_refuses_a_second_appointment_at_the_same_time(
    day: dict[str, Any], busy: Any
) -> None:
    # Anna: a surgeon at 09:00, then a therapist at 09:00.
    book(day["patient"], day["surgeon"][0])
    with busy():
        book(day["patient"], day["therapist"][0])
    assert get_slot(day["therapist"][0]).status == "free"


def test_a_partial_overlap_is_refused_and_back_to_back_is_allowed(
    day: dict[str, Any], busy: Any
) -> None:
    book(day["patient"], day["surgeon"][1])  # 09:15-09:30
    with busy():
        book(day["patient"], day["ent"][1])  # 09:20-09:40 overlaps it
    # 09:00-09:15 ends as it begins: no overlap.
    assert book(day["patient"], day["therapist"][0]).status == "booked"
    with busy():
        book(day["patient"], day["ent"][0])  # 09:00-09:20 overlaps both


def test_a_cancelled_appointment_frees_the_time(day: dict[str, Any]) -> None:
    first = book(day["patient"], day["surgeon"][0])
    service.cancel_appointment(day["patient"].principal, first.id)
    assert book(day["patient"], day["therapist"][0]).status == "booked"


def test_other_patients_may_book_the_same_time(day: dict[str, Any]) -> None:
    book(day["patient"], day["surgeon"][0])
    other = make_patient()
    assert other.person_id is not None
    attach(other.person_id, day["clinic"].id)
    assert book(other, day["therapist"][0]).status == "booked"


def test_the_kiosk_refuses_it_too(day: dict[str, Any], busy: Any) -> None:
    # Maria: booked in the app, then the kiosk tries the same time with another doctor.
    patient = day["patient"]
    book(patient, day["surgeon"][2])
    with busy():
        service.book_identified_patient(
            patient.person_id, IdentifiedBookingCreate(slot_id=day["therapist"][2])
        )
    profile = person_of(patient)
    with busy():
        service.book_by_policy(
            AnonymousBookingCreate(
                oms_policy=profile["policy"],
                birth_date=profile["birth_date"],
                slot_id=day["ent"][1],  # 09:20-09:40 overlaps 09:30-09:45
            ),
            ip="10.0.0.7",
        )


def person_of(patient: Any) -> dict[str, Any]:
    with UnitOfWork() as uow:
        person = uow.session.get(Person, patient.person_id)
        assert person is not None
        return {"policy": person.oms_policy, "birth_date": person.birth_date}


def test_the_registry_refuses_it_too(day: dict[str, Any], busy: Any) -> None:
    book(day["patient"], day["surgeon"][0])
    registrar = make_staff("registrar", day["clinic"].id)
    with busy():
        service.book_for_patient(
            registrar.principal,
            RegistryBookingCreate(patient_id=day["patient"].person_id, slot_id=day["ent"][0]),
        )


def test_a_reschedule_may_not_land_on_another_appointment(day: dict[str, Any], busy: Any) -> None:
    patient = day["patient"]
    book(patient, day["surgeon"][0])  # 09:00
    therapy = book(patient, day["therapist"][2])  # 09:30
    with busy():
        service.reschedule_appointment(
            patient.principal, therapy.id, RescheduleCreate(slot_id=day["therapist"][0])
        )
    assert get_slot(day["therapist"][2]).status == "booked"  # the old one stands


def test_a_reschedule_may_overlap_the_appointment_it_replaces(day: dict[str, Any]) -> None:
    # Another therapist at the very same time: the old appointment ends as the new begins.
    patient = day["patient"]
    therapy = book(patient, day["therapist"][1])  # 09:15
    colleague = make_practitioner(day["clinic"].id, "therapist")
    same_time = make_slots(colleague.id)[1]
    moved = service.reschedule_appointment(
        patient.principal, therapy.id, RescheduleCreate(slot_id=same_time)
    )
    assert (moved.slot_id, moved.status) == (same_time, "booked")
    assert get_slot(day["therapist"][1]).status in ("free", "held")


def test_accepting_a_waiting_list_hold_is_refused_at_a_busy_time(
    day: dict[str, Any], busy: Any
) -> None:
    patient, clinic_id = day["patient"], day["clinic"].id
    holders = []
    for slot_id in day["therapist"]:  # the therapist's day is full
        holder = make_patient()
        assert holder.person_id is not None
        attach(holder.person_id, clinic_id)
        holders.append((holder, book(holder, slot_id)))
    specialty_id = get_slot(day["therapist"][0]).specialty_id
    entry = service.join_waitlist(patient.principal, WaitlistEntryCreate(specialty_id=specialty_id))
    holder, appointment = holders[0]
    service.cancel_appointment(holder.principal, appointment.id)  # frees 09:00: held for us
    assert get_slot(day["therapist"][0]).held_for_entry_id == entry.id
    # Free when the time was kept; then the patient books the surgeon at 09:00 meanwhile.
    book(patient, day["surgeon"][0])
    with busy():
        service.accept_hold(patient.principal, entry.id)


def test_the_guard_holds_whatever_code_writes(day: dict[str, Any]) -> None:
    # The database itself refuses: an appointment written past the service (as a
    # careless job might) still cannot overlap a booked one.
    first = book(day["patient"], day["surgeon"][0])
    with UnitOfWork() as uow:
        slot = uow.session.get(Slot, day["therapist"][0])
        assert slot is not None
        uow.session.add(
            Appointment(
                slot_id=slot.id,
                clinic_id=slot.clinic_id,
                person_id=first.person_id,
                specialty_id=slot.specialty_id,
                practitioner_id=slot.practitioner_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                channel="app",
                ticket_number="x",
            )
        )
        with pytest.raises(Exception, match="patient_busy"):
            uow.session.flush()


def test_the_waiting_list_never_holds_a_time_the_patient_is_busy_at(day: dict[str, Any]) -> None:
    # The therapist's 09:00 is free, the rest taken; the patient sees the surgeon at 09:00.
    patient, clinic_id = day["patient"], day["clinic"].id
    holders = []
    for slot_id in day["therapist"][1:]:
        holder = make_patient()
        assert holder.person_id is not None
        attach(holder.person_id, clinic_id)
        holders.append((holder, book(holder, slot_id)))
    book(patient, day["surgeon"][0])
    specialty_id = get_slot(day["therapist"][0]).specialty_id
    entry = service.join_waitlist(patient.principal, WaitlistEntryCreate(specialty_id=specialty_id))
    service.release_due_slots()  # the job looks for a time for the entry too
    skipped = get_slot(day["therapist"][0])
    assert (skipped.status, skipped.held_for_entry_id) == ("free", None)
    # 09:30 is freed: the patient is free then, so it is held for them.
    holder, appointment = holders[1]
    service.cancel_appointment(holder.principal, appointment.id)
    held = get_slot(day["therapist"][2])
    assert (held.status, held.held_for_entry_id) == ("held", entry.id)
