"""Delivery channels: how one claimed outbox message reaches its recipient.

Each channel is a function of a ``Delivery`` (a snapshot of the outbox row) that
returns when the message was handed over, or raises ``DeliveryError``: ``permanent``
when trying again cannot help (an unknown address, a 4xx refusal), otherwise the
worker retries with backoff.

Delivery is at least once (a worker may die between sending and recording), so every
channel carries the message id for de-duplication:

- ``inbox``: the row is inserted with the unique ``outbox_id`` (ON CONFLICT DO NOTHING);
- ``email``: ``Message-ID: <id@infocity>``, which mail clients de-duplicate on;
- ``webhook``: ``Idempotency-Key`` and ``X-InfoCity-Message-Id`` headers;
- ``sms``: Kannel has no idempotency key; a repeated attempt is not sent when Kannel has
  already reported on an earlier one (``infocity.core.sms``).

SMS goes to Kannel's smsbox (``INFOCITY_SMS_GATEWAY_URL``, its ``sendsms`` interface) with
a ``dlr-url`` for the delivery reports.
With the demo mailbox on (``INFOCITY_DEMO_MAILBOX``) e-mail and SMS are kept for the page
``/demo/mailbox`` instead (``infocity.core.demo_mailbox``). Otherwise, without a gateway,
an SMS is put in the recipient's in-app inbox instead,
unless the same notification already went to the inbox on its own.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx
from markupsafe import escape
from sqlalchemy import Connection, Table, select

from infocity.core import demo_mailbox, sms
from infocity.core.db import get_engine, utcnow
from infocity.core.models import InboxMessage, OutboxMessage, WebhookEndpoint
from infocity.core.settings import get_settings
from infocity.core.sql import upsert_insert
from infocity.core.templating import text_to_html
from infocity.core.webhooks import MESSAGE_ID_HEADER, SIGNATURE_HEADER, event_body, signature_header


class DeliveryError(Exception):
    """An attempt that failed; ``permanent`` failures are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Delivery:
    """What a channel needs of a claimed outbox message (``attempts`` includes this one)."""

    id: str
    kind: str
    channel: str
    user_id: int | None
    webhook_endpoint_id: int | None
    address: str | None
    locale: str
    subject: str
    body: str
    link: str | None
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    lease_until: datetime
    expires_at: datetime | None = None  # a secret link: not sent after this time

    @property
    def message_id_header(self) -> str:
        """The e-mail Message-ID, the same on every attempt."""
        return f"<{self.id}@infocity>"

    @property
    def absolute_link(self) -> str | None:
        """The link as a full address, for messages read outside the site."""
        return absolute_url(self.link) if self.link else None

    def text(self) -> str:
        """The body with the link appended (as a full address), for e-mail."""
        link = self.absolute_link
        if not link or link in self.body:
            return self.body
        return f"{self.body}\n\n{link}"

    def sms_text(self) -> str:
        """An SMS: the subject on one line and, on the next, the one link where the rest
        is read (without a link, the body itself)."""
        link = self.absolute_link
        return f"{self.subject}\n{link or self.body}"


def absolute_url(link: str) -> str:
    """``link`` with ``INFOCITY_BASE_URL`` in front when it is a path of the site."""
    if link.startswith("/"):
        return get_settings().base_url.rstrip("/") + link
    return link


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def insert_inbox(connection: Connection, deliveries: list[Delivery]) -> None:
    """The messages' rows in their recipients' inboxes, each once: a redelivery after a
    crash between insert and "sent" changes nothing (unique ``outbox_id``)."""
    table = _table(InboxMessage)
    connection.execute(
        upsert_insert(connection)(table).on_conflict_do_nothing(index_elements=["outbox_id"]),
        [
            {
                "user_id": delivery.user_id,
                "outbox_id": delivery.id,
                "kind": delivery.kind,
                "subject": delivery.subject,
                "body": delivery.body,
                "link": delivery.link,
                "created_at": delivery.created_at,
            }
            for delivery in deliveries
        ],
    )


def send_inbox(delivery: Delivery) -> None:
    """Put the message in the recipient's in-app inbox (once, whatever the attempts)."""
    if delivery.user_id is None:
        raise DeliveryError("the recipient has no account", permanent=True)
    with get_engine().begin() as connection:
        insert_inbox(connection, [delivery])


def email_html(delivery: Delivery) -> str:
    """The HTML part of the e-mail: the same text, escaped, with clickable links."""
    subject = escape(delivery.subject)
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(delivery.locale)}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{subject}</title>\n</head>\n<body>\n'
        f"<h1>{subject}</h1>\n{text_to_html(delivery.text())}\n</body>\n</html>\n"
    )


def build_email(delivery: Delivery) -> EmailMessage:
    """The e-mail for ``delivery``: multipart/alternative, UTF-8 plain text and HTML,
    with a deterministic Message-ID."""
    if not delivery.address:
        raise DeliveryError("no e-mail address", permanent=True)
    message = EmailMessage()
    message["Subject"] = delivery.subject
    message["From"] = get_settings().mail_from
    message["To"] = delivery.address
    message["Message-ID"] = delivery.message_id_header
    message["Date"] = format_datetime(delivery.created_at)
    message["Content-Language"] = delivery.locale
    message.set_content(delivery.text(), subtype="plain", charset="utf-8")
    message.add_alternative(email_html(delivery), subtype="html", charset="utf-8")
    return message


