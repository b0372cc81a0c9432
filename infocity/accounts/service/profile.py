"""The citizen's own profile: names, date of birth, sex and documents (checked, unique)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import rules
from infocity.accounts.errors import (
    DocumentTaken,
    OmsPolicyTaken,
    PassportTaken,
    PersonNotFound,
    Required,
    SnilsTaken,
)
from infocity.accounts.models import FamilyLink, Person, User
from infocity.accounts.schemas import ProfileRead, ProfileUpdate
from infocity.accounts.service.base import _person_read
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_today
from infocity.core.errors import Conflict
from infocity.core.uow import UnitOfWork


def _own_person(uow: UnitOfWork, actor: Principal) -> Person:
    person = uow.session.get(Person, actor.person_id) if actor.person_id else None
    if person is None:
        raise PersonNotFound()
    return person


def _children(session: Session, guardian_id: int) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .join(FamilyLink, FamilyLink.child_id == Person.id)
            .where(FamilyLink.guardian_id == guardian_id)
            .order_by(Person.birth_date, Person.id)
        )
    )


def _profile(session: Session, actor: Principal, person: Person) -> ProfileRead:
    user = session.get(User, actor.user_id)
    assert user is not None
    return ProfileRead(
        user_id=user.id,
        email=user.email,
        phone=rules.mask_phone(user.phone) if user.phone else None,
        locale=user.locale,
        person=_person_read(person),
        children=[_person_read(child) for child in _children(session, person.id)],
    )


_DOCUMENT_TAKEN: dict[str, Callable[[], Conflict]] = {
    "snils": SnilsTaken,
    "oms_policy": OmsPolicyTaken,
    "passport": PassportTaken,
}


def _refuse_taken_documents(
    session: Session, person_id: int | None, documents: dict[str, ColumnElement[bool]]
) -> None:
    """Conflict if a document is registered to someone other than ``person_id``."""
    for field, condition in documents.items():
        query = select(Person.id).where(condition)
        if person_id is not None:
            query = query.where(Person.id != person_id)
        if session.scalar(query.limit(1)) is not None:
            raise _DOCUMENT_TAKEN[field]()


def get_profile(actor: Principal | None, *, uow: UnitOfWork | None = None) -> ProfileRead:
    """The citizen's own profile and children, documents masked."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        return _profile(uow.session, actor, _own_person(uow, actor))


def update_profile(
    actor: Principal | None, data: ProfileUpdate, *, uow: UnitOfWork | None = None
) -> ProfileRead:
    """Change the citizen's names, date of birth and documents (checked, unique)."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    given = data.model_fields_set
    changes: dict[str, object] = {}
    for name in ("last_name", "first_name", "middle_name"):
        if name in given:
            value = getattr(data, name)
            if value:
                changes[name] = rules.normalize_name(value, field=name)
            elif name == "middle_name":
                changes[name] = None
            else:
                raise Required(name)
    if "birth_date" in given:
        if data.birth_date is not None:
            rules.check_birth_date(data.birth_date, today=city_today())
        changes["birth_date"] = data.birth_date
    if "sex" in given:
        changes["sex"] = data.sex
    if "snils" in given:
        changes["snils"] = rules.normalize_snils(data.snils) if data.snils else None
    if "oms_policy" in given:
        changes["oms_policy"] = (
            rules.normalize_oms_policy(data.oms_policy) if data.oms_policy else None
        )
    if "passport" in given:
        passport = rules.normalize_passport(data.passport) if data.passport else None
        changes["passport_series"] = passport.series if passport else None
        changes["passport_number"] = passport.number if passport else None
    uow = uow or UnitOfWork()
    with uow:
        person = _own_person(uow, actor)
        documents: dict[str, ColumnElement[bool]] = {}
        if changes.get("snils"):
            documents["snils"] = Person.snils == changes["snils"]
        if changes.get("oms_policy"):
            documents["oms_policy"] = Person.oms_policy == changes["oms_policy"]
        if changes.get("passport_series"):
            documents["passport"] = (Person.passport_series == changes["passport_series"]) & (
                Person.passport_number == changes["passport_number"]
            )
        _refuse_taken_documents(uow.session, person.id, documents)
        for name, value in changes.items():
            setattr(person, name, value)
        if {"first_name", "last_name"} & changes.keys():
            uow.session.execute(
                update(User)
                .where(User.id == actor.user_id)
                .values(display_name=rules.display_name(person.first_name, person.last_name))
            )
        try:
            uow.session.flush()
        except IntegrityError as exc:  # registered by someone else at the same moment
            raise DocumentTaken() from exc
        result = _profile(uow.session, actor, person)
        uow.commit()
        return result
