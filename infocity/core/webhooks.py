"""Signed webhooks: how InfoCity signs an event and how a receiver checks it.

Every webhook is an HTTP POST with a JSON body
``{"id": ..., "kind": ..., "created_at": ..., "payload": {...}}`` and the headers

- ``X-InfoCity-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
  HMAC-SHA256, keyed with the endpoint's secret, of ``f"{t}.{raw body}"``;
- ``X-InfoCity-Message-Id`` and ``Idempotency-Key``: the message id. Delivery is at
  least once, so a receiver stores the ids it has processed and ignores a repeat.

A receiver verifies a request like this (``verify`` below does exactly that):

1. split the header into ``t`` and the ``v1`` values;
2. compute HMAC-SHA256(secret, ``f"{t}.".encode() + raw_body``) as lowercase hex;
3. compare it with each ``v1`` in constant time;
4. refuse a ``t`` more than a few minutes away from its own clock (replays).

Answer 2xx when the event is accepted. 429 and 5xx answers (and timeouts) are retried
with exponential backoff; any other 4xx is taken as a permanent refusal.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from infocity.core.db import utcnow
from infocity.core.models import WebhookEndpoint
from infocity.core.security import hmac_sha256, new_token

SIGNATURE_HEADER = "X-InfoCity-Signature"
MESSAGE_ID_HEADER = "X-InfoCity-Message-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` under ``secret``."""
    return hmac_sha256(secret, f"{timestamp}.".encode() + body)


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The value of ``X-InfoCity-Signature`` for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, body, timestamp)}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: datetime | None = None,
) -> bool:
    """Whether ``header`` is a valid, fresh signature of ``body`` under ``secret``."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = int((now or utcnow()).timestamp())
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, body, timestamp)
    # Check every candidate: several v1 values appear while a secret is being rotated.
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def event_body(message_id: str, kind: str, created_at: datetime, payload: dict[str, Any]) -> bytes:
    """The JSON body of an event, exactly as it is signed and sent."""
    document = {
        "id": message_id,
        "kind": kind,
        "created_at": created_at.isoformat(),
        "payload": payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def add_endpoint(
    session: Session,
    *,
    url: str,
    kinds: str = "*",
    organisation_id: int | None = None,
    secret: str | None = None,
) -> WebhookEndpoint:
    """Register an endpoint for event ``kinds`` (comma-separated, ``*`` for all)."""
    endpoint = WebhookEndpoint(
        url=url,
        secret=secret or new_token(32),
        kinds=kinds,
        organisation_id=organisation_id,
        active=True,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def kind_matches(kinds: str, kind: str) -> bool:
    """Whether an endpoint subscribed to ``kinds`` wants events of ``kind``.

    ``*`` matches everything; ``appointment.*`` matches every kind starting with
    ``appointment.``.
    """
    for pattern in (k.strip() for k in kinds.split(",")):
        if pattern == "*" or pattern == kind:
            return True
        if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
            return True
    return False
