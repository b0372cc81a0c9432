"""What every part of the health service shares: the tables, the clock of the city,
the checks of who may act in which clinic, and the notifications."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from babel.dates import format_date
from sqlalchemy import Table, exists, or_, select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core.auth import Action, Principal, Role, allowed, authorize
from infocity.core.clock import city_tz
from infocity.core.db import utcnow
from infocity.core.i18n import current_locale
from infocity.core.models import AuditEntry
from infocity.core.outbox import Recipient, notify
from infocity.core.ratelimit import hit
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import (
    CHANNELS,
    Appointment,
    AppointmentReminder,
    Attachment,
    BookingQuota,
    BookingStanding,
    Clinic,
    HomeVisitRequest,
    Practitioner,
    Referral,
    Slot,
    Specialty,
    WaitlistEntry,
    WaitlistOffer,
)
from infocity.health.rules import Move
from infocity.health.schemas import AppointmentRead

MY_APPOINTMENTS_LIMIT = 200
JOB_BATCH = 500  # rows one run of a periodic job handles
LOOKUP_WINDOW_SECONDS = 60  # staff reads of a patient: the citizen look-up's window
# A registrar who identified a patient by policy (and birth date) may open the patient's
# card by id for a working shift, to book them though they are not yet the clinic's.
IDENTIFIED_FOR = timedelta(hours=12)
CARE_ROLES = (Role.REGISTRAR, Role.CLINIC_ADMIN, Role.DOCTOR)

SLOTS = cast(Table, Slot.__table__)
APPOINTMENTS = cast(Table, Appointment.__table__)
REFERRALS = cast(Table, Referral.__table__)
QUOTAS = cast(Table, BookingQuota.__table__)
ATTACHMENTS = cast(Table, Attachment.__table__)
STANDINGS = cast(Table, BookingStanding.__table__)
ENTRIES = cast(Table, WaitlistEntry.__table__)
OFFERS = cast(Table, WaitlistOffer.__table__)
REMINDERS = cast(Table, AppointmentReminder.__table__)
HOME_VISITS = cast(Table, HomeVisitRequest.__table__)

APPOINTMENT_COLUMNS = (
    APPOINTMENTS.c.id,
    APPOINTMENTS.c.slot_id,
    APPOINTMENTS.c.clinic_id,
    APPOINTMENTS.c.person_id,
    APPOINTMENTS.c.specialty_id,
    APPOINTMENTS.c.practitioner_id,
    APPOINTMENTS.c.starts_at,
    APPOINTMENTS.c.ends_at,
    APPOINTMENTS.c.status,
    APPOINTMENTS.c.channel,
    APPOINTMENTS.c.ticket_number,
    APPOINTMENTS.c.referral_id,
    APPOINTMENTS.c.rescheduled_from_id,
    APPOINTMENTS.c.created_at,
    APPOINTMENTS.c.cancelled_at,
    APPOINTMENTS.c.confirmed_at,
    APPOINTMENTS.c.outcome_at,
)


def _in_state(column: Any, move: Move) -> Any:
    """The guard of a guarded UPDATE making ``move``: the row is in a state the move may
    start from (``rules.TRANSITIONS``)."""
    states = rules.expected(move)
    return column == states[0] if len(states) == 1 else column.in_(states)


def _appointment_read(row: Any) -> AppointmentRead:
    return AppointmentRead.model_validate(row, from_attributes=True)


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise errors.InvalidChannel()


def _specialty_by_code(session: Session, code: str) -> Specialty:
    specialty = session.scalars(select(Specialty).where(Specialty.code == code)).one_or_none()
    if specialty is None:
        raise errors.SpecialtyNotFound()
    return specialty


def _practitioner(session: Session, practitioner_id: int, *, lock: bool = False) -> Practitioner:
    """The practitioner; with ``lock``, locked until commit (a change of their schedule
    and the hourly slot job, which locks them too, never interleave)."""
    practitioner = session.get(
        Practitioner, practitioner_id, with_for_update={"key_share": True} if lock else None
    )
    if practitioner is None:
        raise errors.PractitionerNotFound()
    return practitioner


def _head_clinic_ids(session: Session, clinic_id: int) -> tuple[int, ...]:
    """The clinic and its head clinic: staff of either may act for a branch."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        return (clinic_id,)
    return (clinic.id,) if clinic.parent_clinic_id is None else (clinic.id, clinic.parent_clinic_id)


