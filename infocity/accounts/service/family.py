"""The citizen's children: added, changed, removed from the family; whom a citizen acts for."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from infocity.accounts import rules
from infocity.accounts.errors import (
    DocumentTaken,
    TooManyChildren,
)
from infocity.accounts.models import FamilyLink, Person
from infocity.accounts.schemas import ChildCreate, PersonRead
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
from infocity.core.uow import UnitOfWork

MAX_CHILDREN = 20


def add_child(
    actor: Principal | None, data: ChildCreate, *, uow: UnitOfWork | None = None
) -> PersonRead:
    """Add a child to the citizen's family, so they can act for the child."""
    actor = authorize(actor, Action.OWN_PROFILE_EDIT)
    last_name = rules.normalize_name(data.last_name, field="last_name")
    first_name = rules.normalize_name(data.first_name, field="first_name")
    middle_name = (
        rules.normalize_name(data.middle_name, field="middle_name") if data.middle_name else None
    )
    rules.check_child_birth_date(data.birth_date, today=city_today())
    snils = rules.normalize_snils(data.snils) if data.snils else None
    oms_policy = rules.normalize_oms_policy(data.oms_policy) if data.oms_policy else None
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
        documents: dict[str, ColumnElement[bool]] = {}
        if snils:
            documents["snils"] = Person.snils == snils
        if oms_policy:
            documents["oms_policy"] = Person.oms_policy == oms_policy
        # A child already in the register is not linked by knowing its documents alone:
        # that would let anyone claim someone else's child.
        _refuse_taken_documents(uow.session, None, documents)
        child = Person(
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            birth_date=data.birth_date,
            sex=data.sex,
            snils=snils,
            oms_policy=oms_policy,
        )
        uow.session.add(child)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise DocumentTaken() from exc
        uow.session.add(FamilyLink(guardian_id=guardian.id, child_id=child.id, relation="parent"))
        uow.session.flush()
        # Announced, so that an account taken over cannot quietly claim children.
        notify(
            uow.session,
            recipient_for_user(uow.session, actor.user_id),
            kind="child_added",
            template="accounts/messages/child_added.txt",
            context={
                "name": actor.display_name,
                "child": " ".join(filter(None, (last_name, first_name, middle_name))),
            },
            link=f"{get_settings().base_url}/cabinet",
        )
        result = _person_read(child)
        uow.commit()
        return result


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
