"""The citizen's children: added, changed, removed from the family; whom a citizen acts for.

Removing a child from the family unlinks them from this parent only: the child stays in
the city register (their appointments, school places and other guardians refer to them),
and the parent no longer sees, acts for or hears about them.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import rules
from infocity.accounts.errors import (
    ChildAlreadyInFamily,
    ChildNotFound,
    DocumentTaken,
    TooManyChildren,
)
from infocity.accounts.models import FamilyLink, Person
from infocity.accounts.schemas import ChildCreate, ChildUpdate, PersonRead
from infocity.accounts.service.base import _person_read, recipient_for_user
from infocity.accounts.service.profile import (
    _children,
    _own_person,
    _refuse_taken_documents,
)
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_today
from infocity.core.outbox import notify
from infocity.core.settings import get_settings
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

MAX_CHILDREN = 20


def _full_name(person: Person) -> str:
    return " ".join(filter(None, (person.last_name, person.first_name, person.middle_name)))


def _refuse_same_child(session: Session, guardian_id: int, child: Person) -> None:
    """ChildAlreadyInFamily if another child of this parent has the same names and date of
    birth (a form sent twice, or the other parent's entry of the same child)."""
    middle = (
        Person.middle_name.is_(None)
        if child.middle_name is None
        else Person.middle_name == child.middle_name
    )
    query = (
        select(Person.id)
        .join(FamilyLink, FamilyLink.child_id == Person.id)
        .where(
            FamilyLink.guardian_id == guardian_id,
            Person.last_name == child.last_name,
            Person.first_name == child.first_name,
            middle,
            Person.birth_date == child.birth_date,
        )
    )
    if child.id is not None:
        query = query.where(Person.id != child.id)
    if session.scalar(query.limit(1)) is not None:
        raise ChildAlreadyInFamily()


def _documents(changes: dict[str, object]) -> dict[str, ColumnElement[bool]]:
    documents: dict[str, ColumnElement[bool]] = {}
    if changes.get("snils"):
        documents["snils"] = Person.snils == changes["snils"]
    if changes.get("oms_policy"):
        documents["oms_policy"] = Person.oms_policy == changes["oms_policy"]
    return documents


def _own_child(uow: UnitOfWork, actor: Principal, child_id: int) -> tuple[Person, Person]:
    """The parent and their child; ChildNotFound for anyone not in their family."""
    guardian = _own_person(uow, actor)
    link = uow.session.get(FamilyLink, (guardian.id, child_id))
    child = uow.session.get(Person, child_id) if link is not None else None
    if child is None:
        raise ChildNotFound()
    return guardian, child


def _announce(uow: UnitOfWork, actor: Principal, kind: str, child: Person) -> None:
    # Announced, so that an account taken over cannot quietly claim or drop children.
    notify(
        uow.session,
        recipient_for_user(uow.session, actor.user_id),
        kind=kind,
        template=f"accounts/messages/{kind}.txt",
        context={"name": actor.display_name, "child": _full_name(child)},
        link=f"{get_settings().base_url}/cabinet",
    )


def add_child(
    actor: Principal | None, data: ChildCreate, *, uow: UnitOfWork | None = None
) -> PersonRead:
    """Add a child to the citizen's family, so they can act for the child."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    details = rules.check_child(data.model_dump(), today=city_today())
    uow = uow or UnitOfWork()
    with uow:
        guardian = _own_person(uow, actor)
        count = uow.session.scalar(
            select(func.count())
            .select_from(FamilyLink)
            .where(FamilyLink.guardian_id == guardian.id)
        )
        if (count or 0) >= MAX_CHILDREN:
            raise TooManyChildren(MAX_CHILDREN)
        child = Person(**details)
        _refuse_same_child(uow.session, guardian.id, child)
        # A child already in the register is not linked by knowing its documents alone:
        # that would let anyone claim someone else's child.
        _refuse_taken_documents(uow.session, None, _documents(details))
        uow.session.add(child)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise DocumentTaken() from exc
        uow.session.add(FamilyLink(guardian_id=guardian.id, child_id=child.id, relation="parent"))
        uow.session.flush()
        _announce(uow, actor, "child_added", child)
        result = _person_read(child)
        uow.commit()
        return result


def get_child(
    actor: Principal | None, child_id: int, *, uow: UnitOfWork | None = None
) -> PersonRead:
    """One of the citizen's children, documents masked."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        return _person_read(_own_child(uow, actor, child_id)[1])


def update_child(
    actor: Principal | None, child_id: int, data: ChildUpdate, *, uow: UnitOfWork | None = None
) -> PersonRead:
    """Change a child's names, date of birth, sex or documents (checked, unique)."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    changes = rules.check_child(
        {name: getattr(data, name) for name in data.model_fields_set}, today=city_today()
    )
    uow = uow or UnitOfWork()
    with uow:
        guardian, child = _own_child(uow, actor, child_id)
        _refuse_taken_documents(uow.session, child.id, _documents(changes))
        for name, value in changes.items():
            setattr(child, name, value)
        try:
            uow.session.flush()
        except IntegrityError as exc:  # registered by someone else at the same moment
            raise DocumentTaken() from exc
        _refuse_same_child(uow.session, guardian.id, child)
        result = _person_read(child)
        uow.commit()
        return result


def remove_child(actor: Principal | None, child_id: int, *, uow: UnitOfWork | None = None) -> None:
    """Take a child out of the citizen's family (the child stays in the register)."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        guardian, child = _own_child(uow, actor, child_id)
        removed = dml(
            uow.session,
            delete(FamilyLink).where(
                FamilyLink.guardian_id == guardian.id, FamilyLink.child_id == child.id
            ),
        )
        if removed.rowcount != 1:  # removed in another tab a moment ago
            raise ChildNotFound()
        _announce(uow, actor, "child_removed", child)
        uow.commit()


def list_family(actor: Principal | None, *, uow: UnitOfWork | None = None) -> list[PersonRead]:
    """The citizen's children, documents masked."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    uow = uow or UnitOfWork()
    with uow:
        guardian = _own_person(uow, actor)
        return [_person_read(child) for child in _children(uow.session, guardian.id)]


def acts_for(actor: Principal, person_id: int, *, uow: UnitOfWork | None = None) -> bool:
    """Whether a citizen may act for this person: themself or one of their children."""
    if actor.person_id is None:
        return False
    if actor.person_id == person_id:
        return True
    uow = uow or UnitOfWork()
    with uow:
        link = uow.session.get(FamilyLink, (actor.person_id, person_id))
        return link is not None
