"""The search for free slots: of a specialty, in a polyclinic and its branches or in the
whole city, of one practitioner if asked, earliest first."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, TextClause, bindparam, select, text, union_all

from infocity.core.clock import city_date, city_tz
from infocity.core.db import fetch_rows, utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import rules
from infocity.health.models import Clinic, Practitioner
from infocity.health.rules import SlotStatus
from infocity.health.schemas import SlotFilter, SlotRead
from infocity.health.service.base import SLOTS
from infocity.health.service.slot_sql import hand_written


def search_free_slots(
    search: SlotFilter, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[SlotRead]:
    """Free, released, future slots of a specialty (in one clinic and its branches, or
    anywhere; of one practitioner if asked), for a range of city dates, earliest first."""
    now = now or utcnow()
    tz = city_tz()
    first_day = search.date_from or city_date(now)
    last_day = search.date_to or first_day + timedelta(days=rules.DEFAULT_HORIZON_DAYS + 1)
    lower = rules.local_instant(first_day, time(0), tz) or now
    upper = rules.local_instant(last_day + timedelta(days=1), time(0), tz) or now
    params: dict[str, Any] = {
        "specialty_id": search.specialty_id,
        "practitioner_id": search.practitioner_id,
        "now": now,
        "lower": lower,
        "upper": upper,
        "limit": search.limit,
    }
    # A unit of work of its own has run nothing yet: the one statement may then commit
    # by itself (no BEGIN and ROLLBACK round trips around a read).
    own_transaction = uow is None
    uow = uow or UnitOfWork()
    with uow:
        if hand_written(uow.session):
            if search.practitioner_id is not None:
                statement = _PG_SEARCH["practitioner"]
            elif search.clinic_id is not None:
                statement = _PG_SEARCH["group"]
                params["clinic_id"] = search.clinic_id
            else:
                statement = _PG_SEARCH["city"]
            rows = fetch_rows(uow.session, statement, params, own_transaction=own_transaction)
            return [SlotRead.model_validate(row, from_attributes=True) for row in rows]
        polyclinics = []
        if search.clinic_id is not None:
            branches = uow.session.scalars(
                select(Clinic.id).where(Clinic.parent_clinic_id == search.clinic_id)
            )
            polyclinics = [search.clinic_id, *branches]
            params |= {f"clinic_{n}": clinic_id for n, clinic_id in enumerate(polyclinics)}
        query = _free_slots_query(len(polyclinics), search.practitioner_id is not None)
        return [
            SlotRead.model_validate(row, from_attributes=True)
            for row in uow.session.execute(query, params)
        ]


@cache
def _free_slots_query(polyclinics: int, by_practitioner: bool) -> Select[Any]:
    """The search's statement for a group of ``polyclinics`` (0: the whole city), built
    once: building its subqueries took ten times as long as the database's answer.

    With a group, the first ones of each polyclinic (it and its branches), each read in
    order from the index by polyclinic, then the first of them all: one scan over the
    whole city's slots at the same times read thousands to keep ten."""
    free = select(
        SLOTS.c.id,
        SLOTS.c.clinic_id,
        SLOTS.c.practitioner_id,
        SLOTS.c.specialty_id,
        SLOTS.c.starts_at,
        SLOTS.c.ends_at,
    ).where(
        SLOTS.c.specialty_id == bindparam("specialty_id"),
        SLOTS.c.status == SlotStatus.FREE,
        SLOTS.c.release_at <= bindparam("now"),
        SLOTS.c.starts_at > bindparam("now"),
        SLOTS.c.starts_at >= bindparam("lower"),
        SLOTS.c.starts_at < bindparam("upper"),
    )
    if by_practitioner:
        # Served by the unique index on (practitioner_id, starts_at).
        free = free.where(SLOTS.c.practitioner_id == bindparam("practitioner_id"))
    order = (SLOTS.c.starts_at, SLOTS.c.id)
    limit = bindparam("limit", type_=Integer)
    if not polyclinics:
        found = free.order_by(*order).limit(limit).subquery()
    else:
        members = [
            free.where(SLOTS.c.clinic_id == bindparam(f"clinic_{n}"))
            .order_by(*order)
            .limit(limit)
            .subquery()
            for n in range(polyclinics)
        ]
        found = union_all(*(select(member) for member in members)).subquery()
    return (
        select(
            found.c.id,
            found.c.clinic_id,
            found.c.practitioner_id,
            Practitioner.name.label("practitioner_name"),
            Practitioner.room,
            found.c.specialty_id,
            found.c.starts_at,
            found.c.ends_at,
        )
        .join(Practitioner, Practitioner.id == found.c.practitioner_id)
        .order_by(found.c.starts_at, found.c.id)
        .limit(limit)
    )


# PostgreSQL: the same search in one prepared statement and one round trip. With a
# polyclinic, its group (it and its branches) is read in the statement and each member
# is searched by its own small index scan (LATERAL): the statement above needed a first
# round trip for the branches, and BEGIN and ROLLBACK two more around them. The status
# is written as the partial indexes' predicate (``models.FREE_SLOT``) so they serve it.
_PG_FREE = """(SELECT s.id, s.clinic_id, s.practitioner_id, s.specialty_id, s.starts_at,
    s.ends_at FROM slots s
WHERE s.specialty_id = :specialty_id AND s.status = 'free'
  AND s.release_at <= :now AND s.starts_at > :now
  AND s.starts_at >= :lower AND s.starts_at < :upper AND <member>
ORDER BY s.starts_at, s.id LIMIT :limit) f"""
_PG_ANSWER = """SELECT f.id, f.clinic_id, f.practitioner_id, p.name AS practitioner_name,
    p.room, f.specialty_id, f.starts_at, f.ends_at
FROM <found> JOIN practitioners p ON p.id = f.practitioner_id <group>
ORDER BY f.starts_at, f.id LIMIT :limit"""


def _pg_search(found: str, member: str, group: str = "") -> TextClause:
    sql = _PG_ANSWER.replace("<found>", found).replace("<group>", group)
    return text(sql.replace("<member>", member))


_PG_SEARCH: dict[str, TextClause] = {
    "city": _pg_search(_PG_FREE, "TRUE"),
    "practitioner": _pg_search(_PG_FREE, "s.practitioner_id = :practitioner_id"),
    "group": _pg_search(
        "clinics c CROSS JOIN LATERAL " + _PG_FREE,
        "s.clinic_id = c.id",
        "WHERE c.id = :clinic_id OR c.parent_clinic_id = :clinic_id",
    ),
}
