"""GNU Health in the rush gets InfoCity's demand, and its answers are read right.

Nothing here installs GNU Health: InfoCity's rush and the GNU Health driver are pointed at
small stand-in HTTP servers on 127.0.0.1 that record what they are asked.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bench import gnuhealth, rush


def _server(answer: Callable[[str, Any], tuple[int, Any]]) -> Iterator[str]:
    """A keep-alive HTTP server answering every POST with ``answer(path, body)``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # one answer is two writes: no delayed ACK between

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            status, payload = answer(self.path, json.loads(self.rfile.read(length)))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_gnuhealth_is_asked_for_the_slots_infocity_is_asked_for() -> None:
    """One client, so the order is the order of the draws: InfoCity's kiosk requests
    (warm-up included) and GNU Health's reads name the same slots, 80 % of them among
    the first fifth."""
    slots = list(range(101, 151))
    asked_infocity: list[int] = []
    attempts = 400

    def refuse(_path: str, body: Any) -> tuple[int, Any]:
        asked_infocity.append(int(body["slot_id"]))
        return 409, {"error": {"code": "slot_taken"}}

    release = rush.Release(
        specialty_id=1,
        day=date(2026, 3, 20),
        slot_ids=slots,
        heads=[1] * len(slots),
        patients={1: deque((f"policy-{n}", "1980-01-01") for n in range(attempts))},
    )
    for base_url in _server(refuse):
        rush.api_run(
            base_url, release, clients=1, duration=60, hot_share=0.2, hot_demand=0.8,
            seed=7, warmup_rounds=3,
        )  # fmt: skip

    asked_gnuhealth: list[int] = []

    def taken(_path: str, body: Any) -> tuple[int, Any]:
        slot = body["params"][0][0]
        asked_gnuhealth.append(slot)
        record = {"id": slot, "state": "confirmed", "patient": 1, "_timestamp": "1.0"}
        return 200, {"id": body["id"], "result": [record]}

    setup = gnuhealth.Setup(professional=1, slot_ids=slots, patient_ids=list(range(attempts)))
    for base_url in _server(taken):
        done, _elapsed, calls = gnuhealth.rush(
            base_url, setup, ["Session x"], clients=1, duration=60, hot_share=0.2,
            hot_demand=0.8, seed=7, warmup_rounds=3,
        )  # fmt: skip

    assert len(asked_infocity) == attempts  # the warm-up's patients come from the same pool
    assert asked_gnuhealth[: len(asked_infocity)] == asked_infocity
    assert {a.outcome for a in done} == {"slot_taken"}
    assert calls == len(done) == attempts
    hot = sum(1 for slot in asked_gnuhealth if slot < 111) / len(asked_gnuhealth)
    assert 0.74 < hot < 0.86


@pytest.mark.parametrize("guarded", [True, False])
def test_a_slot_written_twice_is_counted_and_the_guard_refuses_it(guarded: bool) -> None:
    """A stand-in for trytond's appointment: every client reads slot 1 as free before
    any write is answered; with the record's timestamp sent the later writes are
    refused (ConcurrencyException), without it they overwrite and all answer success."""
    lock = threading.Lock()
    state: dict[str, Any] = {"patient": None, "stamp": "1.0", "reads": 0}
    clients = 4
    everyone_read = threading.Barrier(clients)

    def trytond(path: str, body: Any) -> tuple[int, Any]:
        assert path == gnuhealth.PATH
        method, params = body["method"], body["params"]
        if method.endswith(".read"):
            with lock:
                record = {
                    "id": 1, "patient": state["patient"], "_timestamp": state["stamp"],
                    "state": "free" if state["patient"] is None else "confirmed",
                }  # fmt: skip
                state["reads"] += 1
                first_reads = state["reads"] <= clients
            if first_reads:
                everyone_read.wait(timeout=10)
            return 200, {"id": body["id"], "result": [record]}
        stamp = params[2].get("_timestamp", {}).get(f"{gnuhealth.MODEL},1")
        with lock:
            if stamp is not None and stamp != state["stamp"]:
                error = ["ConcurrencyException", "Records were modified in the meanwhile"]
                return 200, {"id": body["id"], "error": error}
            state["patient"] = params[1]["patient"]
            state["stamp"] = str(float(state["stamp"]) + 1)
        return 200, {"id": body["id"], "result": None}

    setup = gnuhealth.Setup(professional=1, slot_ids=[1], patient_ids=list(range(clients)))
    for base_url in _server(trytond):
        done, _elapsed, _calls = gnuhealth.rush(
            base_url, setup, ["Session x"] * clients, clients=clients, duration=60,
            hot_share=1.0, hot_demand=1.0, seed=1, send_timestamp=guarded, warmup_rounds=0,
        )  # fmt: skip

    outcomes = gnuhealth.summarise(done, 1.0, 0)["outcomes"]
    if guarded:
        assert outcomes == {"booked": 1, "concurrency": clients - 1}
    else:
        assert outcomes == {"booked": clients}  # four patients told the slot is theirs
