"""What medical appointments take and give: ``XCreate`` / ``XRead``.

Input models check shape and size only (oversized or mistyped input is a 422, never a
500); the service applies the booking rules and answers with a precise code.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from infocity.core.i18n import N_
from infocity.core.schemas import Id, InputModel, IsoDate, OutputModel

# Dates people can mean: far enough either way, and never past what the database stores.
CityDate = Annotated[IsoDate, Field(ge=date(1900, 1, 1), le=date(2200, 12, 31))]
Channel = Literal["portal", "app", "kiosk", "call_centre", "registry"]
# What the database may hold, as enums in the OpenAPI document (models.py has the same).
BookingMode = Literal["direct", "referral"]
Audience = Literal["adult", "child", "any"]
ClinicKind = Literal["adult", "children"]
Sex = Literal["female", "male"]
AppointmentStatus = Literal[
    "booked", "cancelled_by_patient", "cancelled_by_clinic", "rescheduled", "attended", "no_show"
]
ExceptionKind = Literal["vacation", "sick_leave", "holiday", "extra_hours"]
ReferralStatus = Literal["active", "used", "cancelled"]
WaitlistStatus = Literal["waiting", "holding", "booked", "left", "expired"]
WaitlistReason = Literal["patient", "clinic_cancelled"]
HomeVisitStatus = Literal["new", "accepted", "assigned", "done", "cancelled"]

# A polyclinic's districts are numbered from 1; none has near a thousand.
MAX_DISTRICT = 999

_WALL_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")


def _wall_clock(value: object) -> object:
    # Only what the document promises: JSON Schema's "time" format needs a UTC offset,
    # which a wall-clock time in the city has not; and a number would be read as
    # seconds in UTC, an aware time that cannot be compared with the others.
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _WALL_CLOCK.match(value):
        raise ValueError(N_("Give a time as HH:MM or HH:MM:SS."))
    return value


WallClock = Annotated[
    time,
    BeforeValidator(_wall_clock),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _WALL_CLOCK.pattern,
            "examples": ["08:00:00"],
            "description": "Wall-clock time in the city, HH:MM:SS (HH:MM accepted)",
        }
    ),
]


# --- Directory ---------------------------------------------------------------------


class SpecialtyUpdate(InputModel):
    """What the city tunes for a specialty; fields left out stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    slot_minutes: int | None = Field(default=None, ge=5, le=240)
    booking_mode: BookingMode | None = None
    horizon_days: int | None = Field(default=None, ge=1, le=60)
    release_time: WallClock | None = None
    active_limit: int | None = Field(default=None, ge=1, le=10)


class SpecialtyRead(OutputModel):
    id: int
    code: str
    name: str
    name_en: str
    slot_minutes: int
    booking_mode: BookingMode
    horizon_days: int
    release_time: WallClock
    active_limit: int
    audience: Audience
    sex: Sex | None = Field(default=None, description="The only sex it sees; null: both")


class ClinicCreate(InputModel):
    """The health profile of an organisation of kind "clinic"."""

    organisation_id: Id
    clinic_kind: Literal["adult", "children"]
    parent_clinic_id: Id | None = Field(default=None, description="The head clinic of a branch")


class ClinicRead(OutputModel):
    id: int
    name: str
    name_en: str | None
    address: str | None
    clinic_kind: ClinicKind
    parent_clinic_id: int | None


class PractitionerCreate(InputModel):
    clinic_id: Id
    specialty_code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=300)
    room: str | None = Field(default=None, max_length=20)
    user_id: Id | None = Field(default=None, description="The doctor's staff account")
    district: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DISTRICT,
        description="The district it serves as district doctor",
    )


class DoctorPostCreate(InputModel):
    """A doctor's post opened by the clinic's administrator for a doctor's account."""

    clinic_id: Id
    user_id: Id = Field(description="The doctor's staff account in this polyclinic")
    specialty_code: str = Field(min_length=1, max_length=40)
    room: str = Field(min_length=1, max_length=20)
    district: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DISTRICT,
        description="The district it serves as district doctor",
    )


class PractitionerRead(OutputModel):
    id: int
    clinic_id: int
    specialty_id: int
    name: str
    room: str | None
    district: int | None = None
    active: bool
    user_id: int | None


