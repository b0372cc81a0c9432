"""What the use cases share: who a user is (their principal and grants), how a person
and a user read, the keys of the rate limits, where a user is notified."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.accounts import rules
from infocity.accounts.errors import (
    UserNotFound,
)
from infocity.accounts.models import Person, StaffRole, User
from infocity.accounts.schemas import GrantRead, PersonRead, UserRead
from infocity.city import service as city
from infocity.core.auth import DISTRICT_ROLES, Grant, Principal, Role
from infocity.core.errors import InvalidInput
from infocity.core.outbox import Recipient
from infocity.core.security import token_hash
from infocity.core.uow import UnitOfWork

LOGIN_WINDOW_SECONDS = 900


RESET_WINDOW_SECONDS = 3600


REGISTER_WINDOW_SECONDS = 3600


LOOKUP_WINDOW_SECONDS = 60


# Many people share one address (a polyclinic kiosk, an office behind NAT), so the
# per-address limit is this many times the per-account one.
PER_ADDRESS_FACTOR = 10


def _principal(uow: UnitOfWork, user: User) -> Principal:
    return Principal(
        user_id=user.id,
        kind=user.kind,
        display_name=user.display_name,
        locale=user.locale,
        person_id=user.person_id,
        grants=tuple(_grants(uow, user)),
        verified=user.verified_at is not None,
    )


def _staff_roles(session: Session, user: User) -> list[StaffRole]:
    return list(
        session.scalars(
            select(StaffRole).where(StaffRole.user_id == user.id).order_by(StaffRole.id)
        )
    )


def _grants(uow: UnitOfWork, user: User) -> list[Grant]:
    grants: list[Grant] = []
    if user.kind == "citizen":
        grants.append(Grant(Role.CITIZEN, None))
    roles = _staff_roles(uow.session, user)
    # A district role reaches its office's district: looked up only for those grants.
    offices = [r.organisation_id for r in roles if Role(r.role) in DISTRICT_ROLES]
    districts = city.organisation_districts([o for o in offices if o is not None], uow=uow)
    grants += [
        Grant(
            Role(r.role),
            r.organisation_id,
            districts.get(r.organisation_id) if r.organisation_id is not None else None,
        )
        for r in roles
    ]
    return grants


def _user_read(session: Session, user: User) -> UserRead:
    roles = (
        [GrantRead(role=Role.CITIZEN.value, organisation_id=None)] if user.kind == "citizen" else []
    )
    roles += [
        GrantRead(role=r.role, organisation_id=r.organisation_id)
        for r in _staff_roles(session, user)
    ]
    return UserRead(
        id=user.id,
        kind=user.kind,
        display_name=user.display_name,
        email=user.email,
        phone=user.phone,
        locale=user.locale,
        person_id=user.person_id,
        is_active=user.is_active,
        roles=roles,
    )


def _person_read(person: Person) -> PersonRead:
    """The citizen's own view of a person: documents masked."""
    passport = None
    if person.passport_series and person.passport_number:
        passport = rules.mask_passport(person.passport_series, person.passport_number)
    return PersonRead(
        id=person.id,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        birth_date=person.birth_date,
        sex=person.sex,
        snils=rules.mask_snils(person.snils) if person.snils else None,
        oms_policy=rules.mask_oms_policy(person.oms_policy) if person.oms_policy else None,
        passport=passport,
    )


def _rate_key(prefix: str, value: str) -> str:
    # Hashed: the counters table must not become a list of who tried to log in.
    return f"{prefix}:{token_hash(value)[:40]}"


def _identifier_key(identifier: str) -> str:
    """The same account however its log-in is written ("8 916..." or "+7916...")."""
    try:
        return rules.parse_identifier(identifier).value
    except InvalidInput:
        return identifier.strip().lower()


def _find_user(session: Session, identifier: str) -> User | None:
    try:
        parsed = rules.parse_identifier(identifier)
    except InvalidInput:
        return None
    column = User.email if parsed.kind == "email" else User.phone
    return session.scalars(select(User).where(column == parsed.value)).one_or_none()


def recipient_for_user(session: Session, user_id: int) -> Recipient:
    """Where and in which language a user is notified."""
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return Recipient(user_id=user.id, locale=user.locale, email=user.email, phone=user.phone)


def recipients_for_users(session: Session, user_ids: Iterable[int]) -> dict[int, Recipient]:
    """Where and in which language each of these users is notified: one query (a
    worker telling many at once); users that do not exist are left out."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return {
        user.id: Recipient(user_id=user.id, locale=user.locale, email=user.email, phone=user.phone)
        for user in session.scalars(select(User).where(User.id.in_(ids)))
    }
