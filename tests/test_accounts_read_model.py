"""The register's read model: the views other services read in their own statements
say what the accounts service's functions say."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.accounts.schemas import ChildCreate
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.schemas import AnonymousBookingCreate
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots

CHILD_POLICY = "7711000000000001"
CHILD_BORN = date(2018, 2, 3)


def test_a_childs_kiosk_booking_tells_the_guardians_account(database: str) -> None:
    kids = make_clinic("children")
    paediatrician = make_practitioner(kids.id, "paediatrician")
    slot_id = make_slots(paediatrician.id)[0]
    parent = make_patient()
    other = make_patient()  # no link: never told
    child = accounts.add_child(
        parent.principal,
        ChildCreate(
            last_name="Иванов", first_name="Пётр", birth_date=CHILD_BORN, oms_policy=CHILD_POLICY
        ),
    )
    attach(child.id, kids.id)
    with UnitOfWork() as uow:
        assert accounts.users_to_notify(uow.session, child.id) == [parent.user.id]
        assert accounts.users_to_notify(uow.session, other.person_id or 0) == [other.user.id]

    booked = service.book_by_policy(
        AnonymousBookingCreate(oms_policy=CHILD_POLICY, birth_date=CHILD_BORN, slot_id=slot_id),
        ip="10.0.0.1",
    )

    assert booked.person_id == child.id
    with UnitOfWork() as uow:
        told = uow.session.scalars(
            select(OutboxMessage.user_id).where(OutboxMessage.kind == "appointment_booked")
        ).all()
    assert set(told) == {parent.user.id}
