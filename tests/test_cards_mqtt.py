"""The MQTT bridge feeds the same ingest as the HTTP API: a message delivered twice
stores its events once, a malformed one is answered with a refusal, and each batch's
answer comes back on the device's results topic. Runs against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiomqtt
import pytest

from infocity.cards import service
from infocity.cards.models.events import CardEvent
from infocity.cards.mqtt import run_bridge
from tests.builders import count_rows
from tests.cards_builders import enrolled_child, event, make_device, make_school, yesterday_at
from tests.support.mosquitto import mosquitto

PREFIX = "test/cards"


@pytest.fixture(scope="module")
def broker() -> Iterator[int]:
    with mosquitto() as port:
        if port is None:
            pytest.skip("Mosquitto is not installed (scripts/ensure-test-deps.sh installs it)")
        yield port


async def _exchange(port: int, messages: list[bytes], answers: int) -> list[tuple[str, object]]:
    ready = asyncio.Event()
    bridge = asyncio.create_task(
        run_bridge("127.0.0.1", port, prefix=PREFIX, client_id="test-bridge", on_ready=ready.set)
    )
    got: list[tuple[str, object]] = []
    try:
        await asyncio.wait_for(ready.wait(), 60)
        async with aiomqtt.Client("127.0.0.1", port, identifier="test-device") as device:
            await device.subscribe(f"{PREFIX}/results/#", qos=1)
            await device.subscribe(f"{PREFIX}/refusals", qos=1)
            for message in messages:
                await device.publish(f"{PREFIX}/events", message, qos=1)
            async with asyncio.timeout(120):
                async for answer in device.messages:
                    assert isinstance(answer.payload, bytes)
                    got.append((str(answer.topic), json.loads(answer.payload)))
                    if len(got) == answers:
                        break
    finally:
        bridge.cancel()
        with pytest.raises(asyncio.CancelledError):
            await bridge
    return got


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
    answers = asyncio.run(
        _exchange(broker, [batch, batch, b"not json", b'{"key": "dev_x", "events": []}'], 4)
    )
    by_topic = sorted(answers, key=lambda a: json.dumps(a[1]))
    results = [body for topic, body in by_topic if "/results/" in topic]
    refusals = [body for topic, body in by_topic if topic.endswith("/refusals")]
    assert sorted(json.dumps(r) for r in results) == sorted(
        [
            json.dumps({"accepted": ["m1", "m2"], "duplicates": [], "refused": []}),
            json.dumps({"accepted": [], "duplicates": ["m1", "m2"], "refused": []}),
        ]
    )
    assert sorted(r["error"]["code"] for r in refusals) == [  # type: ignore[index]
        "cards_mqtt_malformed",
        "invalid_device_key",
    ]
    assert count_rows(CardEvent) == 2
    day = service.list_card_events(parent.principal, pupil.id, yesterday_at(12))
    assert [e.kind for e in day] == ["entry", "exit"]
