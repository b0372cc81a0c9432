"""Booking: identification, the ways to book, cancelling and rescheduling, and the
referrals a booking needs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core import audit
from infocity.core.auth import Action, Principal, Role, allowed, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.errors import Forbidden
from infocity.core.ratelimit import Limit, hit_many
from infocity.core.security import token_hash
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.health import errors, rules
from infocity.health.metrics import counted
from infocity.health.models import Appointment, Clinic, Practitioner, Referral
from infocity.health.rules import AppointmentStatus, Move, ReferralStatus
from infocity.health.schemas import (
    AnonymousBookingCreate,
    AppointmentRead,
    BookingCreate,
    IdentifiedBookingCreate,
    IdentifiedRescheduleCreate,
    PatientIdentity,
    ReferralCreate,
    ReferralRead,
    RegistryBookingCreate,
    RescheduleCreate,
)
from infocity.health.service.base import (
    APPOINTMENT_COLUMNS,
    APPOINTMENTS,
    MY_APPOINTMENTS_LIMIT,
    SLOTS,
    _appointment_read,
    _authorize_in_clinic,
    _head_clinic_ids,
    _in_state,
    _notify,
    _own_and_children,
    _patient,
    _refuse_if_suspended,
    _specialty_by_code,
    count_staff_lookup,
    in_care_of,
)
from infocity.health.service.holds import _offer_slot
from infocity.health.service.taking import (
    _book,
    _give_back_referral,
    _lock_patient,
    _self_book_facts,
    _SelfBookFacts,
    _slot_context,
)

IDENTIFY_WINDOW_SECONDS = 600
# A kiosk serves a whole polyclinic from one address: the per-address limit is generous,
# the per-policy-and-address one is what stops guessing birth dates. Keyed by address
# too, so wrong dates typed at one terminal never lock the patient out of another.
IDENTIFY_PER_POLICY = 10
IDENTIFY_PER_ADDRESS = 300


def _identification_limits(policy: str, ip: str | None) -> list[Limit]:
    """The counters an identification attempt by ``policy`` from ``ip`` counts towards."""
    at_terminal = token_hash(f"{policy}|{ip or ''}")[:40]
    limits = [Limit(f"identify:{at_terminal}", IDENTIFY_PER_POLICY)]
    if ip:
        limits.append(Limit(f"identify-ip:{token_hash(ip)[:40]}", IDENTIFY_PER_ADDRESS))
    return limits


def _count_identification(uow: UnitOfWork, policy: str, ip: str | None) -> None:
    """Count the attempt for the policy and the address (committed even if the use case
    then fails): in the unit of work's own connection when it has nothing else to commit
    yet, else in a transaction of its own."""
    limits = _identification_limits(policy, ip)
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
    raise errors.NoAccess()


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
            raise errors.NotYourPatient()
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
        policy = accounts.normalize_oms_policy(data.oms_policy)
        _count_identification(uow, policy, ip)
        result = _book_by_policy(uow, data, policy, now)
        uow.commit()
        return result


def _book_by_policy(
    uow: UnitOfWork, data: AnonymousBookingCreate, policy: str, now: datetime
) -> AppointmentRead:
    """``book_by_policy`` once the attempt is counted (``policy`` normalised), in the
    caller's transaction."""
    facts = _self_book_facts(
        uow.session, data.slot_id, now, oms_policy=policy, birth_date=data.birth_date
    )
    return _self_book(uow, facts, data.referral_id, channel=data.channel, now=now)


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
        facts = _self_book_facts(uow.session, data.slot_id, now, person_id=person_id)
        result = _self_book(uow, facts, data.referral_id, channel=channel, now=now)
        uow.commit()
        return result


def _self_book(
    uow: UnitOfWork,
    facts: _SelfBookFacts,
    referral_id: int | None,
    *,
    channel: str,
    now: datetime,
) -> AppointmentRead:
    """A booking by the patient themself without an account (kiosk, call centre), from
    what ``_self_book_facts`` read (it refused a suspended patient): the usual path, and
    the patient is told."""
    result = _book(
        uow,
        facts.ctx,
        facts.patient,
        channel=channel,
        referral_id=referral_id,
        booked_by_user_id=None,
        now=now,
        locked=facts.locked,
    )
    _notify(uow, result, "appointment_booked", user_ids=facts.recipients)
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