class AttachmentCreate(InputModel):
    person_id: Id
    clinic_id: Id
    reason: Literal["yearly", "address_change"] = Field(
        default="yearly",
        description="yearly: the free choice, once a year; address_change: after a move, "
        "allowed at any time with the new address",
    )
    new_address: str | None = Field(default=None, max_length=500)
    district: int | None = Field(
        default=None, ge=1, le=MAX_DISTRICT, description="The patient's district in the clinic"
    )


class DistrictUpdate(InputModel):
    """A patient's district in their polyclinic, set at the registry (null: not known)."""

    clinic_id: Id
    district: int | None = Field(default=None, ge=1, le=MAX_DISTRICT)


class AttachmentRead(OutputModel):
    id: int
    person_id: int
    clinic_id: int
    kind: str
    valid_from: datetime
    valid_to: datetime | None
    reason: str
    district: int | None = None


# --- Schedules ---------------------------------------------------------------------


class ScheduleRuleCreate(InputModel):
    """A weekly pattern; times are wall-clock times in the city."""

    practitioner_id: Id
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    start_time: WallClock
    end_time: WallClock
    break_start: WallClock | None = None
    break_end: WallClock | None = None
    slot_minutes: int | None = Field(default=None, ge=5, le=240)
    valid_from: CityDate
    valid_to: CityDate | None = None


class ScheduleRuleRead(OutputModel):
    id: int
    clinic_id: int
    practitioner_id: int
    weekday: int
    start_time: WallClock
    end_time: WallClock
    break_start: WallClock | None
    break_end: WallClock | None
    slot_minutes: int | None
    valid_from: date
    valid_to: date | None


class ScheduleExceptionCreate(InputModel):
    """Whole days off without times; extra hours need both times."""

    practitioner_id: Id
    kind: Literal["vacation", "sick_leave", "holiday", "extra_hours"]
    date_from: CityDate
    date_to: CityDate
    start_time: WallClock | None = None
    end_time: WallClock | None = None


class ScheduleExceptionRead(OutputModel):
    id: int
    clinic_id: int
    practitioner_id: int
    kind: ExceptionKind
    date_from: date
    date_to: date
    start_time: WallClock | None
    end_time: WallClock | None
    cancelled_appointments: list[int] = Field(
        default_factory=list, description="Appointments the absence cancelled"
    )


# --- Slots and appointments --------------------------------------------------------


class SlotFilter(InputModel):
    specialty_id: Id
    clinic_id: Id | None = None
    practitioner_id: Id | None = Field(default=None, description="Only this doctor's times")
    date_from: CityDate | None = Field(default=None, description="City date; default today")
    date_to: CityDate | None = Field(default=None, description="City date, inclusive")
    limit: int = Field(default=200, ge=1, le=1000)


class SlotRead(OutputModel):
    id: int
    clinic_id: int
    practitioner_id: int
    practitioner_name: str
    room: str | None
    specialty_id: int
    starts_at: datetime
    ends_at: datetime


class BookingCreate(InputModel):
    """A logged-in citizen booking for themself (``patient_id`` left out) or a child."""

    slot_id: Id
    patient_id: Id | None = None
    referral_id: Id | None = None
    channel: Literal["portal", "app"] = "app"


class AnonymousBookingCreate(InputModel):
    """A kiosk or the call centre: the patient is identified by policy and birth date."""

    oms_policy: str = Field(min_length=1, max_length=40)
    birth_date: CityDate
    slot_id: Id
    referral_id: Id | None = None
    channel: Literal["kiosk", "call_centre"] = "kiosk"


class IdentifiedBookingCreate(InputModel):
    """A kiosk booking for the patient identified earlier in the same session."""

    slot_id: Id
    referral_id: Id | None = None


class RegistryBookingCreate(InputModel):
    """A registrar booking for any patient of the clinic."""

    patient_id: Id
    slot_id: Id
    referral_id: Id | None = None
    channel: Literal["registry", "call_centre"] = "registry"


class RescheduleCreate(InputModel):
    slot_id: Id


class AppointmentRead(OutputModel):
    id: int
    slot_id: int
    clinic_id: int
    person_id: int
    specialty_id: int
    practitioner_id: int
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    channel: Channel
    ticket_number: str
    referral_id: int | None
    rescheduled_from_id: int | None
    created_at: datetime
    cancelled_at: datetime | None
    confirmed_at: datetime | None = None
    outcome_at: datetime | None = None


