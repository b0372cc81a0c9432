"""Booking, cancelling and rescheduling through the service, on SQLite and PostgreSQL.

Every refusal is checked for what the user notices: its code, and that nothing was
written (no appointment, no slot taken, no referral used, no message queued).
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from infocity.core.auth import SYSTEM
from infocity.core.errors import AppError, Forbidden
from infocity.core.models import AuditEntry, OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Appointment, Referral, Slot
from infocity.health.schemas import (
    AnonymousBookingCreate,
    BookingCreate,
    RegistryBookingCreate,
    RescheduleCreate,
)
from tests.builders import make_citizen, make_staff
from tests.health_builders import (
    attach,
    city_today,
    get_slot,
    health_snapshot,
    make_child,
    make_clinic,
    make_patient,
    make_practitioner,
    make_referral,
    make_slots,
)


def book(patient: Any, slot_id: int, **kwargs: Any) -> Any:
    now = kwargs.pop("now", None)
    return service.book_slot(patient.principal, BookingCreate(slot_id=slot_id, **kwargs), now=now)


def count_outbox(kind: str) -> int:
    with UnitOfWork() as uow:
        return (
            uow.session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind)
            )
            or 0
        )


# --- Booking -----------------------------------------------------------------------


@pytest.mark.calendar
def test_a_citizen_books_a_free_slot_and_is_told(world: dict[str, Any]) -> None:
    slot_id = world["slots"][0]
    appointment = book(world["patient"], slot_id)
    assert appointment.status == "booked"
    assert appointment.person_id == world["patient"].person_id
    assert appointment.channel == "app"
    assert appointment.ticket_number.endswith("-01")
    assert get_slot(slot_id).status == "booked"
    assert count_outbox("appointment_booked") >= 1
    with UnitOfWork() as uow:
        message = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "appointment_booked")
        ).first()
        assert message is not None
        assert appointment.ticket_number in message.body
        assert message.subject == "Запись к врачу оформлена"


def test_unknown_slot(world: dict[str, Any], unchanged: Any) -> None:
    with unchanged("slot_not_found"):
        book(world["patient"], 10**9)


@pytest.mark.calendar
def test_slot_in_the_past(world: dict[str, Any], unchanged: Any) -> None:
    slot = get_slot(world["slots"][0])
    with unchanged("slot_in_past"):
        book(world["patient"], slot.id, now=slot.starts_at + timedelta(minutes=1))


@pytest.mark.calendar
def test_slot_not_yet_released(world: dict[str, Any], unchanged: Any) -> None:
    slot = get_slot(world["slots"][0])
    with unchanged("slot_not_released"):
        book(world["patient"], slot.id, now=slot.release_at - timedelta(minutes=1))


def test_slot_taken_by_someone_else(world: dict[str, Any], unchanged: Any) -> None:
    book(world["patient"], world["slots"][0])
    other = make_patient()
    attach(other.person_id, world["clinic"].id)  # type: ignore[arg-type]
    with unchanged("slot_taken"):
        book(other, world["slots"][0])


def test_slot_held_for_the_waiting_list(world: dict[str, Any], unchanged: Any) -> None:
    # Holds are made by the waiting list (later work); set one directly here.
    with UnitOfWork() as uow:
        uow.session.execute(update(Slot).where(Slot.id == world["slots"][1]).values(status="held"))
        uow.commit()
    with unchanged("slot_held"):
        book(world["patient"], world["slots"][1])


def test_direct_specialty_only_at_the_attached_clinic(
    world: dict[str, Any], unchanged: Any
) -> None:
    stranger = make_patient()
    with unchanged("not_attached"):
        book(stranger, world["slots"][0])
    elsewhere = make_clinic()
    attach(stranger.person_id, elsewhere.id)  # type: ignore[arg-type]
    with unchanged("not_attached"):
        book(stranger, world["slots"][0])


def test_a_branch_is_part_of_the_attached_clinic(world: dict[str, Any]) -> None:
    branch = make_clinic(parent_clinic_id=world["clinic"].id)
    surgeon = make_practitioner(branch.id, "surgeon")
    slot_id = make_slots(surgeon.id)[0]
    assert book(world["patient"], slot_id).clinic_id == branch.id


def test_active_limit_of_the_specialty(world: dict[str, Any], unchanged: Any) -> None:
    book(world["patient"], world["slots"][0])
    with unchanged("active_limit_reached"):
        book(world["patient"], world["slots"][1])


@pytest.mark.calendar
def test_a_past_appointment_does_not_count_towards_the_limit(world: dict[str, Any]) -> None:
    first = book(world["patient"], world["slots"][0])
    later_day = city_today() + timedelta(days=2)
    later_slot = make_slots(world["therapist"].id, later_day)[0]
    after_first = first.starts_at + timedelta(hours=1)
    assert book(world["patient"], later_slot, now=after_first).status == "booked"


def test_age_is_checked_against_the_clinic(world: dict[str, Any], unchanged: Any) -> None:
    child = make_child(world["patient"])
    with unchanged("age_not_served"):
        book(world["patient"], world["slots"][0], patient_id=child.id)


def test_a_parent_books_for_their_child_not_for_a_stranger(
    world: dict[str, Any], unchanged: Any
) -> None:
    kids = make_clinic("children")
    paediatrician = make_practitioner(kids.id, "paediatrician")
    slot_id = make_slots(paediatrician.id)[0]
    child = make_child(world["patient"])
    attach(child.id, kids.id)
    appointment = book(world["patient"], slot_id, patient_id=child.id)
    assert appointment.person_id == child.id
    assert count_outbox("appointment_booked") >= 1  # the parent hears about it
    stranger = make_patient()  # made outside: signing up queues its confirmation link
    with unchanged("not_your_patient"):
        book(stranger, world["slots"][1], patient_id=world["patient"].person_id)


@pytest.mark.calendar
def test_kiosk_identifies_by_policy_and_birth_date(world: dict[str, Any], unchanged: Any) -> None:
    policy = "7700000000000999"
    patient = make_patient(date(1970, 1, 2), oms_policy=policy)
    attach(patient.person_id, world["clinic"].id)  # type: ignore[arg-type]

    def kiosk(oms_policy: str, birth_date: date) -> Any:
        return service.book_by_policy(
            AnonymousBookingCreate(
                oms_policy=oms_policy, birth_date=birth_date, slot_id=world["slots"][2]
            ),
            ip="10.0.0.1",
        )

    with unchanged("invalid_oms_policy"):
        kiosk("7700-12", date(1970, 1, 2))
    with unchanged("patient_not_found"):
        kiosk(policy, date(1970, 1, 3))  # wrong birth date: same answer as unknown policy
    with unchanged("patient_not_found"):
        kiosk("7700000000000998", date(1970, 1, 2))
    appointment = kiosk("7700 0000 0000 0999", date(1970, 1, 2))
    assert appointment.channel == "kiosk"
    assert appointment.person_id == patient.person_id


# --- Referrals ---------------------------------------------------------------------


@pytest.fixture
def cardiology(world: dict[str, Any]) -> dict[str, Any]:
    cardiologist = make_practitioner(world["clinic"].id, "cardiologist")
    return {**world, "slots": make_slots(cardiologist.id), "cardiologist": cardiologist}


def test_referral_specialty_needs_a_referral(cardiology: dict[str, Any], unchanged: Any) -> None:
    with unchanged("referral_required"):
        book(cardiology["patient"], cardiology["slots"][0])
    referral = make_referral(cardiology["patient"].person_id, cardiology["clinic"].id)
    appointment = book(cardiology["patient"], cardiology["slots"][0], referral_id=referral.id)
    assert appointment.referral_id == referral.id
    with UnitOfWork() as uow:
        stored = uow.session.get(Referral, referral.id)
        assert stored is not None
        assert (stored.status, stored.used_by_appointment_id) == ("used", appointment.id)


@pytest.mark.calendar
def test_expired_referral(cardiology: dict[str, Any], unchanged: Any) -> None:
    slot = get_slot(cardiology["slots"][0])
    # Issued 26 hours before the slot, valid a day: it lapses two hours before the slot,
    # whatever the time of day now (the slot is released already and still ahead then).
    referral = make_referral(
        cardiology["patient"].person_id, cardiology["clinic"].id, valid_days=1,
        now=slot.starts_at - timedelta(hours=26),
    )  # fmt: skip
    assert slot.release_at <= referral.valid_until < slot.starts_at
    with unchanged("referral_expired"):
        book(
            cardiology["patient"], slot.id, referral_id=referral.id,
            now=referral.valid_until + timedelta(minutes=1),
        )  # fmt: skip


@pytest.mark.calendar
def test_used_referral(cardiology: dict[str, Any], unchanged: Any) -> None:
    referral = make_referral(cardiology["patient"].person_id, cardiology["clinic"].id)
    first = book(cardiology["patient"], cardiology["slots"][0], referral_id=referral.id)
    later = make_slots(cardiology["cardiologist"].id, city_today() + timedelta(days=2))[0]
    with unchanged("referral_used"):
        book(
            cardiology["patient"], later, referral_id=referral.id,
            now=first.starts_at + timedelta(hours=1),
        )  # fmt: skip


def test_someone_elses_referral_is_not_found(cardiology: dict[str, Any], unchanged: Any) -> None:
    other = make_patient()
    attach(other.person_id, cardiology["clinic"].id)  # type: ignore[arg-type]
    referral = make_referral(other.person_id, cardiology["clinic"].id)  # type: ignore[arg-type]
    with unchanged("referral_not_found"):
        book(cardiology["patient"], cardiology["slots"][0], referral_id=referral.id)


def test_a_referral_number_no_one_was_given_is_not_found(
    world: dict[str, Any], unchanged: Any
) -> None:
    # Refused as a referral, not as a taken slot: the slot stays free for this patient.
    with unchanged("referral_not_found"):
        book(world["patient"], world["slots"][0], referral_id=10**9)
    assert book(world["patient"], world["slots"][0]).status == "booked"


def test_referral_to_another_specialty(cardiology: dict[str, Any], unchanged: Any) -> None:
    referral = make_referral(
        cardiology["patient"].person_id, cardiology["clinic"].id, "neurologist"
    )
    with unchanged("referral_mismatch"):
        book(cardiology["patient"], cardiology["slots"][0], referral_id=referral.id)


# --- Cancelling --------------------------------------------------------------------


def test_cancel_frees_the_slot_and_gives_the_referral_back(cardiology: dict[str, Any]) -> None:
    patient = cardiology["patient"]
    referral = make_referral(patient.person_id, cardiology["clinic"].id)
    appointment = book(patient, cardiology["slots"][0], referral_id=referral.id)
    cancelled = service.cancel_appointment(patient.principal, appointment.id)
    assert cancelled.status == "cancelled_by_patient"
    assert cancelled.cancelled_at is not None
    assert get_slot(cardiology["slots"][0]).status == "free"
    with UnitOfWork() as uow:
        stored = uow.session.get(Referral, referral.id)
        assert stored is not None
        assert (stored.status, stored.used_by_appointment_id) == ("active", None)
    assert count_outbox("appointment_cancelled") >= 1
    # The slot and the referral can be used again.
    again = book(patient, cardiology["slots"][0], referral_id=referral.id)
    assert again.status == "booked"


@pytest.mark.calendar
def test_cancel_refusals(world: dict[str, Any], unchanged: Any) -> None:
    patient = world["patient"]
    appointment = book(patient, world["slots"][0])
    stranger = make_citizen()  # made outside: signing up queues its confirmation link
    with unchanged("appointment_not_found"):
        service.cancel_appointment(stranger.principal, appointment.id)
    with unchanged("appointment_not_found"):
        service.cancel_appointment(patient.principal, 10**9)
    with unchanged("too_late_to_cancel"):
        service.cancel_appointment(
            patient.principal, appointment.id, now=appointment.starts_at + timedelta(seconds=1)
        )
    service.cancel_appointment(patient.principal, appointment.id)
    with unchanged("appointment_not_active"):
        service.cancel_appointment(patient.principal, appointment.id)


# --- Rescheduling ------------------------------------------------------------------


@pytest.mark.calendar
def test_reschedule_moves_the_appointment_in_one_step(world: dict[str, Any]) -> None:
    patient, (first, second, *_) = world["patient"], world["slots"]
    old = book(patient, first)
    new = service.reschedule_appointment(
        patient.principal, old.id, RescheduleCreate(slot_id=second)
    )
    assert new.rescheduled_from_id == old.id
    assert new.slot_id == second
    assert (get_slot(first).status, get_slot(second).status) == ("free", "booked")
    with UnitOfWork() as uow:
        stored = uow.session.get(Appointment, old.id)
        assert stored is not None
        assert stored.status == "rescheduled"


def test_reschedule_to_a_taken_slot_keeps_the_old_appointment(
    world: dict[str, Any], unchanged: Any
) -> None:
    patient, (first, second, *_) = world["patient"], world["slots"]
    old = book(patient, first)
    other = make_patient()
    attach(other.person_id, world["clinic"].id)  # type: ignore[arg-type]
    book(other, second)
    with unchanged("slot_taken"):
        service.reschedule_appointment(patient.principal, old.id, RescheduleCreate(slot_id=second))
    assert get_slot(first).status == "booked"


def test_reschedule_to_another_specialty(cardiology: dict[str, Any], unchanged: Any) -> None:
    patient = cardiology["patient"]
    therapist_slot = make_slots(cardiology["therapist"].id)[0]
    old = book(patient, therapist_slot)
    with unchanged("reschedule_other_specialty"):
        service.reschedule_appointment(
            patient.principal, old.id, RescheduleCreate(slot_id=cardiology["slots"][0])
        )


def test_reschedule_carries_the_referral(cardiology: dict[str, Any]) -> None:
    patient = cardiology["patient"]
    referral = make_referral(patient.person_id, cardiology["clinic"].id)
    old = book(patient, cardiology["slots"][0], referral_id=referral.id)
    new = service.reschedule_appointment(
        patient.principal, old.id, RescheduleCreate(slot_id=cardiology["slots"][1])
    )
    assert new.referral_id == referral.id
    with UnitOfWork() as uow:
        stored = uow.session.get(Referral, referral.id)
        assert stored is not None
        assert stored.used_by_appointment_id == new.id


# --- Staff -------------------------------------------------------------------------


def test_registrar_books_for_a_patient_of_their_clinic(
    world: dict[str, Any], unchanged: Any
) -> None:
    registrar = make_staff("registrar", world["clinic"].id)
    data = RegistryBookingCreate(patient_id=world["patient"].person_id, slot_id=world["slots"][3])
    appointment = service.book_for_patient(registrar.principal, data)
    assert (appointment.channel, appointment.person_id) == ("registry", world["patient"].person_id)
    with UnitOfWork() as uow:
        actions = uow.session.scalars(select(AuditEntry.action)).all()
    assert "health.appointment.book" in actions
    elsewhere = make_staff("registrar", make_clinic().id)
    with unchanged("forbidden"):
        service.book_for_patient(
            elsewhere.principal,
            RegistryBookingCreate(patient_id=world["patient"].person_id, slot_id=world["slots"][2]),
        )


def test_only_doctors_issue_referrals(world: dict[str, Any]) -> None:
    from infocity.health.schemas import ReferralCreate

    with pytest.raises(Forbidden):
        service.issue_referral(
            world["patient"].principal,
            world["clinic"].id,
            ReferralCreate(person_id=world["patient"].person_id, specialty_code="cardiologist"),
        )


# --- Schedules, slots, attachment --------------------------------------------------


@pytest.mark.calendar
def test_materialising_again_changes_nothing(world: dict[str, Any]) -> None:
    before = health_snapshot()
    tomorrow = city_today() + timedelta(days=1)
    assert service.materialise_slots(tomorrow) == 0
    assert health_snapshot() == before


@pytest.mark.calendar
def test_search_finds_free_released_future_slots(world: dict[str, Any]) -> None:
    from infocity.health.schemas import SlotFilter

    book(world["patient"], world["slots"][0])
    found = service.search_free_slots(
        SlotFilter(specialty_id=world["therapist"].specialty_id, clinic_id=world["clinic"].id)
    )
    assert [s.id for s in found] == world["slots"][1:]
    assert found[0].practitioner_name == world["therapist"].name


@pytest.mark.calendar
def test_search_of_a_polyclinic_takes_the_earliest_of_it_and_its_branches(
    world: dict[str, Any],
) -> None:
    from infocity.health.schemas import SlotFilter

    clinic, therapist = world["clinic"], world["therapist"]
    branch = make_clinic(parent_clinic_id=clinic.id)
    other = make_clinic()  # not a branch: never in the answer
    own = world["slots"]  # 09:00-10:00 at the polyclinic itself
    # The same city day as those (the clock may pass midnight since they were made).
    day = get_slot(own[0]).starts_at.astimezone(get_settings().city_tz).date()
    early = make_slots(make_practitioner(branch.id).id, day, time(8, 30), time(9, 30))
    make_slots(make_practitioner(other.id).id, day, time(8, 0), time(9, 0))
    search = SlotFilter(specialty_id=therapist.specialty_id, clinic_id=clinic.id, limit=4)
    found = service.search_free_slots(search)
    # 08:30 and 08:45 at the branch, then 09:00 at both (ids break the tie).
    assert [s.id for s in found] == early[:2] + sorted([early[2], own[0]])
    everything = service.search_free_slots(search.model_copy(update={"limit": 100}))
    assert sorted(s.id for s in everything) == sorted(early + own)
    assert [s.starts_at for s in everything] == sorted(s.starts_at for s in everything)
    from_branch = service.search_free_slots(search.model_copy(update={"clinic_id": branch.id}))
    assert [s.id for s in from_branch] == early


def test_an_absence_blocks_slots_and_cancels_what_it_hits(world: dict[str, Any]) -> None:
    from infocity.health.schemas import ScheduleExceptionCreate

    appointment = book(world["patient"], world["slots"][0])
    tomorrow = city_today() + timedelta(days=1)
    service.add_schedule_exception(
        SYSTEM,
        ScheduleExceptionCreate(
            practitioner_id=world["therapist"].id, kind="sick_leave",
            date_from=tomorrow, date_to=tomorrow,
        ),
    )  # fmt: skip
    statuses = [get_slot(s).status for s in world["slots"]]
    assert statuses == ["blocked", "blocked", "blocked", "blocked"]
    with UnitOfWork() as uow:
        stored = uow.session.get(Appointment, appointment.id)
        assert stored is not None
        assert stored.status == "cancelled_by_clinic"


@pytest.mark.calendar
def test_expired_holds_go_back_to_the_free_pool(world: dict[str, Any]) -> None:
    from infocity.core.db import utcnow

    with UnitOfWork() as uow:
        uow.session.execute(
            update(Slot)
            .where(Slot.id == world["slots"][1])
            .values(status="held", held_until=utcnow() - timedelta(minutes=1))
        )
        uow.commit()
    assert service.release_due_slots() == 1
    assert get_slot(world["slots"][1]).status == "free"


@pytest.mark.calendar
def test_attachment_changes_once_a_year_and_keeps_history(
    world: dict[str, Any], unchanged: Any
) -> None:
    from infocity.core.db import utcnow

    patient, other = world["patient"], make_clinic()
    with unchanged("attachment_change_too_soon"):
        attach(patient.person_id, other.id)
    attach(patient.person_id, other.id, now=utcnow() + timedelta(days=366))
    current = service.current_attachments(patient.person_id)
    assert [(a.clinic_id, a.valid_to) for a in current] == [(other.id, None)]
    with UnitOfWork() as uow:
        from infocity.health.models import Attachment

        history = uow.session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.person_id == patient.person_id)
        )
    assert history == 2


def test_a_child_is_attached_only_to_a_childrens_clinic(
    world: dict[str, Any], unchanged: Any
) -> None:
    child = make_child(world["patient"])
    with unchanged("wrong_clinic_kind"):
        attach(child.id, world["clinic"].id)


def test_wrong_birth_dates_at_one_terminal_do_not_lock_the_patient_out(
    world: dict[str, Any],
) -> None:
    policy = "7700000000000981"
    patient = make_patient(date(1970, 1, 2), oms_policy=policy)
    attach(patient.person_id, world["clinic"].id)  # type: ignore[arg-type]

    def kiosk(birth_date: date, ip: str) -> Any:
        return service.book_by_policy(
            AnonymousBookingCreate(
                oms_policy=policy, birth_date=birth_date, slot_id=world["slots"][2]
            ),
            ip=ip,
        )

    for _ in range(service.IDENTIFY_PER_POLICY):
        with pytest.raises(AppError, match="patient_not_found"):
            kiosk(date(1970, 1, 3), "10.0.0.66")
    with pytest.raises(AppError, match="rate_limited"):
        kiosk(date(1970, 1, 2), "10.0.0.66")
    appointment = kiosk(date(1970, 1, 2), "10.0.0.1")  # the patient, at another terminal
    assert appointment.person_id == patient.person_id
