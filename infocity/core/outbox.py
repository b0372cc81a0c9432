"""The outbox: notifications written in the same transaction as the change they announce.

A service calls ``notify(session, recipient, ...)`` inside its unit of work; the rows
commit (or roll back) together with the change, and ``infocity worker`` delivers them
after commit. Nothing is sent from inside a transaction.

Partner systems get events the same way: ``publish_event(session, kind, payload)``
queues one signed webhook per subscribed endpoint (see ``infocity.core.webhooks``).

A message's ``status`` goes ``queued -> sending -> sent``; a failed attempt makes it
``retry`` (again ``sending`` when due) and, after ``delivery_max_attempts`` or on a
permanent refusal, ``failed``. See ``infocity.core.worker``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from infocity.core.db import utcnow
from infocity.core.i18n import use_locale
from infocity.core.models import OutboxMessage, WebhookEndpoint
from infocity.core.settings import get_settings
from infocity.core.templating import render_message
from infocity.core.webhooks import kind_matches

CHANNELS = ("inbox", "email", "sms", "webhook")
STATUSES = ("queued", "sending", "retry", "sent", "failed")


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
    the message is delivered or given up on.
    """
    with use_locale(recipient.locale):
        subject, body = render_message(template, **(context or {}), link=link)
    messages = []
    now = utcnow()
    for channel in channels if channels is not None else default_channels(recipient):
        if channel not in CHANNELS or channel == "webhook":
            raise ValueError(f"unknown citizen channel {channel!r}")
        address = {"email": recipient.email, "sms": recipient.phone}.get(channel)
        if channel in ("email", "sms") and not address:
            continue
        if channel == "inbox" and recipient.user_id is None:
            continue
        message = OutboxMessage(
            id=uuid.uuid4().hex,
            kind=kind,
            channel=channel,
            user_id=recipient.user_id,
            address=address,
            locale=recipient.locale,
            subject=subject,
            body=body,
            link=link,
            expires_at=expires_at,
            payload={},
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(message)
        messages.append(message)
    return messages


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
