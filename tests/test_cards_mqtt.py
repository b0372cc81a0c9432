"""The MQTT bridge feeds the same ingest as the HTTP API: a message delivered twice
stores its events once, a malformed one is answered with a refusal, and each batch's
answer comes back on the device's results topic; a bridge killed while messages flow
loses none and stores none twice. Runs against a real Mosquitto."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from infocity.cards import service
from infocity.cards.models.events import CardEvent
from infocity.cards.mqtt import run_bridge
from infocity.core.uow import UnitOfWork
from tests.builders import count_rows
from tests.cards_builders import enrolled_child, event, make_device, make_school, yesterday_at
from tests.support.mosquitto import mosquitto
from tests.support.users import ROOT, wait_for

PREFIX = "test/cards"


@pytest.fixture(scope="module")
def broker() -> Iterator[int]:
    with mosquitto() as port:
        if port is None:
            pytest.skip("Mosquitto is not installed (scripts/ensure-test-deps.sh installs it)")
        yield port


class Device:
    """A turnstile's MQTT client: publishes batches with QoS 1 and collects the answers
    the bridge sends to its results and refusals topics."""

    def __init__(self, port: int, client_id: str) -> None:
        self.answers: queue.Queue[tuple[str, Any]] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = lambda _c, _u, message: self.answers.put(
            (message.topic, json.loads(message.payload))
        )
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe([(f"{PREFIX}/results/#", 1), (f"{PREFIX}/refusals", 1)])
        assert subscribed.wait(60), "the broker did not confirm the subscription"

    def publish(self, *messages: bytes) -> None:
        """Publish and wait for the broker to have each one (its PUBACK)."""
        for message in messages:
            self.client.publish(f"{PREFIX}/events", message, qos=1).wait_for_publish(60)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _exchange(port: int, messages: list[bytes], answers: int) -> list[tuple[str, Any]]:
    ready, stop = threading.Event(), threading.Event()
    bridge = threading.Thread(
        target=run_bridge,
        args=("127.0.0.1", port),
        kwargs={"prefix": PREFIX, "client_id": "test-bridge", "on_ready": ready.set, "stop": stop},
    )
    bridge.start()
    device = None
    try:
        assert ready.wait(60), "the bridge did not subscribe"
        device = Device(port, "test-device")
        device.publish(*messages)
        return [device.answers.get(timeout=120) for _ in range(answers)]
    finally:
        if device is not None:
            device.close()
        stop.set()
        bridge.join(timeout=60)


def test_messages_delivered_twice_count_once_and_bad_ones_are_refused(
    database: str, broker: int
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school)
    turnstile = make_device(school.id)
    batch = json.dumps(
        {
            "key": turnstile.key,
            "events": [
                event("m1", "entry", pupil.uid, yesterday_at(8, 5)),
                event("m2", "exit", pupil.uid, yesterday_at(14, 30)),
            ],
        }
    ).encode()
    answers = _exchange(broker, [batch, batch, b"not json", b'{"key": "dev_x", "events": []}'], 4)
    by_topic = sorted(answers, key=lambda a: json.dumps(a[1]))
    results = [body for topic, body in by_topic if "/results/" in topic]
    refusals = [body for topic, body in by_topic if topic.endswith("/refusals")]
    assert sorted(json.dumps(r) for r in results) == sorted(
        [
            json.dumps({"accepted": 2, "duplicates": 0, "refused": []}),
            json.dumps({"accepted": 0, "duplicates": 2, "refused": []}),
        ]
    )
    assert sorted(r["error"]["code"] for r in refusals) == [
        "cards_mqtt_malformed",
        "invalid_device_key",
    ]
    assert count_rows(CardEvent) == 2
    day = service.list_card_events(parent.principal, pupil.id, yesterday_at(12))
    assert [e.kind for e in day] == ["entry", "exit"]


MESSAGES = 150
EVENTS_PER_MESSAGE = 10


def _start_bridge(database: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``infocity cards mqtt`` as a real process, waited for until it has subscribed."""
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infocity",
                "cards",
                "mqtt",
                "--port",
                str(port),
                "--prefix",
                PREFIX,
                "--client-id",
                "test-killed-bridge",
            ],
            env={**os.environ, "INFOCITY_DATABASE_URL": database, "INFOCITY_ENVIRONMENT": "test"},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def subscribed() -> bool:
        assert process.poll() is None, log.read_text()
        return "cards mqtt bridge:" in log.read_text()[offset:]

    wait_for(subscribed, 60, "the bridge to subscribe")
    return process


@pytest.mark.slow
def test_a_bridge_killed_mid_flow_loses_nothing_and_counts_nothing_twice(
    database: str, broker: int, uow: UnitOfWork, tmp_path: Path
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school)
    turnstile = make_device(school.id)
    ids = [f"k{n}" for n in range(MESSAGES * EVENTS_PER_MESSAGE)]
    messages = [
        json.dumps(
            {
                "key": turnstile.key,
                "events": [
                    event(
                        event_id,
                        "entry" if int(event_id[1:]) % 2 == 0 else "exit",
                        pupil.uid,
                        yesterday_at(7) + timedelta(seconds=int(event_id[1:])),
                    )
                    for event_id in ids[start : start + EVENTS_PER_MESSAGE]
                ],
            }
        ).encode()
        for start in range(0, len(ids), EVENTS_PER_MESSAGE)
    ]
    log = tmp_path / "bridge.log"
    bridge = _start_bridge(database, broker, log)
    device = Device(broker, "test-flowing-device")
    try:
        device.publish(*messages)  # all of them on the broker, the bridge working through
        wait_for(lambda: count_rows(CardEvent) >= 10 * EVENTS_PER_MESSAGE, 120, "ingest")
        bridge.kill()  # SIGKILL: messages received and not stored die with it
        bridge.wait(timeout=30)
        stored = count_rows(CardEvent)
        assert stored < len(ids), "the bridge had stored everything: nothing was tested"

        bridge = _start_bridge(database, broker, log)
        wait_for(lambda: count_rows(CardEvent) == len(ids), 120, "every event stored")
    finally:
        device.close()
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=30) == 0, log.read_text()

    with uow:
        stored_ids = [str(i) for i in uow.session.scalars(select(CardEvent.device_event_id))]
    assert sorted(stored_ids) == sorted(ids)  # every one, each once
    day = service.list_card_events(parent.principal, pupil.id, yesterday_at(12))
    assert len(day) == len(ids)