def _authorize_in_clinic(
    session: Session, actor: Principal | None, action: Action, clinic_id: int
) -> Principal:
    """``actor`` may do ``action`` in the clinic or in its head clinic."""
    actor = authorize(actor, action)
    if not any(allowed(actor, action, cid) for cid in _head_clinic_ids(session, clinic_id)):
        raise errors.NoAccess()
    return actor


def staff_head_clinics(session: Session, actor: Principal) -> set[int]:
    """The head clinics of the clinics where the actor works in a clinic role."""
    return {
        _head_clinic_ids(session, grant.organisation_id)[-1]
        for grant in actor.grants
        if grant.role in CARE_ROLES and grant.organisation_id is not None
    }


def in_care_of(
    session: Session, actor: Principal, person_id: int, head_clinic_ids: Iterable[int]
) -> bool:
    """Whether a patient is the clinics' (given by their head clinics): attached there,
    booked there or at a branch (ever), or identified by this staff member by policy at
    the registry within ``IDENTIFIED_FOR``. Staff see other patients as if they did not
    exist, so that no one learns which ids are taken."""
    if actor.is_system:
        return True
    heads = sorted(set(head_clinic_ids))
    if not heads:
        return False
    family = select(Clinic.id).where(or_(Clinic.id.in_(heads), Clinic.parent_clinic_id.in_(heads)))
    attached = select(ATTACHMENTS.c.id).where(
        ATTACHMENTS.c.person_id == person_id,
        ATTACHMENTS.c.valid_to.is_(None),
        ATTACHMENTS.c.clinic_id.in_(heads),
    )
    booked = select(APPOINTMENTS.c.id).where(
        APPOINTMENTS.c.person_id == person_id, APPOINTMENTS.c.clinic_id.in_(family)
    )
    identified = select(AuditEntry.id).where(
        AuditEntry.subject_person_id == person_id,
        AuditEntry.actor_user_id == actor.user_id,
        AuditEntry.action == "health.patient.lookup",
        AuditEntry.organisation_id.in_(family),
        AuditEntry.at >= utcnow() - IDENTIFIED_FOR,
    )
    return bool(session.scalar(select(or_(exists(attached), exists(booked), exists(identified)))))


def count_staff_lookup(actor: Principal) -> None:
    """Count a staff member's read of a patient against the look-up limit (committed at
    once, so call it before the use case's unit of work begins)."""
    if actor.is_system:
        return
    hit(
        f"health-lookup:{actor.user_id}",
        limit=get_settings().lookups_per_minute,
        window_seconds=LOOKUP_WINDOW_SECONDS,
    )


def _patient(session: Session, person_id: int) -> accounts.PersonFacts:
    patient = accounts.person_by_id(session, person_id)
    if patient is None:
        raise errors.PatientNotFound()
    return patient


def _own_and_children(uow: UnitOfWork, actor: Principal) -> list[int]:
    """The people a citizen acts for: their children and themself."""
    person_ids = [p.id for p in accounts.list_family(actor, uow=uow)]
    if actor.person_id is not None:
        person_ids.append(actor.person_id)
    return person_ids


def _notify(
    uow: UnitOfWork,
    appointment: AppointmentRead,
    kind: str,
    extra: Mapping[str, Any] | None = None,
    *,
    user_ids: Sequence[int] | None = None,
) -> None:
    """Queue the message to the patient's and guardians' accounts, in this transaction
    (``user_ids``: those accounts, when the caller has read them already)."""
    session = uow.session
    if user_ids is None:
        user_ids = accounts.users_to_notify(session, appointment.person_id)
    if not user_ids:
        return
    (doctor,) = _doctors(session, [appointment.practitioner_id]).values()
    organisation = city.get_organisation(appointment.clinic_id, uow=uow)
    patient = accounts.person_by_id(session, appointment.person_id)
    context = _message_context(
        appointment, patient.first_name if patient else "", doctor, organisation, extra
    )
    for user_id in user_ids:
        _queue(session, accounts.recipient_for_user(session, user_id), kind, context)


