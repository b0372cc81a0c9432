"""The portal's "utility information" application of housing: routed to the apartment's
operator, and its approval sends the statement to the citizen."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import AppError
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.housing import service as housing
from infocity.portal import service as portal
from infocity.portal.schemas import ApplicationCreate, AssignCreate, DecisionCreate
from tests.builders import make_citizen, make_staff
from tests.housing_builders import make_apartment, make_operator, resident, set_prices


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
    assert "03.2026" in bodies[0]
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
