"""Read side of the health pages: plain selects, one transaction each.

These functions only read, with one exception: a read that shows a patient's name or
appointments to staff writes an audit entry in the same transaction, so the access and
its record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit
from infocity.core.ages import age_on
from infocity.core.auth import Action, Principal, Role, allowed, authorize
from infocity.core.clock import city_date, city_tz
from infocity.core.db import utcnow
from infocity.core.errors import Forbidden
from infocity.core.i18n import N_
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules, service
from infocity.health.models import (
    Appointment,
    Attachment,
    Clinic,
    Practitioner,
    Referral,
    ScheduleException,
    ScheduleRule,
    Slot,
    Specialty,
)
from infocity.health.schemas import BookingStatusRead, SlotSearch, SpecialtyRead

BOOKING_DAYS = 14  # the citizen chooses among the next two weeks
SLOT_LIMIT = 1000
MY_LIMIT = 200
# Statuses of an appointment that still occupies its slot (cancelled and moved ones
# gave it back).
OCCUPYING = ("booked", "attended", "no_show")

SLOTS = cast(Table, Slot.__table__)
APPOINTMENTS = cast(Table, Appointment.__table__)


# --- What the pages show -------------------------------------------------------------


@dataclass(frozen=True)
class ClinicInfo:
    id: int
    name: str
    name_en: str | None
    address: str | None


@dataclass(frozen=True)
class PatientOption:
    """Someone a citizen may book for: themself or a child."""

    id: int
    name: str
    birth_date: date | None
    is_self: bool = False


@dataclass(frozen=True)
class ReferralOption:
    id: int
    valid_until: datetime
    target_clinic: ClinicInfo | None


@dataclass(frozen=True)
class SpecialtyOption:
    specialty: SpecialtyRead
    referrals: tuple[ReferralOption, ...] = ()

    @property
    def needs_referral(self) -> bool:
        return self.specialty.booking_mode == "referral"


@dataclass(frozen=True)
class Suspension:
    """Self-booking of one of the family is suspended for no-shows: why and until when."""

    patient: PatientOption
    until: datetime
    reason: str  # in the user's language, with the date and the count


@dataclass(frozen=True)
class BookingHome:
    """The first step: who the patient is, their polyclinic, what they can book."""

    patients: list[PatientOption]
    patient: PatientOption
    clinic: ClinicInfo | None
    specialties: list[SpecialtyOption]
    suspensions: list[Suspension] = field(default_factory=list)

    @property
    def patient_suspended(self) -> bool:
        return any(s.patient.id == self.patient.id for s in self.suspensions)


@dataclass(frozen=True)
class SlotItem:
    id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class DoctorSlots:
    practitioner_id: int
    name: str
    room: str | None
    clinic: ClinicInfo
    slots: list[SlotItem]


@dataclass(frozen=True)
class DaySlots:
    day: date
    first: datetime  # for the heading, formatted in the city's zone
    doctors: list[DoctorSlots]


@dataclass(frozen=True)
class SlotChoice:
    """Free times of one specialty for one patient, by day and doctor."""

    patient: PatientOption
    specialty: SpecialtyRead
    clinic: ClinicInfo | None
    days: list[DaySlots]
    referral_id: int | None = None
    problem: str | None = None  # an English message id: why nothing can be shown


@dataclass(frozen=True)
class SlotDetails:
    id: int
    starts_at: datetime
    ends_at: datetime
    doctor: str
    room: str | None
    specialty: SpecialtyRead
    clinic: ClinicInfo


@dataclass(frozen=True)
class BookingConfirmation:
    patient: PatientOption
    slot: SlotDetails
    referral_id: int | None


@dataclass(frozen=True)
class AppointmentView:
    id: int
    ticket_number: str
    status: str
    channel: str
    starts_at: datetime
    person_id: int
    patient_name: str
    specialty: SpecialtyRead
    doctor: str
    room: str | None
    clinic: ClinicInfo
    changeable: bool  # booked and not started: may be cancelled or moved


@dataclass(frozen=True)
class ReferralView:
    id: int
    patient_name: str
    specialty: SpecialtyRead
    target_clinic: ClinicInfo | None
    issued_at: datetime
    valid_until: datetime
    status: str
    usable: bool


@dataclass(frozen=True)
class MyAppointments:
    upcoming: list[AppointmentView]
    past: list[AppointmentView]
    referrals: list[ReferralView]


@dataclass(frozen=True)
class RescheduleChoice:
    appointment: AppointmentView
    days: list[DaySlots]


@dataclass(frozen=True)
class DaySlotRow:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    status: str  # the slot's: free | booked | held | blocked
    appointment_id: int | None = None
    appointment_status: str | None = None
    person_id: int | None = None
    patient_name: str | None = None
    ticket_number: str | None = None


@dataclass(frozen=True)
class DoctorDay:
    practitioner_id: int
    name: str
    room: str | None
    specialty: SpecialtyRead
    rows: list[DaySlotRow]


@dataclass(frozen=True)
class ClinicDay:
    """A clinic's day for the registry: every doctor's slots, patients by name."""

    clinics: list[ClinicInfo]
    clinic: ClinicInfo
    day: date
    doctors: list[DoctorDay]


@dataclass(frozen=True)
class PatientCard:
    """A patient as the registry sees them (audited)."""

    clinic: ClinicInfo
    person_id: int
    name: str
    birth_date: date | None
    attached_clinic: ClinicInfo | None
    appointments: list[AppointmentView]
    specialties: list[SpecialtyRead]
    suspension: Suspension | None = None  # self-booking suspended; the registry may book


@dataclass(frozen=True)
class RegistrySlotChoice:
    card: PatientCard
    choice: SlotChoice


@dataclass(frozen=True)
class DoctorAppointment:
    appointment: AppointmentView
    birth_date: date | None


@dataclass(frozen=True)
class DoctorSchedule:
    """A doctor's own day: their posts and appointments in order."""

    day: date
    clinic_ids: list[int]
    posts: list[str]
    appointments: list[DoctorAppointment]
    specialties: list[SpecialtyRead]
    clinics: list[ClinicInfo]


