"""The register, for other services: read-only look-ups made inside the caller's own
transaction (they take the caller's session), so that, say, a booking stays one
transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.accounts import rules
from infocity.accounts.models import Person, StaffRole, User
from infocity.accounts.read_model import PERSON_CONTACTS
from infocity.accounts.service.base import _find_user
from infocity.core.auth import Role


@dataclass(frozen=True)
class PersonFacts:
    """What another service may know of a person: who, how old, and their sex (female,
    male, or None when not stated)."""

    person_id: int
    birth_date: date | None
    first_name: str
    sex: str | None = None


def person_by_policy(session: Session, oms_policy: str) -> PersonFacts | None:
    """The person holding this OMS policy number (any format; invalid → refused)."""
    policy = rules.normalize_oms_policy(oms_policy)
    row = session.execute(
        select(Person.id, Person.birth_date, Person.first_name, Person.sex).where(
            Person.oms_policy == policy
        )
    ).one_or_none()
    return PersonFacts(row.id, row.birth_date, row.first_name, row.sex) if row else None


def person_by_id(session: Session, person_id: int) -> PersonFacts | None:
    """The person with this id, if any."""
    row = session.execute(
        select(Person.id, Person.birth_date, Person.first_name, Person.sex).where(
            Person.id == person_id
        )
    ).one_or_none()
    return PersonFacts(row.id, row.birth_date, row.first_name, row.sex) if row else None


def person_names(session: Session, person_ids: Iterable[int]) -> dict[int, str]:
    """Full names ("Last First Middle") of these persons, for another service's staff
    pages; the caller audits the access in the same transaction."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Person.id, Person.last_name, Person.first_name, Person.middle_name).where(
            Person.id.in_(ids)
        )
    )
    return {
        row.id: " ".join(p for p in (row.last_name, row.first_name, row.middle_name) if p)
        for row in rows
    }


def users_to_notify(session: Session, person_id: int) -> list[int]:
    """The active accounts that hear about a person: their own and their guardians'
    (a child has no account of its own)."""
    # The published view is the one definition (health reads it in its own statements).
    return list(
        session.scalars(
            select(PERSON_CONTACTS.c.user_id)
            .where(PERSON_CONTACTS.c.person_id == person_id)
            .order_by(PERSON_CONTACTS.c.user_id)
        )
    )


def citizen_by_contact(session: Session, contact: str) -> tuple[int, str] | None:
    """The active citizen account with this e-mail or phone (its id and display name),
    for a citizen naming another (a parent adding a grandmother to a child's card)."""
    user = _find_user(session, contact)
    if user is None or not user.is_active or user.kind != "citizen":
        return None
    return user.id, user.display_name


def staff_of_organisation(session: Session, organisation_id: int, role: Role) -> dict[int, str]:
    """The active staff accounts holding ``role`` in this organisation, by user id with
    their display names (a clinic's doctors, for its administrator's post form)."""
    rows = session.execute(
        select(User.id, User.display_name)
        .join(StaffRole, StaffRole.user_id == User.id)
        .where(
            StaffRole.organisation_id == organisation_id,
            StaffRole.role == role.value,
            User.is_active.is_(True),
        )
        .order_by(User.display_name, User.id)
    )
    return {row.id: row.display_name for row in rows}


def staff_with_role(session: Session, role: Role) -> dict[int, str]:
    """The active staff accounts holding ``role`` anywhere (city-wide roles such as
    security staff), by user id with their display names."""
    rows = session.execute(
        select(User.id, User.display_name)
        .join(StaffRole, StaffRole.user_id == User.id)
        .where(StaffRole.role == role.value, User.is_active.is_(True))
        .distinct()
        .order_by(User.display_name, User.id)
    )
    return {row.id: row.display_name for row in rows}


def persons_by_name_and_birth(
    session: Session, last_name: str, birth_date: date, *, limit: int = 20
) -> list[PersonFacts]:
    """The persons with this surname (as typed, or written as a name is) born on this
    date, for a registrar's desk; the caller limits who may ask and audits what is shown."""
    typed = " ".join(last_name.split())
    # SQLite's lower() knows only ASCII, so the spellings are listed, not lower-cased.
    spellings = {typed, typed.capitalize(), typed.title()}
    rows = session.execute(
        select(Person.id, Person.birth_date, Person.first_name, Person.sex)
        .where(
            Person.last_name.in_(sorted(spellings)),
            Person.birth_date == birth_date,
        )
        .order_by(Person.id)
        .limit(limit)
    )
    return [PersonFacts(row.id, row.birth_date, row.first_name, row.sex) for row in rows]


def normalize_oms_policy(value: str) -> str:
    """An OMS policy number as 16 digits, or ``InvalidInput("invalid_oms_policy")``."""
    return rules.normalize_oms_policy(value)


def normalize_phone(value: str, *, field: str = "phone") -> str:
    """A Russian phone number in E.164 (+7XXXXXXXXXX), or ``InvalidInput("invalid_phone")``."""
    return rules.normalize_phone(value, field=field)
