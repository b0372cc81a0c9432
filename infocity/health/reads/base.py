"""What the reads of health share: the tables, the clinics read once per transaction, the
family a citizen books for, free times grouped for a page, and which clinics staff work in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
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
from infocity.core.i18n import N_
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules, service
from infocity.health.models import (
    Appointment,
    Attachment,
    Clinic,
    Practitioner,
    Referral,
    Slot,
    Specialty,
)
from infocity.health.reads.shapes import (
    AppointmentView,
    AttachmentView,
    BookingHome,
    ClinicInfo,
    DaySlots,
    DoctorChoice,
    DoctorSlots,
    FreeDay,
    PatientOption,
    ReferralOption,
    ReferralView,
    RescheduleChoice,
    SlotChoice,
    SlotDetails,
    SlotItem,
    SlotPicker,
    SpecialtyOption,
    Suspension,
)
from infocity.health.schemas import (
    AppointmentDetailsRead,
    AppointmentRead,
    BookingStatusRead,
    ClinicPlaceRead,
    SlotFilter,
    SpecialtyRead,
)

BOOKING_DAYS = 14  # the citizen chooses among the next two weeks
SLOT_LIMIT = 1000
MY_LIMIT = 200
OCCUPYING = rules.OCCUPYING

SLOTS = cast(Table, Slot.__table__)
APPOINTMENTS = cast(Table, Appointment.__table__)


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


def _serves(specialty: SpecialtyRead, patient: PatientOption, today: date) -> bool:
    """Whether the specialty sees the patient (the booking's own rule, so nothing
    offered is refused after the click)."""
    return rules.suits(patient.traits, today, audience=specialty.audience, sex=specialty.sex)


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
        PatientOption(me.id, name(me), me.birth_date, True, me.sex),
        *(PatientOption(c.id, name(c), c.birth_date, sex=c.sex) for c in profile.children),
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
    raise errors.NotYourPatient()


def _active_referrals(
    session: Session, clinics: _Clinics, person_id: int, now: datetime
) -> dict[int, list[ReferralOption]]:
    rows = session.execute(
        select(Referral.id, Referral.specialty_id, Referral.valid_until, Referral.target_clinic_id)
        .where(
            Referral.person_id == person_id,
            Referral.status == rules.ReferralStatus.ACTIVE,
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
    clinic = _attached_clinic(session, clinics, patient, today)
    # Only what the patient's polyclinic has a doctor for, or what a referral sends
    # them to (perhaps elsewhere).
    posted = _posted_specialties(session, clinic.id) if clinic is not None else None
    options = [
        SpecialtyOption(s, tuple(referrals.get(s.id, ())))
        for s in service.list_specialties(uow=uow)
        if _serves(s, patient, today) and (posted is None or s.id in posted or s.id in referrals)
    ]
    # Direct specialties first, then those by referral, each by name.
    options.sort(key=lambda o: (o.needs_referral, o.specialty.name))
    return BookingHome(
        patients=patients,
        patient=patient,
        clinic=clinic,
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
        SlotFilter(
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
    else:
        problem = _why_nothing_here(session, clinics, patient, specialty, clinic, now, clinic_id)
    days = (
        [] if problem or clinic is None else _free_days(uow, clinics, specialty.id, clinic.id, now)
    )
    return SlotChoice(patient, specialty, clinic, days, referral_id, problem)


def _own_doctor(session: Session, person_id: int, specialty_id: int) -> int | None:
    """The patient's own doctor of the specialty: the doctor of their district at the
    polyclinic they are attached to (set at its registry), else the one they last saw
    or are booked with."""
    district_doctor = session.scalar(
        select(Practitioner.id)
        .join(Clinic, Clinic.id == Practitioner.clinic_id)
        .join(
            Attachment,
            (Attachment.district == Practitioner.district)
            & (
                (Attachment.clinic_id == Clinic.id)
                | (Attachment.clinic_id == Clinic.parent_clinic_id)
            ),
        )
        .where(
            Attachment.person_id == person_id,
            Attachment.valid_to.is_(None),
            Practitioner.specialty_id == specialty_id,
            Practitioner.active.is_(True),
        )
        .order_by(Practitioner.id)
        .limit(1)
    )
    if district_doctor is not None:
        return district_doctor
    return session.scalar(
        select(APPOINTMENTS.c.practitioner_id)
        .where(
            APPOINTMENTS.c.person_id == person_id,
            APPOINTMENTS.c.specialty_id == specialty_id,
            APPOINTMENTS.c.status.in_(
                (rules.AppointmentStatus.BOOKED, rules.AppointmentStatus.ATTENDED)
            ),
        )
        .order_by(APPOINTMENTS.c.starts_at.desc(), APPOINTMENTS.c.id.desc())
        .limit(1)
    )


def _pick_slots(
    days: list[DaySlots], own: int | None, doctor_id: int | None, day: date | None
) -> SlotPicker:
    """Narrow two weeks of free times to what one page shows: the doctors with free time
    (the patient's own first), the days the chosen doctor has free time, and the times
    of the chosen day (the first free day unless another is asked for)."""
    doctors: dict[int, DoctorChoice] = {}
    for one_day in days:
        for d in one_day.doctors:
            seen = doctors.get(d.practitioner_id)
            doctors[d.practitioner_id] = DoctorChoice(
                practitioner_id=d.practitioner_id,
                name=d.name,
                room=d.room,
                clinic=d.clinic,
                free=len(d.slots) + (seen.free if seen else 0),
                first=seen.first if seen else d.slots[0].starts_at,
                own=d.practitioner_id == own,
            )
    listed = sorted(doctors.values(), key=lambda d: (not d.own, d.first, d.name))
    if doctor_id not in doctors:
        doctor_id = None  # a doctor with no free time left: show them all
    narrowed = [
        replace(
            one_day,
            doctors=[d for d in one_day.doctors if d.practitioner_id == doctor_id],
        )
        if doctor_id is not None
        else one_day
        for one_day in days
    ]
    narrowed = [d for d in narrowed if d.doctors]
    free_days = [
        FreeDay(
            d.day,
            min(x.slots[0].starts_at for x in d.doctors),
            sum(len(x.slots) for x in d.doctors),
        )
        for d in narrowed
    ]
    chosen = [d for d in narrowed if d.day == day] or narrowed[:1]
    return SlotPicker(
        doctors=listed,
        doctor_id=doctor_id,
        days=free_days,
        day=chosen[0].day if chosen else None,
        times=chosen,
    )


def _clinic_kind(session: Session, clinic_id: int) -> str:
    kind = session.scalar(select(Clinic.clinic_kind).where(Clinic.id == clinic_id))
    assert kind is not None
    return kind


def _posted_specialties(session: Session, clinic_id: int) -> set[int]:
    """Specialties with a doctor (an active post) at the clinic's head clinic or its
    branches: only these can ever have a time there."""
    head = _head_clinic(session, clinic_id)
    branches = select(Clinic.id).where(Clinic.parent_clinic_id == head)
    return set(
        session.scalars(
            select(Practitioner.specialty_id).where(
                Practitioner.active.is_(True),
                (Practitioner.clinic_id == head) | Practitioner.clinic_id.in_(branches),
            )
        )
    )


def _unsuited_for_clinic(
    session: Session, patient: PatientOption, clinic_id: int, on: date
) -> str | None:
    """Why the clinic would refuse the patient whatever the doctor (a message id)."""
    audience = rules.clinic_audience(_clinic_kind(session, clinic_id))
    refusal = rules.why_unsuited(patient.traits, on, audience=audience)
    return refusal.message if refusal is not None else None


def _unsuited(
    session: Session, patient: PatientOption, specialty: SpecialtyRead, clinic_id: int, on: date
) -> str | None:
    """Why the clinic's doctors of this specialty would refuse the patient (a message id),
    by the rule the booking applies; None if they would not."""
    refusal = rules.why_unsuited(patient.traits, on, audience=specialty.audience, sex=specialty.sex)
    if refusal is not None:
        return refusal.message
    return _unsuited_for_clinic(session, patient, clinic_id, on)


def _why_nothing_here(
    session: Session,
    clinics: _Clinics,
    patient: PatientOption,
    specialty: SpecialtyRead,
    clinic: ClinicInfo,
    now: datetime,
    registry_clinic_id: int | None,
) -> str | None:
    """Why no time of ``clinic`` is shown (a message id), before any is: the patient does
    not fit, is attached elsewhere (at the registry), or the clinic has no such doctor."""
    today = city_date(now)
    unsuited = _unsuited(session, patient, specialty, clinic.id, today)
    if unsuited is not None:
        return unsuited
    if registry_clinic_id is not None and specialty.booking_mode == "direct":
        attached = _attached_clinic(session, clinics, patient, today)
        if attached is None or attached.id != _head_clinic(session, registry_clinic_id):
            return ATTACHED_ELSEWHERE
    if specialty.id not in _posted_specialties(session, clinic.id):
        return N_("This polyclinic has no doctor of this specialty.")
    return None


ATTACHED_ELSEWHERE = N_(
    "The patient is not attached to this polyclinic: they are booked to its doctors only "
    "with a referral."
)


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
    order = (
        (APPOINTMENTS.c.starts_at.desc(), APPOINTMENTS.c.id.desc())
        if newest_first
        else (APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
    )
    rows = uow.session.execute(
        select(
            APPOINTMENTS.c.id,
            APPOINTMENTS.c.ticket_number,
            APPOINTMENTS.c.status,
            APPOINTMENTS.c.channel,
            APPOINTMENTS.c.starts_at,
            APPOINTMENTS.c.person_id,
            APPOINTMENTS.c.clinic_id,
            APPOINTMENTS.c.specialty_id,
            APPOINTMENTS.c.practitioner_id,
        )
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
    ).all()
    return _appointment_views(uow, rows, now)


def _appointment_views(
    uow: UnitOfWork, appointments: Sequence[Any], now: datetime
) -> list[AppointmentView]:
    """Appointments (rows, or the service's ``AppointmentRead``) as the pages show them:
    with the patient's name, the doctor, the room and the clinic."""
    if not appointments:
        return []
    session = uow.session
    doctors = {
        row.id: row
        for row in session.execute(
            select(Practitioner.id, Practitioner.name, Practitioner.room).where(
                Practitioner.id.in_({a.practitioner_id for a in appointments})
            )
        )
    }
    specialties = _specialties(session)
    names = accounts.person_names(session, (a.person_id for a in appointments))
    clinics = _Clinics(uow)
    return [
        AppointmentView(
            id=a.id,
            ticket_number=a.ticket_number,
            status=a.status,
            channel=a.channel,
            starts_at=a.starts_at,
            person_id=a.person_id,
            patient_name=names.get(a.person_id, ""),
            specialty=specialties[a.specialty_id],
            doctor=doctors[a.practitioner_id].name,
            room=doctors[a.practitioner_id].room,
            clinic=clinics.get(a.clinic_id),
            changeable=a.status == rules.AppointmentStatus.BOOKED and a.starts_at > now,
        )
        for a in appointments
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


def _suspensions(patient: PatientOption, status: BookingStatusRead) -> list[Suspension]:
    if status.suspended and status.suspended_until is not None:
        return [Suspension(patient, status.suspended_until, status.reason or "")]
    return []


def _reschedule_choice(
    uow: UnitOfWork, appointment: AppointmentView, now: datetime
) -> RescheduleChoice:
    if not appointment.changeable:
        raise errors.AppointmentNotActive()
    head = _head_clinic(uow.session, appointment.clinic.id)
    days = _free_days(uow, _Clinics(uow), appointment.specialty.id, head, now)
    return RescheduleChoice(appointment, days)


def _appointment_practitioner(uow: UnitOfWork, appointment_id: int) -> int | None:
    return uow.session.scalar(
        select(APPOINTMENTS.c.practitioner_id).where(APPOINTMENTS.c.id == appointment_id)
    )


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
        raise errors.NoAccess()
    return clinics, chosen[0]


REGISTRY_ROLES = (Role.REGISTRAR, Role.CLINIC_ADMIN)


def _referral_views(
    uow: UnitOfWork, patients: Sequence[PatientOption], now: datetime
) -> list[ReferralView]:
    """The patients' referrals, newest first: open, used, expired and cancelled."""
    names = {p.id: p.name for p in patients}
    specialties = _specialties(uow.session)
    clinics = _Clinics(uow)
    return [
        ReferralView(
            id=r.id,
            person_id=r.person_id,
            patient_name=names[r.person_id],
            specialty=specialties[r.specialty_id],
            target_clinic=clinics.get(r.target_clinic_id) if r.target_clinic_id else None,
            issued_at=r.issued_at,
            valid_until=r.valid_until,
            status=r.status,
            usable=r.status == rules.ReferralStatus.ACTIVE and r.valid_until > now,
            state=rules.referral_state(r.status, r.valid_until, now),
        )
        for r in uow.session.scalars(
            select(Referral)
            .where(Referral.person_id.in_(names))
            .order_by(Referral.issued_at.desc(), Referral.id.desc())
            .limit(MY_LIMIT)
        )
    ]


def _attachment_views(uow: UnitOfWork, patients: Sequence[PatientOption]) -> list[AttachmentView]:
    """The patients' current polyclinics (one per kind at most)."""
    clinics = _Clinics(uow)
    return [
        AttachmentView(
            person_id=a.person_id,
            clinic=clinics.get(a.clinic_id),
            kind=a.kind,
            since=a.valid_from,
            can_change_from=rules.next_attachment_change(a.valid_from),
        )
        for patient in patients
        for a in service.current_attachments(patient.id, uow=uow)
    ]


def _appointment_details(
    uow: UnitOfWork, appointments: Sequence[AppointmentRead], now: datetime
) -> list[AppointmentDetailsRead]:
    """The service's appointments with the clinic's address, the room and the doctor."""
    views = {v.id: v for v in _appointment_views(uow, appointments, now)}
    return [
        AppointmentDetailsRead(
            **a.model_dump(),
            patient_name=views[a.id].patient_name,
            specialty=views[a.id].specialty,
            doctor=views[a.id].doctor,
            room=views[a.id].room,
            clinic=ClinicPlaceRead.model_validate(views[a.id].clinic),
            changeable=views[a.id].changeable,
        )
        for a in appointments
    ]
