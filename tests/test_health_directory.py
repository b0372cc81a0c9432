"""The city tunes specialties; a patient who moved may change polyclinic at any time."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from infocity.core.auth import SYSTEM
from infocity.core.db import utcnow
from infocity.core.errors import AppError
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Attachment
from infocity.health.schemas import AttachmentCreate, BookingCreate, SpecialtyUpdate
from tests.builders import make_staff
from tests.health_builders import (
    attach,
    city_today,
    get_slot,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)


def _therapist() -> int:
    return next(s.id for s in service.list_specialties() if s.code == "therapist")


def test_city_admin_raises_the_limit_and_a_patient_may_then_hold_two(database: str) -> None:
    clinic = make_clinic()
    slots = make_slots(make_practitioner(clinic.id, "therapist").id)
    patient = make_patient()
    attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
    service.book_slot(patient.principal, BookingCreate(slot_id=slots[0]))
    with pytest.raises(AppError) as refused:
        service.book_slot(patient.principal, BookingCreate(slot_id=slots[1]))
    assert refused.value.code == "active_limit_reached"

    admin = make_staff("city_admin")
    changed = service.update_specialty(
        admin.principal, _therapist(), SpecialtyUpdate(active_limit=2)
    )
    assert changed.active_limit == 2
    service.book_slot(patient.principal, BookingCreate(slot_id=slots[1]))
    assert get_slot(slots[1]).status == "booked"


def test_only_city_admins_tune_specialties_and_nothing_changes_otherwise(
    database: str,
) -> None:
    clinic = make_clinic()
    registrar = make_staff("registrar", clinic.id)
    before = next(s for s in service.list_specialties() if s.code == "therapist")
    with pytest.raises(AppError) as refused:
        service.update_specialty(registrar.principal, before.id, SpecialtyUpdate(active_limit=5))
    assert refused.value.code == "forbidden"
    with pytest.raises(AppError) as missing:
        service.update_specialty(
            make_staff("city_admin").principal, 10**9, SpecialtyUpdate(active_limit=5)
        )
    assert missing.value.code == "specialty_not_found"
    after = next(s for s in service.list_specialties() if s.code == "therapist")
    assert after == before


@pytest.mark.calendar
def test_a_later_release_time_keeps_unreleased_slots_closed(database: str) -> None:
    clinic = make_clinic()
    practitioner = make_practitioner(clinic.id, "therapist")
    day = city_today() + timedelta(days=20)  # beyond the 14-day horizon: not open yet
    slots = make_slots(practitioner.id, day)
    opens_before = get_slot(slots[0]).release_at
    service.update_specialty(
        make_staff("city_admin").principal,
        _therapist(),
        SpecialtyUpdate(horizon_days=7, release_time=time(9, 30)),
    )
    opens_after = get_slot(slots[0]).release_at
    assert opens_after - opens_before == timedelta(days=7, minutes=90)
    assert opens_after > utcnow()


def test_after_a_move_the_polyclinic_changes_at_once_with_the_new_address(
    database: str,
) -> None:
    first, second = make_clinic(), make_clinic()
    patient = make_patient()
    attach(patient.person_id, first.id)  # type: ignore[arg-type]
    move = AttachmentCreate(
        person_id=patient.person_id,
        clinic_id=second.id,
        reason="address_change",
    )
    with pytest.raises(AppError) as refused:
        service.attach_patient(SYSTEM, move)
    assert refused.value.code == "new_address_required"
    assert [a.clinic_id for a in service.current_attachments(patient.person_id)] == [  # type: ignore[arg-type]
        first.id
    ]

    service.attach_patient(
        SYSTEM, move.model_copy(update={"new_address": "Москва, ул. Тверская, 7, кв. 12"})
    )
    assert [a.clinic_id for a in service.current_attachments(patient.person_id)] == [  # type: ignore[arg-type]
        second.id
    ]
    with UnitOfWork() as uow:
        latest = uow.session.execute(
            select(Attachment.reason, Attachment.new_address)
            .order_by(Attachment.id.desc())
            .limit(1)
        ).one()
    assert tuple(latest) == ("address_change", "Москва, ул. Тверская, 7, кв. 12")


def test_a_booking_counts_as_a_use_of_the_doctor_appointment_e_service(database: str) -> None:
    from infocity.core.models import ServiceUse

    clinic = make_clinic()
    slots = make_slots(make_practitioner(clinic.id, "therapist").id)
    patient = make_patient()
    attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
    service.book_slot(patient.principal, BookingCreate(slot_id=slots[0]))
    with UnitOfWork() as uow:
        uses = uow.session.execute(select(ServiceUse.service_code, ServiceUse.user_id)).all()
    assert [tuple(u) for u in uses] == [("doctor_appointment", patient.id)]
