"""The parents of one card event are told in one go (``notify_many``): each gets exactly
the messages ``notify`` would queue for them alone, in their language and on their
channels, and the worker puts them in their inboxes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.cards import service
from infocity.cards.rules.events import EVENT_LABELS, EventKind
from infocity.cards.schemas.cards import NotificationSettings, TrustedAdultAdd
from infocity.core.auth import SYSTEM
from infocity.core.models import InboxMessage, OutboxMessage
from infocity.core.outbox import Announcement, Recipient, notify, notify_many
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from tests.builders import Account, make_citizen
from tests.cards_builders import (
    Pupil,
    enrolled_child,
    event,
    make_device,
    make_school,
    send,
    yesterday_at,
)

# What a message is, apart from its id and the moment it was queued.
COLUMNS = (
    "user_id",
    "channel",
    "address",
    "locale",
    "kind",
    "subject",
    "body",
    "link",
    "expires_at",
    "payload",
    "status",
    "attempts",
    "webhook_endpoint_id",
)


def _columns(message: OutboxMessage) -> tuple[Any, ...]:
    return tuple(getattr(message, column) for column in COLUMNS)


def _queued(uow: UnitOfWork, kind: str) -> list[OutboxMessage]:
    with uow:
        messages = list(
            uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))
        )
        uow.session.expunge_all()
        return messages


def _adult(parent: Account, pupil: Pupil, locale: str, **contact: Any) -> Account:
    """A trusted adult of ``pupil`` who reads ``locale``."""
    adult = make_citizen(first_name="Галина", **contact)
    service.add_trusted_adult(parent.principal, pupil.id, TrustedAdultAdd(contact=adult.identifier))
    accounts.set_locale(adult.id, locale)
    return adult


def test_parents_of_one_event_get_what_notify_gives_each_in_their_language(
    database: str, uow: UnitOfWork
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, first_name="Маша")  # Russian, e-mail, no phone
    grandmother = _adult(parent, pupil, "en", phone="+79035550101")  # no e-mail
    nanny = _adult(parent, pupil, "en")
    adults = (
        (parent, ["inbox", "email", "sms"]),
        (grandmother, ["inbox", "sms", "email"]),
        (nanny, ["email"]),
    )
    for adult, chosen in adults:
        service.set_notification_settings(
            adult.principal, pupil.id, NotificationSettings(channels=chosen)
        )
    at = yesterday_at(8, 5)
    send(make_device(school.id), event("e1", "entry", pupil.uid, at))

    with uow:  # rolled back: only what notify would queue for each adult alone
        recipients = accounts.recipients_for_users(uow.session, [a.id for a, _c in adults])
        expected = sorted(
            _columns(message)
            for adult, chosen in adults
            for message in notify(
                uow.session,
                recipients[adult.id],
                kind="cards_entry",
                template="cards/messages/event.txt",
                context={
                    "kind": "entry",
                    "label": EVENT_LABELS[EventKind.ENTRY],
                    "name": "Иванова Маша",
                    "at": at,
                    "rubles": None,
                    "reason_label": "",
                },
                link=f"/cards/pupils/{pupil.id}",
                channels=chosen,
            )
        )

    assert service.fan_out_card_events(SYSTEM) == 1
    queued = _queued(uow, "cards_entry")
    assert sorted(_columns(message) for message in queued) == expected
    told = {(m.user_id, m.channel): m for m in queued}
    # One row per channel the adult has a contact for: no SMS without a phone, no
    # e-mail without an address.
    assert set(told) == {
        (parent.id, "inbox"),
        (parent.id, "email"),
        (grandmother.id, "inbox"),
        (grandmother.id, "sms"),
        (nanny.id, "email"),
    }
    assert told[grandmother.id, "sms"].address == "+79035550101"
    # Each in their own language.
    assert "вход в школу" in told[parent.id, "inbox"].body
    assert "Иванова Маша entered the school at" in told[grandmother.id, "inbox"].body
    assert told[nanny.id, "email"].subject == told[grandmother.id, "sms"].subject
    assert told[nanny.id, "email"].subject != told[parent.id, "email"].subject
    # Every channel's row of one adult's message was queued at the same moment (an SMS
    # finds its inbox twin by it).
    for adult, _chosen in adults:
        assert len({m.created_at for m in queued if m.user_id == adult.id}) == 1
    assert all(m.next_attempt_at == m.created_at for m in queued)


def test_a_message_queued_for_many_reaches_each_inbox(database: str, uow: UnitOfWork) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, first_name="Маша")
    grandmother = _adult(parent, pupil, "en")
    send(make_device(school.id), event("e1", "exit", pupil.uid, yesterday_at(15, 30)))
    assert service.fan_out_card_events(SYSTEM) == 1

    Worker("test").deliver_due()

    with uow:
        inbox = {
            row.user_id: row.body
            for row in uow.session.execute(
                select(InboxMessage.user_id, InboxMessage.body).where(
                    InboxMessage.kind == "cards_exit"
                )
            )
        }
        statuses = set(
            uow.session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.kind == "cards_exit")
            )
        )
    assert set(inbox) == {parent.id, grandmother.id}
    assert "Иванова Маша left the school at" in inbox[grandmother.id]
    assert "выход из школы" in inbox[parent.id]
    assert statuses == {"sent"}


def test_a_channel_no_citizen_has_is_refused(database: str, uow: UnitOfWork) -> None:
    someone = Recipient(user_id=None, locale="ru", email="someone@example.org")
    for channel in ("fax", "webhook"):
        with uow, pytest.raises(ValueError, match=channel):
            notify_many(
                uow.session,
                [
                    Announcement(
                        kind="service_notice",
                        template="portal/notifications/service_notice.txt",
                        recipients=[(someone, ["email", channel])],
                        context={"title": "Water", "name": "Иван", "text": "Hot water is back."},
                    )
                ],
            )
    assert _queued(uow, "service_notice") == []
