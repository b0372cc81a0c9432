"""The MQTT bridge of school turnstiles and tills: ``infocity cards mqtt``.

Integrators' devices publish to a broker; the bridge subscribes with QoS 1 and feeds
each message to the same ingest as the HTTP API (``service.record_device_events``), so a
duplicate or redelivered message finds its events stored and changes nothing. No logic
of its own: parse, authenticate the device by its key, call the use case, answer.

A message on ``<prefix>/events`` is JSON ``{"key": "dev_...", "events": [...]}`` (rows as
in the HTTP API). The answer, the HTTP API's batch answer, goes to
``<prefix>/results/<device id>``; a message that is not JSON or names no valid key is
answered on ``<prefix>/refusals`` with the error's code and message, and stored nowhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import aiomqtt

from infocity.accounts import service as accounts
from infocity.cards import service
from infocity.core.errors import AppError, InvalidInput
from infocity.core.i18n import N_

log = logging.getLogger(__name__)

PREFIX = "infocity/cards"
CLIENT_ID = "infocity-cards-bridge"


def _refusal(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def handle_message(payload: bytes, prefix: str = PREFIX) -> tuple[str, dict[str, Any]]:
    """One message in, the topic and body of its answer out (blocking: database work)."""
    try:
        document = json.loads(payload)
        if not isinstance(document, dict) or not isinstance(document.get("events"), list):
            raise ValueError
        key = document.get("key")
        if not isinstance(key, str):
            raise ValueError
    except ValueError:
        refusal = InvalidInput(
            "cards_mqtt_malformed",
            N_('An MQTT message is JSON: {"key": "<device key>", "events": [...]}.'),
        )
        return f"{prefix}/refusals", {"error": refusal.to_dict()}
    try:
        device = accounts.authenticate_device(key)
        answer = service.record_device_events(device, document["events"])
    except AppError as refused:
        return f"{prefix}/refusals", {"error": refused.to_dict()}
    return f"{prefix}/results/{device.device_id}", answer.model_dump()


async def run_bridge(
    host: str,
    port: int,
    *,
    prefix: str = PREFIX,
    client_id: str = CLIENT_ID,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Subscribe and feed the ingest until cancelled. A persistent session (fixed client
    id, no clean session) keeps what devices publish while the bridge is down."""
    async with aiomqtt.Client(host, port, identifier=client_id, clean_session=False) as client:
        await client.subscribe(f"{prefix}/events", qos=1)
        if on_ready is not None:
            on_ready()
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            topic, body = await asyncio.to_thread(handle_message, payload, prefix)
            await client.publish(topic, json.dumps(body, default=str), qos=1)
