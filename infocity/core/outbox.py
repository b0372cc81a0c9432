"""The outbox: notifications written in the same transaction as the change they announce.

A service calls ``notify(session, recipient, ...)`` inside its unit of work (a worker
telling many people at once, ``notify_many(session, announcements)``); the rows commit
(or roll back) together with the change, and ``infocity worker`` delivers them after
commit. Nothing is sent from inside a transaction.

Partner systems get events the same way: ``publish_event(session, kind, payload)``
queues one signed webhook per subscribed endpoint (see ``infocity.core.webhooks``).

A message's ``status`` goes ``queued -> sending -> sent``; a failed attempt makes it
``retry`` (again ``sending`` when due) and, after ``delivery_max_attempts`` or on a
permanent refusal, ``failed``. See ``infocity.core.worker``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session

from infocity.core.db import utcnow
from infocity.core.i18n import use_locale
from infocity.core.models import OutboxMessage, WebhookEndpoint
from infocity.core.settings import get_settings
from infocity.core.templating import render_message
from infocity.core.webhooks import kind_matches

CHANNELS = ("inbox", "email", "sms", "webhook")
STATUSES = ("queued", "sending", "retry", "sent", "failed")
_OUTBOX = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True)
class Recipient:
    """Where a person can be reached, and in which language."""

    user_id: int | None
    locale: str = "ru"
    email: str | None = None
    phone: str | None = None


def default_channels(recipient: Recipient) -> list[str]:
    """The channels configured for citizens that this recipient has a contact for."""
    configured = [c.strip() for c in get_settings().citizen_channels.split(",") if c.strip()]
    available = {
        "inbox": recipient.user_id is not None,
        "email": recipient.email is not None,
        "sms": recipient.phone is not None,
    }
    return [c for c in configured if available.get(c, False)]


def _deliveries(
    recipient: Recipient, channels: Iterable[str] | None
) -> list[tuple[str, str | None]]:
    """(channel, address) of each message ``recipient`` gets: a channel without the
    contact it needs is skipped; an unknown one is refused."""
    deliveries = []
    for channel in channels if channels is not None else default_channels(recipient):
        if channel not in CHANNELS or channel == "webhook":
            raise ValueError(f"unknown citizen channel {channel!r}")
        address = {"email": recipient.email, "sms": recipient.phone}.get(channel)
        if channel in ("email", "sms") and not address:
            continue
        if channel == "inbox" and recipient.user_id is None:
            continue
        deliveries.append((channel, address))
    return deliveries


def _row(
    recipient: Recipient,
    channel: str,
    address: str | None,
    *,
    kind: str,
    text: tuple[str, str],
    link: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The columns of one queued message. Every channel's row of one notification has the
    same ``created_at`` (``infocity.core.channels`` finds an SMS's inbox twin by it)."""
    subject, body = text
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "channel": channel,
        "user_id": recipient.user_id,
        "address": address,
        "locale": recipient.locale,
        "subject": subject,
        "body": body,
        "link": link,
        "expires_at": expires_at,
        "payload": {},
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _render(
    recipient: Recipient, template: str, context: Mapping[str, Any], link: str | None
) -> tuple[str, str]:
    with use_locale(recipient.locale):
        return render_message(template, **context, link=link)


def notify(
    session: Session,
    recipient: Recipient,
    *,
    kind: str,
    template: str,
    context: Mapping[str, Any] | None = None,
    link: str | None = None,
    channels: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> list[OutboxMessage]:
    """Queue one message per channel for ``recipient``, rendered in their language.

    ``template`` renders to the subject on its first line and the body after it.
    ``expires_at``: the link is a secret valid until then (a password reset); the
    message is not sent later, and the worker wipes the link from the stored row once
    the message is delivered or given up on. Many recipients at once: ``notify_many``.
    """
    text = _render(recipient, template, context or {}, link)
    now = utcnow()
    messages = [
        OutboxMessage(
            **_row(
                recipient,
                channel,
                address,
                kind=kind,
                text=text,
                link=link,
                expires_at=expires_at,
                now=now,
            )
        )
        for channel, address in _deliveries(recipient, channels)
    ]
    session.add_all(messages)
    return messages


@dataclass(frozen=True)
class Announcement:
    """One notification for several recipients, each with the channels they chose
    (``None``: ``default_channels``): the same template, context and link for all."""

    kind: str
    template: str
    recipients: Sequence[tuple[Recipient, Iterable[str] | None]]
    context: Mapping[str, Any] = field(default_factory=dict)
    link: str | None = None
    expires_at: datetime | None = None


def notify_many(session: Session, announcements: Iterable[Announcement]) -> list[str]:
    """Queue the messages of many notifications at once: the rows ``notify`` would queue
    for each recipient of each announcement, in one INSERT; the ids of the messages.

    An announcement is rendered once per language among its recipients, not once per
    recipient: a worker telling thousands spends its time rendering and building rows.
    """
    now = utcnow()
    rows = []
    for announcement in announcements:
        texts: dict[str, tuple[str, str]] = {}
        for recipient, channels in announcement.recipients:
            deliveries = _deliveries(recipient, channels)
            if not deliveries:
                continue
            text = texts.get(recipient.locale)
            if text is None:
                text = texts[recipient.locale] = _render(
                    recipient, announcement.template, announcement.context, announcement.link
                )
            rows += [
                _row(
                    recipient,
                    channel,
                    address,
                    kind=announcement.kind,
                    text=text,
                    link=announcement.link,
                    expires_at=announcement.expires_at,
                    now=now,
                )
                for channel, address in deliveries
            ]
    if rows:
        # Objects the session still holds (a user just made) are written first; the rows
        # themselves go as plain values, no object each.
        session.flush()
        session.execute(insert(_OUTBOX), rows)
    return [row["id"] for row in rows]


def publish_event(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    organisation_id: int | None = None,
) -> list[OutboxMessage]:
    """Queue event ``kind`` for every active webhook endpoint subscribed to it.

    An endpoint of an organisation gets only that organisation's events; a city-wide
    endpoint (no organisation) gets every organisation's.
    """
    document = dict(payload)
    json.dumps(document)  # refuse what cannot be sent now, in the caller's transaction
    query = select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
    if organisation_id is None:
        query = query.where(WebhookEndpoint.organisation_id.is_(None))
    else:
        query = query.where(
            or_(
                WebhookEndpoint.organisation_id.is_(None),
                WebhookEndpoint.organisation_id == organisation_id,
            )
        )
    now = utcnow()
    messages = []
    for endpoint in session.scalars(query.order_by(WebhookEndpoint.id)):
        if not kind_matches(endpoint.kinds, kind):
            continue
        message = OutboxMessage(
            id=uuid.uuid4().hex,
            kind=kind,
            channel="webhook",
            user_id=None,
            webhook_endpoint_id=endpoint.id,
            address=endpoint.url,
            locale=get_settings().default_locale,
            subject=kind,
            body="",
            link=None,
            payload=document,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(message)
        messages.append(message)
    return messages
