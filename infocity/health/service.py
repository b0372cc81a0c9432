"""Use cases of medical appointments: one function per thing a user does, one
transaction each.

The booking path is built around one guarded statement. A slot is taken by
``UPDATE slots SET status = 'booked' WHERE id = :id AND status = 'free' AND released
AND in the future AND <patient under the limit> RETURNING ...``; on PostgreSQL the same
statement also inserts the appointment (a data-modifying CTE), so a booking is one
round trip. Only when it takes no row do we read, to say precisely why. The partial
unique index on active appointments per slot is the backstop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from babel.dates import format_date
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    BigInteger,
    CursorResult,
    Executable,
    Row,
    Table,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit
from infocity.core.ages import age_on
from infocity.core.auth import Action, Principal, Role, allowed, authorize
from infocity.core.db import UTCDateTime, fetch_rows, utcnow
from infocity.core.errors import Conflict, Forbidden, InvalidInput
from infocity.core.i18n import N_, current_locale, format_datetime
from infocity.core.models import AuditEntry
from infocity.core.outbox import notify
from infocity.core.ratelimit import Limit, hit, hit_many
from infocity.core.security import token_hash
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.health import errors, rules
from infocity.health.metrics import counted
from infocity.health.models import (
    ACTIVE_WAITLIST_ENTRY,
    CHANNELS,
    OUTCOMES,
    Appointment,
    AppointmentReminder,
    Attachment,
    BookingQuota,
    BookingStanding,
    Clinic,
    HomeVisitRequest,
    Practitioner,
    Referral,
    ScheduleException,
    ScheduleRule,
    Slot,
    Specialty,
    WaitlistEntry,
    WaitlistOffer,
)
from infocity.health.schemas import (
    AffectedAppointmentRead,
    AnonymousBookingCreate,
    AppointmentRead,
    AttachmentCreate,
    AttachmentRead,
    BookingCreate,
    BookingStatusRead,
    ClinicCreate,
    ClinicRead,
    HoldAccept,
    HomeVisitCreate,
    HomeVisitRead,
    HomeVisitUpdate,
    IdentifiedBookingCreate,
    OutcomeCreate,
    PractitionerCreate,
    PractitionerRead,
    ReferralCreate,
    ReferralRead,
    RegistryBookingCreate,
    RescheduleCreate,
    ScheduleChangeRead,
    ScheduleExceptionCreate,
    ScheduleExceptionRead,
    ScheduleRuleCreate,
    ScheduleRuleRead,
    ScheduleRuleUpdate,
    SlotRead,
    SlotSearch,
    SpecialtyRead,
    SpecialtyUpdate,
    WaitlistEntryCreate,
    WaitlistEntryRead,
)

IDENTIFY_WINDOW_SECONDS = 600
# A kiosk serves a whole polyclinic from one address: the per-address limit is generous,
# the per-policy-and-address one is what stops guessing birth dates. Keyed by address
# too, so wrong dates typed at one terminal never lock the patient out of another.
IDENTIFY_PER_POLICY = 10
IDENTIFY_PER_ADDRESS = 300
INSERT_BATCH = 500
MY_APPOINTMENTS_LIMIT = 200
QUEUE_LIMIT = 500  # rows of a clinic's home visit queue on one page
ALTERNATIVES = 3  # free times suggested to a patient whose appointment the clinic cancelled
OFFER_CANDIDATES = 20  # waiting entries tried, in order, for one freed slot
OFFER_SCAN = 200  # free slots looked at for one waiting entry (time-of-day filtered after)
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


# --- Helpers -----------------------------------------------------------------------


def _dml(session: Session, statement: Executable) -> CursorResult[Any]:
    """Run an UPDATE, DELETE or INSERT and keep its row count (guarded transitions)."""
    return cast(CursorResult[Any], session.execute(statement))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _upsert(session: Session) -> Callable[[Table], Any]:
    return cast(
        Callable[[Table], Any], pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    )


def _tz() -> Any:
    return get_settings().city_tz


def _city_today(now: datetime) -> date:
    return rules.city_date(now, _tz())


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


def _practitioner(session: Session, practitioner_id: int) -> Practitioner:
    practitioner = session.get(Practitioner, practitioner_id)
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
        raise Forbidden("forbidden", N_("You do not have access to this."))
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


# --- Directory ---------------------------------------------------------------------


def seed_specialties(*, uow: UnitOfWork | None = None) -> int:
    """Add the city's 19 specialties that are missing; return how many were added."""
    uow = uow or UnitOfWork()
    with uow:
        table = cast(Table, Specialty.__table__)
        added = 0
        now = utcnow()
        for seed in rules.SPECIALTIES:
            statement = (
                _upsert(uow.session)(table)
                .values(
                    code=seed.code,
                    name=seed.name,
                    name_en=seed.name_en,
                    slot_minutes=seed.slot_minutes,
                    booking_mode=seed.booking_mode,
                    horizon_days=rules.DEFAULT_HORIZON_DAYS,
                    release_time=rules.DEFAULT_RELEASE_TIME,
                    active_limit=rules.DEFAULT_ACTIVE_LIMIT,
                    audience=seed.audience,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["code"])
            )
            added += _dml(uow.session, statement).rowcount
        uow.commit()
        return added


def list_specialties(*, uow: UnitOfWork | None = None) -> list[SpecialtyRead]:
    """Every specialty, directly bookable first, then by name."""
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.scalars(
            select(Specialty).order_by(Specialty.booking_mode, Specialty.name_en)
        )
        return [SpecialtyRead.model_validate(row) for row in rows]


