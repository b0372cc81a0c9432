"""The outbox: notifications written in the same transaction as the change they announce.

A service calls ``notify(session, recipient, ...)`` inside its unit of work; the rows
commit (or roll back) together with the change, and ``infocity worker`` delivers them
after commit. Nothing is sent from inside a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from infocity.core.i18n import use_locale
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.templating import render_message

CHANNELS = ("inbox", "email", "sms", "webhook")


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
) -> list[OutboxMessage]:
    """Queue one message per channel for ``recipient``, rendered in their language.

    ``template`` renders to the subject on its first line and the body after it.
    """
    with use_locale(recipient.locale):
        subject, body = render_message(template, **(context or {}), link=link)
    messages = []
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
            payload={},
        )
        session.add(message)
        messages.append(message)
    return messages
