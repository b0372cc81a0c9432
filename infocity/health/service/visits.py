"""Visits: their outcome and the no-shows that suspend self-booking, and home visits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import Action, Principal, Role, allowed, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import Appointment, Clinic, HomeVisitRequest, Practitioner
from infocity.health.rules import AppointmentStatus, HomeVisitStatus, Move
from infocity.health.schemas import (
    AppointmentRead,
    BookingStatusRead,
    HomeVisitCreate,
    HomeVisitRead,
    HomeVisitUpdate,
    OutcomeCreate,
)
from infocity.health.service.base import (
    APPOINTMENT_COLUMNS,
    APPOINTMENTS,
    ATTACHMENTS,
    HOME_VISITS,
    MY_APPOINTMENTS_LIMIT,
    STANDINGS,
    _appointment_read,
    _authorize_in_clinic,
    _format_day,
    _head_clinic_ids,
    _in_state,
    _notify_person,
    _own_and_children,
    _patient,
    count_staff_lookup,
    in_care_of,
    staff_head_clinics,
)

QUEUE_LIMIT = 500  # rows of a clinic's home visit queue on one page


def _no_show_count(
    session: Session, person_id: int, since_suspension: datetime | None, now: datetime
) -> int:
    """No-shows in the window that have not already led to a suspension."""
    window = get_settings().no_show_window_days
    conditions = [
        APPOINTMENTS.c.person_id == person_id,
        APPOINTMENTS.c.status == AppointmentStatus.NO_SHOW,
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
        upsert_insert(session)(STANDINGS)
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
    dml(
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
        move = rules.OUTCOME_MOVES[AppointmentStatus(data.outcome)]
        marked = dml(
            session,
            update(APPOINTMENTS)
            .where(
                APPOINTMENTS.c.id == appointment.id,
                _in_state(APPOINTMENTS.c.status, move),
                APPOINTMENTS.c.starts_at <= now,
            )
            .values(status=rules.leads_to(move), outcome_at=now, outcome_by_user_id=actor.user_id)
            .returning(*APPOINTMENT_COLUMNS),
        ).one_or_none()
        if marked is None:
            session.refresh(appointment)
            if appointment.status in rules.OUTCOME_MOVES:
                raise errors.OutcomeAlreadyMarked()
            if appointment.status not in rules.expected(move):
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
        if move is Move.APPOINTMENT_MISS:
            _count_no_show(uow, result.person_id, now)
        uow.commit()
        return result


def undo_appointment_outcome(
    actor: Principal | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """The doctor takes back a mistaken attended/no-show mark on the day they made it:
    the visit is booked again, to be marked anew; a suspension of self-booking that
    this no-show caused ends."""
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
        marked, marked_at = appointment.status, appointment.outcome_at
        if marked not in rules.expected(Move.APPOINTMENT_UNDO_OUTCOME) or marked_at is None:
            raise errors.NoOutcomeToUndo()
        if city_date(marked_at) != city_date(now):
            raise errors.OutcomeUndoTooLate()
        # Guarded by the mark read: a second undo or a new mark racing this one finds
        # the row changed and updates nothing.
        undone = dml(
            session,
            update(APPOINTMENTS)
            .where(
                APPOINTMENTS.c.id == appointment.id,
                APPOINTMENTS.c.status == marked,
                APPOINTMENTS.c.outcome_at == marked_at,
            )
            .values(
                status=rules.leads_to(Move.APPOINTMENT_UNDO_OUTCOME),
                outcome_at=None,
                outcome_by_user_id=None,
            )
            .returning(*APPOINTMENT_COLUMNS),
        ).one_or_none()
        if undone is None:
            raise errors.NoOutcomeToUndo()
        if marked == rules.AppointmentStatus.NO_SHOW:
            dml(
                session,
                update(STANDINGS)
                .where(
                    STANDINGS.c.person_id == appointment.person_id,
                    STANDINGS.c.suspended_at == marked_at,
                    STANDINGS.c.suspended_until > now,
                )
                .values(suspended_until=now, updated_at=now),
            )
        result = _appointment_read(undone)
        audit.record(
            session,
            actor,
            "health.appointment.outcome_undone",
            subject_person_id=result.person_id,
            organisation_id=result.clinic_id,
            detail=f"appointment {result.id}: {marked} undone",
        )
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


OPEN_HOME_VISITS = rules.OPEN_HOME_VISITS


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
            raise errors.NotYourPatient()
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
            status=HomeVisitStatus.NEW,
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
        cancelled = dml(
            session,
            update(HOME_VISITS)
            .where(HOME_VISITS.c.id == visit.id, _in_state(HOME_VISITS.c.status, Move.VISIT_CANCEL))
            .values(status=rules.leads_to(Move.VISIT_CANCEL), updated_at=now)
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
        step = rules.HOME_VISIT_MOVES[rules.HomeVisitStatus(data.status)]
        values: dict[str, Any] = {"status": rules.leads_to(step), "updated_at": now}
        if step is Move.VISIT_ASSIGN:
            if data.practitioner_id is None:
                raise errors.PractitionerRequired()
            practitioner = session.get(Practitioner, data.practitioner_id)
            family = _head_clinic_ids(session, practitioner.clinic_id) if practitioner else ()
            if practitioner is None or visit.clinic_id not in family:
                raise errors.PractitionerNotFound()
            values["practitioner_id"] = practitioner.id
        # Guarded: the step is taken only from the statuses it may follow, so two
        # registrars acting on the same request at once cannot both move it.
        updated = dml(
            session,
            update(HOME_VISITS)
            .where(HOME_VISITS.c.id == visit.id, _in_state(HOME_VISITS.c.status, step))
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
