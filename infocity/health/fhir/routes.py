"""FHIR R4 routes under /fhir/R4 (thin: parse the FHIR request, call one health use case
or read, answer with resources). Errors are OperationOutcomes (``bundles.error_response``,
registered for the prefix by the application)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from pydantic import ValidationError

from infocity.core.auth import SYSTEM, Principal
from infocity.core.db import utcnow
from infocity.core.i18n import gettext
from infocity.core.schemas import MAX_ID
from infocity.health import errors, reads, rules, service
from infocity.health.fhir import resources as fhir
from infocity.health.fhir.bundles import (
    FhirResponse,
    keyset_searchset,
    operation_outcome,
    searchset,
)
from infocity.health.fhir.publish import router as publish_router
from infocity.health.fhir.resources import Resource
from infocity.health.fhir.search import (
    StartRange,
    cursor,
    cursor_of,
    paging,
    reference_id,
    start_range,
    token_code,
)
from infocity.health.fhir.slot_lines import booking_link
from infocity.health.schemas import (
    BookingCreate,
    DoctorRead,
    FhirTokenRead,
    IdentifiedBookingCreate,
    PatientRead,
    SlotRead,
    SpecialtyRead,
)
from infocity.web.deps import api_principal, run_booking

PREFIX = "/fhir/R4"
FHIR_VERSION = "4.0.1"

router = APIRouter(prefix=PREFIX, include_in_schema=False, default_response_class=FhirResponse)

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
Count = Annotated[int | None, Query(alias="_count")]
Offset = Annotated[int | None, Query(alias="_offset")]
T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """Who calls: a client system (its verified token) or a citizen (patient context:
    themself and their children), never both."""

    client: service.FhirClientAccess | None = None
    patient: Principal | None = None

    def may(self, resource: str, access: str) -> Principal:
        """The principal to act as, if this caller may ``access`` the ``resource``: a client
        system acts as the city's own system within its scopes, a citizen as themself."""
        if self.client is not None:
            if not rules.fhir_scope_allows(self.client.scopes, "system", resource, access):
                raise errors.ScopeNotGranted()
            return SYSTEM
        if self.patient is None:
            raise errors.TokenRequired()
        if not rules.fhir_scope_allows(rules.FHIR_PATIENT_SCOPES, "patient", resource, access):
            raise errors.ScopeNotGranted()
        return self.patient