class OutcomeCreate(InputModel):
    """What the doctor marks once the appointment's time has come."""

    outcome: Literal["attended", "no_show"]


class BookingStatusRead(OutputModel):
    """Whether the patient may book by themself, and if not, why and until when."""

    person_id: int
    suspended: bool
    suspended_until: datetime | None
    no_shows: int = Field(description="No-shows counted towards the limit now")
    no_show_limit: int
    window_days: int
    reason: str | None = Field(description="Why booking is suspended, in the user's language")


# --- Clinic-side schedule changes --------------------------------------------------


class ScheduleRuleUpdate(InputModel):
    """A changed weekly pattern (replaces every field of the rule)."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    start_time: WallClock
    end_time: WallClock
    break_start: WallClock | None = None
    break_end: WallClock | None = None
    slot_minutes: int | None = Field(default=None, ge=5, le=240)
    valid_from: CityDate
    valid_to: CityDate | None = None


class AffectedAppointmentRead(OutputModel):
    """A booked appointment a schedule change would cancel (the clinic admin's preview)."""

    appointment_id: int
    slot_id: int
    person_id: int
    starts_at: datetime
    ticket_number: str
    channel: Channel


class ScheduleChangeRead(OutputModel):
    """What applying a schedule change did."""

    cancelled_appointments: list[int]
    blocked_slots: int
    added_slots: int


# --- Waiting list ------------------------------------------------------------------


class WaitlistEntryCreate(InputModel):
    """Wait for a time of a specialty; the other fields narrow what will be offered."""

    specialty_id: Id
    patient_id: Id | None = Field(default=None, description="Your child; left out: yourself")
    clinic_id: Id | None = None
    referral_id: Id | None = None
    date_from: CityDate | None = None
    date_to: CityDate | None = None
    time_from: WallClock | None = None
    time_to: WallClock | None = None


class WaitlistEntryRead(OutputModel):
    id: int
    person_id: int
    specialty_id: int
    clinic_id: int | None
    referral_id: int | None
    date_from: date | None
    date_to: date | None
    time_from: WallClock | None
    time_to: WallClock | None
    priority: bool
    reason: WaitlistReason
    status: WaitlistStatus
    appointment_id: int | None
    created_at: datetime
    closed_at: datetime | None
    held_slot_id: int | None = Field(default=None, description="The time kept for you now")
    held_until: datetime | None = None
    held_starts_at: datetime | None = None


class HoldAccept(InputModel):
    referral_id: Id | None = None


# --- Home visits -------------------------------------------------------------------


class HomeVisitCreate(InputModel):
    patient_id: Id | None = Field(default=None, description="Your child; left out: yourself")
    address: str = Field(min_length=5, max_length=500)
    reason: str = Field(min_length=3, max_length=1000)
    contact_phone: str = Field(min_length=5, max_length=40)


class HomeVisitUpdate(InputModel):
    """A step of the clinic's handling: accepted, assigned (with a doctor), done, or
    cancelled."""

    status: Literal["accepted", "assigned", "done", "cancelled"]
    practitioner_id: Id | None = None


class HomeVisitRead(OutputModel):
    id: int
    clinic_id: int
    person_id: int
    address: str
    reason: str
    contact_phone: str
    status: HomeVisitStatus
    practitioner_id: int | None
    created_at: datetime
    updated_at: datetime


# --- Referrals ---------------------------------------------------------------------


class ReferralCreate(InputModel):
    person_id: Id
    specialty_code: str = Field(min_length=1, max_length=40)
    target_clinic_id: Id | None = None
    valid_days: int = Field(default=30, ge=1, le=365)


class ReferralRead(OutputModel):
    id: int
    clinic_id: int
    person_id: int
    specialty_id: int
    target_clinic_id: int | None
    issued_at: datetime
    valid_until: datetime
    status: ReferralStatus
    used_by_appointment_id: int | None


# --- The citizen API: what a patient may book, and their appointments with places ---------


class PatientIdentity(InputModel):
    """A patient identified as at the kiosk: OMS policy and date of birth. Every attempt
    counts towards the kiosk's limits (per policy and address, per address)."""

    oms_policy: str = Field(min_length=1, max_length=40)
    birth_date: CityDate


class IdentifiedSlotFilter(PatientIdentity):
    specialty_code: str = Field(min_length=1, max_length=40)
    referral_id: Id | None = Field(default=None, description="For a referral specialty")


class IdentifiedRescheduleCreate(PatientIdentity):
    slot_id: Id


class ClinicPlaceRead(OutputModel):
    """A polyclinic as a patient needs it to get there."""

    id: int
    name: str
    name_en: str | None
    address: str | None


class AppointmentDetailsRead(AppointmentRead):
    """An appointment with where and with whom: the clinic's address, the room, the doctor."""

    patient_name: str
    specialty: SpecialtyRead
    doctor: str
    room: str | None
    clinic: ClinicPlaceRead
    changeable: bool = Field(description="Booked and not started: may be cancelled or moved")


ReferralState = Literal["open", "used", "expired", "cancelled"]


class ReferralDetailsRead(OutputModel):
    id: int
    person_id: int
    patient_name: str
    specialty: SpecialtyRead
    target_clinic: ClinicPlaceRead | None = Field(description="null: any suitable polyclinic")
    issued_at: datetime
    valid_until: datetime
    state: ReferralState = Field(description="open: may be booked by; used; expired; cancelled")


class AttachmentDetailsRead(OutputModel):
    person_id: int
    clinic: ClinicPlaceRead
    kind: ClinicKind
    since: datetime
    can_change_from: datetime | None = Field(
        description="The free yearly change is possible from then on (a move: any time)"
    )


class PatientRead(OutputModel):
    id: int
    name: str
    birth_date: date | None
    is_self: bool
    sex: Sex | None


class ReferralOptionRead(OutputModel):
    id: int
    valid_until: datetime
    target_clinic: ClinicPlaceRead | None


class BookableSpecialtyRead(OutputModel):
    specialty: SpecialtyRead
    referrals: list[ReferralOptionRead] = Field(
        description="Open referrals to it; a referral specialty is booked only by one"
    )


class SuspensionRead(OutputModel):
    patient: PatientRead
    until: datetime
    reason: str


class BookingOptionsRead(OutputModel):
    """What this patient may book: only specialties that see them (age, sex), that their
    polyclinic has a doctor of, or that a referral sends them to."""

    patients: list[PatientRead] = Field(description="Whom the user may book for")
    patient: PatientRead
    clinic: ClinicPlaceRead | None = Field(description="The polyclinic the patient is attached to")
    specialties: list[BookableSpecialtyRead]
    suspensions: list[SuspensionRead]


class SlotTimeRead(OutputModel):
    id: int
    starts_at: datetime
    ends_at: datetime


class DoctorTimesRead(OutputModel):
    practitioner_id: int
    name: str
    room: str | None
    clinic: ClinicPlaceRead
    slots: list[SlotTimeRead]


class SlotDayRead(OutputModel):
    day: date
    doctors: list[DoctorTimesRead]


class DoctorChoiceRead(OutputModel):
    practitioner_id: int
    name: str
    room: str | None
    clinic: ClinicPlaceRead
    free: int = Field(description="Free times in the coming two weeks")
    first: datetime
    own: bool = Field(description="The doctor of this specialty the patient saw last")


class PatientSlotsRead(OutputModel):
    """Free times this patient may book, by day, then doctor, over the next two weeks."""

    patient: PatientRead
    specialty: SpecialtyRead
    clinic: ClinicPlaceRead | None
    referral_id: int | None
    problem: str | None = Field(description="Why no time is offered, in the user's language")
    doctors: list[DoctorChoiceRead]
    days: list[SlotDayRead]


class DoctorRead(OutputModel):
    id: int
    name: str
    room: str | None
    specialty_id: int
    clinic_id: int


# --- FHIR client systems -----------------------------------------------------------------


class FhirClientCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, description="The system, as people call it")
    scopes: list[str] = Field(
        min_length=1, max_length=20, description="e.g. system/Slot.read system/Appointment.write"
    )


class FhirClientRead(OutputModel):
    id: int
    client_id: str
    name: str
    scopes: str
    active: bool
    created_at: datetime


class FhirClientIssued(FhirClientRead):
    client_secret: str = Field(description="Shown once: only its hash is kept")


class FhirTokenRead(OutputModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    scope: str
