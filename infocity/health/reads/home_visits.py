"""Home visits as the family and the clinic's registry see them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, authorize
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Clinic, Practitioner
from infocity.health.reads.base import (
    REGISTRY_ROLES,
    _audit_patients,
    _Clinics,
    _family_patient,
    _head_clinic,
    _specialties,
    _staff_clinic,
)
from infocity.health.reads.shapes import DoctorOption, HomeVisitQueue, HomeVisitView, MyHomeVisits


def _home_visit_views(
    uow: UnitOfWork, visits: Sequence[Any], names: dict[int, str]
) -> list[HomeVisitView]:
    session = uow.session
    doctor_ids = {v.practitioner_id for v in visits if v.practitioner_id is not None}
    doctors: dict[int, str] = {}
    if doctor_ids:
        doctors = {
            row.id: row.name
            for row in session.execute(
                select(Practitioner.id, Practitioner.name).where(Practitioner.id.in_(doctor_ids))
            )
        }
    clinics = _Clinics(uow)
    return [
        HomeVisitView(
            id=v.id,
            person_id=v.person_id,
            patient_name=names.get(v.person_id, ""),
            address=v.address,
            reason=v.reason,
            contact_phone=v.contact_phone,
            status=v.status,
            doctor=doctors.get(v.practitioner_id) if v.practitioner_id else None,
            clinic=clinics.get(v.clinic_id),
            created_at=v.created_at,
            updated_at=v.updated_at,
        )
        for v in visits
    ]


def my_home_visits(
    actor: Principal | None, patient_id: int | None = None, *, uow: UnitOfWork | None = None
) -> MyHomeVisits:
    """The family's home-visit requests, newest first, and who a new one may be for."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        patients, patient = _family_patient(uow, actor, patient_id)
        visits = service.list_my_home_visits(actor, uow=uow)
        names = {p.id: p.name for p in patients}
        return MyHomeVisits(patients, patient, _home_visit_views(uow, visits, names))


def home_visit_queue(
    actor: Principal | None,
    clinic_id: int | None,
    status: str | None = None,
    *,
    uow: UnitOfWork | None = None,
) -> HomeVisitQueue:
    """A clinic's home-visit requests (filtered by status) with patients' names and the
    doctors who may be sent; every patient shown is recorded in the audit log."""
    actor = authorize(actor, Action.HOME_VISIT_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinics, clinic = _staff_clinic(
            uow, actor, Action.HOME_VISIT_MANAGE, REGISTRY_ROLES, clinic_id
        )
        visits = service.list_home_visit_queue(actor, clinic.id, status=status, uow=uow)
        names = accounts.person_names(session, (v.person_id for v in visits))
        head = _head_clinic(session, clinic.id)
        family = select(Clinic.id).where((Clinic.id == head) | (Clinic.parent_clinic_id == head))
        specialties = _specialties(session)
        doctors = [
            DoctorOption(p.id, f"{p.name} — {specialties[p.specialty_id].name}")
            for p in session.scalars(
                select(Practitioner)
                .where(Practitioner.clinic_id.in_(family), Practitioner.active.is_(True))
                .order_by(Practitioner.name, Practitioner.id)
            )
        ]
        _audit_patients(session, actor, "health.patient.view", names, clinic.id, "home visit queue")
        result = HomeVisitQueue(
            clinics, clinic, status, _home_visit_views(uow, visits, names), doctors
        )
        uow.commit()
        return result