@dataclass(frozen=True)
class RuleView:
    id: int
    weekday: int
    start_time: time
    end_time: time
    break_start: time | None
    break_end: time | None
    slot_minutes: int | None
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class ExceptionView:
    id: int
    kind: str
    date_from: date
    date_to: date
    start_time: time | None
    end_time: time | None


@dataclass(frozen=True)
class PractitionerSchedule:
    id: int
    name: str
    room: str | None
    active: bool
    specialty: SpecialtyRead
    rules: list[RuleView] = field(default_factory=list)
    exceptions: list[ExceptionView] = field(default_factory=list)


@dataclass(frozen=True)
class ClinicSchedules:
    clinics: list[ClinicInfo]
    clinic: ClinicInfo
    practitioners: list[PractitionerSchedule]


@dataclass(frozen=True)
class HeldTime:
    """A time the waiting list keeps for a place until ``held_until``."""

    slot_id: int
    starts_at: datetime
    held_until: datetime
    doctor: str
    room: str | None
    clinic: ClinicInfo


@dataclass(frozen=True)
class WaitlistView:
    id: int
    person_id: int
    patient_name: str
    specialty: SpecialtyRead
    clinic: ClinicInfo | None
    date_from: date | None
    date_to: date | None
    time_from: time | None
    time_to: time | None
    status: str  # waiting | holding | booked | left | expired
    priority: bool
    created_at: datetime
    appointment_id: int | None
    held: HeldTime | None

    @property
    def open(self) -> bool:
        return self.status in ("waiting", "holding")


@dataclass(frozen=True)
class WaitlistPage:
    """The family's waiting-list places and what the join form offers for one patient."""

    patients: list[PatientOption]
    patient: PatientOption
    specialties: list[SpecialtyOption]
    clinics: list[ClinicInfo]
    entries: list[WaitlistView]
    specialty_id: int | None = None  # chosen in advance (from the slot choice)
    referral_id: int | None = None

    @property
    def holds(self) -> list[WaitlistView]:
        return [e for e in self.entries if e.held is not None]


@dataclass(frozen=True)
class HomeVisitView:
    id: int
    person_id: int
    patient_name: str
    address: str
    reason: str
    contact_phone: str
    status: str  # new | accepted | assigned | done | cancelled
    doctor: str | None
    clinic: ClinicInfo
    created_at: datetime
    updated_at: datetime

    @property
    def open(self) -> bool:
        return self.status in service.OPEN_HOME_VISITS


@dataclass(frozen=True)
class MyHomeVisits:
    patients: list[PatientOption]
    patient: PatientOption
    visits: list[HomeVisitView]


@dataclass(frozen=True)
class DoctorOption:
    id: int
    label: str


@dataclass(frozen=True)
class HomeVisitQueue:
    """A clinic's home-visit requests for its registrars and administrators."""

    clinics: list[ClinicInfo]
    clinic: ClinicInfo
    status: str | None
    visits: list[HomeVisitView]
    doctors: list[DoctorOption]


@dataclass(frozen=True)
class LinkedAppointment:
    """An appointment opened from a reminder's signed link (no login)."""

    appointment: AppointmentView
    action: str  # confirm | cancel
    token: str
    confirmed_at: datetime | None

    @property
    def can_act(self) -> bool:
        if not self.appointment.changeable:
            return False
        return self.action == "cancel" or self.confirmed_at is None


# --- Helpers -------------------------------------------------------------------------


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = city_tz()
    start = rules.local_instant(day, time(0), tz) or datetime.combine(day, time(0), tzinfo=tz)
    following = day + timedelta(days=1)
    end = rules.local_instant(following, time(0), tz) or datetime.combine(
        following, time(0), tzinfo=tz
    )
    return start, end


