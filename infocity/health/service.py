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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CursorResult,
    Executable,
    Row,
    Table,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
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
from infocity.core.db import UTCDateTime, utcnow
from infocity.core.errors import Conflict, Forbidden, InvalidInput
from infocity.core.i18n import N_, format_datetime
from infocity.core.outbox import notify
from infocity.core.ratelimit import hit
from infocity.core.security import token_hash
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import (
    CHANNELS,
    Appointment,
    Attachment,
    BookingQuota,
    Clinic,
    Practitioner,
    Referral,
    ScheduleException,
    ScheduleRule,
    Slot,
    Specialty,
)
from infocity.health.schemas import (
    AnonymousBookingCreate,
    AppointmentRead,
    AttachmentCreate,
    AttachmentRead,
    BookingCreate,
    ClinicCreate,
    ClinicRead,
    PractitionerCreate,
    PractitionerRead,
    ReferralCreate,
    ReferralRead,
    RegistryBookingCreate,
    RescheduleCreate,
    ScheduleExceptionCreate,
    ScheduleExceptionRead,
    ScheduleRuleCreate,
    ScheduleRuleRead,
    SlotRead,
    SlotSearch,
    SpecialtyRead,
)

IDENTIFY_WINDOW_SECONDS = 600
# A kiosk serves a whole polyclinic from one address: the per-address limit is generous,
# the per-policy one is what stops guessing birth dates.
IDENTIFY_PER_POLICY = 10
IDENTIFY_PER_ADDRESS = 300
INSERT_BATCH = 500
MY_APPOINTMENTS_LIMIT = 200

SLOTS = cast(Table, Slot.__table__)
APPOINTMENTS = cast(Table, Appointment.__table__)
REFERRALS = cast(Table, Referral.__table__)
QUOTAS = cast(Table, BookingQuota.__table__)
ATTACHMENTS = cast(Table, Attachment.__table__)

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


def create_clinic(
    data: ClinicCreate, *, actor: Principal | None = None, uow: UnitOfWork | None = None
) -> ClinicRead:
    """Give an organisation of kind "clinic" its health profile (actor None: trusted)."""
    if actor is not None:
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
    data: PractitionerCreate, *, actor: Principal | None = None, uow: UnitOfWork | None = None
) -> PractitionerRead:
    """Add a doctor's post to a clinic (clinic administrators; actor None: trusted)."""
    uow = uow or UnitOfWork()
    with uow:
        if uow.session.get(Clinic, data.clinic_id) is None:
            raise errors.ClinicNotFound()
        if actor is not None:
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
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AttachmentRead:
    """Attach a patient to a polyclinic (at most one change a year; history kept)."""
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
        _authorize_for_patient(session, uow, actor, data.person_id, clinic.id)
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
        if current is not None:
            next_change = rules.next_attachment_change(current.valid_from)
            if next_change is not None and now < next_change:
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
            created_by_user_id=actor.user_id if actor else None,
        )
        session.add(attachment)
        try:
            session.flush()
        except IntegrityError as exc:  # a first attachment made at the same moment
            raise _attachment_changed() from exc
        if actor is not None and Role.CITIZEN not in actor.roles:
            audit.record(
                session,
                actor,
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
    rules.check_times(
        data.start_time, data.end_time, data.break_start, data.break_end, data.slot_minutes
    )
    if data.valid_to is not None and data.valid_to < data.valid_from:
        raise errors.InvalidSchedule(
            N_("The end date cannot be before the start date."), field="valid_to"
        )
    uow = uow or UnitOfWork()
    with uow:
        practitioner = _practitioner(uow.session, data.practitioner_id)
        if actor is not None:
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
    """Record a practitioner's absence or extra hours; free slots of an absence are
    blocked at once, extra hours get their slots at once."""
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
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        practitioner = _practitioner(session, data.practitioner_id)
        if actor is not None:
            _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, practitioner.clinic_id)
        exception = ScheduleException(clinic_id=practitioner.clinic_id, **data.model_dump())
        session.add(exception)
        session.flush()
        if data.kind == "extra_hours":
            _materialise_practitioner(session, practitioner, data.date_from, data.date_to, now)
        else:
            _block_free_slots(session, practitioner.id, data)
        result = ScheduleExceptionRead.model_validate(exception)
        uow.commit()
        return result


