"""The MQTT bridge of school turnstiles and tills: ``infocity cards mqtt``.

Integrators' devices publish to a broker; the bridge subscribes with QoS 1 and feeds
each message to the same ingest as the HTTP API (``service.record_device_events``), so a
duplicate or redelivered message finds its events stored and changes nothing. No logic
of its own: parse, authenticate the device by its key, call the use case, answer.

A message on ``<prefix>/events`` is JSON ``{"key": "dev_...", "events": [...]}`` (rows as
in the HTTP API). The answer, the HTTP API's batch answer, goes to
``<prefix>/results/<device id>``; a message that is not JSON or names no valid key is
answered on ``<prefix>/refusals`` with the error's code and message, and stored nowhere.
A message is acknowledged to the broker only once its events are committed.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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


def run_bridge(
    host: str,
    port: int,
    *,
    prefix: str = PREFIX,
    client_id: str = CLIENT_ID,
    on_ready: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Subscribe and feed the ingest until ``stop`` is set. A persistent session (a fixed
    client id, no clean session) keeps what devices publish while the bridge is down.

    Acknowledgement is manual: a message is acknowledged to the broker only after its
    ingest transaction committed (and its answer was published), so a bridge killed at any
    moment leaves every message it had not stored on the broker, which delivers it again
    on the next connection; the idempotent ingest makes the stored ones count once.
    """
    stop = stop or threading.Event()
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        manual_ack=True,
    )

    def on_connect(
        client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("cards mqtt: the broker refused the connection: %s", reason)
            return
        client.subscribe(f"{prefix}/events", qos=1)

    def on_subscribe(
        _client: mqtt.Client, _userdata: Any, _mid: int, _reasons: Any, _properties: Any
    ) -> None:
        subscribed.set()

    def on_message(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # The network thread only hands the message over: the database work is done on the
        # bridge's own thread, one message at a time, in the order the broker sent them.
        received.put(message)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        while not subscribed.wait(0.2):
            if stop.is_set():
                return
        if on_ready is not None:
            on_ready()
        while not stop.is_set():
            try:
                message = received.get(timeout=0.2)
            except queue.Empty:
                continue
            topic, body = handle_message(bytes(message.payload), prefix)
            client.publish(topic, json.dumps(body, default=str), qos=1)
            # Only now: the events are committed. Killed before this line, the broker
            # sends the message again and the ingest finds its events stored.
            client.ack(message.mid, message.qos)
    finally:
        client.disconnect()
        client.loop_stop()
