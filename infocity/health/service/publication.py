"""Free times as other systems read them (FHIR, SMART Scheduling Links): every free,
released, future slot of the city read in batches by id, so that no transaction stays open
while a large file is written out; searches paged by position (a keyset, never an offset);
one slot by id."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    func,
    or_,
    select,
    union_all,
)

from infocity.core.bulk import copy_lines
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health.models import Clinic, Practitioner, Specialty
from infocity.health.rules import SlotStatus
from infocity.health.schemas import SlotRead, SpecialtyRead
from infocity.health.service.base import SLOTS

PUBLISH_BATCH = 5000


def _slot_rows() -> Select[Any]:
    return select(
        SLOTS.c.id,
        SLOTS.c.clinic_id,
        SLOTS.c.practitioner_id,
        Practitioner.name.label("practitioner_name"),
        Practitioner.room,
        SLOTS.c.specialty_id,
        SLOTS.c.starts_at,
        SLOTS.c.ends_at,
    ).join(Practitioner, Practitioner.id == SLOTS.c.practitioner_id)


def _bookable(now: datetime) -> tuple[Any, ...]:
    """Free, released and not started: what the app and the portal would offer."""
    return (
        SLOTS.c.status == SlotStatus.FREE,
        SLOTS.c.release_at <= now,
        SLOTS.c.starts_at > now,
    )


class PublishedSlot(NamedTuple):
    """A bookable slot as the city-wide publication writes it (a plain row: millions are
    written, each once)."""

    id: int
    practitioner_id: int
    specialty_id: int
    starts_at: datetime
    ends_at: datetime


def _published_batch(after_id: int, limit: int, now: datetime) -> Select[Any]:
    """The next ``limit`` bookable slots after ``after_id``, by id."""
    return (
        select(
            SLOTS.c.id,
            SLOTS.c.practitioner_id,
            SLOTS.c.specialty_id,
            SLOTS.c.starts_at,
            SLOTS.c.ends_at,
        )
        .where(SLOTS.c.id > after_id, *_bookable(now))
        .order_by(SLOTS.c.id)
        .limit(limit)
    )


def published_slots(
    after_id: int = 0,
    *,
    limit: int = PUBLISH_BATCH,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[PublishedSlot]:
    """The next ``limit`` bookable slots of the city after ``after_id``, by id: free,
    released and not started (what the app and the portal would offer)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        query = _published_batch(after_id, limit, now)
        # One fetch of the whole batch: row by row costs more than the rows' formatting.
        return [PublishedSlot(*row) for row in uow.session.execute(query).all()]


def published_span(*, uow: UnitOfWork | None = None) -> tuple[int, int]:
    """The lowest and the highest slot id of the city (two ends of the primary key's
    index): the range ``published_lines`` is asked for, in parts; ``(0, 0)``: no slots."""
    uow = uow or UnitOfWork()
    with uow:
        low, high = uow.session.execute(select(func.min(SLOTS.c.id), func.max(SLOTS.c.id))).one()
        return low or 0, high or 0


def published_lines(
    line: Callable[[Subquery], ColumnElement[str]],
    schedule: Callable[[Any], ColumnElement[str]],
    after_id: int,
    up_to_id: int,
    *,
    now: datetime,
    uow: UnitOfWork | None = None,
) -> Iterator[bytes]:
    """PostgreSQL only: the bookable slots with an id in ``(after_id, up_to_id]`` (those of
    ``published_slots``), in order of id, each written by the database as ``line`` of the
    columns ``id``, ``specialty_id``, ``starts_at``, ``ends_at`` and ``schedule`` (what
    ``schedule`` makes of the practitioners' columns, computed once a doctor rather than
    once a slot), streamed as NDJSON from one ``COPY`` in one short read."""
    uow = uow or UnitOfWork()
    with uow:
        doctors = Practitioner.__table__
        schedules = (
            select(doctors.c.id, schedule(doctors.c).label("schedule"))
            .cte("schedules")
            .prefix_with("MATERIALIZED")  # once a doctor, not once a slot
        )
        batch = (
            select(
                SLOTS.c.id,
                SLOTS.c.specialty_id,
                SLOTS.c.starts_at,
                SLOTS.c.ends_at,
                schedules.c.schedule,
            )
            .join(schedules, schedules.c.id == SLOTS.c.practitioner_id)
            .where(SLOTS.c.id > after_id, SLOTS.c.id <= up_to_id, *_bookable(now))
            # Sorted here, on the narrow rows: the lines are then written in this order
            # (the order by below needs no sort of its own), not sorted once written.
            .order_by(SLOTS.c.id)
            .subquery("batch")
        )
        yield from copy_lines(uow.session, select(line(batch)).order_by(batch.c.id))


