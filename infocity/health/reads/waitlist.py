"""What a citizen sees of the waiting list: the family's places and the join form's choices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Clinic
from infocity.health.reads.base import (
    _booking_home,
    _Clinics,
    _family_patient,
    _slot_details,
    _specialties,
)
from infocity.health.reads.shapes import ClinicInfo, HeldTime, WaitlistPage, WaitlistView


def _held_time(uow: UnitOfWork, entry: Any, now: datetime) -> HeldTime | None:
    if entry.held_slot_id is None or entry.held_until is None or entry.held_until <= now:
        return None  # an expired hold is about to go to the next in line
    slot = _slot_details(uow, entry.held_slot_id)
    return HeldTime(slot.id, slot.starts_at, entry.held_until, slot.doctor, slot.room, slot.clinic)


def my_waitlist(
    actor: Principal | None,
    patient_id: int | None = None,
    specialty_code: str | None = None,
    referral_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> WaitlistPage:
    """The family's waiting-list places (held times first) and the join form's choices
    for one patient."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        patients, patient = _family_patient(uow, actor, patient_id)
        home = _booking_home(uow, patients, patient, now)
        names = {p.id: p.name for p in patients}
        specialties = _specialties(session)
        clinics = _Clinics(uow)
        entries = [
            WaitlistView(
                id=e.id,
                person_id=e.person_id,
                patient_name=names.get(e.person_id, ""),
                specialty=specialties[e.specialty_id],
                clinic=clinics.get(e.clinic_id) if e.clinic_id else None,
                date_from=e.date_from,
                date_to=e.date_to,
                time_from=e.time_from,
                time_to=e.time_to,
                status=e.status,
                priority=e.priority,
                created_at=e.created_at,
                appointment_id=e.appointment_id,
                held=_held_time(uow, e, now) if e.status == "holding" else None,
            )
            for e in service.list_my_waitlist(actor, uow=uow)
        ]
        entries.sort(key=lambda e: (e.held is None, not e.open))  # stable: newest first within
        choices: list[ClinicInfo] = []
        if home.clinic is not None:
            choices.append(home.clinic)
            choices.extend(
                clinics.get(i)
                for i in session.scalars(
                    select(Clinic.id)
                    .where(Clinic.parent_clinic_id == home.clinic.id)
                    .order_by(Clinic.id)
                )
            )
        chosen = None
        if specialty_code:
            chosen = next(
                (o.specialty.id for o in home.specialties if o.specialty.code == specialty_code),
                None,
            )
        return WaitlistPage(
            patients=patients,
            patient=patient,
            specialties=home.specialties,
            clinics=choices,
            entries=entries,
            specialty_id=chosen,
            referral_id=referral_id,
        )
