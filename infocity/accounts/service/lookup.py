"""Staff looking a citizen up (audited): only what their role needs is read."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from infocity.accounts import rules
from infocity.accounts.models import FamilyLink, Person, User
from infocity.accounts.schemas import CitizenRecordRead, GuardianContactRead
from infocity.accounts.service.base import LOOKUP_WINDOW_SECONDS
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.ratelimit import hit
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork

LOOKUP_MAX_RESULTS = 10


def lookup_citizen(
    actor: Principal | None, query: str, *, uow: UnitOfWork | None = None
) -> list[CitizenRecordRead]:
    """Find a citizen by SNILS, OMS policy or phone (exact match); every access is audited."""
    actor = authorize(actor, Action.CITIZEN_LOOKUP)
    hit(
        f"lookup:{actor.user_id}",
        limit=get_settings().lookups_per_minute,
        window_seconds=LOOKUP_WINDOW_SECONDS,
    )
    parsed = rules.parse_lookup_query(query)
    uow = uow or UnitOfWork()
    with uow:
        conditions: list[ColumnElement[bool]] = []
        if parsed.snils:
            conditions.append(Person.snils == parsed.snils)
        if parsed.oms_policy:
            conditions.append(Person.oms_policy == parsed.oms_policy)
        if parsed.phone:
            conditions.append(
                Person.id.in_(select(User.person_id).where(User.phone == parsed.phone))
            )
        persons = uow.session.scalars(
            select(Person).where(or_(*conditions)).order_by(Person.id).limit(LOOKUP_MAX_RESULTS)
        ).all()
        fields = rules.lookup_fields(actor.roles)
        records = [_citizen_record(uow.session, person, fields) for person in persons]
        for person in persons:
            audit.record(
                uow.session,
                actor,
                "citizen.lookup",
                subject_person_id=person.id,
                detail=f"{parsed.describe()}: found",
            )
        if not persons:
            audit.record(
                uow.session, actor, "citizen.lookup", detail=f"{parsed.describe()}: not found"
            )
        uow.commit()
        return records


def _citizen_record(session: Session, person: Person, fields: frozenset[str]) -> CitizenRecordRead:
    """What of ``person`` the look-up shows: the name and ``fields`` (nothing else is read)."""
    record = CitizenRecordRead(
        person_id=person.id,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
    )
    if "birth_date" in fields:
        record.birth_date = person.birth_date
    if "snils" in fields and person.snils:
        record.snils = rules.format_snils(person.snils)
    if "oms_policy" in fields:
        record.oms_policy = person.oms_policy
    if "passport" in fields and person.passport_series and person.passport_number:
        record.passport = f"{person.passport_series} {person.passport_number}"
    if fields & {"phone", "email"}:
        user = session.scalars(select(User).where(User.person_id == person.id)).one_or_none()
        if user is not None:
            record.phone = user.phone if "phone" in fields else None
            record.email = user.email if "email" in fields else None
    if "guardians" in fields:
        rows = session.execute(
            select(Person.id, Person.last_name, Person.first_name, User.phone)
            .join(FamilyLink, FamilyLink.guardian_id == Person.id)
            .outerjoin(User, User.person_id == Person.id)
            .where(FamilyLink.child_id == person.id)
            .order_by(Person.id)
        )
        record.guardians = [
            GuardianContactRead(
                person_id=row.id,
                last_name=row.last_name,
                first_name=row.first_name,
                phone=row.phone,
            )
            for row in rows
        ]
    return record
