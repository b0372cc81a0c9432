"""Holds: a freed slot offered to the waiting list.

Lock order, everywhere: the slot's row first, then the entry's. Offering a freed slot
takes the slot (free -> held) and then the entry (waiting -> holding); accepting,
declining and expiring take the held slot and then the entry. Two transactions
therefore never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from infocity.city import service as city
from infocity.core.clock import city_tz
from infocity.core.settings import get_settings
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.health import rules
from infocity.health.models import Clinic, Practitioner, Specialty
from infocity.health.rules import AppointmentStatus, Move, OfferOutcome, SlotStatus, WaitlistStatus
from infocity.health.service.base import (
    APPOINTMENTS,
    ENTRIES,
    OFFERS,
    SLOTS,
    STANDINGS,
    _in_state,
    _notify_person,
)

OFFER_CANDIDATES = 20  # waiting entries tried, in order, for one freed slot
OFFER_SCAN = 200  # free slots looked at for one waiting entry (time-of-day filtered after)


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
    taken = dml(
        session,
        update(SLOTS)
        .where(
            SLOTS.c.id == slot.id,
            _in_state(SLOTS.c.status, Move.SLOT_HOLD),
            SLOTS.c.release_at <= now,
            SLOTS.c.starts_at > now,
        )
        .values(
            status=rules.leads_to(Move.SLOT_HOLD), held_until=until, version=SLOTS.c.version + 1
        ),
    )
    if taken.rowcount != 1:
        return None
    chosen = None
    for entry_id in entry_ids:
        # Guarded: an entry holds at most one slot. If a concurrent offer got this entry
        # first (it is 'holding' now), try the next in line.
        got = dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id == entry_id, _in_state(ENTRIES.c.status, Move.ENTRY_HOLD))
            .values(status=rules.leads_to(Move.ENTRY_HOLD)),
        )
        if got.rowcount == 1:
            chosen = entry_id
            break
    if chosen is None:  # nobody left: give the slot back (we still hold its row lock)
        dml(
            session,
            update(SLOTS)
            .where(SLOTS.c.id == slot.id, _in_state(SLOTS.c.status, Move.SLOT_RELEASE))
            .values(
                status=rules.leads_to(Move.SLOT_RELEASE),
                held_until=None,
                version=SLOTS.c.version + 1,
            ),
        )
        return None
    dml(session, update(SLOTS).where(SLOTS.c.id == slot.id).values(held_for_entry_id=chosen))
    session.execute(
        insert(OFFERS).values(
            clinic_id=slot.clinic_id,
            entry_id=chosen,
            slot_id=slot.id,
            offered_at=now,
            held_until=until,
            outcome=OfferOutcome.HELD,
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
            APPOINTMENTS.c.status == AppointmentStatus.BOOKED,
            APPOINTMENTS.c.starts_at > now,
        )
        .scalar_subquery()
    )
    limit = (
        select(Specialty.active_limit).where(Specialty.id == ENTRIES.c.specialty_id)
    ).scalar_subquery()
    return [
        ENTRIES.c.status == WaitlistStatus.WAITING,
        or_(ENTRIES.c.priority.is_(True), ~suspended),
        active < limit,
    ]


def _busy(person_id: Any, starts_at: Any, ends_at: Any) -> Any:
    """The patient has a booked appointment overlapping ``starts_at..ends_at``: such a
    time is never held for them (the overlap guard would refuse it when they accept)."""
    return exists().where(
        APPOINTMENTS.c.person_id == person_id,
        APPOINTMENTS.c.status == AppointmentStatus.BOOKED,
        APPOINTMENTS.c.starts_at < ends_at,
        APPOINTMENTS.c.ends_at > starts_at,
    )


def _slot_row(session: Session, slot_id: int) -> Row[Any] | None:
    return session.execute(
        select(
            SLOTS.c.id,
            SLOTS.c.clinic_id,
            SLOTS.c.practitioner_id,
            SLOTS.c.specialty_id,
            SLOTS.c.starts_at,
            SLOTS.c.ends_at,
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
    if (
        slot is None
        or slot.status != SlotStatus.FREE
        or slot.starts_at <= now
        or slot.release_at > now
    ):
        return None
    local = slot.starts_at.astimezone(city_tz())
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
                ~_busy(ENTRIES.c.person_id, slot.starts_at, slot.ends_at),
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
    tz = city_tz()
    conditions = [
        SLOTS.c.specialty_id == entry.specialty_id,
        SLOTS.c.status == SlotStatus.FREE,
        SLOTS.c.release_at <= now,
        SLOTS.c.starts_at > now,
        ~exists().where(OFFERS.c.entry_id == entry.id, OFFERS.c.slot_id == SLOTS.c.id),
        ~_busy(entry.person_id, SLOTS.c.starts_at, SLOTS.c.ends_at),
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
