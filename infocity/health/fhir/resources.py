"""Health's records as FHIR R4 resources (plain JSON dicts): pure mapping, no I/O.

Ids are health's own: Organization and Location ``{clinic id}`` (a polyclinic is one
building), HealthcareService ``{specialty id}``, Practitioner, PractitionerRole and
Schedule ``{practitioner post id}`` (one post, one schedule), Slot ``{slot id}``,
Appointment ``{appointment id}``, Patient ``{person id}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infocity.health.schemas import (
    AppointmentDetailsRead,
    ClinicRead,
    DoctorRead,
    PatientRead,
    SlotRead,
    SpecialtyRead,
)

Resource = dict[str, Any]

SPECIALTY_SYSTEM = "urn:infocity:health:specialty"
TICKET_SYSTEM = "urn:infocity:health:ticket"
OMS_POLICY_SYSTEM = "urn:infocity:oms-policy"
BOOKING_DEEP_LINK = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
SLOT_CAPACITY = "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity"

# Health's appointment states as FHIR's Appointment.status.
APPOINTMENT_STATUS = {
    "booked": "booked",
    "cancelled_by_patient": "cancelled",
    "cancelled_by_clinic": "cancelled",
    "rescheduled": "cancelled",
    "attended": "fulfilled",
    "no_show": "noshow",
}


def instant(value: datetime) -> str:
    """An instant as FHIR writes it: ISO 8601 with its offset (stored in UTC)."""
    return value.isoformat()


def ref(kind: str, id_: int, display: str | None = None) -> Resource:
    reference: Resource = {"reference": f"{kind}/{id_}"}
    if display:
        reference["display"] = display
    return reference


def specialty_concept(specialty: SpecialtyRead) -> Resource:
    return {
        "coding": [
            {"system": SPECIALTY_SYSTEM, "code": specialty.code, "display": specialty.name_en}
        ],
        "text": specialty.name,
    }


def organization(clinic: ClinicRead) -> Resource:
    resource: Resource = {
        "resourceType": "Organization",
        "id": str(clinic.id),
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                        "display": "Healthcare Provider",
                    }
                ]
            }
        ],
        "name": clinic.name,
    }
    if clinic.name_en:
        resource["alias"] = [clinic.name_en]
    if clinic.address:
        resource["address"] = [{"text": clinic.address}]
    if clinic.parent_clinic_id:
        resource["partOf"] = ref("Organization", clinic.parent_clinic_id)
    return resource


def location(clinic: ClinicRead) -> Resource:
    resource: Resource = {
        "resourceType": "Location",
        "id": str(clinic.id),
        "status": "active",
        "mode": "instance",
        "name": clinic.name,
        "managingOrganization": ref("Organization", clinic.id, clinic.name),
    }
    if clinic.name_en:
        resource["alias"] = [clinic.name_en]
    if clinic.address:
        resource["address"] = {"text": clinic.address}
    return resource


def healthcare_service(specialty: SpecialtyRead) -> Resource:
    by_referral = specialty.booking_mode == "referral"
    return {
        "resourceType": "HealthcareService",
        "id": str(specialty.id),
        "active": True,
        "name": specialty.name,
        "type": [specialty_concept(specialty)],
        "specialty": [specialty_concept(specialty)],
        "appointmentRequired": True,
        "comment": "By referral from the patient's doctor" if by_referral else "Direct booking",
    }


def practitioner(doctor: DoctorRead) -> Resource:
    return {
        "resourceType": "Practitioner",
        "id": str(doctor.id),
        "active": True,
        "name": [{"text": doctor.name}],
    }


def practitioner_role(doctor: DoctorRead, specialty: SpecialtyRead) -> Resource:
    return {
        "resourceType": "PractitionerRole",
        "id": str(doctor.id),
        "active": True,
        "practitioner": ref("Practitioner", doctor.id, doctor.name),
        "organization": ref("Organization", doctor.clinic_id),
        "location": [ref("Location", doctor.clinic_id)],
        "specialty": [specialty_concept(specialty)],
        "healthcareService": [ref("HealthcareService", specialty.id, specialty.name)],
    }


def schedule(doctor: DoctorRead, specialty: SpecialtyRead) -> Resource:
    resource: Resource = {
        "resourceType": "Schedule",
        "id": str(doctor.id),
        "active": True,
        "serviceType": [specialty_concept(specialty)],
        "specialty": [specialty_concept(specialty)],
        "actor": [
            ref("Practitioner", doctor.id, doctor.name),
            ref("Location", doctor.clinic_id),
        ],
    }
    if doctor.room:
        resource["comment"] = f"Room {doctor.room}"
    return resource


def slot(
    found: SlotRead,
    specialty: SpecialtyRead,
    *,
    booking_url: str | None = None,
    status: str = "free",
) -> Resource:
    """A time (free, or ``busy`` when read by id once taken); ``booking_url``: the
    portal's page that books it (SMART Scheduling Links), with its capacity (one patient)."""
    resource: Resource = {
        "resourceType": "Slot",
        "id": str(found.id),
        "schedule": ref("Schedule", found.practitioner_id, found.practitioner_name),
        "status": status,
        "start": instant(found.starts_at),
        "end": instant(found.ends_at),
        "serviceType": [specialty_concept(specialty)],
    }
    if booking_url:
        resource["extension"] = [
            {"url": BOOKING_DEEP_LINK, "valueUrl": booking_url},
            {"url": SLOT_CAPACITY, "valueInteger": 1},
        ]
    return resource


