"""The guarded take of a slot, under every booking.

The booking path is built around one guarded statement. A slot is taken by
``UPDATE slots SET status = 'booked' WHERE id = :id AND status = 'free' AND released
AND in the future AND <patient under the limit> RETURNING ...``; on PostgreSQL the same
statement also inserts the appointment (a data-modifying CTE), so a booking is one
round trip. Only when it takes no row do we read, to say precisely why. The partial
unique index on active appointments per slot is the backstop. The statements are built
in ``slot_sql`` from one predicate, which also picks the form the database runs.

A booking under a referral claims it here too; an appointment that ends gives it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Row,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core.clock import city_tz
from infocity.core.db import fetch_rows
from infocity.core.i18n import format_datetime
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import Appointment, Clinic, Referral, Specialty
from infocity.health.rules import AppointmentStatus, Move, ReferralStatus, SlotStatus
from infocity.health.schemas import AppointmentRead
from infocity.health.service import slot_sql
from infocity.health.service.base import (
    APPOINTMENT_COLUMNS,
    APPOINTMENTS,
    ATTACHMENTS,
    QUOTAS,
    REFERRALS,
    SLOTS,
    _appointment_read,
    _check_channel,
    _format_day,
    _in_state,
    _patient,
    _refuse_if_suspended,
)


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
    specialty_sex: str | None
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
            Specialty.sex.label("specialty_sex"),
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
        specialty_sex=row.specialty_sex,
        active_limit=row.active_limit,
        horizon_days=row.horizon_days,
        release_time=row.release_time,
        clinic_kind=row.clinic_kind,
        attached=bool(row.attached),
    )


@dataclass(frozen=True)
class _SelfBookFacts:
    patient: accounts.PersonFacts
    ctx: _SlotContext
    recipients: list[int] | None  # the accounts to notify, when read already
    locked: bool  # the patient's lock (``_lock_patient``) is held already


def _self_book_facts(
    session: Session,
    slot_id: int,
    now: datetime,
    *,
    oms_policy: str | None = None,
    birth_date: date | None = None,
    person_id: int | None = None,
) -> _SelfBookFacts:
    """What a self-booking reads before the take, refused in this order: the patient
    (by normalised policy and birth date, or by id), the slot, the suspension. Where the
    lane's hand-written statements run (PostgreSQL), in one statement that also locks
    the patient."""
    if not slot_sql.hand_written(session):
        if oms_policy is not None:
            found = accounts.person_by_policy(session, oms_policy)
            if found is None or found.birth_date != birth_date:
                raise errors.PatientNotFound()
            patient = found
        else:
            assert person_id is not None
            patient = _patient(session, person_id)
        ctx = _slot_context(session, slot_id, patient.person_id)
        _refuse_if_suspended(session, patient.person_id, now)
        return _SelfBookFacts(patient, ctx, recipients=None, locked=False)
    if oms_policy is not None:
        statement = slot_sql.FACTS_BY_POLICY
        params: dict[str, Any] = {"oms_policy": oms_policy, "birth_date": birth_date}
    else:
        statement = slot_sql.FACTS_BY_ID
        params = {"person_id": person_id}
    rows = fetch_rows(session, statement, {**params, "slot_id": slot_id, "now": now})
    row = rows[0] if rows else None
    return _self_book_facts_of(row, by_policy=oms_policy is not None, birth_date=birth_date)


def _self_book_facts_of(row: Any, *, by_policy: bool, birth_date: date | None) -> _SelfBookFacts:
    """The facts from a row of ``slot_sql.FACTS_BY_POLICY`` (or ``FACTS_BY_ID``, or one
    request's row of ``FACTS_MANY_BY_POLICY``), refused as ``_self_book_facts`` says."""
    if row is None or row.person_id is None or (by_policy and row.birth_date != birth_date):
        raise errors.PatientNotFound()
    if row.slot_id is None:
        raise errors.SlotNotFound()
    if row.suspended_until is not None:
        raise errors.BookingSuspended(
            until=_format_day(row.suspended_until), count=row.suspension_no_shows
        )
    return _SelfBookFacts(
        patient=accounts.PersonFacts(row.person_id, row.birth_date, row.first_name, row.sex),
        ctx=_slot_context_of(row, row.slot_id),
        recipients=list(row.recipients),
        locked=True,
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


def _lock_patient(session: Session, person_id: int, specialty_id: int, now: datetime) -> None:
    """Serialise this patient's bookings of this specialty until commit.

    Why a row of our own: the limit counts appointments, and a count cannot see an
    appointment a concurrent transaction has not committed. The upsert takes the quota
    row's lock on PostgreSQL (a concurrent first insert waits on the unique key, then
    updates), so the second booking of the same patient waits here, and the statement
    that counts runs after the first has committed and sees its appointment. Locking
    the register's ``persons`` row would do the same but reach into another service's
    table. On SQLite every write transaction already runs alone (BEGIN IMMEDIATE).
    On PostgreSQL the same statement first waits for the patient's other bookings of any
    specialty (``slot_sql.LOCK_PATIENT_PG``), so the overlap guard refuses cleanly.
    """
    if slot_sql.hand_written(session):
        params = {"person_id": person_id, "specialty": specialty_id, "now": now}
        fetch_rows(session, slot_sql.LOCK_PATIENT_PG, params)
        return
    statement = (
        upsert_insert(session)(QUOTAS)
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
    hold_entry_id: int | None = None,
) -> Row[Any] | None:
    """Take the slot and insert the appointment; None if the slot was not taken.

    The guarded UPDATE is the decision: of any number of concurrent bookings, exactly
    one finds ``status = 'free'`` (PostgreSQL re-checks the condition on the locked row
    after a concurrent update commits); the rest update no row. A slot held for a
    waiting-list entry is taken only for that entry, and only while the hold lasts.
    """
    params = {
        "slot_id": ctx.slot_id,
        "now": now,
        "person_id": person_id,
        "specialty": ctx.specialty_id,
        "active_limit": ctx.active_limit,
        "hold_entry_id": hold_entry_id,
        "replacing_id": replacing_id,
        "channel": channel,
        "referral_id": referral_id,
        "booked_by_user_id": booked_by_user_id,
    }
    held, excluding = hold_entry_id is not None, replacing_id is not None
    taken = slot_sql.take(session, params, held=held, excluding=excluding)
    if taken is None or slot_sql.hand_written(session):
        appointment: Row[Any] | None = taken  # one statement inserted it already
        return appointment
    return session.execute(
        insert(APPOINTMENTS)
        .values(
            slot_id=taken.id,
            clinic_id=taken.clinic_id,
            specialty_id=taken.specialty_id,
            practitioner_id=taken.practitioner_id,
            starts_at=taken.starts_at,
            ends_at=taken.ends_at,
            ticket_number=taken.ticket_code,
            person_id=person_id,
            status=AppointmentStatus.BOOKED,
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
            slot_sql.active_count(excluding=replacing_id is not None).label("active"),
        ).where(SLOTS.c.id == ctx.slot_id),
        {
            "person_id": person_id,
            "specialty": ctx.specialty_id,
            "now": now,
            "replacing_id": replacing_id,
        },
    ).one()
    status = slot.status
    if hold_entry_id is not None and slot.starts_at > now:
        held_here = status == SlotStatus.HELD and slot.held_for_entry_id == hold_entry_id
        if not held_here or slot.held_until is None or slot.held_until <= now:
            return errors.NoActiveHold()
        status = SlotStatus.FREE  # our own hold: the slot is not what refused
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
    claimed = dml(
        session,
        update(REFERRALS)
        .where(
            REFERRALS.c.id == referral_id,
            REFERRALS.c.person_id == person_id,
            REFERRALS.c.specialty_id == ctx.specialty_id,
            _in_state(REFERRALS.c.status, Move.REFERRAL_USE),
            REFERRALS.c.valid_until > now,
            or_(
                REFERRALS.c.target_clinic_id.is_(None),
                REFERRALS.c.target_clinic_id == ctx.head_clinic_id,
                REFERRALS.c.target_clinic_id == ctx.clinic_id,
            ),
        )
        .values(status=rules.leads_to(Move.REFERRAL_USE), used_by_appointment_id=appointment_id),
    )
    if claimed.rowcount == 1:
        return
    referral = session.get(Referral, referral_id)
    # Someone else's referral is "not found": its number must not tell whose it is.
    if (
        referral is None
        or referral.person_id != person_id
        or referral.status == ReferralStatus.CANCELLED
    ):
        raise errors.ReferralNotFound()
    if referral.status == ReferralStatus.USED:
        raise errors.ReferralUsed()
    if referral.valid_until <= now:
        raise errors.ReferralExpired()
    raise errors.ReferralMismatch()


def _check_before_take(
    ctx: _SlotContext,
    patient: accounts.PersonFacts,
    *,
    channel: str,
    has_referral: bool,
    held: bool,
    now: datetime,
) -> None:
    """The refusals decided from what was read, before the take: the channel, the slot's
    state (``held``: held for the booking's own waiting-list entry), the booking rules."""
    _check_channel(channel)
    status = SlotStatus.FREE if held else ctx.status
    code = rules.why_not_bookable(rules.SlotState(status, ctx.starts_at, ctx.release_at), now)
    if code is not None:  # refused early from what we read; the take decides anyway
        raise _slot_refusal(code, ctx.release_at)
    rules.check_booking(
        rules.BookingFacts(
            booking_mode=ctx.booking_mode,
            audience=ctx.audience,
            clinic_kind=ctx.clinic_kind,
            attached=ctx.attached,
            birth_date=patient.birth_date,
            slot_day=rules.city_date(ctx.starts_at, city_tz()),
            has_referral=has_referral,
            sex=patient.sex,
            specialty_sex=ctx.specialty_sex,
        )
    )


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
    held = hold_entry_id is not None and ctx.status == SlotStatus.HELD
    carried_referral = replacing.referral_id if replacing is not None else None
    _check_before_take(
        ctx,
        patient,
        channel=channel,
        has_referral=(referral_id or carried_referral) is not None,
        held=held,
        now=now,
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
    except IntegrityError as exc:
        # The patient's overlap guard (checked by the INSERT: no extra round trip), or
        # the partial unique index on the slot (never reached if the guard works).
        if slot_sql.patient_busy(exc):
            raise errors.PatientBusy() from exc
        if slot_sql.referral_missing(exc):  # a number no one was given: "not found"
            raise errors.ReferralNotFound() from exc
        raise errors.SlotTaken() from exc
    if row is None:
        raise _why_not_taken(session, ctx, patient.person_id, now, replacing_id, hold_entry_id)
    if referral_id is not None:
        _claim_referral(session, ctx, referral_id, patient.person_id, row.id, now)
    elif carried_referral is not None and replacing is not None:
        moved = dml(
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


def _give_back_referral(session: Session, referral_id: int, appointment_id: int) -> None:
    # used -> active, only if this appointment is the one that used it.
    dml(
        session,
        update(REFERRALS)
        .where(
            REFERRALS.c.id == referral_id,
            _in_state(REFERRALS.c.status, Move.REFERRAL_GIVE_BACK),
            REFERRALS.c.used_by_appointment_id == appointment_id,
        )
        .values(status=rules.leads_to(Move.REFERRAL_GIVE_BACK), used_by_appointment_id=None),
    )
