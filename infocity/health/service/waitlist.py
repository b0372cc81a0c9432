"""The waiting list: joining and leaving it, accepting and declining a held slot, and
releasing the holds that expire (lock order: see ``holds``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core.ages import age_on
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.i18n import N_
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import Clinic, Referral, Specialty, WaitlistEntry
from infocity.health.rules import (
    Move,
    OfferOutcome,
    ReferralStatus,
    SlotStatus,
    WaitlistStatus,
)
from infocity.health.schemas import (
    AppointmentRead,
    HoldAccept,
    WaitlistEntryCreate,
    WaitlistEntryRead,
)
from infocity.health.service.base import (
    ATTACHMENTS,
    ENTRIES,
    JOB_BATCH,
    MY_APPOINTMENTS_LIMIT,
    OFFERS,
    SLOTS,
    _in_state,
    _notify,
    _own_and_children,
    _patient,
    _refuse_if_suspended,
)
from infocity.health.service.holds import _offer_slot, _offer_to_entry
from infocity.health.service.taking import _book, _slot_context

# A place still on the list: what leaving it may start from.
OPEN_ENTRY = rules.expected(Move.ENTRY_LEAVE)


def _entry_read(session: Session, entry_ids: Sequence[int]) -> list[WaitlistEntryRead]:
    if not entry_ids:
        return []
    held = (
        select(OFFERS.c.entry_id, OFFERS.c.slot_id, OFFERS.c.held_until)
        .where(OFFERS.c.outcome == OfferOutcome.HELD, OFFERS.c.entry_id.in_(entry_ids))
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
            ENTRIES.c.status.in_(OPEN_ENTRY).desc(),
            ENTRIES.c.created_at.desc(),
            ENTRIES.c.id.desc(),
        )
    )
    return [WaitlistEntryRead.model_validate(r, from_attributes=True) for r in rows]


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


def _waitlist_clinic(
    session: Session,
    data: WaitlistEntryCreate,
    specialty: Specialty,
    person_id: int,
    now: datetime,
) -> int | None:
    """The clinic a waiting entry waits at: the one asked for, the referral's, or the
    patient's own polyclinic; refuses a referral that does not fit and a clinic that is
    not the patient's."""
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
        if referral.status != ReferralStatus.ACTIVE:
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
    return clinic_id


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
    _check_waitlist_input(data, city_date(now))
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if not accounts.acts_for(actor, person_id, uow=uow):
            raise errors.NotYourPatient()
        specialty = session.get(Specialty, data.specialty_id)
        if specialty is None:
            raise errors.SpecialtyNotFound()
        patient = _patient(session, person_id)
        _refuse_if_suspended(session, person_id, now)
        clinic_id = _waitlist_clinic(session, data, specialty, person_id, now)
        kind_clinic = session.get(Clinic, clinic_id) if clinic_id is not None else None
        if patient.birth_date is None:
            raise errors.BirthDateRequired()
        age_kind = rules.clinic_kind_for_age(age_on(patient.birth_date, city_date(now)))
        rules.check_booking(
            rules.BookingFacts(
                booking_mode=specialty.booking_mode,
                audience=specialty.audience,
                clinic_kind=kind_clinic.clinic_kind if kind_clinic else age_kind,
                attached=True,
                birth_date=patient.birth_date,
                slot_day=city_date(now),
                has_referral=True,
                sex=patient.sex,
                specialty_sex=specialty.sex,
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
            status=WaitlistStatus.WAITING,
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
        select(OFFERS.c.slot_id).where(
            OFFERS.c.entry_id == entry_id, OFFERS.c.outcome == OfferOutcome.HELD
        )
    )


def _end_hold(
    session: Session, entry_id: int, ending: Move, now: datetime, *, expired_only: bool = False
) -> int | None:
    """Give back the slot held for an entry (held -> free, guarded on this very hold);
    return its id, or None if there was no hold in force."""
    slot_id = _held_slot_of(session, entry_id)
    if slot_id is None:
        return None
    conditions = [
        SLOTS.c.id == slot_id,
        _in_state(SLOTS.c.status, Move.SLOT_RELEASE),
        SLOTS.c.held_for_entry_id == entry_id,
    ]
    if expired_only:
        conditions.append(SLOTS.c.held_until <= now)
    freed = dml(
        session,
        update(SLOTS)
        .where(*conditions)
        .values(status=rules.leads_to(Move.SLOT_RELEASE), held_until=None, held_for_entry_id=None,
                version=SLOTS.c.version + 1),
    )  # fmt: skip
    if freed.rowcount != 1:
        return None
    dml(
        session,
        update(OFFERS)
        .where(OFFERS.c.entry_id == entry_id, OFFERS.c.slot_id == slot_id,
               _in_state(OFFERS.c.outcome, ending))
        .values(outcome=rules.leads_to(ending), closed_at=now),
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
        # The slot first, then the entry.
        freed = _end_hold(session, entry.id, Move.OFFER_DECLINE, now)
        left = dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry.id, _in_state(ENTRIES.c.status, Move.ENTRY_LEAVE))
            .values(status=rules.leads_to(Move.ENTRY_LEAVE), closed_at=now),
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
        if entry.status not in OPEN_ENTRY:
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
        served = dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry.id, _in_state(ENTRIES.c.status, Move.ENTRY_BOOK))
            .values(
                status=rules.leads_to(Move.ENTRY_BOOK), appointment_id=result.id, closed_at=now
            ),
        )
        if served.rowcount != 1:
            raise errors.NoActiveHold()
        dml(
            session,
            update(OFFERS)
            .where(OFFERS.c.entry_id == entry.id, OFFERS.c.slot_id == slot_id,
                   _in_state(OFFERS.c.outcome, Move.OFFER_ACCEPT))
            .values(outcome=rules.leads_to(Move.OFFER_ACCEPT), closed_at=now),
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
        freed = _end_hold(session, entry.id, Move.OFFER_DECLINE, now)
        if freed is None:
            raise errors.NoActiveHold()
        back = dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry.id, _in_state(ENTRIES.c.status, Move.ENTRY_WAIT_AGAIN))
            .values(status=rules.leads_to(Move.ENTRY_WAIT_AGAIN)),
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
    freed = dml(
        session,
        update(SLOTS)
        .where(SLOTS.c.id == slot_id, _in_state(SLOTS.c.status, Move.SLOT_RELEASE), held_for,
               SLOTS.c.held_until <= now)
        .values(status=rules.leads_to(Move.SLOT_RELEASE), held_until=None, held_for_entry_id=None,
                version=SLOTS.c.version + 1),
    )  # fmt: skip
    if freed.rowcount != 1:
        return False
    if entry_id is not None:
        dml(
            session,
            update(OFFERS)
            .where(OFFERS.c.slot_id == slot_id, OFFERS.c.entry_id == entry_id,
                   _in_state(OFFERS.c.outcome, Move.OFFER_EXPIRE))
            .values(outcome=rules.leads_to(Move.OFFER_EXPIRE), closed_at=now),
        )  # fmt: skip
        # An unanswered hold closes the place: holding times for someone who does not
        # answer would keep them from everyone else.
        dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry_id, _in_state(ENTRIES.c.status, Move.ENTRY_EXPIRE))
            .values(status=rules.leads_to(Move.ENTRY_EXPIRE), closed_at=now),
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
            .where(SLOTS.c.status == SlotStatus.HELD, SLOTS.c.held_until <= now)
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
                .where(ENTRIES.c.status == WaitlistStatus.WAITING)
                .order_by(ENTRIES.c.priority.desc(), ENTRIES.c.created_at, ENTRIES.c.id)
                .limit(JOB_BATCH)
            )
        )
    for entry_id in waiting:
        with uow:
            _offer_to_entry(uow, entry_id, now)
            uow.commit()
    return freed
