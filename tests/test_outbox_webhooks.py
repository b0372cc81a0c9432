"""Signed webhooks against a real local HTTP server, and SMS without a gateway."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from infocity.core import webhooks
from infocity.core.db import utcnow
from infocity.core.models import InboxMessage, OutboxMessage
from infocity.core.outbox import notify, publish_event
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from tests.support.http import http_receiver
from tests.support.users import add_citizen

TEMPLATE = "portal/notifications/service_notice.txt"
CONTEXT = {"title": "Meter", "name": "Иван", "text": "Please submit your readings."}


def add_endpoint(uow: UnitOfWork, url: str, kinds: str = "*") -> tuple[int, str]:
    with uow:
        endpoint = webhooks.add_endpoint(uow.session, url=url, kinds=kinds)
        uow.commit()
        return endpoint.id, endpoint.secret


def publish(uow: UnitOfWork, kind: str, payload: dict[str, object]) -> list[str]:
    with uow:
        ids = [m.id for m in publish_event(uow.session, kind, payload)]
        uow.commit()
    return ids


def outbox_row(uow: UnitOfWork, message_id: str) -> OutboxMessage:
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def test_webhook_is_signed_and_the_receiver_verifies_it(uow: UnitOfWork) -> None:
    with http_receiver() as receiver:
        _, secret = add_endpoint(uow, receiver.url, kinds="appointment.*")
        add_endpoint(uow, receiver.url + "/other", kinds="housing.reading")
        [message_id] = publish(uow, "appointment.booked", {"appointment_id": 7, "name": "Пётр"})

        assert Worker("test").deliver_due() == 1

    [request] = receiver.requests
    assert request.path == "/hook"
    assert webhooks.verify(secret, request.body, request.headers["x-infocity-signature"])
    assert not webhooks.verify(
        "another secret", request.body, request.headers["x-infocity-signature"]
    )
    assert not webhooks.verify(secret, request.body + b" ", request.headers["x-infocity-signature"])
    assert not webhooks.verify(
        secret,
        request.body,
        request.headers["x-infocity-signature"],
        now=utcnow() + timedelta(hours=1),
    )
    assert request.headers["idempotency-key"] == message_id
    assert request.headers["x-infocity-message-id"] == message_id
    document = json.loads(request.body)
    assert document["id"] == message_id
    assert document["kind"] == "appointment.booked"
    assert document["payload"] == {"appointment_id": 7, "name": "Пётр"}
    assert outbox_row(uow, message_id).status == "sent"


def test_webhook_500_is_retried_with_growing_backoff(
    uow: UnitOfWork, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("INFOCITY_DELIVERY_BACKOFF_SECONDS", "10")
    get_settings.cache_clear()
    with http_receiver(statuses=[500, 503]) as receiver:
        add_endpoint(uow, receiver.url)
        [message_id] = publish(uow, "card.entry", {"pupil": 1})
        worker = Worker("test")
        previous_next = utcnow()
        for attempt in (1, 2):
            before = utcnow()
            worker.deliver_due()
            row = outbox_row(uow, message_id)
            assert (row.status, row.attempts) == ("retry", attempt)
            assert row.last_error is not None
            assert row.last_error.startswith("HTTP 5")
            assert row.next_attempt_at >= before + timedelta(seconds=10 * 2 ** (attempt - 1))
            assert row.next_attempt_at > previous_next
            previous_next = row.next_attempt_at
            assert worker.claim() == []  # not due before its time
            with uow:  # time passes
                uow.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
                uow.commit()
        worker.deliver_due()
    row = outbox_row(uow, message_id)
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(receiver.requests) == 3
    # Every attempt carried the same id, for the receiver to de-duplicate.
    assert {r.headers["idempotency-key"] for r in receiver.requests} == {message_id}


@pytest.mark.parametrize("status", [400, 410])
def test_webhook_4xx_fails_permanently(uow: UnitOfWork, status: int) -> None:
    with http_receiver(default_status=status) as receiver:
        add_endpoint(uow, receiver.url)
        [message_id] = publish(uow, "card.entry", {"pupil": 1})
        worker = Worker("test")
        worker.deliver_due()
        with uow:
            uow.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
            uow.commit()
        assert worker.claim() == []
    row = outbox_row(uow, message_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None
    assert row.last_error.startswith(f"HTTP {status}")
    assert len(receiver.requests) == 1


def test_webhook_429_is_retried(uow: UnitOfWork) -> None:
    with http_receiver(statuses=[429]) as receiver:
        add_endpoint(uow, receiver.url)
        [message_id] = publish(uow, "card.entry", {"pupil": 1})
        Worker("test").deliver_due()
    assert outbox_row(uow, message_id).status == "retry"


def test_events_go_only_to_endpoints_of_their_organisation_or_city_wide(uow: UnitOfWork) -> None:
    from infocity.city.models import Organisation

    with uow:
        clinics = [Organisation(kind="clinic", name=f"Clinic {n}") for n in (1, 2)]
        uow.session.add_all(clinics)
        uow.session.flush()
        own = webhooks.add_endpoint(uow.session, url="http://a/", organisation_id=clinics[0].id)
        webhooks.add_endpoint(uow.session, url="http://b/", organisation_id=clinics[1].id)
        city = webhooks.add_endpoint(uow.session, url="http://c/")
        off = webhooks.add_endpoint(uow.session, url="http://d/")
        off.active = False
        uow.session.flush()
        messages = publish_event(uow.session, "slot.freed", {"slot": 1}, clinics[0].id)
        assert sorted(m.webhook_endpoint_id or 0 for m in messages) == [own.id, city.id]
        with pytest.raises(TypeError):
            publish_event(uow.session, "slot.freed", {"when": utcnow()})


def test_without_a_gateway_sms_lands_in_the_inbox_once(uow: UnitOfWork) -> None:
    assert get_settings().sms_gateway_url is None
    citizen = add_citizen(uow, email=False, phone=True)
    with uow:
        [sms_only] = notify(
            uow.session, citizen, kind="k1", template=TEMPLATE, context=CONTEXT, channels=["sms"]
        )
        both = notify(
            uow.session,
            citizen,
            kind="k2",
            template=TEMPLATE,
            context=CONTEXT,
            channels=["inbox", "sms"],
        )
        uow.commit()
    assert Worker("test").deliver_due() == 3
    with uow:
        inbox = uow.session.execute(select(InboxMessage.outbox_id, InboxMessage.kind)).all()
        statuses = set(uow.session.scalars(select(OutboxMessage.status)))
    # The SMS-only notice went to the inbox; the other was there already, not twice.
    assert sorted((row.outbox_id, row.kind) for row in inbox) == sorted(
        [(sms_only.id, "k1"), (both[0].id, "k2")]
    )
    assert statuses == {"sent"}