def fhir_caller(request: Request) -> Caller:
    """A client system's token (``fhir.…``) or a citizen's API token, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip().startswith(service.FHIR_TOKEN_PREFIX):
        access = service.fhir_client_access(token.strip())
        if access is None:
            raise errors.InvalidToken()
        return Caller(client=access)
    return Caller(patient=api_principal(request))


Who = Annotated[Caller, Depends(fhir_caller)]

# What the server does, and only that: the CapabilityStatement is built from this table.
INTERACTIONS: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "Organization": (["read", "search-type"], []),
    "Location": (["read", "search-type"], []),
    "HealthcareService": (["read", "search-type"], [("service-type", "token")]),
    "Practitioner": (["read", "search-type"], []),
    "PractitionerRole": (
        ["read", "search-type"],
        [("specialty", "token"), ("location", "reference"), ("practitioner", "reference")],
    ),
    "Schedule": (
        ["read", "search-type"],
        [("service-type", "token"), ("actor", "reference")],
    ),
    "Slot": (
        ["read", "search-type"],
        [
            ("schedule", "reference"),
            ("service-type", "token"),
            ("location", "reference"),
            ("start", "date"),
            ("status", "token"),
        ],
    ),
    "Appointment": (["read", "search-type", "create", "update"], [("patient", "reference")]),
    "Patient": (["read", "search-type"], [("identifier", "token")]),
}
# The Argonaut Scheduling operations, on Appointment.
ARGONAUT = "http://fhir.org/guides/argonaut/scheduling/OperationDefinition/"
OPERATIONS = {
    "Appointment": [
        ("find", f"{ARGONAUT}appointment-find"),
        ("book", f"{ARGONAUT}appointment-book"),
    ]
}


def _page(
    request: Request, items: Sequence[T], to_resource: Callable[[T], Resource], count: int | None,
    offset: int | None,
) -> Resource:  # fmt: skip
    size, start = paging(count, offset)
    chosen = items[start : start + size]
    return searchset(
        request,
        [to_resource(i) for i in chosen],
        offset=start,
        count=size,
        more=len(items) > start + size,
        total=len(items),
    )


def _one(items: Sequence[T], id_: int, key: Callable[[T], int]) -> T:
    for item in items:
        if key(item) == id_:
            return item
    raise errors.ResourceNotFound()


def _specialties() -> dict[int, SpecialtyRead]:
    return {s.id: s for s in service.list_specialties()}


@router.get("/metadata")
def capability_statement(request: Request) -> Resource:
    base = str(request.base_url).rstrip("/") + PREFIX
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": utcnow().date().isoformat(),
        "kind": "instance",
        "software": {"name": "InfoCity"},
        "implementation": {"description": "InfoCity medical appointments", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                            "oauth-uris",
                            "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}],
                        }
                    ],
                    "description": "Appointment and Patient need a bearer token: a client "
                    "system's (POST auth/token, client credentials, system/… scopes) or a "
                    "citizen's (POST /api/v1/auth/token: the patient and their children)",
                },
                "operation": [
                    {
                        "name": "bulk-publish",
                        "definition": "http://fhir-registry.smarthealthit.org/"
                        "OperationDefinition/bulk-publish",
                    }
                ],
                "resource": [
                    {
                        "type": kind,
                        "interaction": [{"code": code} for code in codes],
                        "searchParam": [{"name": n, "type": t} for n, t in params],
                        **(
                            {
                                "operation": [
                                    {"name": n, "definition": d} for n, d in OPERATIONS[kind]
                                ]
                            }
                            if kind in OPERATIONS
                            else {}
                        ),
                    }
                    for kind, (codes, params) in INTERACTIONS.items()
                ],
            }
        ],
    }


# --- Directory --------------------------------------------------------------------------


@router.get("/Organization")
def search_organizations(request: Request, count: Count = None, offset: Offset = None) -> Resource:
    return _page(request, service.list_clinics(), fhir.organization, count, offset)


@router.get("/Organization/{id_}")
def read_organization(id_: IdPath) -> Resource:
    return fhir.organization(_one(service.list_clinics(), id_, lambda c: c.id))


@router.get("/Location")
def search_locations(request: Request, count: Count = None, offset: Offset = None) -> Resource:
    return _page(request, service.list_clinics(), fhir.location, count, offset)


@router.get("/Location/{id_}")
def read_location(id_: IdPath) -> Resource:
    return fhir.location(_one(service.list_clinics(), id_, lambda c: c.id))


@router.get("/HealthcareService")
def search_services(
    request: Request,
    service_type: Annotated[str | None, Query(alias="service-type")] = None,
    count: Count = None,
    offset: Offset = None,
) -> Resource:
    code = token_code(service_type, fhir.SPECIALTY_SYSTEM, "service-type")
    found = [s for s in service.list_specialties() if code is None or s.code == code]
    return _page(request, found, fhir.healthcare_service, count, offset)


@router.get("/HealthcareService/{id_}")
def read_service(id_: IdPath) -> Resource:
    return fhir.healthcare_service(_one(service.list_specialties(), id_, lambda s: s.id))


def _doctors(
    specialty: str | None, location: str | None, practitioner: str | None, name: str
) -> tuple[list[DoctorRead], dict[int, SpecialtyRead]]:
    specialties = _specialties()
    code = token_code(specialty, fhir.SPECIALTY_SYSTEM, name)
    by_code = [s.id for s in specialties.values() if s.code == code]
    if code is not None and not by_code:
        return [], specialties
    doctors = service.list_doctors(
        specialty_id=by_code[0] if by_code else None,
        clinic_id=reference_id(location, "Location", "location"),
        practitioner_id=reference_id(practitioner, "Practitioner", "practitioner"),
    )
    return doctors, specialties


@router.get("/Practitioner")
def search_practitioners(request: Request, count: Count = None, offset: Offset = None) -> Resource:
    return _page(request, service.list_doctors(), fhir.practitioner, count, offset)


@router.get("/Practitioner/{id_}")
def read_practitioner(id_: IdPath) -> Resource:
    return fhir.practitioner(_one(service.list_doctors(practitioner_id=id_), id_, lambda d: d.id))


@router.get("/PractitionerRole")
def search_roles(
    request: Request,
    specialty: str | None = None,
    location: str | None = None,
    practitioner: str | None = None,
    count: Count = None,
    offset: Offset = None,
) -> Resource:
    doctors, specialties = _doctors(specialty, location, practitioner, "specialty")
    return _page(
        request,
        doctors,
        lambda d: fhir.practitioner_role(d, specialties[d.specialty_id]),
        count,
        offset,
    )


@router.get("/PractitionerRole/{id_}")
def read_role(id_: IdPath) -> Resource:
    doctor = _one(service.list_doctors(practitioner_id=id_), id_, lambda d: d.id)
    return fhir.practitioner_role(doctor, _specialties()[doctor.specialty_id])


@router.get("/Schedule")
def search_schedules(
    request: Request,
    service_type: Annotated[str | None, Query(alias="service-type")] = None,
    actor: str | None = None,
    count: Count = None,
    offset: Offset = None,
) -> Resource:
    practitioner = actor if actor is None or not actor.startswith("Location/") else None
    location = actor if actor is not None and actor.startswith("Location/") else None
    doctors, specialties = _doctors(service_type, location, practitioner, "service-type")
    return _page(
        request, doctors, lambda d: fhir.schedule(d, specialties[d.specialty_id]), count, offset
    )


@router.get("/Schedule/{id_}")
def read_schedule(id_: IdPath) -> Resource:
    doctor = _one(service.list_doctors(practitioner_id=id_), id_, lambda d: d.id)
    return fhir.schedule(doctor, _specialties()[doctor.specialty_id])


# --- Free times -------------------------------------------------------------------------


def _slot(found: SlotRead, specialties: dict[int, SpecialtyRead], free: bool = True) -> Resource:
    return fhir.slot(
        found,
        specialties[found.specialty_id],
        booking_url=booking_link(found.id) if free else None,
        status="free" if free else "busy",
    )


@router.get("/Slot")
def search_slots(
    request: Request,
    schedule: str | None = None,
    service_type: Annotated[str | None, Query(alias="service-type")] = None,
    location: str | None = None,
    start: Annotated[list[str] | None, Query()] = None,
    status: str | None = None,
    count: Count = None,
    offset: Offset = None,
    position: Annotated[str | None, Query(alias="_cursor")] = None,
) -> Resource:
    """Free times earliest first, paged by position: each page is one indexed read from
    where the last one ended (the next link's ``_cursor``), never an offset."""
    if offset is not None:
        raise errors.InvalidSearch("_offset")
    size, _ = paging(count, None)
    clinic_id = reference_id(location, "Location", "location")
    practitioner_id = reference_id(schedule, "Schedule", "schedule")
    code = token_code(service_type, fhir.SPECIALTY_SYSTEM, "service-type")
    if practitioner_id is None and code is None and clinic_id is None:
        raise errors.SearchTooBroad()
    when = start_range(start or [])
    after = cursor(position)
    found: list[SlotRead] = []
    specialties: dict[int, SpecialtyRead] = {}
    if size and (status is None or "free" in status.split(",")):  # only free times
        found, specialties = service.search_published_slots(
            specialty_code=code,
            clinic_id=clinic_id,
            practitioner_id=practitioner_id,
            starts_from=when.after,
            starts_before=when.before,
            after=after,
            limit=size + 1,
        )
    page = found[:size]
    more = len(found) > size
    last = service.SlotPage(page[-1].starts_at, page[-1].id) if more else None
    return keyset_searchset(
        request, [_slot(s, specialties) for s in page], cursor_of(last) if last else None
    )


@router.get("/Slot/{id_}")
def read_slot(id_: IdPath) -> Resource:
    """A slot by id: ``free`` with its booking link while it may be booked, else ``busy``."""
    found = service.published_slot(id_)
    if found is None:
        raise errors.ResourceNotFound()
    slot, specialty, free = found
    return _slot(slot, {specialty.id: specialty}, free)


# --- Appointments and patients (a bearer token) -----------------------------------------


def _offered(choice: reads.SlotChoice, when: StartRange) -> list[SlotRead]:
    """The free times of a patient's choice in the range, earliest first."""
    return sorted(
        (
            SlotRead(
                id=slot.id,
                clinic_id=doctor.clinic.id,
                practitioner_id=doctor.practitioner_id,
                practitioner_name=doctor.name,
                room=doctor.room,
                specialty_id=choice.specialty.id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
            )
            for day in choice.days
            for doctor in day.doctors
            for slot in doctor.slots
            if (when.after is None or slot.starts_at >= when.after)
            and (when.before is None or slot.starts_at < when.before)
        ),
        key=lambda s: (s.starts_at, s.id),
    )


@router.get("/Appointment/$find")
def find_appointments(
    request: Request,
    who: Who,
    patient: str | None = None,
    service_type: Annotated[str | None, Query(alias="service-type")] = None,
    referral: str | None = None,
    start: str | None = None,
    end: str | None = None,
    count: Count = None,
) -> Resource:
    """The times this patient may book in a specialty (age, sex, polyclinic, referral:
    what the app offers them), as proposed Appointments to send to ``$book``; why none
    is offered, as an OperationOutcome entry."""
    actor = who.may("Appointment", "write")
    person_id = reference_id(patient, "Patient", "patient")
    code = token_code(service_type, fhir.SPECIALTY_SYSTEM, "service-type")
    if code is None:
        raise errors.InvalidSearch("service-type")
    referral_id = reference_id(referral, "ServiceRequest", "referral")
    size, _ = paging(count, None)
    when = StartRange(
        start_range([f"ge{start}"]).after if start else None,
        start_range([f"lt{end}"]).before if end else None,
    )
    if who.client is None:
        choice = reads.slot_choice(actor, person_id, code, referral_id)
    elif person_id is None:
        raise errors.InvalidSearch("patient")
    else:
        choice = reads.client_slots(who.client, person_id, code, referral_id)
    clinic = fhir.ref("Location", choice.clinic.id, choice.clinic.name) if choice.clinic else {}
    proposed = [
        fhir.proposed_appointment(s, choice.specialty, clinic, choice.patient.id, referral_id)
        for s in _offered(choice, when)[:size]
    ]
    bundle = keyset_searchset(request, proposed, None)
    if choice.problem:
        outcome = operation_outcome(200, "nothing_offered", gettext(choice.problem))
        bundle["entry"].append({"resource": outcome, "search": {"mode": "outcome"}})
    return bundle


@router.post("/Appointment/$book")
async def book_appointment(
    request: Request, who: Who, body: Annotated[dict[str, Any], Body()]
) -> Resource:
    """Book the Slot of a proposed Appointment (``$find``'s, in a Parameters resource
    as ``appt-resource``, or on its own): the same booking as creating an Appointment."""
    actor = who.may("Appointment", "write")
    if body.get("resourceType") == "Parameters":
        given = [
            p.get("resource")
            for p in body.get("parameter") or []
            if isinstance(p, dict) and p.get("name") == "appt-resource"
        ]
        if len(given) != 1 or not isinstance(given[0], dict):
            raise errors.InvalidResource("Parameters.appt-resource")
        body = given[0]
    data = _booking_of(body)
    booked = await run_booking(request, lambda: _book(who, actor, data))
    return keyset_searchset(request, [fhir.appointment(reads.my_appointment(actor, booked))], None)


@router.get("/Appointment/{id_}")
def read_appointment(id_: IdPath, who: Who) -> Resource:
    return fhir.appointment(reads.my_appointment(who.may("Appointment", "read"), id_))


@router.get("/Appointment")
def search_appointments(
    request: Request,
    who: Who,
    patient: str | None = None,
    count: Count = None,
    offset: Offset = None,
) -> Resource:
    person_id = reference_id(patient, "Patient", "patient")
    actor = who.may("Appointment", "read")
    if who.client is not None:
        if person_id is None:
            raise errors.InvalidSearch("patient")
        found = reads.patient_appointments(actor, person_id)
    else:
        found = [
            a
            for a in reads.my_appointment_details(actor)
            if person_id is None or a.person_id == person_id
        ]
    return _page(request, found, fhir.appointment, count, offset)


def _booking_of(body: dict[str, Any]) -> BookingCreate:
    """A proposed Appointment as a booking: its Slot, its Patient (default: the user),
    a referral as ``basedOn: ServiceRequest/{referral id}``."""
    try:
        appointment = FhirAppointment.model_validate(body)
    except ValidationError as exc:
        raise errors.InvalidResource("Appointment") from exc
    slots = [r.reference for r in appointment.slot or [] if r.reference]
    if len(slots) != 1:
        raise errors.InvalidResource("Appointment.slot")
    patients = [
        p.actor.reference
        for p in appointment.participant or []
        if p.actor and p.actor.reference and p.actor.reference.startswith("Patient/")
    ]
    referrals = [r.reference for r in appointment.basedOn or [] if r.reference]
    return BookingCreate(
        slot_id=reference_id(slots[0], "Slot", "Appointment.slot") or 0,
        patient_id=reference_id(patients[0], "Patient", "Appointment.participant")
        if patients
        else None,
        referral_id=reference_id(referrals[0], "ServiceRequest", "Appointment.basedOn")
        if referrals
        else None,
        channel="app",
    )


def _book(who: Caller, actor: Principal, data: BookingCreate) -> int:
    """A citizen books as in the app; a client system (the call centre, another clinic)
    books for the patient it names with the kiosk's rules (``book_identified_patient``)."""
    if who.client is None:
        return service.book_slot(actor, data).id
    if data.patient_id is None:
        raise errors.InvalidResource("Appointment.participant")
    identified = IdentifiedBookingCreate(slot_id=data.slot_id, referral_id=data.referral_id)
    return service.book_identified_patient(data.patient_id, identified, channel="call_centre").id


@router.post("/Appointment", status_code=201)
async def create_appointment(
    request: Request, who: Who, body: Annotated[dict[str, Any], Body()]
) -> Response:
    """Book the Slot: the same use case, rules and guarantees as the portal and the app."""
    actor = who.may("Appointment", "write")
    data = _booking_of(body)
    booked = await run_booking(request, lambda: _book(who, actor, data))
    resource = fhir.appointment(reads.my_appointment(actor, booked))
    return FhirResponse(
        resource, 201, headers={"Location": f"{PREFIX}/Appointment/{booked}/_history/1"}
    )


@router.put("/Appointment/{id_}")
def update_appointment(id_: IdPath, who: Who, body: Annotated[dict[str, Any], Body()]) -> Resource:
    """Cancel: the Appointment sent back with ``status: cancelled``; nothing else changes."""
    actor = who.may("Appointment", "write")
    if body.get("resourceType") != "Appointment" or body.get("id") not in (None, str(id_)):
        raise errors.InvalidResource("Appointment.id")
    if body.get("status") != "cancelled":
        raise errors.ChangeNotSupported()
    service.cancel_appointment(actor, id_)
    return fhir.appointment(reads.my_appointment(actor, id_))


def _family(actor: Principal) -> list[PatientRead]:
    """The user and their children: whom a patient's token may see."""
    return [PatientRead.model_validate(p) for p in reads.booking_home(actor).patients]


@router.get("/Patient/{id_}")
def read_patient(id_: IdPath, who: Who) -> Resource:
    actor = who.may("Patient", "read")
    if who.client is not None:
        raise errors.ResourceNotFound()  # a client system finds a patient by their policy
    return fhir.patient(_one(_family(actor), id_, lambda p: p.id))


@router.get("/Patient")
def search_patients(
    request: Request,
    who: Who,
    identifier: str | None = None,
    count: Count = None,
    offset: Offset = None,
) -> Resource:
    actor = who.may("Patient", "read")
    if who.client is not None:
        policy = token_code(identifier, fhir.OMS_POLICY_SYSTEM, "identifier")
        if policy is None:
            raise errors.InvalidSearch("identifier")
        found = service.find_patient_by_policy(who.client, policy)
    else:
        found = _family(actor)
    return _page(request, found, fhir.patient, count, offset)


# --- Access: client systems exchange their credentials for a token -----------------------


@router.post("/auth/token", response_class=Response)
def token(
    grant_type: Annotated[str, Form(max_length=40)],
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    client_secret: Annotated[str, Form(min_length=1, max_length=200)],
    scope: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """OAuth 2.0 client credentials: a bearer token with the scopes asked for."""
    if grant_type != "client_credentials":
        raise errors.UnsupportedGrant()
    issued: FhirTokenRead = service.issue_fhir_token(client_id, client_secret, scope)
    return JSONResponse(issued.model_dump(), headers={"Cache-Control": "no-store"})


@router.get("/.well-known/smart-configuration", response_class=Response)
def smart_configuration(request: Request) -> Response:
    base = str(request.base_url).rstrip("/") + PREFIX
    return JSONResponse(
        {
            "token_endpoint": f"{base}/auth/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "scopes_supported": sorted(rules.FHIR_SYSTEM_SCOPES | rules.FHIR_PATIENT_SCOPES),
            "capabilities": ["client-confidential-symmetric", "permission-v1"],
        }
    )


router.include_router(publish_router)