@dataclass(frozen=True)
class SlotPage:
    """Where a page of a search starts: after the slot at ``starts_at`` with ``id``."""

    starts_at: datetime
    id: int


def _specialties_of(uow: UnitOfWork, rows: Sequence[SlotRead]) -> dict[int, SpecialtyRead]:
    """The specialties of the slots found, read in the same transaction."""
    wanted = {r.specialty_id for r in rows}
    if not wanted:
        return {}
    found = uow.session.scalars(select(Specialty).where(Specialty.id.in_(wanted)))
    return {s.id: SpecialtyRead.model_validate(s) for s in found}


def search_published_slots(
    *,
    specialty_code: str | None = None,
    clinic_id: int | None = None,
    practitioner_id: int | None = None,
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
    after: SlotPage | None = None,
    limit: int = 50,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> tuple[list[SlotRead], dict[int, SpecialtyRead]]:
    """Bookable slots earliest first (then by id), of a specialty, a polyclinic and its
    branches, a doctor, in a range of instants, from a position: one indexed read however
    deep the page (the position, not an offset, says where it starts); with their
    specialties."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        query = _slot_rows().where(*_bookable(now))
        if specialty_code is not None:
            code = select(Specialty.id).where(Specialty.code == specialty_code)
            query = query.where(SLOTS.c.specialty_id == code.scalar_subquery())
        if practitioner_id is not None:
            query = query.where(SLOTS.c.practitioner_id == practitioner_id)
        if starts_from is not None:
            query = query.where(SLOTS.c.starts_at >= starts_from)
        if starts_before is not None:
            query = query.where(SLOTS.c.starts_at < starts_before)
        if after is not None:
            query = query.where(
                SLOTS.c.starts_at >= after.starts_at,
                or_(
                    SLOTS.c.starts_at > after.starts_at,
                    and_(SLOTS.c.starts_at == after.starts_at, SLOTS.c.id > after.id),
                ),
            )
        order = (SLOTS.c.starts_at, SLOTS.c.id)
        if clinic_id is not None:
            clinics = select(Clinic.id).where(
                or_(Clinic.id == clinic_id, Clinic.parent_clinic_id == clinic_id)
            )
            if specialty_code is None and practitioner_id is None:
                # A polyclinic's every specialty: the first ``limit`` of each building
                # (each read in order by the (clinic_id, starts_at) index, stopping at
                # ``limit``), merged, rather than every time of every building sorted.
                each = [
                    query.where(SLOTS.c.clinic_id == building).order_by(*order).limit(limit)
                    for building in uow.session.scalars(clinics)
                ]
                if not each:
                    return [], {}
                merged = union_all(*(select(q.subquery()) for q in each)).subquery()
                query = select(merged).order_by(merged.c.starts_at, merged.c.id)
            else:
                query = query.where(SLOTS.c.clinic_id.in_(clinics)).order_by(*order)
        else:
            query = query.order_by(*order)
        query = query.limit(limit)
        rows = [
            SlotRead.model_validate(row, from_attributes=True) for row in uow.session.execute(query)
        ]
        return rows, _specialties_of(uow, rows)


def published_slot(
    slot_id: int, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> tuple[SlotRead, SpecialtyRead, bool] | None:
    """One slot by id, its specialty, and whether it may be booked now (free, released,
    not started); ``None``: no such slot."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        row = uow.session.execute(
            _slot_rows()
            .add_columns(SLOTS.c.status, SLOTS.c.release_at)
            .where(SLOTS.c.id == slot_id)
        ).one_or_none()
        if row is None:
            return None
        bookable = row.status == SlotStatus.FREE and row.release_at <= now and row.starts_at > now
        slot = SlotRead.model_validate(row, from_attributes=True)
        return slot, _specialties_of(uow, [slot])[slot.specialty_id], bookable