class _Clinics:
    """Clinic names and addresses, read once per clinic within a transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._seen: dict[int, ClinicInfo] = {}

    def get(self, clinic_id: int) -> ClinicInfo:
        if clinic_id not in self._seen:
            o = city.get_organisation(clinic_id, uow=self._uow)
            self._seen[clinic_id] = ClinicInfo(o.id, o.name, o.name_en, o.address)
        return self._seen[clinic_id]


def _specialties(session: Session) -> dict[int, SpecialtyRead]:
    return {
        s.id: SpecialtyRead.model_validate(s)
        for s in session.scalars(select(Specialty).order_by(Specialty.name))
    }


def _specialty_by_code(session: Session, code: str) -> SpecialtyRead:
    specialty = session.scalars(select(Specialty).where(Specialty.code == code)).one_or_none()
    if specialty is None:
        raise errors.SpecialtyNotFound()
    return SpecialtyRead.model_validate(specialty)


def _is_child(birth_date: date | None, today: date) -> bool | None:
    return None if birth_date is None else age_on(birth_date, today) < 18


def _serves(specialty: SpecialtyRead, birth_date: date | None, today: date) -> bool:
    child = _is_child(birth_date, today)
    if child is None or specialty.audience == "any":
        return True
    return (specialty.audience == "child") == child


def _attached_clinic(
    session: Session, clinics: _Clinics, patient: PatientOption, today: date
) -> ClinicInfo | None:
    """The head clinic the patient is attached to (of the kind for their age)."""
    rows = session.execute(
        select(Attachment.clinic_id, Attachment.kind)
        .where(Attachment.person_id == patient.id, Attachment.valid_to.is_(None))
        .order_by(Attachment.id)
    ).all()
    if not rows:
        return None
    child = _is_child(patient.birth_date, today)
    wanted = None if child is None else ("children" if child else "adult")
    for row in rows:
        if wanted is None or row.kind == wanted:
            return clinics.get(row.clinic_id)
    return None


def _family(uow: UnitOfWork, actor: Principal) -> list[PatientOption]:
    profile = accounts.get_profile(actor, uow=uow)

    def name(p: Any) -> str:
        return " ".join(x for x in (p.last_name, p.first_name, p.middle_name) if x)

    me = profile.person
    return [
        PatientOption(me.id, name(me), me.birth_date, True),
        *(PatientOption(c.id, name(c), c.birth_date) for c in profile.children),
    ]


def _family_patient(
    uow: UnitOfWork, actor: Principal, patient_id: int | None
) -> tuple[list[PatientOption], PatientOption]:
    patients = _family(uow, actor)
    if patient_id is None:
        return patients, patients[0]
    for patient in patients:
        if patient.id == patient_id:
            return patients, patient
    raise Forbidden("not_your_patient", N_("You can book only for yourself and your children."))


def _active_referrals(
    session: Session, clinics: _Clinics, person_id: int, now: datetime
) -> dict[int, list[ReferralOption]]:
    rows = session.execute(
        select(Referral.id, Referral.specialty_id, Referral.valid_until, Referral.target_clinic_id)
        .where(
            Referral.person_id == person_id,
            Referral.status == "active",
            Referral.valid_until > now,
        )
        .order_by(Referral.valid_until)
    )
    found: dict[int, list[ReferralOption]] = {}
    for row in rows:
        target = clinics.get(row.target_clinic_id) if row.target_clinic_id else None
        found.setdefault(row.specialty_id, []).append(
            ReferralOption(row.id, row.valid_until, target)
        )
    return found


def _booking_home(
    uow: UnitOfWork, patients: list[PatientOption], patient: PatientOption, now: datetime
) -> BookingHome:
    session = uow.session
    clinics = _Clinics(uow)
    today = city_date(now)
    referrals = _active_referrals(session, clinics, patient.id, now)
    options = [
        SpecialtyOption(s, tuple(referrals.get(s.id, ())))
        for s in service.list_specialties(uow=uow)
        if _serves(s, patient.birth_date, today)
    ]
    # Direct specialties first, then those by referral, each by name.
    options.sort(key=lambda o: (o.needs_referral, o.specialty.name))
    return BookingHome(
        patients=patients,
        patient=patient,
        clinic=_attached_clinic(session, clinics, patient, today),
        specialties=options,
    )


def _group_slots(clinics: _Clinics, slots: Iterable[Any]) -> list[DaySlots]:
    """Slots (earliest first) grouped by city date, then by doctor."""
    tz = city_tz()
    days: dict[date, dict[int, list[Any]]] = {}
    for slot in slots:
        days.setdefault(rules.city_date(slot.starts_at, tz), {}).setdefault(
            slot.practitioner_id, []
        ).append(slot)
    result = []
    for day, doctors in days.items():
        groups = [
            DoctorSlots(
                practitioner_id=pid,
                name=items[0].practitioner_name,
                room=items[0].room,
                clinic=clinics.get(items[0].clinic_id),
                slots=[SlotItem(s.id, s.starts_at, s.ends_at) for s in items],
            )
            for pid, items in doctors.items()
        ]
        groups.sort(key=lambda d: (d.slots[0].starts_at, d.name))
        first = min(d.slots[0].starts_at for d in groups)
        result.append(DaySlots(day, first, groups))
    return result


def _free_days(
    uow: UnitOfWork, clinics: _Clinics, specialty_id: int, clinic_id: int, now: datetime
) -> list[DaySlots]:
    today = city_date(now)
    slots = service.search_free_slots(
        SlotSearch(
            specialty_id=specialty_id,
            clinic_id=clinic_id,
            date_from=today,
            date_to=today + timedelta(days=BOOKING_DAYS - 1),
            limit=SLOT_LIMIT,
        ),
        now=now,
        uow=uow,
    )
    return _group_slots(clinics, slots)


def _head_clinic(session: Session, clinic_id: int) -> int:
    parent = session.scalar(select(Clinic.parent_clinic_id).where(Clinic.id == clinic_id))
    return parent or clinic_id


def _slot_choice(
    uow: UnitOfWork,
    patient: PatientOption,
    specialty_code: str,
    referral_id: int | None,
    now: datetime,
    *,
    clinic_id: int | None = None,
) -> SlotChoice:
    """Free times for the patient: at their own polyclinic, or where the referral sends
    them (``clinic_id``: the registry's own clinic)."""
    session = uow.session
    clinics = _Clinics(uow)
    specialty = _specialty_by_code(session, specialty_code)
    clinic = (
        clinics.get(clinic_id)
        if clinic_id is not None
        else _attached_clinic(session, clinics, patient, city_date(now))
    )
    if referral_id is not None:
        referral = _active_referrals(session, clinics, patient.id, now).get(specialty.id, [])
        chosen = [r for r in referral if r.id == referral_id]
        if not chosen:
            raise errors.ReferralNotFound()
        if chosen[0].target_clinic is not None and clinic_id is None:
            clinic = chosen[0].target_clinic
    problem = None
    if specialty.booking_mode == "referral" and referral_id is None and clinic_id is None:
        problem = N_("This specialist sees patients by a referral from their doctor.")
    elif clinic is None:
        problem = N_("The patient is not attached to a polyclinic.")
    days = (
        [] if problem or clinic is None else _free_days(uow, clinics, specialty.id, clinic.id, now)
    )
    return SlotChoice(patient, specialty, clinic, days, referral_id, problem)


def _slot_details(uow: UnitOfWork, slot_id: int) -> SlotDetails:
    row = uow.session.execute(
        select(
            SLOTS.c.id,
            SLOTS.c.starts_at,
            SLOTS.c.ends_at,
            SLOTS.c.clinic_id,
            SLOTS.c.specialty_id,
            Practitioner.name,
            Practitioner.room,
        )
        .join(Practitioner, Practitioner.id == SLOTS.c.practitioner_id)
        .where(SLOTS.c.id == slot_id)
    ).one_or_none()
    if row is None:
        raise errors.SlotNotFound()
    specialty = uow.session.get(Specialty, row.specialty_id)
    assert specialty is not None
    return SlotDetails(
        id=row.id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        doctor=row.name,
        room=row.room,
        specialty=SpecialtyRead.model_validate(specialty),
        clinic=_Clinics(uow).get(row.clinic_id),
    )


def _appointments(
    uow: UnitOfWork, conditions: Sequence[Any], now: datetime, *, limit: int, newest_first: bool
) -> list[AppointmentView]:
    session = uow.session
    order = (
        (APPOINTMENTS.c.starts_at.desc(), APPOINTMENTS.c.id.desc())
        if newest_first
        else (APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
    )
    rows = session.execute(
        select(
            APPOINTMENTS.c.id,
            APPOINTMENTS.c.ticket_number,
            APPOINTMENTS.c.status,
            APPOINTMENTS.c.channel,
            APPOINTMENTS.c.starts_at,
            APPOINTMENTS.c.person_id,
            APPOINTMENTS.c.clinic_id,
            APPOINTMENTS.c.specialty_id,
            Practitioner.name,
            Practitioner.room,
        )
        .join(Practitioner, Practitioner.id == APPOINTMENTS.c.practitioner_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
    ).all()
    if not rows:
        return []
    specialties = _specialties(session)
    names = accounts.person_names(session, (r.person_id for r in rows))
    clinics = _Clinics(uow)
    return [
        AppointmentView(
            id=r.id,
            ticket_number=r.ticket_number,
            status=r.status,
            channel=r.channel,
            starts_at=r.starts_at,
            person_id=r.person_id,
            patient_name=names.get(r.person_id, ""),
            specialty=specialties[r.specialty_id],
            doctor=r.name,
            room=r.room,
            clinic=clinics.get(r.clinic_id),
            changeable=r.status == "booked" and r.starts_at > now,
        )
        for r in rows
    ]


def _one_appointment(uow: UnitOfWork, appointment_id: int, now: datetime) -> AppointmentView:
    found = _appointments(
        uow, [APPOINTMENTS.c.id == appointment_id], now, limit=1, newest_first=True
    )
    if not found:
        raise errors.AppointmentNotFound()
    return found[0]


def _audit_patients(
    session: Session,
    actor: Principal,
    action: str,
    person_ids: Iterable[int],
    clinic_id: int,
    detail: str,
) -> None:
    for person_id in sorted(set(person_ids)):
        audit.record(
            session,
            actor,
            action,
            subject_person_id=person_id,
            organisation_id=clinic_id,
            detail=detail,
        )


# --- Citizens ------------------------------------------------------------------------


def booking_home(
    actor: Principal | None,
    patient_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> BookingHome:
    """The citizen's family, the chosen patient's polyclinic and bookable specialties."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        patients, patient = _family_patient(uow, actor, patient_id)
        home = _booking_home(uow, patients, patient, now)
        suspensions = []
        for member in patients:  # the whole family: a child's suspension is shown too
            status = service.get_booking_status(actor, member.id, now=now, uow=uow)
            suspensions.extend(_suspensions(member, status))
        return replace(home, suspensions=suspensions)


def _suspensions(patient: PatientOption, status: BookingStatusRead) -> list[Suspension]:
    if status.suspended and status.suspended_until is not None:
        return [Suspension(patient, status.suspended_until, status.reason or "")]
    return []


def slot_choice(
    actor: Principal | None,
    patient_id: int | None,
    specialty_code: str,
    referral_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SlotChoice:
    """Free times of a specialty for the citizen's patient over the next two weeks."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _patients, patient = _family_patient(uow, actor, patient_id)
        return _slot_choice(uow, patient, specialty_code, referral_id, now)


def booking_confirmation(
    actor: Principal | None,
    patient_id: int | None,
    slot_id: int,
    referral_id: int | None = None,
    *,
    uow: UnitOfWork | None = None,
) -> BookingConfirmation:
    """What the citizen is about to book: patient, doctor, room, time, address."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        _patients, patient = _family_patient(uow, actor, patient_id)
        return BookingConfirmation(patient, _slot_details(uow, slot_id), referral_id)


def citizen_ticket(
    actor: Principal | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentView:
    """The ticket of the citizen's (or their child's) appointment; others' are "not found"."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        family = {p.id for p in _family(uow, actor)}
        appointment = _one_appointment(uow, appointment_id, now)
        if appointment.person_id not in family:
            raise errors.AppointmentNotFound()
        return appointment


def my_appointments(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> MyAppointments:
    """The family's appointments (upcoming first, soonest first) and referrals."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        family = {p.id: p for p in _family(uow, actor)}
        everything = _appointments(
            uow, [APPOINTMENTS.c.person_id.in_(family)], now, limit=MY_LIMIT, newest_first=True
        )
        upcoming = [a for a in everything if a.status == "booked" and a.starts_at > now]
        upcoming.reverse()
        past = [a for a in everything if a not in upcoming]
        specialties = _specialties(uow.session)
        clinics = _Clinics(uow)
        referrals = [
            ReferralView(
                id=r.id,
                patient_name=family[r.person_id].name,
                specialty=specialties[r.specialty_id],
                target_clinic=clinics.get(r.target_clinic_id) if r.target_clinic_id else None,
                issued_at=r.issued_at,
                valid_until=r.valid_until,
                status=r.status,
                usable=r.status == "active" and r.valid_until > now,
            )
            for r in uow.session.scalars(
                select(Referral)
                .where(Referral.person_id.in_(family))
                .order_by(Referral.issued_at.desc(), Referral.id.desc())
                .limit(MY_LIMIT)
            )
        ]
        return MyAppointments(upcoming, past, referrals)


def reschedule_choice(
    actor: Principal | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RescheduleChoice:
    """Other free times of the same specialty at the same polyclinic, for a move."""
    appointment = citizen_ticket(actor, appointment_id, now=now, uow=uow)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        return _reschedule_choice(uow, appointment, now)


def _reschedule_choice(
    uow: UnitOfWork, appointment: AppointmentView, now: datetime
) -> RescheduleChoice:
    if not appointment.changeable:
        raise errors.AppointmentNotActive()
    head = _head_clinic(uow.session, appointment.clinic.id)
    days = _free_days(uow, _Clinics(uow), appointment.specialty.id, head, now)
    return RescheduleChoice(appointment, days)


# --- Kiosk ---------------------------------------------------------------------------


def _kiosk_patient(uow: UnitOfWork, person_id: int) -> PatientOption:
    facts = accounts.person_by_id(uow.session, person_id)
    if facts is None:
        raise errors.PatientNotFound()
    # A kiosk screen is public: the patient is greeted by first name only.
    return PatientOption(facts.person_id, facts.first_name, facts.birth_date, True)


def kiosk_home(
    person_id: int, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> BookingHome:
    """What an identified kiosk patient may book (the caller checked the identity)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        patient = _kiosk_patient(uow, person_id)
        home = _booking_home(uow, [patient], patient, now)
        # Shown before the patient picks a time, not as a refusal after confirming.
        status = service.identified_booking_status(person_id, now=now, uow=uow)
        return replace(home, suspensions=_suspensions(patient, status))


def kiosk_slots(
    person_id: int,
    specialty_code: str,
    referral_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SlotChoice:
    """Free times for an identified kiosk patient."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        return _slot_choice(uow, _kiosk_patient(uow, person_id), specialty_code, referral_id, now)


def kiosk_confirmation(
    person_id: int, slot_id: int, referral_id: int | None = None, *, uow: UnitOfWork | None = None
) -> BookingConfirmation:
    """What the kiosk patient is about to book."""
    uow = uow or UnitOfWork()
    with uow:
        return BookingConfirmation(
            _kiosk_patient(uow, person_id), _slot_details(uow, slot_id), referral_id
        )


def kiosk_ticket(
    person_id: int,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentView:
    """The ticket of the identified patient's appointment; anyone else's is "not found"."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        appointment = _one_appointment(uow, appointment_id, now)
        if appointment.person_id != person_id:
            raise errors.AppointmentNotFound()
        return appointment


# --- Registry ------------------------------------------------------------------------


def _staff_clinics(uow: UnitOfWork, actor: Principal, roles: Iterable[Role]) -> list[ClinicInfo]:
    """The clinics (and their branches) where the actor holds one of ``roles``."""
    wanted = set(roles)
    granted = sorted(
        {g.organisation_id for g in actor.grants if g.role in wanted and g.organisation_id}
    )
    ids: list[int] = []
    for clinic_id in granted:
        if uow.session.get(Clinic, clinic_id) is None:
            continue
        ids.append(clinic_id)
        ids.extend(
            uow.session.scalars(
                select(Clinic.id).where(Clinic.parent_clinic_id == clinic_id).order_by(Clinic.id)
            )
        )
    clinics = _Clinics(uow)
    return [clinics.get(i) for i in dict.fromkeys(ids)]


def _staff_clinic(
    uow: UnitOfWork, actor: Principal, action: Action, roles: Iterable[Role], clinic_id: int | None
) -> tuple[list[ClinicInfo], ClinicInfo]:
    """The clinics the actor works in and the one asked for (default: the first)."""
    authorize(actor, action)
    clinics = _staff_clinics(uow, actor, roles)
    if clinic_id is None and clinics:
        return clinics, clinics[0]
    chosen = [c for c in clinics if c.id == clinic_id]
    head = _head_clinic(uow.session, clinic_id) if clinic_id else None
    if not chosen or not (allowed(actor, action, clinic_id) or allowed(actor, action, head)):
        raise Forbidden("forbidden", N_("You do not have access to this."))
    return clinics, chosen[0]


REGISTRY_ROLES = (Role.REGISTRAR, Role.CLINIC_ADMIN)


def registry_clinic(
    actor: Principal | None, clinic_id: int | None, *, uow: UnitOfWork | None = None
) -> tuple[list[ClinicInfo], ClinicInfo]:
    """The clinics a registrar works in and the one asked for (default: the first)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    uow = uow or UnitOfWork()
    with uow:
        return _staff_clinic(uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id)


def clinic_day(
    actor: Principal | None,
    clinic_id: int | None,
    day: date | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ClinicDay:
    """Every doctor's slots of a clinic on a city date, booked ones with the patient's
    name; each patient shown is recorded in the audit log."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    now = now or utcnow()
    day = day or city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        start, end = _day_bounds(day)
        slots = session.execute(
            select(
                SLOTS.c.id,
                SLOTS.c.practitioner_id,
                SLOTS.c.starts_at,
                SLOTS.c.ends_at,
                SLOTS.c.status,
            )
            .where(
                SLOTS.c.clinic_id == clinic.id,
                SLOTS.c.starts_at >= start,
                SLOTS.c.starts_at < end,
            )
            .order_by(SLOTS.c.starts_at, SLOTS.c.id)
        ).all()
        occupied: dict[int, Any] = {}
        for row in session.execute(
            select(
                APPOINTMENTS.c.id,
                APPOINTMENTS.c.slot_id,
                APPOINTMENTS.c.person_id,
                APPOINTMENTS.c.status,
                APPOINTMENTS.c.ticket_number,
            )
            .where(
                APPOINTMENTS.c.clinic_id == clinic.id,
                APPOINTMENTS.c.starts_at >= start,
                APPOINTMENTS.c.starts_at < end,
                APPOINTMENTS.c.status.in_(OCCUPYING),
            )
            .order_by(APPOINTMENTS.c.id)
        ):
            occupied[row.slot_id] = row  # the latest one wins
        names = accounts.person_names(session, (a.person_id for a in occupied.values()))
        practitioners = {
            p.id: p
            for p in session.scalars(
                select(Practitioner)
                .where(Practitioner.clinic_id == clinic.id)
                .order_by(Practitioner.name)
            )
        }
        specialties = _specialties(session)
        rows: dict[int, list[DaySlotRow]] = {pid: [] for pid in practitioners}
        for slot in slots:
            booking = occupied.get(slot.id)
            rows.setdefault(slot.practitioner_id, []).append(
                DaySlotRow(
                    slot_id=slot.id,
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    status=slot.status,
                    appointment_id=booking.id if booking else None,
                    appointment_status=booking.status if booking else None,
                    person_id=booking.person_id if booking else None,
                    patient_name=names.get(booking.person_id) if booking else None,
                    ticket_number=booking.ticket_number if booking else None,
                )
            )
        doctors = [
            DoctorDay(p.id, p.name, p.room, specialties[p.specialty_id], rows[p.id])
            for p in practitioners.values()
            if rows.get(p.id) or p.active
        ]
        _audit_patients(
            session, actor, "health.registry.day", names, clinic.id, f"day {day.isoformat()}"
        )
        uow.commit()
        return ClinicDay(clinics, clinic, day, doctors)


def _patient_card(
    uow: UnitOfWork,
    actor: Principal,
    clinic: ClinicInfo,
    person_id: int,
    now: datetime,
    action: str,
) -> PatientCard:
    session = uow.session
    facts = accounts.person_by_id(session, person_id)
    if facts is None:
        raise errors.PatientNotFound()
    name = accounts.person_names(session, [person_id]).get(person_id, facts.first_name)
    patient = PatientOption(person_id, name, facts.birth_date)
    clinics = _Clinics(uow)
    branches = select(Clinic.id).where(Clinic.parent_clinic_id == clinic.id)
    appointments = _appointments(
        uow,
        [
            APPOINTMENTS.c.person_id == person_id,
            APPOINTMENTS.c.status == "booked",
            APPOINTMENTS.c.starts_at > now,
            (APPOINTMENTS.c.clinic_id == clinic.id) | APPOINTMENTS.c.clinic_id.in_(branches),
        ],
        now,
        limit=MY_LIMIT,
        newest_first=False,
    )
    today = city_date(now)
    specialties = [
        s for s in service.list_specialties(uow=uow) if _serves(s, facts.birth_date, today)
    ]
    specialties.sort(key=lambda s: (s.booking_mode != "direct", s.name))
    _audit_patients(session, actor, action, [person_id], clinic.id, f"clinic {clinic.id}")
    session.flush()  # a look-up by policy just recorded lets the scope check below pass
    # So that the registrar can explain a suspension (and still book); audited too.
    status = service.staff_booking_status(uow, actor, person_id, now)
    suspensions = _suspensions(patient, status)
    return PatientCard(
        clinic=clinic,
        person_id=person_id,
        name=name,
        birth_date=facts.birth_date,
        attached_clinic=_attached_clinic(session, clinics, patient, today),
        appointments=appointments,
        specialties=specialties,
        suspension=suspensions[0] if suspensions else None,
    )


def _check_in_care(uow: UnitOfWork, actor: Principal, clinic: ClinicInfo, person_id: int) -> None:
    # The answer for a patient of another clinic is the one for an id no one has.
    head = _head_clinic(uow.session, clinic.id)
    if not service.in_care_of(uow.session, actor, person_id, [head]):
        raise errors.PatientNotFound()


def find_patient(
    actor: Principal | None,
    clinic_id: int | None,
    oms_policy: str,
    birth_date: date | None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PatientCard:
    """Find a patient by OMS policy (and date of birth, when given) for the registry;
    rate-limited per staff member and audited."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    policy = accounts.normalize_oms_policy(oms_policy)
    service.count_staff_lookup(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        facts = accounts.person_by_policy(uow.session, policy)
        if facts is None or (birth_date is not None and facts.birth_date != birth_date):
            audit.record(
                uow.session,
                actor,
                "health.patient.lookup",
                organisation_id=clinic.id,
                detail="policy: not found",
            )
            uow.commit()
            raise errors.PatientNotFound()
        card = _patient_card(uow, actor, clinic, facts.person_id, now, "health.patient.lookup")
        uow.commit()
        return card


def patient_card(
    actor: Principal | None,
    clinic_id: int | None,
    person_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PatientCard:
    """A patient's upcoming appointments at the clinic, for the registry: only a patient
    of the clinic (``service.in_care_of``), rate-limited like the look-up and audited."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    service.count_staff_lookup(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        _check_in_care(uow, actor, clinic, person_id)
        card = _patient_card(uow, actor, clinic, person_id, now, "health.patient.view")
        uow.commit()
        return card


def registry_slots(
    actor: Principal | None,
    clinic_id: int | None,
    person_id: int,
    specialty_code: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RegistrySlotChoice:
    """Free times at the registrar's clinic for a patient of the clinic (as
    ``patient_card``: rate-limited, audited, the name is shown)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    service.count_staff_lookup(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        _check_in_care(uow, actor, clinic, person_id)
        card = _patient_card(uow, actor, clinic, person_id, now, "health.patient.view")
        patient = PatientOption(card.person_id, card.name, card.birth_date)
        choice = _slot_choice(uow, patient, specialty_code, None, now, clinic_id=clinic.id)
        uow.commit()
        return RegistrySlotChoice(card, choice)


def registry_reschedule_choice(
    actor: Principal | None,
    clinic_id: int | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RescheduleChoice:
    """Other free times for a patient's appointment at the clinic (audited)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        appointment = _one_appointment(uow, appointment_id, now)
        if _head_clinic(uow.session, appointment.clinic.id) != _head_clinic(uow.session, clinic.id):
            raise errors.AppointmentNotFound()
        choice = _reschedule_choice(uow, appointment, now)
        _audit_patients(
            uow.session,
            actor,
            "health.patient.view",
            [appointment.person_id],
            clinic.id,
            f"appointment {appointment.id}",
        )
        uow.commit()
        return choice


# --- Doctors -------------------------------------------------------------------------

DOCTOR_ROLES = (Role.DOCTOR,)


def doctor_day(
    actor: Principal | None,
    day: date | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> DoctorSchedule:
    """The doctor's appointments of a city date, in order, with patients' names (audited)."""
    actor = authorize(actor, Action.REFERRAL_ISSUE)
    now = now or utcnow()
    day = day or city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinics = _staff_clinics(uow, actor, DOCTOR_ROLES)
        posts = list(
            session.scalars(
                select(Practitioner)
                .where(Practitioner.user_id == actor.user_id)
                .order_by(Practitioner.id)
            )
        )
        start, end = _day_bounds(day)
        appointments = (
            _appointments(
                uow,
                [
                    APPOINTMENTS.c.practitioner_id.in_([p.id for p in posts]),
                    APPOINTMENTS.c.starts_at >= start,
                    APPOINTMENTS.c.starts_at < end,
                    APPOINTMENTS.c.status.in_(OCCUPYING),
                ],
                now,
                limit=MY_LIMIT,
                newest_first=False,
            )
            if posts
            else []
        )
        births = {
            a.person_id: facts.birth_date
            for a in appointments
            if (facts := accounts.person_by_id(session, a.person_id)) is not None
        }
        for a in appointments:
            _audit_patients(
                session,
                actor,
                "health.doctor.day",
                [a.person_id],
                a.clinic.id,
                f"day {day.isoformat()}",
            )
        specialties = _specialties(session)
        result = DoctorSchedule(
            day=day,
            clinic_ids=[c.id for c in clinics],
            posts=[f"{specialties[p.specialty_id].name}, {p.name}" for p in posts],
            appointments=[DoctorAppointment(a, births.get(a.person_id)) for a in appointments],
            specialties=sorted(specialties.values(), key=lambda s: s.name),
            clinics=[
                ClinicInfo(c.id, c.name, c.name_en, c.address)
                for c in service.list_clinics(uow=uow)
            ],
        )
        uow.commit()
        return result


# --- Clinic administration ------------------------------------------------------------


def clinic_schedules(
    actor: Principal | None, clinic_id: int | None, *, uow: UnitOfWork | None = None
) -> ClinicSchedules:
    """Practitioners of a clinic with their weekly rules and exceptions."""
    actor = authorize(actor, Action.SCHEDULE_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinics, clinic = _staff_clinic(
            uow, actor, Action.SCHEDULE_MANAGE, (Role.CLINIC_ADMIN,), clinic_id
        )
        specialties = _specialties(session)
        practitioners = list(
            session.scalars(
                select(Practitioner)
                .where(Practitioner.clinic_id == clinic.id)
                .order_by(Practitioner.name)
            )
        )
        ids = [p.id for p in practitioners]
        rules_by: dict[int, list[RuleView]] = {}
        for r in session.scalars(
            select(ScheduleRule)
            .where(ScheduleRule.practitioner_id.in_(ids))
            .order_by(ScheduleRule.weekday, ScheduleRule.start_time)
        ):
            rules_by.setdefault(r.practitioner_id, []).append(
                RuleView(
                    r.id,
                    r.weekday,
                    r.start_time,
                    r.end_time,
                    r.break_start,
                    r.break_end,
                    r.slot_minutes,
                    r.valid_from,
                    r.valid_to,
                )
            )
        exceptions_by: dict[int, list[ExceptionView]] = {}
        for e in session.scalars(
            select(ScheduleException)
            .where(ScheduleException.practitioner_id.in_(ids))
            .order_by(ScheduleException.date_from)
        ):
            exceptions_by.setdefault(e.practitioner_id, []).append(
                ExceptionView(e.id, e.kind, e.date_from, e.date_to, e.start_time, e.end_time)
            )
        return ClinicSchedules(
            clinics,
            clinic,
            [
                PractitionerSchedule(
                    p.id,
                    p.name,
                    p.room,
                    p.active,
                    specialties[p.specialty_id],
                    rules_by.get(p.id, []),
                    exceptions_by.get(p.id, []),
                )
                for p in practitioners
            ],
        )


# --- Waiting list --------------------------------------------------------------------


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


# --- Home visits ---------------------------------------------------------------------


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


# --- Reminder links ------------------------------------------------------------------


def appointment_by_link(
    appointment_id: int,
    action: str,
    token: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LinkedAppointment:
    """The appointment a reminder's signed link is for (no login: the token is the
    authority); a forged, altered or expired link is ``invalid_link``."""
    now = now or utcnow()
    service.verify_appointment_link(appointment_id, action, token, now=now)
    uow = uow or UnitOfWork()
    with uow:
        try:
            appointment = _one_appointment(uow, appointment_id, now)
        except errors.AppointmentNotFound as exc:
            raise errors.InvalidLink() from exc
        confirmed_at = uow.session.scalar(
            select(APPOINTMENTS.c.confirmed_at).where(APPOINTMENTS.c.id == appointment_id)
        )
        return LinkedAppointment(appointment, action, token, confirmed_at)


# --- City administration -------------------------------------------------------------


def city_specialties(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[SpecialtyRead]:
    """Every specialty with the rules the city tunes (city administrators only)."""
    authorize(actor, Action.DIRECTORY_MANAGE)
    return service.list_specialties(uow=uow)
