"""The pupil's money: top-ups counted once (API and payment file), refunds once, purchases
within the balance and the daily limit, a low-balance alert once per crossing; and the
parents told of each card event once, by their settings, however often the fan-out runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infocity.cards import service
from infocity.cards.models.cards import CardPupil
from infocity.cards.models.ledger import LedgerEntry
from infocity.cards.schemas.cards import NotificationSettings, TrustedAdultAdd
from infocity.cards.schemas.ledger import LedgerFilter, Refund, TopUp
from infocity.core.auth import SYSTEM, Role
from infocity.core.db import utcnow
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from tests.builders import make_citizen, make_staff
from tests.cards_builders import (
    enrolled_child,
    event,
    make_device,
    make_school,
    send,
    yesterday_at,
)
from tests.support.refusals import refusals_change_nothing


def _snapshot() -> object:
    with UnitOfWork() as uow:
        balances = uow.session.execute(
            select(CardPupil.id, CardPupil.balance, CardPupil.held).order_by(CardPupil.id)
        ).all()
        entries = uow.session.scalar(select(func.count()).select_from(LedgerEntry))
        return balances, entries


unchanged = refusals_change_nothing(_snapshot)


def _messages(user_id: int) -> list[str]:
    with UnitOfWork() as uow:
        return list(
            uow.session.scalars(
                select(OutboxMessage.kind)
                .where(
                    OutboxMessage.user_id == user_id,
                    OutboxMessage.channel == "inbox",
                    OutboxMessage.kind.startswith("cards_"),
                )
                .order_by(OutboxMessage.created_at, OutboxMessage.kind)
            )
        )


def test_top_ups_purchases_refunds_and_the_payment_file(database: str) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school)
    till = make_device(school.id, "till")
    service.top_up_card(parent.principal, pupil.id, TopUp(amount=20_000, reference="bank-1"))
    with unchanged("cards_payment_counted"):
        service.top_up_card(parent.principal, pupil.id, TopUp(amount=20_000, reference="bank-1"))
    for amount in (0, -5, 10**12):
        with unchanged("cards_invalid_amount"):
            service.top_up_card(parent.principal, pupil.id, TopUp(amount=amount, reference="x"))

    now = utcnow()
    batch = send(
        till,
        event("p1", "purchase", pupil.uid, yesterday_at(12, 1), amount=15_000),
        event("p2", "purchase", pupil.uid, yesterday_at(12, 2), amount=6_000),
        event("p3", "purchase", pupil.uid, now, amount=-1),
    )
    assert batch.accepted == 1
    assert [r.code for r in batch.refused] == ["cards_not_enough_money", "cards_invalid_amount"]
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 5_000

    purchase = service.list_card_events(parent.principal, pupil.id, yesterday_at(12))[0]
    refund = service.refund_purchase(school.staff.principal, Refund(event_id=purchase.id))
    assert (refund.amount, refund.balance_after) == (15_000, 20_000)
    with unchanged("cards_already_refunded"):
        service.refund_purchase(school.staff.principal, Refund(event_id=purchase.id))
    with unchanged("forbidden"):
        service.refund_purchase(make_school().staff.principal, Refund(event_id=purchase.id))

    admin = make_staff(Role.CITY_ADMIN)
    payments = f"sb-1;{pupil.uid};150,50\nsb-2;{pupil.uid};49.50;2026-01-10T09:00\n".encode()
    assert service.import_payments(admin.principal, payments).counted == 2
    assert service.import_payments(admin.principal, payments).counted == 0  # sent twice
    with unchanged("cards_payment_file_refused"):
        service.import_payments(admin.principal, b"sb-3;DEADBEEF;10\nsb-4;1;x\n")
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 40_000

    ledger = service.list_ledger(parent.principal, pupil.id)
    assert sorted(e.kind for e in ledger) == ["purchase", "refund", "top_up", "top_up", "top_up"]
    top_ups = service.list_ledger(parent.principal, pupil.id, LedgerFilter(kind="top_up"))
    assert sorted(e.amount for e in top_ups) == [4_950, 15_050, 20_000]


def test_parents_hear_of_each_event_once_by_their_settings(database: str) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=12_000)
    grandmother = make_citizen(first_name="Галина")
    service.add_trusted_adult(
        parent.principal, pupil.id, TrustedAdultAdd(contact=grandmother.identifier)
    )
    service.set_notification_settings(
        grandmother.principal, pupil.id, NotificationSettings(purchases=False, low_balance=False)
    )
    turnstile, till = make_device(school.id), make_device(school.id, "till")
    now = utcnow()
    send(turnstile, event("in", "entry", pupil.uid, now - timedelta(minutes=30)))
    # The balance falls below 100 roubles twice; the alert goes out once.
    send(till, event("p1", "purchase", pupil.uid, now - timedelta(minutes=20), amount=5_000))
    send(till, event("p2", "purchase", pupil.uid, now - timedelta(minutes=10), amount=1_000))
    send(turnstile, event("in", "entry", pupil.uid, now - timedelta(minutes=30)))  # replayed

    # A fan-out cut short (the worker killed mid-batch) leaves no message behind ...
    with pytest.raises(RuntimeError), UnitOfWork() as uow:
        _cut_short(uow)
    assert _messages(parent.id) == []
    assert _messages(grandmother.id) == ["cards_trusted_adult"]
    # ... and the next runs tell everyone once, however many run.
    assert service.fan_out_card_events(SYSTEM, batch=2) > 0
    while service.fan_out_card_events(SYSTEM):
        pass
    assert service.fan_out_card_events(SYSTEM) == 0
    assert sorted(_messages(parent.id)) == [
        "cards_entry",
        "cards_low_balance",
        "cards_purchase",
        "cards_purchase",
    ]
    assert _messages(grandmother.id) == ["cards_trusted_adult", "cards_entry"]

    # A top-up lifts the balance: the next crossing alerts again.
    service.top_up_card(parent.principal, pupil.id, TopUp(amount=10_000, reference="bank-9"))
    send(till, event("p3", "purchase", pupil.uid, now, amount=9_000))
    service.fan_out_card_events(SYSTEM)
    assert _messages(parent.id).count("cards_low_balance") == 2


def _cut_short(uow: UnitOfWork) -> None:
    """Run the fan-out's work in a transaction that dies before it commits."""
    service.fan_out_card_events(SYSTEM, uow=uow)
    raise RuntimeError("worker killed")