def _block_free_slots(
    session: Session, practitioner_id: int, data: ScheduleExceptionCreate
) -> None:
    """Free slots inside an absence stop being bookable; booked ones stay (the clinic
    moves those patients: a later use case)."""
    tz = _tz()
    start = rules.local_instant(data.date_from, data.start_time or time(0), tz)
    day_after = data.date_to + timedelta(days=1)
    end = (
        rules.local_instant(data.date_to, data.end_time, tz)
        if data.end_time is not None
        else rules.local_instant(day_after, time(0), tz)
    )
    if start is None or end is None:
        return
    conditions = [
        SLOTS.c.practitioner_id == practitioner_id,
        SLOTS.c.status == "free",
        SLOTS.c.starts_at < end,
        SLOTS.c.ends_at > start,
    ]
    if data.start_time is not None and data.end_time is not None:
        # Part of each day: only slots whose local times meet the absence's hours.
        ids = [
            row.id
            for row in session.execute(
                select(SLOTS.c.id, SLOTS.c.starts_at, SLOTS.c.ends_at).where(*conditions)
            )
            if _meets_hours(row.starts_at, row.ends_at, data.start_time, data.end_time, tz)
        ]
        if not ids:
            return
        conditions.append(SLOTS.c.id.in_(ids))
    _dml(
        session,
        update(SLOTS).where(*conditions).values(status="blocked", version=SLOTS.c.version + 1),
    )


def _meets_hours(starts_at: datetime, ends_at: datetime, start: time, end: time, tz: Any) -> bool:
    local_start, local_end = starts_at.astimezone(tz).time(), ends_at.astimezone(tz).time()
    return local_start < end and start < local_end


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


def release_due_slots(now: datetime | None = None, *, uow: UnitOfWork | None = None) -> int:
    """Return slots whose hold has expired to the free pool (the periodic job).

    Release itself needs no job: a slot is bookable from its ``release_at``, checked in
    the statement that takes it, so every day opens exactly on time however late a
    worker runs. Returns how many held slots were freed.
    """
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        result = _dml(
            uow.session,
            update(SLOTS)
            .where(SLOTS.c.status == "held", SLOTS.c.held_until <= now)
            .values(status="free", held_until=None, version=SLOTS.c.version + 1),
        )
        uow.commit()
        return result.rowcount