def update_specialty(
    actor: Principal | None,
    specialty_id: int,
    data: SpecialtyUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SpecialtyRead:
    """Tune a specialty (city administrators): slot length, booking mode, horizon,
    release time, limit of active appointments."""
    authorize(actor, Action.DIRECTORY_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        specialty = session.get(Specialty, specialty_id)
        if specialty is None:
            raise errors.SpecialtyNotFound()
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in changes.items():
            setattr(specialty, name, value)
        session.flush()
        if {"horizon_days", "release_time"} & changes.keys():
            _move_unreleased_slots(session, specialty, now)
        audit.record(
            session,
            actor,
            "health.specialty.update",
            detail=f"{specialty.code}: {', '.join(sorted(changes)) or 'no change'}",
        )
        result = SpecialtyRead.model_validate(specialty)
        uow.commit()
        return result


MAX_HORIZON_DAYS = 60  # the longest booking horizon a specialty may have (SpecialtyUpdate)


def _move_unreleased_slots(session: Session, specialty: Specialty, now: datetime) -> None:
    # Slots not yet open follow the new release rule; slots already open stay open, so
    # nobody loses a time they could already see. Slot length changes apply to slots
    # materialised from now on.
    tz = get_settings().city_tz
    today = _city_today(now)
    for offset in range(0, 2 * MAX_HORIZON_DAYS + 2):
        day = today + timedelta(days=offset)
        day_start = rules.local_instant(day, time(0, 0), tz) or datetime.combine(
            day, time(1, 0), tzinfo=tz
        ).astimezone(UTC)
        next_day = day + timedelta(days=1)
        day_end = rules.local_instant(next_day, time(0, 0), tz) or datetime.combine(
            next_day, time(1, 0), tzinfo=tz
        ).astimezone(UTC)
        opens = rules.release_at(
            day, horizon_days=specialty.horizon_days, release_time=specialty.release_time, tz=tz
        )
        _dml(
            session,
            update(SLOTS)
            .where(
                SLOTS.c.specialty_id == specialty.id,
                SLOTS.c.starts_at >= day_start,
                SLOTS.c.starts_at < day_end,
                SLOTS.c.release_at > now,
            )
            .values(release_at=opens),
        )


def create_clinic(
    data: ClinicCreate, *, actor: Principal | None, uow: UnitOfWork | None = None
) -> ClinicRead:
    """Give an organisation of kind "clinic" its health profile (city administrators;
    ``SYSTEM``)."""
    authorize(actor, Action.DIRECTORY_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        organisation = city.get_organisation(data.organisation_id, uow=uow)
        if organisation.kind != "clinic":
            raise InvalidInput(
                "not_a_clinic",
                N_("This organisation is not a polyclinic."),
                field="organisation_id",
            )
        if data.parent_clinic_id is not None:
            parent = uow.session.get(Clinic, data.parent_clinic_id)
            if parent is None:
                raise errors.ClinicNotFound()
            if parent.parent_clinic_id is not None or parent.clinic_kind != data.clinic_kind:
                raise InvalidInput(
                    "invalid_parent_clinic",
                    N_("A branch belongs to a head polyclinic of the same kind."),
                    field="parent_clinic_id",
                )
        if uow.session.get(Clinic, data.organisation_id) is not None:
            raise Conflict("clinic_exists", N_("This polyclinic is already registered."))
        clinic = Clinic(
            id=data.organisation_id,
            clinic_kind=data.clinic_kind,
            parent_clinic_id=data.parent_clinic_id,
        )
        uow.session.add(clinic)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict("clinic_exists", N_("This polyclinic is already registered.")) from exc
        result = ClinicRead(
            id=clinic.id,
            name=organisation.name,
            name_en=organisation.name_en,
            address=organisation.address,
            clinic_kind=clinic.clinic_kind,
            parent_clinic_id=clinic.parent_clinic_id,
        )
        uow.commit()
        return result


def list_clinics(*, uow: UnitOfWork | None = None) -> list[ClinicRead]:
    """Every polyclinic and branch with its health profile, by name."""
    uow = uow or UnitOfWork()
    with uow:
        profiles = {c.id: c for c in uow.session.scalars(select(Clinic))}
        return [
            ClinicRead(
                id=o.id,
                name=o.name,
                name_en=o.name_en,
                address=o.address,
                clinic_kind=profiles[o.id].clinic_kind,
                parent_clinic_id=profiles[o.id].parent_clinic_id,
            )
            for o in city.list_organisations("clinic", uow=uow)
            if o.id in profiles
        ]


def add_practitioner(
    data: PractitionerCreate, *, actor: Principal | None, uow: UnitOfWork | None = None
) -> PractitionerRead:
    """Add a doctor's post to a clinic (clinic administrators; ``SYSTEM``)."""
    actor = authorize(actor, Action.SCHEDULE_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        if uow.session.get(Clinic, data.clinic_id) is None:
            raise errors.ClinicNotFound()
        _authorize_in_clinic(uow.session, actor, Action.SCHEDULE_MANAGE, data.clinic_id)
        specialty = _specialty_by_code(uow.session, data.specialty_code)
        practitioner = Practitioner(
            clinic_id=data.clinic_id,
            specialty_id=specialty.id,
            name=data.name,
            room=data.room,
            user_id=data.user_id,
            active=True,
        )
        uow.session.add(practitioner)
        try:
            uow.session.flush()
        except IntegrityError as exc:  # the only foreign key left unchecked: the user
            raise InvalidInput(
                "user_not_found", N_("There is no such user."), field="user_id"
            ) from exc
        result = PractitionerRead.model_validate(practitioner)
        uow.commit()
        return result


# --- Attachment --------------------------------------------------------------------


def attach_patient(
    actor: Principal | None,
    data: AttachmentCreate,
    *,
    approved_by: Principal | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AttachmentRead:
    """Attach a patient to a polyclinic (at most one change a year; history kept).

    Only ``SYSTEM`` attaches: the portal once a polyclinic has approved the patient's
    application (``approved_by`` is the staff member who did, checked there to work for
    the clinic; the applicant is told of the decision), the demo and the command line.
    Neither a citizen nor staff attach directly, which would skip the approval and, for a
    registrar, move a patient of another polyclinic without telling them.
    """
    actor = authorize(actor, Action.INBOX_READ)  # any logged-in user; narrowed below
    if not actor.is_system:
        raise errors.AttachmentByApplication()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinic = session.get(Clinic, data.clinic_id)
        if clinic is None:
            raise errors.ClinicNotFound()
        if clinic.parent_clinic_id is not None:  # patients attach to the head clinic
            clinic = session.get(Clinic, clinic.parent_clinic_id)
            assert clinic is not None
        patient = accounts.person_by_id(session, data.person_id)
        if patient is None:
            raise errors.PatientNotFound()
        if patient.birth_date is None:
            raise errors.BirthDateRequired()
        age = age_on(patient.birth_date, _city_today(now))
        if rules.clinic_kind_for_age(age) != clinic.clinic_kind:
            raise errors.WrongClinicKind()
        current = session.scalars(
            select(Attachment).where(
                Attachment.person_id == patient.person_id,
                Attachment.kind == clinic.clinic_kind,
                Attachment.valid_to.is_(None),
            )
        ).one_or_none()
        if current is not None and current.clinic_id == clinic.id:
            return AttachmentRead.model_validate(current)  # already there: nothing to do
        if data.reason == "address_change" and not (data.new_address or "").strip():
            raise errors.NewAddressRequired()
        if current is not None:
            next_change = rules.next_attachment_change(current.valid_from)
            # A move lets the patient change at any time; otherwise once a year.
            if data.reason == "yearly" and next_change is not None and now < next_change:
                raise errors.AttachmentTooSoon(
                    next_change=format_datetime(next_change, "long").split(",")[0]
                )
            # Guarded: if another change closed this row meanwhile, ours must not win too.
            closed = _dml(
                session,
                update(ATTACHMENTS)
                .where(ATTACHMENTS.c.id == current.id, ATTACHMENTS.c.valid_to.is_(None))
                .values(valid_to=now),
            )
            if closed.rowcount != 1:
                raise _attachment_changed()
        attachment = Attachment(
            person_id=patient.person_id,
            clinic_id=clinic.id,
            kind=clinic.clinic_kind,
            valid_from=now,
            valid_to=None,
            created_by_user_id=approved_by.acting_user_id if approved_by else None,
            reason=data.reason,
            new_address=(data.new_address or "").strip() or None,
        )
        session.add(attachment)
        try:
            session.flush()
        except IntegrityError as exc:  # a first attachment made at the same moment
            raise _attachment_changed() from exc
        if approved_by is not None:
            audit.record(
                session,
                approved_by,
                "health.attach",
                subject_person_id=patient.person_id,
                organisation_id=clinic.id,
            )
        result = AttachmentRead.model_validate(attachment)
        uow.commit()
        return result


def _attachment_changed() -> Conflict:
    return Conflict(
        "attachment_changed",
        N_("The attachment was changed at the same moment. Please check and try again."),
    )


def current_attachments(person_id: int, *, uow: UnitOfWork | None = None) -> list[AttachmentRead]:
    """A patient's current attachments (one per kind at most)."""
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.scalars(
            select(Attachment)
            .where(Attachment.person_id == person_id, Attachment.valid_to.is_(None))
            .order_by(Attachment.kind)
        )
        return [AttachmentRead.model_validate(row) for row in rows]


# --- Schedules and slots -----------------------------------------------------------


def set_schedule_rule(
    actor: Principal | None, data: ScheduleRuleCreate, *, uow: UnitOfWork | None = None
) -> ScheduleRuleRead:
    """Add a weekly working pattern of a practitioner (clinic administrators)."""
    _check_rule(data)
    uow = uow or UnitOfWork()
    with uow:
        actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
        practitioner = _practitioner(uow.session, data.practitioner_id)
        _authorize_in_clinic(uow.session, actor, Action.SCHEDULE_MANAGE, practitioner.clinic_id)
        rule = ScheduleRule(clinic_id=practitioner.clinic_id, **data.model_dump())
        uow.session.add(rule)
        uow.session.flush()
        result = ScheduleRuleRead.model_validate(rule)
        uow.commit()
        return result


def add_schedule_exception(
    actor: Principal | None,
    data: ScheduleExceptionCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ScheduleExceptionRead:
    """Record a practitioner's absence or extra hours. Slots of an absence are blocked at
    once; appointments in it are cancelled by the clinic (each patient told, with up to
    three alternatives, and put first on the waiting list). Extra hours get their slots
    at once. ``preview_schedule_exception`` shows what an absence would cancel."""
    _check_exception(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
        practitioner = _practitioner(session, data.practitioner_id)
        _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, practitioner.clinic_id)
        exception = ScheduleException(clinic_id=practitioner.clinic_id, **data.model_dump())
        session.add(exception)
        session.flush()
        if data.kind == "extra_hours":
            _materialise_practitioner(session, practitioner, data.date_from, data.date_to, now)
        else:
            _withdraw_slots(uow, practitioner, now)
        result = ScheduleExceptionRead.model_validate(exception)
        uow.commit()
        return result


def _materialise_practitioner(
    session: Session, practitioner: Practitioner, first_day: date, last_day: date, now: datetime
) -> int:
    """Insert the practitioner's missing slots for the city dates; return how many."""
    first_day = max(first_day, _city_today(now))
    if last_day < first_day:
        return 0
    specialty = session.get(Specialty, practitioner.specialty_id)
    assert specialty is not None
    weekly = [
        rules.WeeklyRule(
            weekday=r.weekday,
            start=r.start_time,
            end=r.end_time,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            break_start=r.break_start,
            break_end=r.break_end,
            slot_minutes=r.slot_minutes,
        )
        for r in session.scalars(
            select(ScheduleRule).where(ScheduleRule.practitioner_id == practitioner.id)
        )
    ]
    overrides = [
        rules.Override(
            kind=e.kind,
            date_from=e.date_from,
            date_to=e.date_to,
            start=e.start_time,
            end=e.end_time,
        )
        for e in session.scalars(
            select(ScheduleException).where(
                ScheduleException.practitioner_id == practitioner.id,
                ScheduleException.date_to >= first_day,
                ScheduleException.date_from <= last_day,
            )
        )
    ]
    tz = _tz()
    planned = rules.plan_slots(
        first_day, last_day, weekly, overrides, default_minutes=specialty.slot_minutes, tz=tz
    )
    release = {
        day: rules.release_at(
            day, horizon_days=specialty.horizon_days, release_time=specialty.release_time, tz=tz
        )
        for day in {p.day for p in planned}
    }
    rows = [
        {
            "clinic_id": practitioner.clinic_id,
            "practitioner_id": practitioner.id,
            "specialty_id": practitioner.specialty_id,
            "starts_at": p.starts_at,
            "ends_at": p.ends_at,
            "status": "free",
            "release_at": release[p.day],
            "held_until": None,
            "ticket_code": rules.ticket_code(practitioner.id, p.day, p.seq),
            "version": 0,
        }
        for p in planned
    ]
    inserted = 0
    for start in range(0, len(rows), INSERT_BATCH):
        # Idempotent: a slot already there (same practitioner and start) is left alone,
        # whatever its status, so re-running the job never frees a booked slot.
        statement = (
            _upsert(session)(SLOTS)
            .values(rows[start : start + INSERT_BATCH])
            .on_conflict_do_nothing(index_elements=["practitioner_id", "starts_at"])
            .returning(SLOTS.c.id)  # counted by rows: a multi-row insert has no row count
        )
        inserted += len(session.execute(statement).all())
    return inserted


def materialise_slots(
    until: date,
    *,
    since: date | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> int:
    """Create the missing slots of every active practitioner up to city date ``until``
    (the periodic job); one short transaction per practitioner. Returns how many."""
    now = now or utcnow()
    first_day = since or _city_today(now)
    uow = uow or UnitOfWork()
    with uow:
        ids = list(
            uow.session.scalars(
                select(Practitioner.id)
                .where(Practitioner.active.is_(True))
                .order_by(Practitioner.id)
            )
        )
    inserted = 0
    for practitioner_id in ids:
        with uow:
            practitioner = uow.session.get(Practitioner, practitioner_id)
            assert practitioner is not None
            inserted += _materialise_practitioner(uow.session, practitioner, first_day, until, now)
            uow.commit()
    return inserted


def materialise_horizon(*, now: datetime | None = None, uow: UnitOfWork | None = None) -> int:
    """Slots up to the longest booking horizon of any specialty (the hourly job)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        horizon = uow.session.scalar(select(func.max(Specialty.horizon_days))) or 0
    return materialise_slots(_city_today(now) + timedelta(days=horizon + 1), now=now, uow=uow)


def search_free_slots(
    search: SlotSearch, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[SlotRead]:
    """Free, released, future slots of a specialty (in one clinic and its branches, or
    anywhere; of one practitioner if asked), for a range of city dates, earliest first."""
    now = now or utcnow()
    tz = _tz()
    first_day = search.date_from or _city_today(now)
    last_day = search.date_to or first_day + timedelta(days=rules.DEFAULT_HORIZON_DAYS + 1)
    lower = rules.local_instant(first_day, time(0), tz) or now
    upper = rules.local_instant(last_day + timedelta(days=1), time(0), tz) or now
    uow = uow or UnitOfWork()
    with uow:
        query = (
            select(
                SLOTS.c.id,
                SLOTS.c.clinic_id,
                SLOTS.c.practitioner_id,
                Practitioner.name.label("practitioner_name"),
                Practitioner.room,
                SLOTS.c.specialty_id,
                SLOTS.c.starts_at,
                SLOTS.c.ends_at,
            )
            .join(Practitioner, Practitioner.id == SLOTS.c.practitioner_id)
            .where(
                SLOTS.c.specialty_id == search.specialty_id,
                SLOTS.c.status == "free",
                SLOTS.c.release_at <= now,
                SLOTS.c.starts_at > now,
                SLOTS.c.starts_at >= lower,
                SLOTS.c.starts_at < upper,
            )
            .order_by(SLOTS.c.starts_at, SLOTS.c.id)
            .limit(search.limit)
        )
        if search.practitioner_id is not None:
            # Served by the unique index on (practitioner_id, starts_at).
            query = query.where(SLOTS.c.practitioner_id == search.practitioner_id)
        if search.clinic_id is not None:
            branches = select(Clinic.id).where(Clinic.parent_clinic_id == search.clinic_id)
            query = query.where(
                or_(SLOTS.c.clinic_id == search.clinic_id, SLOTS.c.clinic_id.in_(branches))
            )
        return [
            SlotRead.model_validate(row, from_attributes=True) for row in uow.session.execute(query)
        ]


# --- Identification ----------------------------------------------------------------


def _count_identification(uow: UnitOfWork, policy: str, ip: str | None) -> None:
    """Count the attempt for the policy and the address (committed even if the use case
    then fails): in the unit of work's own connection when it has nothing else to commit
    yet, else in a transaction of its own."""
    at_terminal = token_hash(f"{policy}|{ip or ''}")[:40]
    limits = [Limit(f"identify:{at_terminal}", IDENTIFY_PER_POLICY)]
    if ip:
        limits.append(Limit(f"identify-ip:{token_hash(ip)[:40]}", IDENTIFY_PER_ADDRESS))
    if uow.outermost and not uow.session.in_transaction():
        hit_many(uow.session, limits, window_seconds=IDENTIFY_WINDOW_SECONDS)
        return
    with UnitOfWork() as own:
        hit_many(own.session, limits, window_seconds=IDENTIFY_WINDOW_SECONDS)


def _identify(
    uow: UnitOfWork, oms_policy: str, birth_date: date, ip: str | None
) -> accounts.PersonFacts:
    policy = accounts.normalize_oms_policy(oms_policy)
    _count_identification(uow, policy, ip)
    patient = accounts.person_by_policy(uow.session, policy)
    if patient is None or patient.birth_date != birth_date:
        raise errors.PatientNotFound()
    return patient


def identify_patient(
    oms_policy: str, birth_date: date, *, ip: str | None = None, uow: UnitOfWork | None = None
) -> int:
    """The person id of the patient with this OMS policy and date of birth (kiosk, call
    centre); every attempt counts towards a rate limit."""
    uow = uow or UnitOfWork()
    with uow:
        return _identify(uow, oms_policy, birth_date, ip).person_id


# --- Booking -----------------------------------------------------------------------


@dataclass(frozen=True)
class _SlotContext:
    """What the booking rules need about a slot and the patient, read in one query."""

    slot_id: int
    clinic_id: int
    head_clinic_id: int
    specialty_id: int
    status: str
    starts_at: datetime
    release_at: datetime
    booking_mode: str
    audience: str
    active_limit: int
    horizon_days: int
    release_time: time
    clinic_kind: str
    attached: bool


def _slot_context(session: Session, slot_id: int, person_id: int) -> _SlotContext:
    head = func.coalesce(Clinic.parent_clinic_id, Clinic.id)
    attached = exists().where(
        ATTACHMENTS.c.person_id == person_id,
        ATTACHMENTS.c.clinic_id == head,
        ATTACHMENTS.c.valid_to.is_(None),
    )
    row = session.execute(
        select(
            SLOTS.c.id,
            SLOTS.c.clinic_id,
            head.label("head_clinic_id"),
            SLOTS.c.specialty_id,
            SLOTS.c.status,
            SLOTS.c.starts_at,
            SLOTS.c.release_at,
            Specialty.booking_mode,
            Specialty.audience,
            Specialty.active_limit,
            Specialty.horizon_days,
            Specialty.release_time,
            Clinic.clinic_kind,
            attached.label("attached"),
        )
        .join(Specialty, Specialty.id == SLOTS.c.specialty_id)
        .join(Clinic, Clinic.id == SLOTS.c.clinic_id)
        .where(SLOTS.c.id == slot_id)
    ).one_or_none()
    if row is None:
        raise errors.SlotNotFound()
    return _slot_context_of(row, row.id)


def _slot_context_of(row: Any, slot_id: int) -> _SlotContext:
    """The slot's context from a row that reads the columns of ``_slot_context``."""
    return _SlotContext(
        slot_id=slot_id,
        clinic_id=row.clinic_id,
        head_clinic_id=row.head_clinic_id,
        specialty_id=row.specialty_id,
        status=row.status,
        starts_at=row.starts_at,
        release_at=row.release_at,
        booking_mode=row.booking_mode,
        audience=row.audience,
        active_limit=row.active_limit,
        horizon_days=row.horizon_days,
        release_time=row.release_time,
        clinic_kind=row.clinic_kind,
        attached=bool(row.attached),
    )


# The self-booking's reads in one round trip on PostgreSQL: the patient (by policy or
# id), the slot's context as ``_slot_context``, the patient's suspension as
# ``_refuse_if_suspended``, the accounts to notify, and the patient's lock as
# ``_lock_patient`` (a data-modifying CTE; the take that counts runs in a later statement,
# so it sees a concurrent booking of the same patient that committed while we waited).
_SELF_BOOK_FACTS_SQL = """WITH p AS ({person}),
patient_lock AS (
    INSERT INTO booking_quotas (person_id, specialty_id, bookings, updated_at)
    SELECT p.id, slots.specialty_id, 1, :now FROM p JOIN slots ON slots.id = :slot_id
    WHERE {birth_ok}
      -- Only when the take may follow, as in the step-by-step path: a refusal from what
      -- is read here (three in four answers of a release rush) then writes nothing.
      AND slots.status = 'free' AND slots.release_at <= :now AND slots.starts_at > :now
    ON CONFLICT (person_id, specialty_id)
    DO UPDATE SET bookings = booking_quotas.bookings + 1, updated_at = excluded.updated_at)
SELECT p.id AS person_id, p.birth_date, p.first_name,
    slots.id AS slot_id, slots.clinic_id,
    coalesce(clinics.parent_clinic_id, clinics.id) AS head_clinic_id,
    slots.specialty_id, slots.status, slots.starts_at, slots.release_at,
    specialties.booking_mode, specialties.audience, specialties.active_limit,
    specialties.horizon_days, specialties.release_time, clinics.clinic_kind,
    EXISTS (SELECT 1 FROM clinic_attachments
        WHERE clinic_attachments.person_id = p.id
          AND clinic_attachments.clinic_id = coalesce(clinics.parent_clinic_id, clinics.id)
          AND clinic_attachments.valid_to IS NULL) AS attached,
    standing.suspended_until, standing.suspension_no_shows,
    {recipients} AS recipients
FROM p
LEFT JOIN (slots JOIN specialties ON specialties.id = slots.specialty_id
    JOIN clinics ON clinics.id = slots.clinic_id) ON slots.id = :slot_id
LEFT JOIN booking_standings AS standing
    ON standing.person_id = p.id AND standing.suspended_until > :now"""


def _self_book_facts_statement(person_sql: str, birth_ok: str) -> Any:
    return (
        text(
            _SELF_BOOK_FACTS_SQL.format(
                person=person_sql,
                birth_ok=birth_ok,
                recipients=accounts.users_to_notify_sql("p.id"),
            )
        )
        .bindparams(bindparam("now", type_=UTCDateTime()))
        .columns(starts_at=UTCDateTime(), release_at=UTCDateTime(), suspended_until=UTCDateTime())
    )


_FACTS_BY_POLICY = _self_book_facts_statement(
    accounts.PERSON_BY_POLICY_SQL, "p.birth_date = :birth_date"
)
_FACTS_BY_ID = _self_book_facts_statement(accounts.PERSON_BY_ID_SQL, "true")


@dataclass(frozen=True)
class _SelfBookFacts:
    patient: accounts.PersonFacts
    ctx: _SlotContext
    recipients: list[int]


def _self_book_facts(
    session: Session,
    slot_id: int,
    now: datetime,
    *,
    oms_policy: str | None = None,
    birth_date: date | None = None,
    person_id: int | None = None,
) -> _SelfBookFacts:
    """PostgreSQL: what a self-booking reads, and the patient's lock, in one statement;
    refused in the order of the step-by-step path (patient, slot, suspension)."""
    if oms_policy is not None:
        statement = _FACTS_BY_POLICY
        params: dict[str, Any] = {"oms_policy": oms_policy, "birth_date": birth_date}
    else:
        statement = _FACTS_BY_ID
        params = {"person_id": person_id}
    rows = fetch_rows(session, statement, {**params, "slot_id": slot_id, "now": now})
    row = rows[0] if rows else None
    if row is None or (oms_policy is not None and row.birth_date != birth_date):
        raise errors.PatientNotFound()
    if row.slot_id is None:
        raise errors.SlotNotFound()
    if row.suspended_until is not None:
        raise errors.BookingSuspended(
            until=_format_day(row.suspended_until), count=row.suspension_no_shows
        )
    return _SelfBookFacts(
        patient=accounts.PersonFacts(row.person_id, row.birth_date, row.first_name),
        ctx=_slot_context_of(row, row.slot_id),
        recipients=list(row.recipients),
    )


def _slot_refusal(code: str, release_at: datetime) -> Exception:
    if code == "slot_not_released":
        return errors.SlotNotReleased(opens=format_datetime(release_at, "short"))
    return {
        "slot_in_past": errors.SlotInPast,
        "slot_taken": errors.SlotTaken,
        "slot_held": errors.SlotHeld,
        "slot_blocked": errors.SlotBlocked,
    }[code]()


def _active_count(person_id: int, specialty_id: int, now: datetime, exclude: int | None) -> Any:
    """The patient's booked, future appointments of the specialty (a scalar subquery)."""
    conditions = [
        APPOINTMENTS.c.person_id == person_id,
        APPOINTMENTS.c.specialty_id == specialty_id,
        APPOINTMENTS.c.status == "booked",
        APPOINTMENTS.c.starts_at > now,
    ]
    if exclude is not None:
        conditions.append(APPOINTMENTS.c.id != exclude)
    return select(func.count()).select_from(APPOINTMENTS).where(*conditions).scalar_subquery()


def _lock_patient(session: Session, person_id: int, specialty_id: int, now: datetime) -> None:
    """Serialise this patient's bookings of this specialty until commit.

    Why a row of our own: the limit counts appointments, and a count cannot see an
    appointment a concurrent transaction has not committed. The upsert takes the quota
    row's lock on PostgreSQL (a concurrent first insert waits on the unique key, then
    updates), so the second booking of the same patient waits here, and the statement
    that counts runs after the first has committed and sees its appointment. Locking
    the register's ``persons`` row would do the same but reach into another service's
    table. On SQLite every write transaction already runs alone (BEGIN IMMEDIATE).
    """
    statement = (
        _upsert(session)(QUOTAS)
        .values(person_id=person_id, specialty_id=specialty_id, bookings=1, updated_at=now)
        .on_conflict_do_update(
            index_elements=["person_id", "specialty_id"],
            set_={"bookings": QUOTAS.c.bookings + 1, "updated_at": now},
        )
    )
    session.execute(statement)


# ``_take_slot``'s statement on PostgreSQL for a plain booking (no hold, nothing
# replaced), built once: constructing and cache-keying the SQLAlchemy construct per call
# was a fifth of a booking's Python time.
_TAKE_FREE_SLOT_PG = (
    text(
        """WITH taken AS (
    UPDATE slots SET status = 'booked', held_until = NULL, held_for_entry_id = NULL,
        version = slots.version + 1
    WHERE slots.id = :slot_id AND slots.status = 'free'
      AND slots.release_at <= :now AND slots.starts_at > :now
      AND (SELECT count(*) FROM appointments
           WHERE appointments.person_id = :person_id
             AND appointments.specialty_id = :specialty_id
             AND appointments.status = 'booked' AND appointments.starts_at > :now)
          < :active_limit
    RETURNING slots.id, slots.clinic_id, slots.specialty_id, slots.practitioner_id,
        slots.starts_at, slots.ticket_code)
INSERT INTO appointments (slot_id, clinic_id, specialty_id, practitioner_id, starts_at,
    ticket_number, person_id, status, channel, referral_id, rescheduled_from_id,
    booked_by_user_id, created_at)
SELECT taken.id, taken.clinic_id, taken.specialty_id, taken.practitioner_id,
    taken.starts_at, taken.ticket_code, :person_id, 'booked', :channel,
    CAST(:referral_id AS BIGINT), NULL, CAST(:booked_by_user_id AS BIGINT), :now
FROM taken
RETURNING appointments.id, appointments.slot_id, appointments.clinic_id,
    appointments.person_id, appointments.specialty_id, appointments.practitioner_id,
    appointments.starts_at, appointments.status, appointments.channel,
    appointments.ticket_number, appointments.referral_id, appointments.rescheduled_from_id,
    appointments.created_at, appointments.cancelled_at, appointments.confirmed_at,
    appointments.outcome_at"""  # as APPOINTMENT_COLUMNS (the columns below say so)
    )
    .bindparams(bindparam("now", type_=UTCDateTime()))
    .columns(*APPOINTMENT_COLUMNS)
)


def _take_slot(
    session: Session,
    ctx: _SlotContext,
    *,
    person_id: int,
    now: datetime,
    channel: str,
    referral_id: int | None,
    booked_by_user_id: int | None,
    replacing_id: int | None,
    hold_entry_id: int | None = None,
) -> Row[Any] | None:
    """Take the slot and insert the appointment; None if the slot was not taken.

    The guarded UPDATE is the decision: of any number of concurrent bookings, exactly
    one finds ``status = 'free'`` (PostgreSQL re-checks the condition on the locked row
    after a concurrent update commits); the rest update no row. A slot held for a
    waiting-list entry is taken only for that entry, and only while the hold lasts.
    """
    postgresql = _dialect(session) == "postgresql"
    if postgresql and hold_entry_id is None and replacing_id is None:
        booked = fetch_rows(
            session,
            _TAKE_FREE_SLOT_PG,
            {
                "slot_id": ctx.slot_id,
                "now": now,
                "person_id": person_id,
                "specialty_id": ctx.specialty_id,
                "active_limit": ctx.active_limit,
                "channel": channel,
                "referral_id": referral_id,
                "booked_by_user_id": booked_by_user_id,
            },
        )
        return booked[0] if booked else None
    if hold_entry_id is None:
        state = [SLOTS.c.status == "free"]
    else:
        state = [
            SLOTS.c.status == "held",
            SLOTS.c.held_for_entry_id == hold_entry_id,
            SLOTS.c.held_until > now,
        ]
    guard = (
        update(SLOTS)
        .where(
            SLOTS.c.id == ctx.slot_id,
            *state,
            SLOTS.c.release_at <= now,
            SLOTS.c.starts_at > now,
            _active_count(person_id, ctx.specialty_id, now, replacing_id) < ctx.active_limit,
        )
        .values(
            status="booked", held_until=None, held_for_entry_id=None, version=SLOTS.c.version + 1
        )
        .returning(
            SLOTS.c.id,
            SLOTS.c.clinic_id,
            SLOTS.c.specialty_id,
            SLOTS.c.practitioner_id,
            SLOTS.c.starts_at,
            SLOTS.c.ticket_code,
        )
    )
    constants = {
        "person_id": literal(person_id, BigInteger()),
        "status": literal("booked"),
        "channel": literal(channel),
        "referral_id": sql_cast(literal(referral_id, BigInteger()), BigInteger()),
        "rescheduled_from_id": sql_cast(literal(replacing_id, BigInteger()), BigInteger()),
        "booked_by_user_id": sql_cast(literal(booked_by_user_id, BigInteger()), BigInteger()),
        "created_at": literal(now, UTCDateTime()),
    }
    if postgresql:
        # One statement, one round trip: the UPDATE's RETURNING feeds the INSERT.
        taken = guard.cte("taken")
        source = select(
            taken.c.id,
            taken.c.clinic_id,
            taken.c.specialty_id,
            taken.c.practitioner_id,
            taken.c.starts_at,
            taken.c.ticket_code,
            *constants.values(),
        )
        statement = (
            insert(APPOINTMENTS)
            .from_select(
                [
                    "slot_id",
                    "clinic_id",
                    "specialty_id",
                    "practitioner_id",
                    "starts_at",
                    "ticket_number",
                    *constants,
                ],
                source,
            )
            .add_cte(taken)
            .returning(*APPOINTMENT_COLUMNS)
        )
        return session.execute(statement).one_or_none()
    slot = session.execute(guard).one_or_none()
    if slot is None:
        return None
    return session.execute(
        insert(APPOINTMENTS)
        .values(
            slot_id=slot.id,
            clinic_id=slot.clinic_id,
            specialty_id=slot.specialty_id,
            practitioner_id=slot.practitioner_id,
            starts_at=slot.starts_at,
            ticket_number=slot.ticket_code,
            person_id=person_id,
            status="booked",
            channel=channel,
            referral_id=referral_id,
            rescheduled_from_id=replacing_id,
            booked_by_user_id=booked_by_user_id,
            created_at=now,
        )
        .returning(*APPOINTMENT_COLUMNS)
    ).one()


def _why_not_taken(
    session: Session,
    ctx: _SlotContext,
    person_id: int,
    now: datetime,
    replacing_id: int | None,
    hold_entry_id: int | None = None,
) -> Exception:
    """The precise refusal once the guarded update took nothing (read only now, in one
    statement: in a release rush most refusals come this way)."""
    slot = session.execute(
        select(
            SLOTS.c.status,
            SLOTS.c.starts_at,
            SLOTS.c.release_at,
            SLOTS.c.held_for_entry_id,
            SLOTS.c.held_until,
            _active_count(person_id, ctx.specialty_id, now, replacing_id).label("active"),
        ).where(SLOTS.c.id == ctx.slot_id)
    ).one()
    status = slot.status
    if hold_entry_id is not None and slot.starts_at > now:
        held_here = status == "held" and slot.held_for_entry_id == hold_entry_id
        if not held_here or slot.held_until is None or slot.held_until <= now:
            return errors.NoActiveHold()
        status = "free"  # our own hold: the slot is not what refused
    code = rules.why_not_bookable(rules.SlotState(status, slot.starts_at, slot.release_at), now)
    if code is not None:
        return _slot_refusal(code, slot.release_at)
    if (slot.active or 0) >= ctx.active_limit:
        return errors.ActiveLimitReached()
    return errors.SlotTaken()  # taken and freed again between the two statements


def _claim_referral(
    session: Session,
    ctx: _SlotContext,
    referral_id: int,
    person_id: int,
    appointment_id: int,
    now: datetime,
) -> None:
    """Mark the referral used by this appointment (guarded; the reason read only if not)."""
    claimed = _dml(
        session,
        update(REFERRALS)
        .where(
            REFERRALS.c.id == referral_id,
            REFERRALS.c.person_id == person_id,
            REFERRALS.c.specialty_id == ctx.specialty_id,
            REFERRALS.c.status == "active",
            REFERRALS.c.valid_until > now,
            or_(
                REFERRALS.c.target_clinic_id.is_(None),
                REFERRALS.c.target_clinic_id == ctx.head_clinic_id,
                REFERRALS.c.target_clinic_id == ctx.clinic_id,
            ),
        )
        .values(status="used", used_by_appointment_id=appointment_id),
    )
    if claimed.rowcount == 1:
        return
    referral = session.get(Referral, referral_id)
    # Someone else's referral is "not found": its number must not tell whose it is.
    if referral is None or referral.person_id != person_id or referral.status == "cancelled":
        raise errors.ReferralNotFound()
    if referral.status == "used":
        raise errors.ReferralUsed()
    if referral.valid_until <= now:
        raise errors.ReferralExpired()
    raise errors.ReferralMismatch()


def _book(
    uow: UnitOfWork,
    ctx: _SlotContext,
    patient: accounts.PersonFacts,
    *,
    channel: str,
    referral_id: int | None,
    booked_by_user_id: int | None,
    now: datetime,
    replacing: Appointment | None = None,
    hold_entry_id: int | None = None,
    locked: bool = False,
) -> AppointmentRead:
    """The booking path shared by every channel; the caller has authorized.

    ``hold_entry_id``: book the slot held for this waiting-list entry (and only it).
    ``locked``: the caller already holds the patient's lock (``_self_book_facts``)."""
    session = uow.session
    _check_channel(channel)
    status = "free" if hold_entry_id is not None and ctx.status == "held" else ctx.status
    code = rules.why_not_bookable(rules.SlotState(status, ctx.starts_at, ctx.release_at), now)
    if code is not None:  # refused early from what we read; the update below decides anyway
        raise _slot_refusal(code, ctx.release_at)
    carried_referral = replacing.referral_id if replacing is not None else None
    rules.check_booking(
        rules.BookingFacts(
            booking_mode=ctx.booking_mode,
            audience=ctx.audience,
            clinic_kind=ctx.clinic_kind,
            attached=ctx.attached,
            birth_date=patient.birth_date,
            slot_day=rules.city_date(ctx.starts_at, _tz()),
            has_referral=(referral_id or carried_referral) is not None,
        )
    )
    if not locked:
        _lock_patient(session, patient.person_id, ctx.specialty_id, now)
    replacing_id = replacing.id if replacing is not None else None
    try:
        row = _take_slot(
            session,
            ctx,
            person_id=patient.person_id,
            now=now,
            channel=channel,
            referral_id=referral_id or carried_referral,
            booked_by_user_id=booked_by_user_id,
            replacing_id=replacing_id,
            hold_entry_id=hold_entry_id,
        )
    except IntegrityError as exc:  # the partial unique index: never reached if the guard works
        raise errors.SlotTaken() from exc
    if row is None:
        raise _why_not_taken(session, ctx, patient.person_id, now, replacing_id, hold_entry_id)
    if referral_id is not None:
        _claim_referral(session, ctx, referral_id, patient.person_id, row.id, now)
    elif carried_referral is not None and replacing is not None:
        moved = _dml(
            session,
            update(REFERRALS)
            .where(
                REFERRALS.c.id == carried_referral,
                REFERRALS.c.used_by_appointment_id == replacing.id,
                or_(
                    REFERRALS.c.target_clinic_id.is_(None),
                    REFERRALS.c.target_clinic_id == ctx.head_clinic_id,
                    REFERRALS.c.target_clinic_id == ctx.clinic_id,
                ),
            )
            .values(used_by_appointment_id=row.id),
        )
        if moved.rowcount != 1:
            raise errors.ReferralMismatch()
    return _appointment_read(row)


def _authorize_for_patient(
    session: Session, uow: UnitOfWork, actor: Principal | None, person_id: int, clinic_id: int
) -> None:
    """A citizen acts for themself or their child; a registrar for anyone at their
    clinic; ``SYSTEM`` for anyone. ``None``, the anonymous, is asked to log in."""
    actor = authorize(actor, Action.INBOX_READ)  # any logged-in user; narrowed below
    if any(
        allowed(actor, Action.APPOINTMENT_BOOK_FOR_ANY, cid)
        for cid in _head_clinic_ids(session, clinic_id)
    ):
        return
    if Role.CITIZEN in actor.roles and accounts.acts_for(actor, person_id, uow=uow):
        return
    authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    raise Forbidden("forbidden", N_("You do not have access to this."))


def _patient(session: Session, person_id: int) -> accounts.PersonFacts:
    patient = accounts.person_by_id(session, person_id)
    if patient is None:
        raise errors.PatientNotFound()
    return patient


def _is_staff(actor: Principal | None) -> bool:
    return actor is not None and not actor.is_system and Role.CITIZEN not in actor.roles


@counted("book")
def book_slot(
    actor: Principal | None,
    data: BookingCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Book a slot for the logged-in citizen or their child."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    person_id = data.patient_id or actor.person_id
    if person_id is None:
        raise errors.PatientNotFound()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        if not accounts.acts_for(actor, person_id, uow=uow):
            raise Forbidden(
                "not_your_patient", N_("You can book only for yourself and your children.")
            )
        ctx = _slot_context(uow.session, data.slot_id, person_id)
        _refuse_if_suspended(uow.session, person_id, now)
        result = _book(
            uow,
            ctx,
            _patient(uow.session, person_id),
            channel=data.channel,
            referral_id=data.referral_id,
            booked_by_user_id=actor.user_id,
            now=now,
        )
        _notify(uow, result, "appointment_booked")
        record_service_use(uow.session, "doctor_appointment", actor.user_id, person_id=person_id)
        uow.commit()
        return result


@counted("book")
def book_by_policy(
    data: AnonymousBookingCreate,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Book a slot at a kiosk or by phone: the patient names their policy and birth date."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        if _dialect(uow.session) == "postgresql":
            policy = accounts.normalize_oms_policy(data.oms_policy)
            _count_identification(uow, policy, ip)
            facts = _self_book_facts(
                uow.session, data.slot_id, now, oms_policy=policy, birth_date=data.birth_date
            )
            result = _self_book(
                uow, facts.patient, data.slot_id, data.referral_id,
                channel=data.channel, now=now, facts=facts,
            )  # fmt: skip
        else:
            patient = _identify(uow, data.oms_policy, data.birth_date, ip)
            result = _self_book(
                uow, patient, data.slot_id, data.referral_id, channel=data.channel, now=now
            )
        uow.commit()
        return result


@counted("book")
def book_identified_patient(
    person_id: int,
    data: IdentifiedBookingCreate,
    *,
    channel: str = "kiosk",
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Book a slot for a patient the kiosk identified earlier in the same session (the
    caller has checked its signed, short-lived identity); the rules of ``book_by_policy``."""
    if channel not in ("kiosk", "call_centre"):
        raise errors.InvalidChannel()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        if _dialect(uow.session) == "postgresql":
            facts = _self_book_facts(uow.session, data.slot_id, now, person_id=person_id)
            result = _self_book(
                uow, facts.patient, data.slot_id, data.referral_id,
                channel=channel, now=now, facts=facts,
            )  # fmt: skip
        else:
            patient = _patient(uow.session, person_id)
            result = _self_book(
                uow, patient, data.slot_id, data.referral_id, channel=channel, now=now
            )
        uow.commit()
        return result


def _self_book(
    uow: UnitOfWork,
    patient: accounts.PersonFacts,
    slot_id: int,
    referral_id: int | None,
    *,
    channel: str,
    now: datetime,
    facts: _SelfBookFacts | None = None,
) -> AppointmentRead:
    """A booking by the patient themself without an account (kiosk, call centre):
    refused while suspended, then the usual path, and the patient is told.

    ``facts``: read (and the patient locked) in one statement already (PostgreSQL)."""
    if facts is None:
        ctx = _slot_context(uow.session, slot_id, patient.person_id)
        _refuse_if_suspended(uow.session, patient.person_id, now)
    else:
        ctx = facts.ctx
    result = _book(
        uow,
        ctx,
        patient,
        channel=channel,
        referral_id=referral_id,
        booked_by_user_id=None,
        now=now,
        locked=facts is not None,
    )
    _notify(uow, result, "appointment_booked", user_ids=facts.recipients if facts else None)
    return result


@counted("book")
def book_for_patient(
    actor: Principal | None,
    data: RegistryBookingCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Book a slot at the registrar's clinic for a patient of the clinic (``in_care_of``;
    audited)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        ctx = _slot_context(uow.session, data.slot_id, data.patient_id)
        _authorize_in_clinic(uow.session, actor, Action.APPOINTMENT_BOOK_FOR_ANY, ctx.clinic_id)
        head = _head_clinic_ids(uow.session, ctx.clinic_id)[-1]
        if not in_care_of(uow.session, actor, data.patient_id, [head]):
            raise errors.PatientNotFound()  # as for an id no one has
        result = _book(
            uow,
            ctx,
            _patient(uow.session, data.patient_id),
            channel=data.channel,
            referral_id=data.referral_id,
            booked_by_user_id=actor.user_id,
            now=now,
        )
        audit.record(
            uow.session,
            actor,
            "health.appointment.book",
            subject_person_id=data.patient_id,
            organisation_id=ctx.clinic_id,
            detail=f"appointment {result.id}",
        )
        _notify(uow, result, "appointment_booked")
        uow.commit()
        return result


def _own_appointment(uow: UnitOfWork, actor: Principal | None, appointment_id: int) -> Appointment:
    """The appointment if ``actor`` may act on it; someone else's is "not found"."""
    appointment = uow.session.get(Appointment, appointment_id)
    if appointment is None:
        raise errors.AppointmentNotFound()
    try:
        _authorize_for_patient(
            uow.session, uow, actor, appointment.person_id, appointment.clinic_id
        )
    except Forbidden as exc:
        if actor is not None and Role.CITIZEN in actor.roles:
            raise errors.AppointmentNotFound() from exc
        raise
    return appointment


@counted("cancel")
def cancel_appointment(
    actor: Principal | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Cancel an appointment before it starts: the slot is free again, the referral is
    given back."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        appointment = _own_appointment(uow, actor, appointment_id)
        result = _cancel(uow, appointment, actor, now)
        uow.commit()
        return result


def _cancel(
    uow: UnitOfWork, appointment: Appointment, actor: Principal | None, now: datetime
) -> AppointmentRead:
    """Cancel by the patient (or for them): free the slot, offer it to the waiting list."""
    session = uow.session
    # Guarded: only a booked, future appointment is cancelled, once, whoever races.
    cancelled = _dml(
        session,
        update(APPOINTMENTS)
        .where(
            APPOINTMENTS.c.id == appointment.id,
            APPOINTMENTS.c.status == "booked",
            APPOINTMENTS.c.starts_at > now,
        )
        .values(status="cancelled_by_patient", cancelled_at=now)
        .returning(*APPOINTMENT_COLUMNS),
    ).one_or_none()
    if cancelled is None:
        session.refresh(appointment)
        if appointment.status != "booked":
            raise errors.AppointmentNotActive()
        raise errors.TooLateToCancel()
    _release_slot(session, cancelled.slot_id)
    if cancelled.referral_id is not None:
        _give_back_referral(session, cancelled.referral_id, cancelled.id)
    result = _appointment_read(cancelled)
    _offer_slot(uow, cancelled.slot_id, now)
    if _is_staff(actor):
        audit.record(
            session,
            actor,
            "health.appointment.cancel",
            subject_person_id=result.person_id,
            organisation_id=result.clinic_id,
            detail=f"appointment {result.id}",
        )
    _notify(uow, result, "appointment_cancelled")
    return result


def _release_slot(session: Session, slot_id: int) -> None:
    # booked -> free: the only way a booked slot becomes bookable again.
    _dml(
        session,
        update(SLOTS)
        .where(SLOTS.c.id == slot_id, SLOTS.c.status == "booked")
        .values(status="free", version=SLOTS.c.version + 1),
    )


def _give_back_referral(session: Session, referral_id: int, appointment_id: int) -> None:
    # used -> active, only if this appointment is the one that used it.
    _dml(
        session,
        update(REFERRALS)
        .where(
            REFERRALS.c.id == referral_id,
            REFERRALS.c.status == "used",
            REFERRALS.c.used_by_appointment_id == appointment_id,
        )
        .values(status="active", used_by_appointment_id=None),
    )


@counted("move")
def reschedule_appointment(
    actor: Principal | None,
    appointment_id: int,
    data: RescheduleCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Move an appointment to another slot in one step: the old slot is freed only if
    the new one is taken, otherwise nothing changes."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        old = _own_appointment(uow, actor, appointment_id)
        if old.status != "booked":
            raise errors.AppointmentNotActive()
        if old.starts_at <= now:
            raise errors.TooLateToCancel()
        ctx = _slot_context(session, data.slot_id, old.person_id)
        if ctx.specialty_id != old.specialty_id:
            raise errors.OtherSpecialty()
        if _is_staff(actor):
            _authorize_in_clinic(session, actor, Action.APPOINTMENT_BOOK_FOR_ANY, ctx.clinic_id)
        # Take the new slot first: if that fails, the transaction rolls back and the old
        # appointment was never touched.
        new = _book(
            uow,
            ctx,
            _patient(session, old.person_id),
            channel=old.channel,
            referral_id=None,
            booked_by_user_id=actor.acting_user_id if actor else None,
            now=now,
            replacing=old,
        )
        replaced = _dml(
            session,
            update(APPOINTMENTS)
            .where(
                APPOINTMENTS.c.id == old.id,
                APPOINTMENTS.c.status == "booked",
                APPOINTMENTS.c.starts_at > now,
            )
            .values(status="rescheduled", cancelled_at=now),
        )
        if replaced.rowcount != 1:  # cancelled meanwhile: undo everything
            raise errors.AppointmentNotActive()
        _release_slot(session, old.slot_id)
        _offer_slot(uow, old.slot_id, now)
        if _is_staff(actor):
            audit.record(
                session,
                actor,
                "health.appointment.reschedule",
                subject_person_id=new.person_id,
                organisation_id=new.clinic_id,
                detail=f"appointment {old.id} -> {new.id}",
            )
        _notify(uow, new, "appointment_rescheduled")
        uow.commit()
        return new


def _own_and_children(uow: UnitOfWork, actor: Principal) -> list[int]:
    """The people a citizen acts for: their children and themself."""
    person_ids = [p.id for p in accounts.list_family(actor, uow=uow)]
    if actor.person_id is not None:
        person_ids.append(actor.person_id)
    return person_ids


def list_my_appointments(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[AppointmentRead]:
    """The citizen's and their children's appointments, latest first."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        person_ids = _own_and_children(uow, actor)
        rows = uow.session.execute(
            select(*APPOINTMENT_COLUMNS)
            .where(APPOINTMENTS.c.person_id.in_(person_ids))
            .order_by(APPOINTMENTS.c.starts_at.desc(), APPOINTMENTS.c.id.desc())
            .limit(MY_APPOINTMENTS_LIMIT)
        )
        return [_appointment_read(row) for row in rows]


# --- Referrals ---------------------------------------------------------------------


def issue_referral(
    actor: Principal | None,
    clinic_id: int,
    data: ReferralCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ReferralRead:
    """A doctor refers a patient of the clinic (attached or booked there) to a specialty
    (optionally at one clinic) for N days; rate-limited like the look-up."""
    actor = authorize(actor, Action.REFERRAL_ISSUE)
    count_staff_lookup(actor)  # each try tells whether the id is a patient of the clinic
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if session.get(Clinic, clinic_id) is None:
            raise errors.ClinicNotFound()
        _authorize_in_clinic(session, actor, Action.REFERRAL_ISSUE, clinic_id)
        specialty = _specialty_by_code(session, data.specialty_code)
        if data.target_clinic_id is not None and session.get(Clinic, data.target_clinic_id) is None:
            raise errors.ClinicNotFound()
        head = _head_clinic_ids(session, clinic_id)[-1]
        if not in_care_of(session, actor, data.person_id, [head]):
            raise errors.PatientNotFound()
        patient = _patient(session, data.person_id)
        practitioner_id = session.scalar(
            select(Practitioner.id)
            .where(Practitioner.user_id == actor.user_id, Practitioner.clinic_id == clinic_id)
            .order_by(Practitioner.id)
            .limit(1)
        )
        referral = Referral(
            clinic_id=clinic_id,
            person_id=patient.person_id,
            specialty_id=specialty.id,
            target_clinic_id=data.target_clinic_id,
            issued_by_practitioner_id=practitioner_id,
            issued_by_user_id=actor.acting_user_id,
            issued_at=now,
            valid_until=now + timedelta(days=data.valid_days),
            status="active",
        )
        session.add(referral)
        session.flush()
        audit.record(
            session,
            actor,
            "health.referral.issue",
            subject_person_id=patient.person_id,
            organisation_id=clinic_id,
            detail=f"referral {referral.id} to {specialty.code}",
        )
        result = ReferralRead.model_validate(referral)
        uow.commit()
        return result


# --- Notifications -----------------------------------------------------------------


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
    row = session.execute(
        select(
            Specialty.name,
            Specialty.name_en,
            Practitioner.name.label("practitioner"),
            Practitioner.room,
        )
        .join(Practitioner, Practitioner.specialty_id == Specialty.id)
        .where(Practitioner.id == appointment.practitioner_id)
    ).one()
    organisation = city.get_organisation(appointment.clinic_id, uow=uow)
    patient = accounts.person_by_id(session, appointment.person_id)
    context = {
        "patient_name": patient.first_name if patient else "",
        "specialty": row.name,
        "specialty_en": row.name_en,
        "practitioner": row.practitioner,
        "room": row.room,
        "clinic": organisation.name,
        "clinic_en": organisation.name_en or organisation.name,
        "address": organisation.address or "",
        "starts_at": appointment.starts_at,
        "ticket": appointment.ticket_number,
        **(extra or {}),
    }
    for user_id in user_ids:
        notify(
            session,
            accounts.recipient_for_user(session, user_id),
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
    return format_date(rules.city_date(instant, _tz()), "long", locale=current_locale())


# --- Visits' outcome and no-shows --------------------------------------------------


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


def _no_show_count(
    session: Session, person_id: int, since_suspension: datetime | None, now: datetime
) -> int:
    """No-shows in the window that have not already led to a suspension."""
    window = get_settings().no_show_window_days
    conditions = [
        APPOINTMENTS.c.person_id == person_id,
        APPOINTMENTS.c.status == "no_show",
        APPOINTMENTS.c.starts_at >= now - timedelta(days=window),
    ]
    if since_suspension is not None:
        conditions.append(APPOINTMENTS.c.outcome_at > since_suspension)
    return session.scalar(select(func.count()).select_from(APPOINTMENTS).where(*conditions)) or 0


def _count_no_show(uow: UnitOfWork, person_id: int, now: datetime) -> None:
    """Suspend the patient's self-booking when this no-show reaches the limit."""
    session = uow.session
    settings = get_settings()
    # Lock the patient's standing row (an upsert takes the row lock on PostgreSQL and
    # keeps it to commit): two no-shows marked at once are counted one after the other,
    # so the second sees the first and the limit is never stepped over unseen.
    session.execute(
        _upsert(session)(STANDINGS)
        .values(person_id=person_id, suspension_no_shows=0, updated_at=now)
        .on_conflict_do_update(index_elements=["person_id"], set_={"updated_at": now})
    )
    standing = session.execute(
        select(STANDINGS.c.suspended_at, STANDINGS.c.suspended_until).where(
            STANDINGS.c.person_id == person_id
        )
    ).one()
    if standing.suspended_until is not None and standing.suspended_until > now:
        return  # already suspended: this no-show counts towards the next time
    count = _no_show_count(session, person_id, standing.suspended_at, now)
    if count < settings.no_show_limit:
        return
    until = now + timedelta(days=settings.no_show_suspension_days)
    _dml(
        session,
        update(STANDINGS)
        .where(STANDINGS.c.person_id == person_id)
        .values(suspended_at=now, suspended_until=until, suspension_no_shows=count, updated_at=now),
    )
    _notify_person(
        uow,
        person_id,
        "booking_suspended",
        {"until": until, "count": count},
        link="/health/appointments",
    )


def mark_appointment_outcome(
    actor: Principal | None,
    appointment_id: int,
    data: OutcomeCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """The doctor marks their patient's visit attended or no_show once its time has come."""
    actor = authorize(actor, Action.APPOINTMENT_MARK_OUTCOME)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise errors.AppointmentNotFound()
        _authorize_in_clinic(session, actor, Action.APPOINTMENT_MARK_OUTCOME, appointment.clinic_id)
        doctor = session.scalar(
            select(Practitioner.user_id).where(Practitioner.id == appointment.practitioner_id)
        )
        if doctor != actor.user_id:
            raise errors.NotYourAppointment()
        # Guarded: from 'booked' only, and only once its time has come; a cancel or a
        # second mark racing this one finds the status changed and updates nothing.
        marked = _dml(
            session,
            update(APPOINTMENTS)
            .where(
                APPOINTMENTS.c.id == appointment.id,
                APPOINTMENTS.c.status == "booked",
                APPOINTMENTS.c.starts_at <= now,
            )
            .values(status=data.outcome, outcome_at=now, outcome_by_user_id=actor.user_id)
            .returning(*APPOINTMENT_COLUMNS),
        ).one_or_none()
        if marked is None:
            session.refresh(appointment)
            if appointment.status in OUTCOMES:
                raise errors.OutcomeAlreadyMarked()
            if appointment.status != "booked":
                raise errors.AppointmentNotActive()
            raise errors.VisitNotStarted()
        result = _appointment_read(marked)
        audit.record(
            session,
            actor,
            "health.appointment.outcome",
            subject_person_id=result.person_id,
            organisation_id=result.clinic_id,
            detail=f"appointment {result.id}: {data.outcome}",
        )
        if data.outcome == "no_show":
            _count_no_show(uow, result.person_id, now)
        uow.commit()
        return result


def get_booking_status(
    actor: Principal | None,
    person_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> BookingStatusRead:
    """Whether a patient (the citizen, their child; for clinic staff, a patient of their
    clinic, rate-limited like the look-up) may book by themself, and if not, why and
    until when."""
    actor = authorize(actor, Action.INBOX_READ)  # any logged-in user; narrowed below
    now = now or utcnow()
    person_id = person_id or actor.person_id
    if person_id is None:
        raise errors.PatientNotFound()
    if person_id != actor.person_id and _is_clinic_staff(actor):
        count_staff_lookup(actor)
    uow = uow or UnitOfWork()
    with uow:
        result = staff_booking_status(uow, actor, person_id, now)
        uow.commit()
        return result


def _is_clinic_staff(actor: Principal) -> bool:
    return allowed(actor, Action.APPOINTMENT_BOOK_FOR_ANY) or allowed(
        actor, Action.APPOINTMENT_MARK_OUTCOME
    )


def staff_booking_status(
    uow: UnitOfWork, actor: Principal, person_id: int, now: datetime
) -> BookingStatusRead:
    """``get_booking_status`` in the caller's unit of work, which has counted the read
    (the registry's patient card): the same refusals, a staff read audited."""
    session = uow.session
    staff = _is_clinic_staff(actor)
    if Role.CITIZEN in actor.roles and accounts.acts_for(actor, person_id, uow=uow):
        staff = False
    elif not staff or not in_care_of(session, actor, person_id, staff_head_clinics(session, actor)):
        raise errors.PatientNotFound()
    _patient(session, person_id)
    result = _booking_status(session, person_id, now)
    if staff:
        audit.record(session, actor, "health.booking_status", subject_person_id=person_id)
    return result


def identified_booking_status(
    person_id: int, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> BookingStatusRead:
    """The booking status of a patient the kiosk identified earlier in the same session
    (the caller has checked its signed, short-lived identity), so that a suspension is
    shown before the patient picks a time; the rules of ``get_booking_status``."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _patient(uow.session, person_id)
        return _booking_status(uow.session, person_id, now)


def _booking_status(session: Session, person_id: int, now: datetime) -> BookingStatusRead:
    settings = get_settings()
    standing = session.execute(
        select(
            STANDINGS.c.suspended_at,
            STANDINGS.c.suspended_until,
            STANDINGS.c.suspension_no_shows,
        ).where(STANDINGS.c.person_id == person_id)
    ).one_or_none()
    suspended = (
        standing is not None
        and standing.suspended_until is not None
        and standing.suspended_until > now
    )
    reason = None
    if suspended:
        assert standing is not None
        reason = errors.BookingSuspended(
            until=_format_day(standing.suspended_until), count=standing.suspension_no_shows
        ).translated()
    return BookingStatusRead(
        person_id=person_id,
        suspended=suspended,
        suspended_until=standing.suspended_until if suspended and standing else None,
        no_shows=_no_show_count(session, person_id, standing and standing.suspended_at, now),
        no_show_limit=settings.no_show_limit,
        window_days=settings.no_show_window_days,
        reason=reason,
    )


# --- Clinic-side schedule changes --------------------------------------------------


def _weekly(rule_rows: Iterable[Any]) -> list[rules.WeeklyRule]:
    return [
        rules.WeeklyRule(
            weekday=r.weekday,
            start=r.start_time,
            end=r.end_time,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            break_start=r.break_start,
            break_end=r.break_end,
            slot_minutes=r.slot_minutes,
        )
        for r in rule_rows
    ]


def _overrides(exception_rows: Iterable[Any]) -> list[rules.Override]:
    return [
        rules.Override(
            kind=e.kind,
            date_from=e.date_from,
            date_to=e.date_to,
            start=e.start_time,
            end=e.end_time,
        )
        for e in exception_rows
    ]


def _schedule_of(
    session: Session, practitioner_id: int, *, without_rule: int | None = None
) -> tuple[list[rules.WeeklyRule], list[rules.Override]]:
    """The practitioner's weekly rules (less one) and exceptions, as the rules see them."""
    query = select(ScheduleRule).where(ScheduleRule.practitioner_id == practitioner_id)
    if without_rule is not None:
        query = query.where(ScheduleRule.id != without_rule)
    exceptions = select(ScheduleException).where(
        ScheduleException.practitioner_id == practitioner_id
    )
    return _weekly(session.scalars(query)), _overrides(session.scalars(exceptions))


def _unplanned_slots(
    session: Session,
    practitioner: Practitioner,
    weekly: Sequence[rules.WeeklyRule],
    overrides: Sequence[rules.Override],
    now: datetime,
) -> list[Any]:
    """The practitioner's future free, held and booked slots that this schedule no longer
    plans (what a change of rules or a new absence takes away)."""
    rows = session.execute(
        select(SLOTS.c.id, SLOTS.c.starts_at, SLOTS.c.status)
        .where(
            SLOTS.c.practitioner_id == practitioner.id,
            SLOTS.c.starts_at > now,
            SLOTS.c.status.in_(("free", "held", "booked")),
        )
        .order_by(SLOTS.c.starts_at)
    ).all()
    if not rows:
        return []
    tz = _tz()
    specialty = session.get(Specialty, practitioner.specialty_id)
    assert specialty is not None
    planned = {
        p.starts_at
        for p in rules.plan_slots(
            rules.city_date(rows[0].starts_at, tz),
            rules.city_date(rows[-1].starts_at, tz),
            weekly,
            overrides,
            default_minutes=specialty.slot_minutes,
            tz=tz,
        )
    }
    return [r for r in rows if r.starts_at not in planned]


def _affected(session: Session, slot_ids: Sequence[int]) -> list[AffectedAppointmentRead]:
    if not slot_ids:
        return []
    rows = session.execute(
        select(
            APPOINTMENTS.c.id.label("appointment_id"),
            APPOINTMENTS.c.slot_id,
            APPOINTMENTS.c.person_id,
            APPOINTMENTS.c.starts_at,
            APPOINTMENTS.c.ticket_number,
            APPOINTMENTS.c.channel,
        )
        .where(APPOINTMENTS.c.slot_id.in_(slot_ids), APPOINTMENTS.c.status == "booked")
        .order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
    )
    return [AffectedAppointmentRead.model_validate(r, from_attributes=True) for r in rows]


def _check_exception(data: ScheduleExceptionCreate) -> None:
    if data.date_to < data.date_from:
        raise errors.InvalidSchedule(
            N_("The end date cannot be before the start date."), field="date_to"
        )
    if (data.start_time is None) != (data.end_time is None):
        raise errors.InvalidSchedule(N_("Give both times or neither."), field="end_time")
    if data.start_time is not None and data.end_time is not None:
        rules.check_times(data.start_time, data.end_time)
    elif data.kind == "extra_hours":
        raise errors.InvalidSchedule(N_("Extra hours need a start and an end."), field="start_time")


def _check_rule(data: ScheduleRuleCreate | ScheduleRuleUpdate) -> None:
    rules.check_times(
        data.start_time, data.end_time, data.break_start, data.break_end, data.slot_minutes
    )
    if data.valid_to is not None and data.valid_to < data.valid_from:
        raise errors.InvalidSchedule(
            N_("The end date cannot be before the start date."), field="valid_to"
        )


def _override_of(data: ScheduleExceptionCreate) -> rules.Override:
    return rules.Override(
        kind=data.kind,
        date_from=data.date_from,
        date_to=data.date_to,
        start=data.start_time,
        end=data.end_time,
    )


def _weekly_of(data: ScheduleRuleCreate | ScheduleRuleUpdate) -> rules.WeeklyRule:
    return _weekly([data])[0]


def _rule_for_admin(session: Session, actor: Principal | None, rule_id: int) -> ScheduleRule:
    actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
    rule = session.get(ScheduleRule, rule_id)
    if rule is None:
        raise errors.ScheduleRuleNotFound()
    _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, rule.clinic_id)
    return rule


def preview_schedule_exception(
    actor: Principal | None,
    data: ScheduleExceptionCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AffectedAppointmentRead]:
    """The booked appointments an absence would cancel (writes nothing)."""
    _check_exception(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
        practitioner = _practitioner(session, data.practitioner_id)
        _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, practitioner.clinic_id)
        if data.kind == "extra_hours":
            return []
        weekly, overrides = _schedule_of(session, practitioner.id)
        gone = _unplanned_slots(
            session, practitioner, weekly, [*overrides, _override_of(data)], now
        )
        return _affected(session, [r.id for r in gone if r.status == "booked"])


def preview_schedule_rule_change(
    actor: Principal | None,
    rule_id: int,
    data: ScheduleRuleUpdate | None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AffectedAppointmentRead]:
    """The booked appointments changing (``data``) or removing (None) a weekly pattern
    would cancel (writes nothing)."""
    if data is not None:
        _check_rule(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        rule = _rule_for_admin(session, actor, rule_id)
        practitioner = _practitioner(session, rule.practitioner_id)
        weekly, overrides = _schedule_of(session, practitioner.id, without_rule=rule.id)
        if data is not None:
            weekly.append(_weekly_of(data))
        gone = _unplanned_slots(session, practitioner, weekly, overrides, now)
        return _affected(session, [r.id for r in gone if r.status == "booked"])


def _withdraw_slots(
    uow: UnitOfWork, practitioner: Practitioner, now: datetime
) -> tuple[list[int], int]:
    """Apply the practitioner's schedule as it now stands to their future slots: slots it
    no longer plans are blocked, holds on them withdrawn, and their appointments
    cancelled by the clinic. Returns the cancelled appointment ids and blocked slots."""
    session = uow.session
    weekly, overrides = _schedule_of(session, practitioner.id)
    gone = [r.id for r in _unplanned_slots(session, practitioner, weekly, overrides, now)]
    cancelled_ids: list[int] = []
    blocked = 0
    for start in range(0, len(gone), INSERT_BATCH):
        ids = gone[start : start + INSERT_BATCH]
        # Guarded by status, not by what was read: a slot booked since the read is left
        # 'booked' here and its appointment is cancelled by the next statement (which
        # sees every booking committed before it); a booking after this statement finds
        # the slot 'blocked' and is refused.
        free_or_held = _dml(
            session,
            update(SLOTS)
            .where(SLOTS.c.id.in_(ids), SLOTS.c.status.in_(("free", "held")))
            .values(status="blocked", held_until=None, held_for_entry_id=None,
                    version=SLOTS.c.version + 1)
            .returning(SLOTS.c.id, SLOTS.c.held_for_entry_id),
        ).all()  # fmt: skip
        blocked += len(free_or_held)
        held_ids = [r.id for r in free_or_held]
        if held_ids:
            _withdraw_holds(session, held_ids, now)
        cancelled = _dml(
            session,
            update(APPOINTMENTS)
            .where(APPOINTMENTS.c.slot_id.in_(ids), APPOINTMENTS.c.status == "booked")
            .values(status="cancelled_by_clinic", cancelled_at=now)
            .returning(*APPOINTMENT_COLUMNS),
        ).all()
        if cancelled:
            blocked += _dml(
                session,
                update(SLOTS)
                .where(SLOTS.c.id.in_([c.slot_id for c in cancelled]), SLOTS.c.status == "booked")
                .values(status="blocked", version=SLOTS.c.version + 1),
            ).rowcount
        for row in cancelled:
            appointment = _appointment_read(row)
            if appointment.referral_id is not None:
                _give_back_referral(session, appointment.referral_id, appointment.id)
            _prioritise(session, appointment, now)
            _notify(
                uow,
                appointment,
                "appointment_cancelled_by_clinic",
                {"alternatives": _alternatives(session, appointment, now)},
            )
            cancelled_ids.append(appointment.id)
    return cancelled_ids, blocked


def _withdraw_holds(session: Session, slot_ids: Sequence[int], now: datetime) -> None:
    """Holds on slots the clinic took away end; their entries wait again, keeping their
    place."""
    entry_ids = list(
        session.scalars(
            update(OFFERS)
            .where(OFFERS.c.slot_id.in_(slot_ids), OFFERS.c.outcome == "held")
            .values(outcome="withdrawn", closed_at=now)
            .returning(OFFERS.c.entry_id)
        )
    )
    if entry_ids:
        _dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id.in_(entry_ids), ENTRIES.c.status == "holding")
            .values(status="waiting"),
        )


def _prioritise(session: Session, appointment: AppointmentRead, now: datetime) -> None:
    """Put the patient whose appointment the clinic cancelled first on the waiting list
    of the specialty at that clinic (an open entry of theirs is raised to priority)."""
    statement = (
        _upsert(session)(ENTRIES)
        .values(
            clinic_id=appointment.clinic_id,
            person_id=appointment.person_id,
            specialty_id=appointment.specialty_id,
            referral_id=appointment.referral_id,
            priority=True,
            reason="clinic_cancelled",
            status="waiting",
            created_at=now,
        )
        .on_conflict_do_update(
            index_elements=["person_id", "specialty_id"],
            index_where=ACTIVE_WAITLIST_ENTRY,
            set_={"priority": True, "reason": "clinic_cancelled"},
        )
    )
    session.execute(statement)


def _alternatives(
    session: Session, appointment: AppointmentRead, now: datetime
) -> list[dict[str, Any]]:
    """Up to three nearest free times of the same specialty at the same clinic."""
    rows = session.execute(
        select(SLOTS.c.starts_at, Practitioner.name, Practitioner.room)
        .join(Practitioner, Practitioner.id == SLOTS.c.practitioner_id)
        .where(
            SLOTS.c.specialty_id == appointment.specialty_id,
            SLOTS.c.clinic_id == appointment.clinic_id,
            SLOTS.c.status == "free",
            SLOTS.c.release_at <= now,
            SLOTS.c.starts_at > now,
        )
        .order_by(SLOTS.c.starts_at, SLOTS.c.id)
        .limit(ALTERNATIVES)
    )
    return [{"starts_at": r.starts_at, "practitioner": r.name, "room": r.room} for r in rows]


def _apply_schedule(
    uow: UnitOfWork, practitioner: Practitioner, now: datetime
) -> ScheduleChangeRead:
    cancelled, blocked = _withdraw_slots(uow, practitioner, now)
    session = uow.session
    horizon = session.scalar(select(func.max(Specialty.horizon_days))) or 0
    last_day = _city_today(now) + timedelta(days=horizon + 1)
    added = _materialise_practitioner(session, practitioner, _city_today(now), last_day, now)
    return ScheduleChangeRead(
        cancelled_appointments=cancelled, blocked_slots=blocked, added_slots=added
    )


def change_schedule_rule(
    actor: Principal | None,
    rule_id: int,
    data: ScheduleRuleUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ScheduleChangeRead:
    """Change a weekly pattern: appointments it no longer covers are cancelled by the
    clinic (patients told, with alternatives and waiting-list priority)."""
    _check_rule(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        rule = _rule_for_admin(session, actor, rule_id)
        for name, value in data.model_dump().items():
            setattr(rule, name, value)
        session.flush()
        practitioner = _practitioner(session, rule.practitioner_id)
        result = _apply_schedule(uow, practitioner, now)
        uow.commit()
        return result


def remove_schedule_rule(
    actor: Principal | None,
    rule_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ScheduleChangeRead:
    """Remove a weekly pattern: its future appointments are cancelled by the clinic."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        rule = _rule_for_admin(session, actor, rule_id)
        practitioner = _practitioner(session, rule.practitioner_id)
        session.delete(rule)
        session.flush()
        result = _apply_schedule(uow, practitioner, now)
        uow.commit()
        return result


# --- Waiting list ------------------------------------------------------------------
#
# Lock order, everywhere: the slot's row first, then the entry's. Offering a freed slot
# takes the slot (free -> held) and then the entry (waiting -> holding); accepting,
# declining and expiring take the held slot and then the entry. Two transactions
# therefore never wait on each other in a cycle.


def _entry_read(session: Session, entry_ids: Sequence[int]) -> list[WaitlistEntryRead]:
    if not entry_ids:
        return []
    held = (
        select(OFFERS.c.entry_id, OFFERS.c.slot_id, OFFERS.c.held_until)
        .where(OFFERS.c.outcome == "held", OFFERS.c.entry_id.in_(entry_ids))
        .subquery()
    )
    rows = session.execute(
        select(
            *ENTRIES.c,
            held.c.slot_id.label("held_slot_id"),
            held.c.held_until,
            SLOTS.c.starts_at.label("held_starts_at"),
        )
        .outerjoin(held, held.c.entry_id == ENTRIES.c.id)
        .outerjoin(SLOTS, SLOTS.c.id == held.c.slot_id)
        .where(ENTRIES.c.id.in_(entry_ids))
        .order_by(
            ENTRIES.c.status.in_(("waiting", "holding")).desc(),
            ENTRIES.c.created_at.desc(),
            ENTRIES.c.id.desc(),
        )
    )
    return [WaitlistEntryRead.model_validate(r, from_attributes=True) for r in rows]


def _hold_until(now: datetime, starts_at: datetime) -> datetime:
    return min(now + timedelta(minutes=get_settings().waitlist_hold_minutes), starts_at)


def _hold(uow: UnitOfWork, slot: Row[Any], entry_ids: Sequence[int], now: datetime) -> int | None:
    """Hold ``slot`` (free, released, future) for the first of ``entry_ids`` that is
    still waiting; return that entry's id, or None (then nothing has changed)."""
    session = uow.session
    if not entry_ids:
        return None
    until = _hold_until(now, slot.starts_at)
    # Guarded: a slot is held only from 'free'. A booking or another offer racing for
    # it finds it taken and updates nothing; the loser here gives up on this slot.
    taken = _dml(
        session,
        update(SLOTS)
        .where(
            SLOTS.c.id == slot.id,
            SLOTS.c.status == "free",
            SLOTS.c.release_at <= now,
            SLOTS.c.starts_at > now,
        )
        .values(status="held", held_until=until, version=SLOTS.c.version + 1),
    )
    if taken.rowcount != 1:
        return None
    chosen = None
    for entry_id in entry_ids:
        # Guarded: an entry holds at most one slot. If a concurrent offer got this entry
        # first (it is 'holding' now), try the next in line.
        got = _dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry_id, ENTRIES.c.status == "waiting")
            .values(status="holding"),
        )
        if got.rowcount == 1:
            chosen = entry_id
            break
    if chosen is None:  # nobody left: give the slot back (we still hold its row lock)
        _dml(
            session,
            update(SLOTS)
            .where(SLOTS.c.id == slot.id, SLOTS.c.status == "held")
            .values(status="free", held_until=None, version=SLOTS.c.version + 1),
        )
        return None
    _dml(session, update(SLOTS).where(SLOTS.c.id == slot.id).values(held_for_entry_id=chosen))
    session.execute(
        insert(OFFERS).values(
            clinic_id=slot.clinic_id,
            entry_id=chosen,
            slot_id=slot.id,
            offered_at=now,
            held_until=until,
            outcome="held",
        )
    )
    person_id = session.scalar(select(ENTRIES.c.person_id).where(ENTRIES.c.id == chosen))
    assert person_id is not None
    practitioner = session.execute(
        select(Practitioner.name, Practitioner.room, Specialty.name.label("specialty"),
               Specialty.name_en.label("specialty_en"))
        .join(Specialty, Specialty.id == Practitioner.specialty_id)
        .where(Practitioner.id == slot.practitioner_id)
    ).one()  # fmt: skip
    organisation = city.get_organisation(slot.clinic_id, uow=uow)
    _notify_person(
        uow,
        person_id,
        "waitlist_hold",
        {
            "starts_at": slot.starts_at,
            "held_until": until,
            "practitioner": practitioner.name,
            "room": practitioner.room,
            "specialty": practitioner.specialty,
            "specialty_en": practitioner.specialty_en,
            "clinic": organisation.name,
            "clinic_en": organisation.name_en or organisation.name,
            "address": organisation.address or "",
        },
        link="/health/waitlist",
    )
    return chosen


def _entry_can_hold(now: datetime) -> list[Any]:
    """Conditions on an entry that may be given a hold now: waiting; not suspended
    (unless the clinic cancelled on them); under the specialty's active limit."""
    suspended = exists().where(
        STANDINGS.c.person_id == ENTRIES.c.person_id,
        STANDINGS.c.suspended_until > now,
    )
    active = (
        select(func.count())
        .select_from(APPOINTMENTS)
        .where(
            APPOINTMENTS.c.person_id == ENTRIES.c.person_id,
            APPOINTMENTS.c.specialty_id == ENTRIES.c.specialty_id,
            APPOINTMENTS.c.status == "booked",
            APPOINTMENTS.c.starts_at > now,
        )
        .scalar_subquery()
    )
    limit = (
        select(Specialty.active_limit).where(Specialty.id == ENTRIES.c.specialty_id)
    ).scalar_subquery()
    return [
        ENTRIES.c.status == "waiting",
        or_(ENTRIES.c.priority.is_(True), ~suspended),
        active < limit,
    ]


def _slot_row(session: Session, slot_id: int) -> Row[Any] | None:
    return session.execute(
        select(
            SLOTS.c.id,
            SLOTS.c.clinic_id,
            SLOTS.c.practitioner_id,
            SLOTS.c.specialty_id,
            SLOTS.c.starts_at,
            SLOTS.c.release_at,
            SLOTS.c.status,
            func.coalesce(Clinic.parent_clinic_id, Clinic.id).label("head_clinic_id"),
        )
        .join(Clinic, Clinic.id == SLOTS.c.clinic_id)
        .where(SLOTS.c.id == slot_id)
    ).one_or_none()


def _offer_slot(uow: UnitOfWork, slot_id: int, now: datetime) -> int | None:
    """A slot has just become free: hold it for the first matching waiting-list entry
    (priority first, then the oldest); return the entry id, or None."""
    session = uow.session
    slot = _slot_row(session, slot_id)
    if slot is None or slot.status != "free" or slot.starts_at <= now or slot.release_at > now:
        return None
    local = slot.starts_at.astimezone(_tz())
    day, wall = local.date(), local.time().replace(tzinfo=None)
    offered = exists().where(OFFERS.c.entry_id == ENTRIES.c.id, OFFERS.c.slot_id == slot.id)
    entry_ids = list(
        session.scalars(
            select(ENTRIES.c.id)
            .where(
                ENTRIES.c.specialty_id == slot.specialty_id,
                *_entry_can_hold(now),
                or_(
                    ENTRIES.c.clinic_id.is_(None),
                    ENTRIES.c.clinic_id.in_({slot.clinic_id, slot.head_clinic_id}),
                ),
                or_(ENTRIES.c.date_from.is_(None), ENTRIES.c.date_from <= day),
                or_(ENTRIES.c.date_to.is_(None), ENTRIES.c.date_to >= day),
                or_(ENTRIES.c.time_from.is_(None), ENTRIES.c.time_from <= wall),
                or_(ENTRIES.c.time_to.is_(None), ENTRIES.c.time_to > wall),
                ~offered,  # a time once declined is not offered to the same place again
            )
            .order_by(ENTRIES.c.priority.desc(), ENTRIES.c.created_at, ENTRIES.c.id)
            .limit(OFFER_CANDIDATES)
        )
    )
    return _hold(uow, slot, entry_ids, now)


def _offer_to_entry(uow: UnitOfWork, entry_id: int, now: datetime) -> int | None:
    """Hold the earliest free time that matches a waiting entry; return the slot id."""
    session = uow.session
    entry = session.execute(
        select(ENTRIES).where(ENTRIES.c.id == entry_id, *_entry_can_hold(now))
    ).one_or_none()
    if entry is None:
        return None
    tz = _tz()
    conditions = [
        SLOTS.c.specialty_id == entry.specialty_id,
        SLOTS.c.status == "free",
        SLOTS.c.release_at <= now,
        SLOTS.c.starts_at > now,
        ~exists().where(OFFERS.c.entry_id == entry.id, OFFERS.c.slot_id == SLOTS.c.id),
    ]
    if entry.clinic_id is not None:
        branches = select(Clinic.id).where(Clinic.parent_clinic_id == entry.clinic_id)
        conditions.append(
            or_(SLOTS.c.clinic_id == entry.clinic_id, SLOTS.c.clinic_id.in_(branches))
        )
    if entry.date_from is not None:
        lower = rules.local_instant(entry.date_from, time(0), tz)
        if lower is not None:
            conditions.append(SLOTS.c.starts_at >= lower)
    if entry.date_to is not None:
        upper = rules.local_instant(entry.date_to + timedelta(days=1), time(0), tz)
        if upper is not None:
            conditions.append(SLOTS.c.starts_at < upper)
    candidates = session.execute(
        select(SLOTS.c.id, SLOTS.c.starts_at)
        .where(*conditions)
        .order_by(SLOTS.c.starts_at, SLOTS.c.id)
        .limit(OFFER_SCAN)
    )
    for candidate in candidates:
        wall = candidate.starts_at.astimezone(tz).time()
        if entry.time_from is not None and wall < entry.time_from:
            continue
        if entry.time_to is not None and wall >= entry.time_to:
            continue
        slot = _slot_row(session, candidate.id)
        if slot is not None and _hold(uow, slot, [entry.id], now) is not None:
            return int(slot.id)
        return None  # taken meanwhile or the entry moved on: the job tries again later
    return None


def _own_entry(uow: UnitOfWork, actor: Principal, entry_id: int) -> WaitlistEntry:
    entry = uow.session.get(WaitlistEntry, entry_id)
    # Someone else's place answers like an unknown one.
    if entry is None or not accounts.acts_for(actor, entry.person_id, uow=uow):
        raise errors.WaitlistEntryNotFound()
    return entry


def _check_waitlist_input(data: WaitlistEntryCreate, today: date) -> None:
    if data.date_from is not None and data.date_to is not None and data.date_to < data.date_from:
        raise errors.InvalidWaitlist(
            N_("The end date cannot be before the start date."), field="date_to"
        )
    if data.date_to is not None and data.date_to < today:
        raise errors.InvalidWaitlist(N_("The end date has already passed."), field="date_to")
    if (data.time_from is None) != (data.time_to is None):
        raise errors.InvalidWaitlist(N_("Give both times or neither."), field="time_to")
    if data.time_from is not None and data.time_to is not None and data.time_from >= data.time_to:
        raise errors.InvalidWaitlist(
            N_("The time window must start before it ends."), field="time_to"
        )


def join_waitlist(
    actor: Principal | None,
    data: WaitlistEntryCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> WaitlistEntryRead:
    """Put the citizen (or their child) on the waiting list of a specialty; a matching
    free time, if there is one, is held for them at once."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    person_id = data.patient_id or actor.person_id
    if person_id is None:
        raise errors.PatientNotFound()
    now = now or utcnow()
    _check_waitlist_input(data, _city_today(now))
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if not accounts.acts_for(actor, person_id, uow=uow):
            raise Forbidden(
                "not_your_patient", N_("You can book only for yourself and your children.")
            )
        specialty = session.get(Specialty, data.specialty_id)
        if specialty is None:
            raise errors.SpecialtyNotFound()
        patient = _patient(session, person_id)
        _refuse_if_suspended(session, person_id, now)
        clinic_id = data.clinic_id
        clinic = None
        if clinic_id is not None:
            clinic = session.get(Clinic, clinic_id)
            if clinic is None:
                raise errors.ClinicNotFound()
        attached = set(
            session.scalars(
                select(ATTACHMENTS.c.clinic_id).where(
                    ATTACHMENTS.c.person_id == person_id, ATTACHMENTS.c.valid_to.is_(None)
                )
            )
        )
        if data.referral_id is not None:
            referral = session.get(Referral, data.referral_id)
            if referral is None or referral.person_id != person_id:
                raise errors.ReferralNotFound()
            if referral.status != "active":
                raise errors.ReferralUsed()
            if referral.valid_until <= now:
                raise errors.ReferralExpired()
            if referral.specialty_id != specialty.id:
                raise errors.ReferralMismatch()
            if clinic_id is None:
                clinic_id = referral.target_clinic_id
        elif specialty.booking_mode == "referral":
            raise errors.ReferralRequired()
        else:
            # A direct specialty is seen at one's own polyclinic (or its branches).
            heads = [c for c in attached]
            if clinic is not None:
                head = clinic.parent_clinic_id or clinic.id
                if head not in attached:
                    raise errors.NotAttached()
            elif heads:
                clinic_id = min(heads)
            else:
                raise errors.NotAttached()
        kind_clinic = session.get(Clinic, clinic_id) if clinic_id is not None else None
        if patient.birth_date is None:
            raise errors.BirthDateRequired()
        age_kind = rules.clinic_kind_for_age(age_on(patient.birth_date, _city_today(now)))
        rules.check_booking(
            rules.BookingFacts(
                booking_mode=specialty.booking_mode,
                audience=specialty.audience,
                clinic_kind=kind_clinic.clinic_kind if kind_clinic else age_kind,
                attached=True,
                birth_date=patient.birth_date,
                slot_day=_city_today(now),
                has_referral=True,
            )
        )
        entry = WaitlistEntry(
            clinic_id=clinic_id,
            person_id=person_id,
            specialty_id=specialty.id,
            referral_id=data.referral_id,
            date_from=data.date_from,
            date_to=data.date_to,
            time_from=data.time_from,
            time_to=data.time_to,
            priority=False,
            reason="patient",
            status="waiting",
            created_by_user_id=actor.user_id,
            created_at=now,
        )
        session.add(entry)
        try:
            session.flush()
        except IntegrityError as exc:  # the partial unique index: one open entry
            raise errors.AlreadyOnWaitlist() from exc
        _offer_to_entry(uow, entry.id, now)
        (result,) = _entry_read(session, [entry.id])
        uow.commit()
        return result


def list_my_waitlist(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[WaitlistEntryRead]:
    """The citizen's and their children's waiting-list places, open ones first."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        person_ids = _own_and_children(uow, actor)
        ids = list(
            uow.session.scalars(
                select(ENTRIES.c.id)
                .where(ENTRIES.c.person_id.in_(person_ids))
                .order_by(ENTRIES.c.id.desc())
                .limit(MY_APPOINTMENTS_LIMIT)
            )
        )
        return _entry_read(uow.session, ids)


def _held_slot_of(session: Session, entry_id: int) -> int | None:
    return session.scalar(
        select(OFFERS.c.slot_id).where(OFFERS.c.entry_id == entry_id, OFFERS.c.outcome == "held")
    )


def _end_hold(
    session: Session, entry_id: int, outcome: str, now: datetime, *, expired_only: bool = False
) -> int | None:
    """Give back the slot held for an entry (held -> free, guarded on this very hold);
    return its id, or None if there was no hold in force."""
    slot_id = _held_slot_of(session, entry_id)
    if slot_id is None:
        return None
    conditions = [
        SLOTS.c.id == slot_id,
        SLOTS.c.status == "held",
        SLOTS.c.held_for_entry_id == entry_id,
    ]
    if expired_only:
        conditions.append(SLOTS.c.held_until <= now)
    freed = _dml(
        session,
        update(SLOTS)
        .where(*conditions)
        .values(status="free", held_until=None, held_for_entry_id=None,
                version=SLOTS.c.version + 1),
    )  # fmt: skip
    if freed.rowcount != 1:
        return None
    _dml(
        session,
        update(OFFERS)
        .where(OFFERS.c.entry_id == entry_id, OFFERS.c.slot_id == slot_id,
               OFFERS.c.outcome == "held")
        .values(outcome=outcome, closed_at=now),
    )  # fmt: skip
    return slot_id


def leave_waitlist(
    actor: Principal | None,
    entry_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> WaitlistEntryRead:
    """Leave the waiting list; a time held for the place goes to the next in line."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        entry = _own_entry(uow, actor, entry_id)
        freed = _end_hold(session, entry.id, "declined", now)  # the slot first, then the entry
        left = _dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry.id, ENTRIES.c.status.in_(("waiting", "holding")))
            .values(status="left", closed_at=now),
        )
        if left.rowcount != 1:
            raise errors.WaitlistEntryClosed()
        if freed is not None:
            _offer_slot(uow, freed, now)
        (result,) = _entry_read(session, [entry.id])
        uow.commit()
        return result


def accept_hold(
    actor: Principal | None,
    entry_id: int,
    data: HoldAccept | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Book the time held for a waiting-list place (the usual booking rules apply)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        entry = _own_entry(uow, actor, entry_id)
        if entry.status not in ("waiting", "holding"):
            raise errors.WaitlistEntryClosed()
        slot_id = _held_slot_of(session, entry.id)
        if slot_id is None:
            raise errors.NoActiveHold()
        if not entry.priority:  # the clinic cancelled on a priority patient: no refusal
            _refuse_if_suspended(session, entry.person_id, now)
        ctx = _slot_context(session, slot_id, entry.person_id)
        referral_id = (data.referral_id if data else None) or entry.referral_id
        result = _book(
            uow,
            ctx,
            _patient(session, entry.person_id),
            channel="app",
            referral_id=referral_id,
            booked_by_user_id=actor.user_id,
            now=now,
            hold_entry_id=entry.id,
        )
        # Guarded: the entry that held the slot is served once.
        served = _dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry.id, ENTRIES.c.status == "holding")
            .values(status="booked", appointment_id=result.id, closed_at=now),
        )
        if served.rowcount != 1:
            raise errors.NoActiveHold()
        _dml(
            session,
            update(OFFERS)
            .where(OFFERS.c.entry_id == entry.id, OFFERS.c.slot_id == slot_id,
                   OFFERS.c.outcome == "held")
            .values(outcome="accepted", closed_at=now),
        )  # fmt: skip
        _notify(uow, result, "appointment_booked")
        uow.commit()
        return result


def decline_hold(
    actor: Principal | None,
    entry_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> WaitlistEntryRead:
    """Turn down the time held for a place: it goes to the next in line; the place keeps
    waiting for another time."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        entry = _own_entry(uow, actor, entry_id)
        freed = _end_hold(session, entry.id, "declined", now)
        if freed is None:
            raise errors.NoActiveHold()
        back = _dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry.id, ENTRIES.c.status == "holding")
            .values(status="waiting"),
        )
        if back.rowcount != 1:
            raise errors.NoActiveHold()
        _offer_slot(uow, freed, now)
        (result,) = _entry_read(session, [entry.id])
        uow.commit()
        return result


def _expire_hold(uow: UnitOfWork, slot_id: int, entry_id: int | None, now: datetime) -> bool:
    """End one hold that has run out and offer the slot to the next in line."""
    session = uow.session
    # Guarded on this very hold and its expiry: an accept that committed first has made
    # the slot 'booked', a decline has freed it; then nothing is updated here.
    held_for = (
        SLOTS.c.held_for_entry_id.is_(None)
        if entry_id is None
        else SLOTS.c.held_for_entry_id == entry_id
    )
    freed = _dml(
        session,
        update(SLOTS)
        .where(SLOTS.c.id == slot_id, SLOTS.c.status == "held", held_for,
               SLOTS.c.held_until <= now)
        .values(status="free", held_until=None, held_for_entry_id=None,
                version=SLOTS.c.version + 1),
    )  # fmt: skip
    if freed.rowcount != 1:
        return False
    if entry_id is not None:
        _dml(
            session,
            update(OFFERS)
            .where(OFFERS.c.slot_id == slot_id, OFFERS.c.entry_id == entry_id,
                   OFFERS.c.outcome == "held")
            .values(outcome="expired", closed_at=now),
        )  # fmt: skip
        # An unanswered hold closes the place: holding times for someone who does not
        # answer would keep them from everyone else.
        _dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry_id, ENTRIES.c.status == "holding")
            .values(status="expired", closed_at=now),
        )
    _offer_slot(uow, slot_id, now)
    return True


def release_due_slots(now: datetime | None = None, *, uow: UnitOfWork | None = None) -> int:
    """End holds that have run out, passing each slot to the next in line, and hold free
    times for waiting entries (the periodic job); one short transaction per slot or entry.

    Release itself needs no job: a slot is bookable from its ``release_at``, checked in
    the statement that takes it, so every day opens exactly on time however late a
    worker runs. Returns how many held slots were freed.
    """
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        expired = uow.session.execute(
            select(SLOTS.c.id, SLOTS.c.held_for_entry_id)
            .where(SLOTS.c.status == "held", SLOTS.c.held_until <= now)
            .order_by(SLOTS.c.held_until)
            .limit(JOB_BATCH)
        ).all()
    freed = 0
    for slot_id, entry_id in expired:
        with uow:
            freed += _expire_hold(uow, slot_id, entry_id, now)
            uow.commit()
    with uow:
        waiting = list(
            uow.session.scalars(
                select(ENTRIES.c.id)
                .where(ENTRIES.c.status == "waiting")
                .order_by(ENTRIES.c.priority.desc(), ENTRIES.c.created_at, ENTRIES.c.id)
                .limit(JOB_BATCH)
            )
        )
    for entry_id in waiting:
        with uow:
            _offer_to_entry(uow, entry_id, now)
            uow.commit()
    return freed


# --- Reminders and one-click links -------------------------------------------------

LINK_ACTIONS = ("confirm", "cancel")


def _link_serializer(action: str) -> URLSafeSerializer:
    if action not in LINK_ACTIONS:
        raise ValueError(f"unknown link action {action!r}")
    # The salt scopes a token to its action: a "confirm" token cannot cancel.
    return URLSafeSerializer(get_settings().secret_key, salt=f"health.appointment.{action}")


def appointment_link_token(appointment_id: int, action: str, starts_at: datetime) -> str:
    """A signed token for a one-click ``confirm`` or ``cancel`` of one appointment, valid
    until the appointment starts."""
    return _link_serializer(action).dumps({"a": appointment_id, "e": int(starts_at.timestamp())})


def _check_link(appointment_id: int, action: str, token: str, now: datetime) -> None:
    try:
        payload = _link_serializer(action).loads(token)
    except BadSignature as exc:
        raise errors.InvalidLink() from exc
    if (
        not isinstance(payload, dict)
        or payload.get("a") != appointment_id
        or not isinstance(payload.get("e"), int)
        or payload["e"] <= now.timestamp()
    ):
        raise errors.InvalidLink()


def verify_appointment_link(
    appointment_id: int, action: str, token: str, *, now: datetime | None = None
) -> None:
    """Refuse (``invalid_link``) a token that is not a valid ``action`` link of this
    appointment; writes nothing."""
    if action not in LINK_ACTIONS:
        raise errors.InvalidLink()
    _check_link(appointment_id, action, token, now or utcnow())


def appointment_links(appointment_id: int, starts_at: datetime) -> dict[str, str]:
    """The one-click confirm and cancel URLs of an appointment: pages that open from an
    e-mail (GET), show the appointment and do it with one button."""
    base = get_settings().base_url.rstrip("/")
    return {
        f"{action}_link": (
            f"{base}/health/appointments/{appointment_id}/{action}"
            f"?token={appointment_link_token(appointment_id, action, starts_at)}"
        )
        for action in LINK_ACTIONS
    }


def reminder_offsets() -> list[int]:
    """The configured reminder offsets in hours, largest first."""
    offsets = set()
    for part in get_settings().reminder_offsets_hours.split(","):
        if part.strip():
            offsets.add(int(part))
    return sorted((h for h in offsets if h > 0), reverse=True)


def send_due_reminders(*, now: datetime | None = None, uow: UnitOfWork | None = None) -> int:
    """Queue the reminders that are due, once per appointment and offset (periodic job);
    return how many appointments were reminded."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    offsets = reminder_offsets()
    sent = 0
    for index, hours in enumerate(offsets):
        # Due: starting within ``hours`` but not yet within the next, smaller offset
        # (that one reminds instead), and booked before this reminder's moment.
        nearer = offsets[index + 1] if index + 1 < len(offsets) else 0
        with uow:
            session = uow.session
            candidates = session.execute(
                select(APPOINTMENTS.c.id, APPOINTMENTS.c.clinic_id, APPOINTMENTS.c.starts_at,
                       APPOINTMENTS.c.created_at)
                .where(
                    APPOINTMENTS.c.status == "booked",
                    APPOINTMENTS.c.starts_at > now + timedelta(hours=nearer),
                    APPOINTMENTS.c.starts_at <= now + timedelta(hours=hours),
                    ~exists().where(
                        REMINDERS.c.appointment_id == APPOINTMENTS.c.id,
                        REMINDERS.c.offset_hours == hours,
                    ),
                )
                .order_by(APPOINTMENTS.c.starts_at)
                .limit(JOB_BATCH)
            ).all()  # fmt: skip
            rows = [
                {"appointment_id": c.id, "offset_hours": hours, "clinic_id": c.clinic_id,
                 "queued_at": now}
                for c in candidates
                if c.created_at <= c.starts_at - timedelta(hours=hours)
            ]  # fmt: skip
            if not rows:
                continue
            # The claim: the primary key (appointment, offset) lets one insert win, so
            # two workers never queue the same reminder; only what we inserted is sent.
            claimed = list(
                session.scalars(
                    _upsert(session)(REMINDERS)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["appointment_id", "offset_hours"])
                    .returning(REMINDERS.c.appointment_id)
                )
            )
            for row in session.execute(
                select(*APPOINTMENT_COLUMNS).where(APPOINTMENTS.c.id.in_(claimed))
            ):
                appointment = _appointment_read(row)
                _notify(
                    uow,
                    appointment,
                    "appointment_reminder",
                    appointment_links(appointment.id, appointment.starts_at),
                )
            sent += len(claimed)
            uow.commit()
    return sent


def confirm_by_link(
    appointment_id: int,
    token: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Confirm an appointment from a reminder's one-click link."""
    now = now or utcnow()
    _check_link(appointment_id, "confirm", token, now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        # Guarded: only a booked, future appointment is confirmed; a second click keeps
        # the first confirmation time.
        confirmed = _dml(
            session,
            update(APPOINTMENTS)
            .where(
                APPOINTMENTS.c.id == appointment_id,
                APPOINTMENTS.c.status == "booked",
                APPOINTMENTS.c.starts_at > now,
            )
            .values(confirmed_at=func.coalesce(APPOINTMENTS.c.confirmed_at, now))
            .returning(*APPOINTMENT_COLUMNS),
        ).one_or_none()
        if confirmed is None:
            if session.get(Appointment, appointment_id) is None:
                raise errors.InvalidLink()
            raise errors.AppointmentNotActive()
        result = _appointment_read(confirmed)
        uow.commit()
        return result


@counted("cancel")
def cancel_by_link(
    appointment_id: int,
    token: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Cancel an appointment from a reminder's one-click link (the slot is freed at once
    and offered to the waiting list)."""
    now = now or utcnow()
    _check_link(appointment_id, "cancel", token, now)
    uow = uow or UnitOfWork()
    with uow:
        appointment = uow.session.get(Appointment, appointment_id)
        if appointment is None:
            raise errors.InvalidLink()
        result = _cancel(uow, appointment, None, now)
        uow.commit()
        return result


# --- Home visits -------------------------------------------------------------------

HOME_VISIT_STEPS: dict[str, tuple[str, ...]] = {
    # target status: the statuses it may be reached from
    "accepted": ("new",),
    "assigned": ("accepted", "assigned"),  # assigned again: another doctor
    "done": ("assigned",),
    "cancelled": ("new", "accepted", "assigned"),
}
OPEN_HOME_VISITS = ("new", "accepted", "assigned")


def _home_visit_read(row: Any) -> HomeVisitRead:
    return HomeVisitRead.model_validate(row, from_attributes=True)


def _notify_home_visit(uow: UnitOfWork, visit: HomeVisitRead) -> None:
    organisation = city.get_organisation(visit.clinic_id, uow=uow)
    doctor = (
        uow.session.scalar(
            select(Practitioner.name).where(Practitioner.id == visit.practitioner_id)
        )
        if visit.practitioner_id is not None
        else None
    )
    _notify_person(
        uow,
        visit.person_id,
        "home_visit_status",
        {
            "status": visit.status,
            "address": visit.address,
            "practitioner": doctor or "",
            "clinic": organisation.name,
            "clinic_en": organisation.name_en or organisation.name,
        },
        link="/health/home-visits",
    )


def request_home_visit(
    actor: Principal | None,
    data: HomeVisitCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> HomeVisitRead:
    """A citizen asks their attached polyclinic for a doctor at home (for self or a child)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    person_id = data.patient_id or actor.person_id
    if person_id is None:
        raise errors.PatientNotFound()
    phone = accounts.normalize_phone(data.contact_phone, field="contact_phone")
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if not accounts.acts_for(actor, person_id, uow=uow):
            raise Forbidden(
                "not_your_patient", N_("You can book only for yourself and your children.")
            )
        _patient(session, person_id)
        clinic_id = session.scalar(
            select(ATTACHMENTS.c.clinic_id)
            .where(ATTACHMENTS.c.person_id == person_id, ATTACHMENTS.c.valid_to.is_(None))
            .order_by(ATTACHMENTS.c.valid_from.desc())
            .limit(1)
        )
        if clinic_id is None:
            raise errors.HomeVisitNotAttached()
        visit = HomeVisitRequest(
            clinic_id=clinic_id,
            person_id=person_id,
            requested_by_user_id=actor.user_id,
            address=data.address,
            reason=data.reason,
            contact_phone=phone,
            status="new",
            created_at=now,
            updated_at=now,
        )
        session.add(visit)
        session.flush()
        result = _home_visit_read(visit)
        _notify_home_visit(uow, result)
        uow.commit()
        return result


def list_my_home_visits(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[HomeVisitRead]:
    """The citizen's and their children's home visit requests, newest first."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        person_ids = _own_and_children(uow, actor)
        rows = uow.session.scalars(
            select(HomeVisitRequest)
            .where(HomeVisitRequest.person_id.in_(person_ids))
            .order_by(HomeVisitRequest.created_at.desc(), HomeVisitRequest.id.desc())
            .limit(MY_APPOINTMENTS_LIMIT)
        )
        return [_home_visit_read(row) for row in rows]


def cancel_home_visit(
    actor: Principal | None,
    visit_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> HomeVisitRead:
    """The citizen withdraws a home visit request that is not done yet."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        visit = session.get(HomeVisitRequest, visit_id)
        if visit is None or not accounts.acts_for(actor, visit.person_id, uow=uow):
            raise errors.HomeVisitNotFound()
        # Guarded: a request the clinic has just closed is not cancelled over it.
        cancelled = _dml(
            session,
            update(HOME_VISITS)
            .where(HOME_VISITS.c.id == visit.id, HOME_VISITS.c.status.in_(OPEN_HOME_VISITS))
            .values(status="cancelled", updated_at=now)
            .returning(*HOME_VISITS.c),
        ).one_or_none()
        if cancelled is None:
            raise errors.HomeVisitStatusConflict()
        result = _home_visit_read(cancelled)
        uow.commit()
        return result


def list_home_visit_queue(
    actor: Principal | None,
    clinic_id: int,
    *,
    status: str | None = None,
    uow: UnitOfWork | None = None,
) -> list[HomeVisitRead]:
    """The clinic's home visit requests, open ones oldest first (registrars, clinic
    administrators of that clinic; audited)."""
    actor = authorize(actor, Action.HOME_VISIT_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if session.get(Clinic, clinic_id) is None:
            raise errors.ClinicNotFound()
        _authorize_in_clinic(session, actor, Action.HOME_VISIT_MANAGE, clinic_id)
        query = select(HomeVisitRequest).where(HomeVisitRequest.clinic_id == clinic_id)
        if status is not None:
            query = query.where(HomeVisitRequest.status == status)
        rows = session.scalars(
            query.order_by(
                HomeVisitRequest.status.in_(OPEN_HOME_VISITS).desc(),
                HomeVisitRequest.created_at,
                HomeVisitRequest.id,
            ).limit(QUEUE_LIMIT)
        )
        result = [_home_visit_read(row) for row in rows]
        audit.record(
            session,
            actor,
            "health.home_visit.queue",
            organisation_id=clinic_id,
            detail=f"{len(result)} requests",
        )
        uow.commit()
        return result


def update_home_visit(
    actor: Principal | None,
    visit_id: int,
    data: HomeVisitUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> HomeVisitRead:
    """Move a home visit request one step (accepted, assigned to a doctor, done,
    cancelled); the patient is told."""
    actor = authorize(actor, Action.HOME_VISIT_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        visit = session.get(HomeVisitRequest, visit_id)
        if visit is None:
            raise errors.HomeVisitNotFound()
        _authorize_in_clinic(session, actor, Action.HOME_VISIT_MANAGE, visit.clinic_id)
        sources = HOME_VISIT_STEPS[data.status]
        values: dict[str, Any] = {"status": data.status, "updated_at": now}
        if data.status == "assigned":
            if data.practitioner_id is None:
                raise InvalidInput(
                    "practitioner_required",
                    N_("Choose the doctor who will visit."),
                    field="practitioner_id",
                )
            practitioner = session.get(Practitioner, data.practitioner_id)
            family = _head_clinic_ids(session, practitioner.clinic_id) if practitioner else ()
            if practitioner is None or visit.clinic_id not in family:
                raise errors.PractitionerNotFound()
            values["practitioner_id"] = practitioner.id
        # Guarded: the step is taken only from the statuses it may follow, so two
        # registrars acting on the same request at once cannot both move it.
        updated = _dml(
            session,
            update(HOME_VISITS)
            .where(HOME_VISITS.c.id == visit.id, HOME_VISITS.c.status.in_(sources))
            .values(**values)
            .returning(*HOME_VISITS.c),
        ).one_or_none()
        if updated is None:
            raise errors.HomeVisitStatusConflict()
        result = _home_visit_read(updated)
        audit.record(
            session,
            actor,
            "health.home_visit.update",
            subject_person_id=result.person_id,
            organisation_id=result.clinic_id,
            detail=f"home visit {result.id}: {result.status}",
        )
        _notify_home_visit(uow, result)
        uow.commit()
        return result