def appointment(found: AppointmentDetailsRead) -> Resource:
    resource: Resource = {
        "resourceType": "Appointment",
        "id": str(found.id),
        "identifier": [{"system": TICKET_SYSTEM, "value": found.ticket_number}],
        "status": APPOINTMENT_STATUS[found.status],
        "serviceType": [specialty_concept(found.specialty)],
        "start": instant(found.starts_at),
        "end": instant(found.ends_at),
        "created": instant(found.created_at),
        "slot": [ref("Slot", found.slot_id)],
        "participant": [
            {
                "actor": ref("Patient", found.person_id, found.patient_name),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": ref("Practitioner", found.practitioner_id, found.doctor),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": ref("Location", found.clinic_id, found.clinic.name),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    where = ", ".join(x for x in (found.clinic.address, found.room and f"room {found.room}") if x)
    if where:
        resource["comment"] = where
    if found.cancelled_at and resource["status"] == "cancelled":
        resource["cancelationReason"] = {"text": found.status}
    return resource


def proposed_appointment(
    found: SlotRead,
    specialty: SpecialtyRead,
    clinic: Resource,
    patient_id: int,
    referral_id: int | None,
) -> Resource:
    """A time the patient may book, as ``$find`` offers it: send it back to ``$book``
    (or POST it as an Appointment) to book it. ``clinic``: its Location reference."""
    resource: Resource = {
        "resourceType": "Appointment",
        "status": "proposed",
        "serviceType": [specialty_concept(specialty)],
        "start": instant(found.starts_at),
        "end": instant(found.ends_at),
        "slot": [ref("Slot", found.id)],
        "participant": [
            {"actor": ref("Patient", patient_id), "required": "required", "status": "needs-action"},
            {
                "actor": ref("Practitioner", found.practitioner_id, found.practitioner_name),
                "required": "required",
                "status": "accepted",
            },
            {"actor": clinic, "required": "required", "status": "accepted"},
        ],
    }
    if found.room:
        resource["comment"] = f"room {found.room}"
    if referral_id is not None:
        resource["basedOn"] = [ref("ServiceRequest", referral_id)]
    return resource


def patient(person: PatientRead) -> Resource:
    resource: Resource = {
        "resourceType": "Patient",
        "id": str(person.id),
        "active": True,
        "name": [{"text": person.name}],
    }
    if person.birth_date:
        resource["birthDate"] = person.birth_date.isoformat()
    if person.sex:
        resource["gender"] = person.sex
    return resource