def search_free_slots(
    search: SlotSearch, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[SlotRead]:
    """Free, released, future slots of a specialty (in one clinic and its branches, or
    anywhere), for a range of city dates, earliest first."""
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
        if search.clinic_id is not None:
            branches = select(Clinic.id).where(Clinic.parent_clinic_id == search.clinic_id)
            query = query.where(
                or_(SLOTS.c.clinic_id == search.clinic_id, SLOTS.c.clinic_id.in_(branches))
            )
        return [
            SlotRead.model_validate(row, from_attributes=True) for row in uow.session.execute(query)
        ]


# --- Identification ----------------------------------------------------------------


def _identify(
    session: Session, oms_policy: str, birth_date: date, ip: str | None
) -> accounts.PersonFacts:
    policy = accounts.normalize_oms_policy(oms_policy)
    hit(
        f"identify:{token_hash(policy)[:40]}",
        limit=IDENTIFY_PER_POLICY,
        window_seconds=IDENTIFY_WINDOW_SECONDS,
    )
    if ip:
        hit(
            f"identify-ip:{token_hash(ip)[:40]}",
            limit=IDENTIFY_PER_ADDRESS,
            window_seconds=IDENTIFY_WINDOW_SECONDS,
        )
    patient = accounts.person_by_policy(session, policy)
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
        return _identify(uow.session, oms_policy, birth_date, ip).person_id


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
    return _SlotContext(
        slot_id=row.id,
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
) -> Row[Any] | None:
    """Take the slot and insert the appointment; None if the slot was not taken.

    The guarded UPDATE is the decision: of any number of concurrent bookings, exactly
    one finds ``status = 'free'`` (PostgreSQL re-checks the condition on the locked row
    after a concurrent update commits); the rest update no row.
    """
    guard = (
        update(SLOTS)
        .where(
            SLOTS.c.id == ctx.slot_id,
            SLOTS.c.status == "free",
            SLOTS.c.release_at <= now,
            SLOTS.c.starts_at > now,
            _active_count(person_id, ctx.specialty_id, now, replacing_id) < ctx.active_limit,
        )
        .values(status="booked", version=SLOTS.c.version + 1)
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
    if _dialect(session) == "postgresql":
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
    session: Session, ctx: _SlotContext, person_id: int, now: datetime, replacing_id: int | None
) -> Exception:
    """The precise refusal once the guarded update took nothing (read only now)."""
    slot = session.execute(
        select(SLOTS.c.status, SLOTS.c.starts_at, SLOTS.c.release_at).where(
            SLOTS.c.id == ctx.slot_id
        )
    ).one()
    code = rules.why_not_bookable(
        rules.SlotState(slot.status, slot.starts_at, slot.release_at), now
    )
    if code is not None:
        return _slot_refusal(code, slot.release_at)
    count = session.scalar(select(_active_count(person_id, ctx.specialty_id, now, replacing_id)))
    if (count or 0) >= ctx.active_limit:
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
) -> AppointmentRead:
    """The booking path shared by every channel; the caller has authorized."""
    session = uow.session
    _check_channel(channel)
    code = rules.why_not_bookable(rules.SlotState(ctx.status, ctx.starts_at, ctx.release_at), now)
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
        )
    except IntegrityError as exc:  # the partial unique index: never reached if the guard works
        raise errors.SlotTaken() from exc
    if row is None:
        raise _why_not_taken(session, ctx, patient.person_id, now, replacing_id)
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
    clinic; ``None`` is a trusted caller (the command line, the demo, identified kiosks)."""
    if actor is None:
        return
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
    return actor is not None and Role.CITIZEN not in actor.roles


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
        uow.commit()
        return result


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
        patient = _identify(uow.session, data.oms_policy, data.birth_date, ip)
        ctx = _slot_context(uow.session, data.slot_id, patient.person_id)
        result = _book(
            uow,
            ctx,
            patient,
            channel=data.channel,
            referral_id=data.referral_id,
            booked_by_user_id=None,
            now=now,
        )
        _notify(uow, result, "appointment_booked")
        uow.commit()
        return result


def book_for_patient(
    actor: Principal | None,
    data: RegistryBookingCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Book a slot for any patient at the registrar's clinic (audited)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        ctx = _slot_context(uow.session, data.slot_id, data.patient_id)
        _authorize_in_clinic(uow.session, actor, Action.APPOINTMENT_BOOK_FOR_ANY, ctx.clinic_id)
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
        session = uow.session
        appointment = _own_appointment(uow, actor, appointment_id)
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
        uow.commit()
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
            booked_by_user_id=actor.user_id if actor else None,
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


def list_my_appointments(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[AppointmentRead]:
    """The citizen's and their children's appointments, latest first."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        person_ids = [p.id for p in accounts.list_family(actor, uow=uow)]
        if actor.person_id is not None:
            person_ids.append(actor.person_id)
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
    """A doctor refers a patient to a specialty (optionally at one clinic) for N days."""
    actor = authorize(actor, Action.REFERRAL_ISSUE)
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
            issued_by_user_id=actor.user_id,
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


def _notify(uow: UnitOfWork, appointment: AppointmentRead, kind: str) -> None:
    """Queue the message to the patient's and guardians' accounts, in this transaction."""
    session = uow.session
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