def _keep_for_demo(delivery: Delivery, text: str) -> None:
    if not delivery.address:
        raise DeliveryError("no address", permanent=True)
    demo_mailbox.keep(
        outbox_id=delivery.id,
        channel=delivery.channel,
        address=delivery.address,
        subject=delivery.subject,
        text=text,
        at=delivery.created_at,
    )


def send_email(delivery: Delivery) -> None:
    """Hand the message to the configured SMTP server (or the demo mailbox)."""
    settings = get_settings()
    if settings.demo_mailbox_on:
        _keep_for_demo(delivery, delivery.text())
        return
    message = build_email(delivery)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        permanent = all(500 <= code < 600 for code in codes)
        raise DeliveryError(f"SMTP refused the recipient: {codes}", permanent=permanent) from exc
    except smtplib.SMTPAuthenticationError as exc:
        # Our configuration, not the message: retry once the operator has fixed it.
        raise DeliveryError(f"SMTP authentication failed: {exc.smtp_code}") from exc
    except smtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.smtp_code < 600
        raise DeliveryError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=permanent
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP unavailable: {type(exc).__name__}: {exc}") from exc


def post_json(url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST ``body``; 2xx is success, 429/5xx/timeouts retryable, other answers permanent."""
    try:
        response = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", "User-Agent": "InfoCity", **headers},
            timeout=get_settings().delivery_timeout_seconds,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"HTTP request failed: {type(exc).__name__}: {exc}") from exc
    if 200 <= response.status_code < 300:
        return
    reason = f"HTTP {response.status_code}: {response.text[:200]}"
    retryable = response.status_code == 429 or response.status_code >= 500
    raise DeliveryError(reason, permanent=not retryable)


def send_webhook(delivery: Delivery) -> None:
    """POST the event, signed with the endpoint's secret, to the endpoint."""
    with get_engine().connect() as connection:
        endpoint = connection.execute(
            select(WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEndpoint.active).where(
                WebhookEndpoint.id == delivery.webhook_endpoint_id
            )
        ).one_or_none()
    if endpoint is None or not endpoint.active:
        raise DeliveryError("the webhook endpoint is gone or disabled", permanent=True)
    body = event_body(delivery.id, delivery.kind, delivery.created_at, delivery.payload)
    # Signed at send time: the timestamp lets the receiver refuse old replays.
    timestamp = int(utcnow().timestamp())
    post_json(
        endpoint.url,
        body,
        {
            SIGNATURE_HEADER: signature_header(endpoint.secret, body, timestamp),
            MESSAGE_ID_HEADER: delivery.id,
            "Idempotency-Key": delivery.id,
        },
    )


def _notification_in_inbox(delivery: Delivery) -> bool:
    """Whether the notification this SMS belongs to also has its own inbox message.

    ``notify()`` stamps every channel's row of one notification with the same time.
    """
    table = _table(OutboxMessage)
    with get_engine().connect() as connection:
        found = connection.execute(
            select(table.c.id)
            .where(
                table.c.channel == "inbox",
                table.c.user_id == delivery.user_id,
                table.c.kind == delivery.kind,
                table.c.created_at == delivery.created_at,
                table.c.subject == delivery.subject,
            )
            .limit(1)
        ).first()
    return found is not None


def send_sms(delivery: Delivery) -> None:
    """Send through Kannel, or to the demo mailbox, or to the in-app inbox when
    there is neither."""
    settings = get_settings()
    if settings.demo_mailbox_on:
        _keep_for_demo(delivery, delivery.sms_text())
        return
    if not settings.sms_gateway_url:
        if delivery.user_id is not None and _notification_in_inbox(delivery):
            return
        send_inbox(delivery)
        return
    if not delivery.address:
        raise DeliveryError("no phone number", permanent=True)
    if delivery.attempts > 1 and sms.reported(delivery.id):
        # An earlier attempt reached Kannel (its report came back) but was not recorded:
        # sending again would put a second SMS on the phone.
        return
    text = delivery.sms_text()
    try:
        response = httpx.post(
            settings.sms_gateway_url,
            content=text.encode(),
            headers={
                "User-Agent": "InfoCity",
                **sms.sendsms_headers(delivery.id, delivery.address, text),
            },
            timeout=settings.delivery_timeout_seconds,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"Kannel unreachable: {type(exc).__name__}: {exc}") from exc
    refused = sms.refusal(response.status_code, response.text)
    if refused is not None:
        raise DeliveryError(refused.reason, permanent=refused.permanent)


SENDERS: dict[str, Callable[[Delivery], None]] = {
    "inbox": send_inbox,
    "email": send_email,
    "webhook": send_webhook,
    "sms": send_sms,
}


def send(delivery: Delivery) -> None:
    """Deliver on the message's channel."""
    sender = SENDERS.get(delivery.channel)
    if sender is None:
        raise DeliveryError(f"unknown channel {delivery.channel!r}", permanent=True)
    sender(delivery)