def get_appointment(
    actor: Principal | None, appointment_id: int, *, uow: UnitOfWork | None = None
) -> AppointmentRead:
    """One appointment of the citizen's family (or, for staff, of their clinic); anyone
    else's is "not found"."""
    uow = uow or UnitOfWork()
    with uow:
        return _appointment_read(_own_appointment(uow, actor, appointment_id))


@counted("cancel")
def cancel_appointment(
    actor: Principal | None,
    appointment_id: int,
    *,
    reason: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Cancel an appointment before it starts: the slot is free again, the referral is
    given back. Staff cancelling for a patient give the ``reason``, kept with the
    appointment and told to the patient."""
    now = now or utcnow()
    reason = " ".join((reason or "").split())[:300] or None
    uow = uow or UnitOfWork()
    with uow:
        appointment = _own_appointment(uow, actor, appointment_id)
        result = _cancel(uow, appointment, actor, now, reason=reason)
        uow.commit()
        return result


def _cancel(
    uow: UnitOfWork,
    appointment: Appointment,
    actor: Principal | None,
    now: datetime,
    *,
    reason: str | None = None,
) -> AppointmentRead:
    """Cancel by the patient (or for them): free the slot, offer it to the waiting list."""
    session = uow.session
    # Guarded: only a booked, future appointment is cancelled, once, whoever races.
    cancelled = dml(
        session,
        update(APPOINTMENTS)
        .where(
            APPOINTMENTS.c.id == appointment.id,
            _in_state(APPOINTMENTS.c.status, Move.APPOINTMENT_CANCEL),
            APPOINTMENTS.c.starts_at > now,
        )
        .values(
            status=rules.leads_to(Move.APPOINTMENT_CANCEL), cancelled_at=now, cancel_reason=reason
        )
        .returning(*APPOINTMENT_COLUMNS),
    ).one_or_none()
    if cancelled is None:
        session.refresh(appointment)
        if appointment.status not in rules.expected(Move.APPOINTMENT_CANCEL):
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
    _notify(uow, result, "appointment_cancelled", {"reason": reason})
    return result


def _release_slot(session: Session, slot_id: int) -> None:
    # booked -> free: the only way a booked slot becomes bookable again.
    dml(
        session,
        update(SLOTS)
        .where(SLOTS.c.id == slot_id, _in_state(SLOTS.c.status, Move.SLOT_FREE))
        .values(status=rules.leads_to(Move.SLOT_FREE), version=SLOTS.c.version + 1),
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
        old = _own_appointment(uow, actor, appointment_id)
        new = _reschedule(uow, actor, old, data.slot_id, now)
        uow.commit()
        return new


def _reschedule(
    uow: UnitOfWork, actor: Principal | None, old: Appointment, slot_id: int, now: datetime
) -> AppointmentRead:
    """Move ``old`` to ``slot_id`` within the caller's transaction (all or nothing)."""
    session = uow.session
    if old.status not in rules.expected(Move.APPOINTMENT_MOVE):
        raise errors.AppointmentNotActive()
    if old.starts_at <= now:
        raise errors.TooLateToCancel()
    ctx = _slot_context(session, slot_id, old.person_id)
    if ctx.specialty_id != old.specialty_id:
        raise errors.OtherSpecialty()
    if _is_staff(actor):
        _authorize_in_clinic(session, actor, Action.APPOINTMENT_BOOK_FOR_ANY, ctx.clinic_id)
    # The patient's lock first, as every booking takes it, then end the old
    # appointment (guarded), so the new time may overlap it without tripping the
    # patient's overlap guard; if taking the new slot then fails, the transaction
    # rolls back and the old appointment stands.
    _lock_patient(session, old.person_id, ctx.specialty_id, now)
    replaced = dml(
        session,
        update(APPOINTMENTS)
        .where(
            APPOINTMENTS.c.id == old.id,
            _in_state(APPOINTMENTS.c.status, Move.APPOINTMENT_MOVE),
            APPOINTMENTS.c.starts_at > now,
        )
        .values(status=rules.leads_to(Move.APPOINTMENT_MOVE), cancelled_at=now),
    )
    if replaced.rowcount != 1:  # cancelled meanwhile
        raise errors.AppointmentNotActive()
    new = _book(
        uow,
        ctx,
        _patient(session, old.person_id),
        channel=old.channel,
        referral_id=None,
        booked_by_user_id=actor.acting_user_id if actor else None,
        now=now,
        replacing=old,
        locked=True,
    )
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
    return new


def list_my_appointments(
    actor: Principal | None,
    *,
    upcoming: bool = False,
    limit: int | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AppointmentRead]:
    """The citizen's and their children's appointments: all of them, latest first, or
    (``upcoming``) the booked ones from ``now`` on, soonest first; at most ``limit``
    (``MY_APPOINTMENTS_LIMIT`` unless given). The one reader of "my appointments" for the
    API, the health pages and the portal."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        person_ids = _own_and_children(uow, actor)
        return _appointments_of(uow.session, person_ids, upcoming, limit, now)


def _appointments_of(
    session: Session, person_ids: list[int], upcoming: bool, limit: int | None, now: datetime
) -> list[AppointmentRead]:
    query = select(*APPOINTMENT_COLUMNS).where(APPOINTMENTS.c.person_id.in_(person_ids))
    if upcoming:  # the same test as rules.is_upcoming, in SQL
        query = query.where(
            APPOINTMENTS.c.status == AppointmentStatus.BOOKED,
            APPOINTMENTS.c.starts_at >= now,
        ).order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
    else:
        query = query.order_by(APPOINTMENTS.c.starts_at.desc(), APPOINTMENTS.c.id.desc())
    rows = session.execute(query.limit(MY_APPOINTMENTS_LIMIT if limit is None else limit))
    return [_appointment_read(row) for row in rows]


def list_patient_appointments(
    actor: Principal | None,
    person_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AppointmentRead]:
    """A patient's appointments, latest first, for the city's own systems (``SYSTEM``:
    a client system of the FHIR API granted Appointment.read)."""
    if actor is None or not actor.is_system:
        raise errors.NoAccess()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        return _appointments_of(uow.session, [person_id], False, None, now)


# --- By OMS policy and date of birth (the kiosk's identification, for apps and the call
# centre): every call identifies anew and counts towards the same limits.


def list_identified_appointments(
    data: PatientIdentity,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AppointmentRead]:
    """The appointments of the patient who names their policy and birth date, latest
    first (the patient's own only: no account links them to children)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        person_id = _identify(uow, data.oms_policy, data.birth_date, ip).person_id
        return _appointments_of(uow.session, [person_id], False, None, now)


def _identified_appointment(
    uow: UnitOfWork, data: PatientIdentity, appointment_id: int, ip: str | None
) -> Appointment:
    """The identified patient's appointment; anyone else's is "not found"."""
    person_id = _identify(uow, data.oms_policy, data.birth_date, ip).person_id
    appointment = uow.session.get(Appointment, appointment_id)
    if appointment is None or appointment.person_id != person_id:
        raise errors.AppointmentNotFound()
    return appointment


@counted("cancel")
def cancel_by_policy(
    appointment_id: int,
    data: PatientIdentity,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Cancel the identified patient's appointment before it starts (kiosk, call centre,
    an app without an account)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        appointment = _identified_appointment(uow, data, appointment_id, ip)
        result = _cancel(uow, appointment, None, now)
        uow.commit()
        return result


@counted("move")
def reschedule_by_policy(
    appointment_id: int,
    data: IdentifiedRescheduleCreate,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Move the identified patient's appointment to another time of the same specialty
    (all or nothing); a patient suspended for no-shows keeps what they booked and may
    still move it, as with a login."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        old = _identified_appointment(uow, data, appointment_id, ip)
        new = _reschedule(uow, None, old, data.slot_id, now)
        uow.commit()
        return new


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
        # Referred to a doctor who would refuse the patient, they could never use it.
        traits = rules.PatientTraits(patient.birth_date, patient.sex)
        rules.check_suited(traits, city_date(now), audience=specialty.audience, sex=specialty.sex)
        if data.target_clinic_id is not None:
            target = session.get(Clinic, data.target_clinic_id)
            assert target is not None
            rules.check_suited(
                traits, city_date(now), audience=rules.clinic_audience(target.clinic_kind)
            )
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
            status=ReferralStatus.ACTIVE,
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
