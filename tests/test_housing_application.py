"""The portal's "utility information" application of housing: routed to the apartment's
operator, and its approval sends the statement to the citizen."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import AppError
from infocity.core.i18n import use_locale
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.housing import service as housing
from infocity.portal import service as portal
from infocity.portal.schemas import ApplicationCreate, AssignCreate, DecisionCreate
from tests.builders import make_citizen, make_staff
from tests.housing_builders import link, make_apartment, make_operator, resident, set_prices


def test_utility_information_is_sent_on_approval(database: str) -> None:
    set_prices()
    operator = make_operator()
    apartment = make_apartment(operator)
    housing.generate_bills(SYSTEM, date(2026, 3, 1))
    citizen = resident(apartment)
    application = portal.create_application(
        citizen.principal,
        ApplicationCreate(
            type="utility_information", form={"apartment_id": apartment.id}, submit=True
        ),
    )
    assert application.organisation_id == operator
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    portal.assign_application(staff.principal, application.id, AssignCreate())
    portal.decide_application(staff.principal, application.id, DecisionCreate(decision="approve"))
    with UnitOfWork() as uow:
        bodies = list(
            uow.session.scalars(
                select(OutboxMessage.body).where(
                    OutboxMessage.user_id == citizen.id,
                    OutboxMessage.kind == "housing_charges_statement",
                    OutboxMessage.channel == "inbox",
                )
            )
        )
    assert len(bodies) == 1
    assert "март 2026" in bodies[0]
    assert apartment.payer_code in bodies[0]


def test_only_a_linked_apartment_can_be_asked_about(database: str) -> None:
    apartment = make_apartment(make_operator())
    with pytest.raises(AppError):
        portal.create_application(
            make_citizen().principal,
            ApplicationCreate(
                type="utility_information", form={"apartment_id": apartment.id}, submit=True
            ),
        )


def _statement(user_id: int) -> str:
    with UnitOfWork() as uow:
        return uow.session.scalars(
            select(OutboxMessage.body).where(
                OutboxMessage.user_id == user_id,
                OutboxMessage.kind == "housing_charges_statement",
                OutboxMessage.channel == "inbox",
            )
        ).one()


def test_the_statement_writes_months_and_sums_in_the_citizens_language(database: str) -> None:
    set_prices()
    apartment = make_apartment(make_operator())
    housing.generate_bills(SYSTEM, date(2026, 3, 1))
    anna = resident(apartment)
    with use_locale("en"):
        john = make_citizen()
    link(john, apartment)
    total = housing.get_apartment_overview(anna.principal, apartment.id).bills[0].total
    for citizen in (anna, john):
        housing.issue_charges_statement(apartment.id, user_id=citizen.id)
    english, russian = _statement(john.id), _statement(anna.id)
    assert f"March 2026: {total:,.2f} RUB" in english
    assert f"Debt now: {total:,.2f} RUB" in english
    assert "март 2026: " in russian
    assert "03.2026" not in russian
    assert f"{total:.2f}".replace(".", ",") in "".join(russian.split())  # 1 234,50
