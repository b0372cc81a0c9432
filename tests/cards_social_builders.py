"""Students' social cards test data, made through the real service functions: a college
and its student office, a student's application confirmed in the back office, a card
issued and activated, a validator's device key."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.accounts.schemas import DeviceKeyCreate
from infocity.cards import service
from infocity.cards.models.social import SocialCard, SocialCardEvent, SocialStopList
from infocity.cards.schemas.social import SocialCardIssue, SocialCardRead
from infocity.core.auth import SYSTEM, Role
from infocity.core.clock import city_today
from infocity.core.models import AuditEntry, OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.portal import service as portal
from infocity.portal.schemas import (
    ApplicationCreate,
    ApplicationDetailRead,
    AssignCreate,
    DecisionCreate,
)
from tests.builders import Account, count_rows, make_citizen, make_organisation, make_staff

_uids = itertools.count(0x04A10000)


@dataclass(frozen=True)
class College:
    id: int
    office: Account  # a member of its student office


def make_college(name: str | None = None) -> College:
    college = make_organisation("college", name=name or "Колледж связи №54")
    return College(college.id, make_staff(Role.COLLEGE_STAFF, college.id))


def graduation_year(years_ahead: int = 2) -> int:
    """A graduation year that fits whatever today is."""
    return city_today().year + years_ahead


def new_uid() -> str:
    """A 7-byte card UID never used before."""
    return f"{next(_uids):014X}"


def apply(student: Account, college: College, *, year: int | None = None) -> ApplicationDetailRead:
    """The student's submitted application for a card at ``college``."""
    return portal.create_application(
        student.principal,
        ApplicationCreate(
            type="student_social_card",
            form={
                "organisation_id": college.id,
                "student_number": "СБ-2024-0153",
                "graduation_year": year or graduation_year(),
            },
            submit=True,
        ),
    )


def confirm(college: College, application_id: int) -> ApplicationDetailRead:
    """The student office takes the application and approves it (the card is ordered)."""
    portal.assign_application(college.office.principal, application_id, AssignCreate())
    return portal.decide_application(
        college.office.principal, application_id, DecisionCreate(decision="approve")
    )


def ordered_card(student: Account, college: College) -> SocialCardRead:
    confirm(college, apply(student, college).id)
    (card,) = service.list_my_social_cards(student.principal)
    return card


def active_card(student: Account, college: College) -> SocialCardRead:
    card = ordered_card(student, college)
    service.issue_social_card(college.office.principal, card.id, SocialCardIssue(uid=new_uid()))
    return service.activate_social_card(student.principal, card.id)


def validator_key(kind: str = "validator") -> str:
    """A transit validator's device key (``kind`` another machine's for refusals)."""
    operator = make_organisation("city", name="Мосгортранс")
    _, raw = accounts.register_device(
        SYSTEM, DeviceKeyCreate(organisation_id=operator.id, kind=kind, name="Валидатор 1")
    )
    return raw


def student() -> Account:
    return make_citizen(last_name="Смирнова", first_name="Дарья")


def card_notices(user_id: int) -> list[str]:
    """The inbox notices of the student's card, oldest first (their subjects)."""
    with UnitOfWork() as uow:
        return list(
            uow.session.scalars(
                select(OutboxMessage.subject)
                .where(
                    OutboxMessage.user_id == user_id,
                    OutboxMessage.kind == "social_card_status",
                    OutboxMessage.channel == "inbox",
                )
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )


def social_snapshot() -> tuple[object, ...]:
    """What the social cards' use cases write: a refusal leaves it as it was."""
    with UnitOfWork() as uow:
        statuses = tuple(uow.session.scalars(select(SocialCard.status).order_by(SocialCard.id)))
    counts = tuple(
        count_rows(model)
        for model in (SocialCard, SocialCardEvent, SocialStopList, OutboxMessage, AuditEntry)
    )
    return (*counts, statuses)