def _notify_booked(
    uow: UnitOfWork, booked: Sequence[tuple[AppointmentRead, str, Sequence[int] | None]]
) -> None:
    """``_notify(…, "appointment_booked", user_ids=…)`` for each appointment of a batch
    (with its patient's first name, already read): the same messages, with one read of
    the doctors, one of the accounts and one a clinic, instead of four reads each while
    the batch holds its slots."""
    session = uow.session
    booked = [
        (appointment, name, accounts.users_to_notify(session, appointment.person_id))
        if user_ids is None
        else (appointment, name, user_ids)
        for appointment, name, user_ids in booked
    ]
    booked = [item for item in booked if item[2]]
    if not booked:
        return
    doctors = _doctors(session, [appointment.practitioner_id for appointment, _, _ in booked])
    organisations = {
        clinic_id: city.get_organisation(clinic_id, uow=uow)
        for clinic_id in sorted({appointment.clinic_id for appointment, _, _ in booked})
    }
    recipients = accounts.recipients_for_users(
        session, [user_id for _, _, user_ids in booked for user_id in user_ids or ()]
    )
    for appointment, patient_name, user_ids in booked:
        if not user_ids:
            continue
        context = _message_context(
            appointment,
            patient_name,
            doctors[appointment.practitioner_id],
            organisations[appointment.clinic_id],
        )
        for user_id in user_ids:
            # A missing account fails the batch, whose requests are then booked alone.
            _queue(session, recipients[user_id], "appointment_booked", context)


def _doctors(session: Session, practitioner_ids: Sequence[int]) -> dict[int, Any]:
    """The specialty, name and room of each of these practitioners, by id."""
    rows = session.execute(
        select(
            Practitioner.id,
            Specialty.name,
            Specialty.name_en,
            Practitioner.name.label("practitioner"),
            Practitioner.room,
        )
        .join(Practitioner, Practitioner.specialty_id == Specialty.id)
        .where(Practitioner.id.in_(sorted(set(practitioner_ids))))
    )
    return {row.id: row for row in rows}


def _message_context(
    appointment: AppointmentRead,
    patient_name: str,
    doctor: Any,
    organisation: Any,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a message about an appointment says."""
    return {
        "patient_name": patient_name,
        "specialty": doctor.name,
        "specialty_en": doctor.name_en,
        "practitioner": doctor.practitioner,
        "room": doctor.room,
        "clinic": organisation.name,
        "clinic_en": organisation.name_en or organisation.name,
        "address": organisation.address or "",
        "starts_at": appointment.starts_at,
        "ticket": appointment.ticket_number,
        **(extra or {}),
    }


def _queue(session: Session, recipient: Recipient, kind: str, context: Mapping[str, Any]) -> None:
    notify(
        session,
        recipient,
        kind=kind,
        template=f"health/messages/{kind}.txt",
        context=context,
        link="/health/appointments",
    )


def _notify_person(
    uow: UnitOfWork, person_id: int, kind: str, context: Mapping[str, Any], link: str
) -> None:
    """Queue a message about a patient (not about one appointment) to them and their
    guardians, in this transaction."""
    session = uow.session
    patient = accounts.person_by_id(session, person_id)
    full = {"patient_name": patient.first_name if patient else "", **context}
    for user_id in accounts.users_to_notify(session, person_id):
        notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind=kind,
            template=f"health/messages/{kind}.txt",
            context=full,
            link=link,
        )


def _format_day(instant: datetime) -> str:
    """The city date of ``instant``, written out in the current language."""
    return format_date(rules.city_date(instant, city_tz()), "long", locale=current_locale())


def _refuse_if_suspended(session: Session, person_id: int, now: datetime) -> None:
    """Refuse self-booking while the patient's booking is suspended for no-shows."""
    row = session.execute(
        select(STANDINGS.c.suspended_until, STANDINGS.c.suspension_no_shows).where(
            STANDINGS.c.person_id == person_id, STANDINGS.c.suspended_until > now
        )
    ).one_or_none()
    if row is not None:
        raise errors.BookingSuspended(
            until=_format_day(row.suspended_until), count=row.suspension_no_shows
        )
