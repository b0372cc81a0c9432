"""The release rush under torture, on PostgreSQL: 40 kiosk clients book through two
server processes with group commit on; one process is killed (SIGKILL, mid-batch as
likely as not) and started again while the others keep booking. Afterwards no slot is
booked twice, no patient over the therapist's limit, and no answer a client was given
disagrees with the database (a request cut off by the kill got no answer: the
database may hold its booking, and nobody was told otherwise)."""

from __future__ import annotations

import random
import signal
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from infocity.core.uow import UnitOfWork
from infocity.health.models import Appointment, Slot
from tests.conftest import start_server, stop_server
from tests.health_builders import make_clinic, make_practitioner, make_slots
from tests.support.postgres import free_port
from tests.support.servers import wait_until_ready
from tests.support.users import wait_for
from tests.test_web_group_commit import BORN, KIOSK, kiosk_patients

# More patients than slots, so that clients collide and some are refused: 80 patients
# for 60 slots. The race itself is proven by tests/test_web_group_commit.py (80 clients);
# here the rush need only be long enough to outlive the kill of one process.
CLIENTS = 40
PATIENTS_PER_CLIENT = 2
TRIES_PER_PATIENT = 6
SLOTS_UNTIL = time(11)  # two therapists, 6-minute slots from 08:00: 60 slots


@dataclass
class Told:
    """What the clients were told, and what never reached them."""

    answers: list[tuple[str, int, int, Any]] = field(default_factory=list)  # policy, slot, ...
    cut_off: list[tuple[str, int]] = field(default_factory=list)  # sent, no answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.answers)


def client(
    number: int, policies: list[str], slot_ids: list[int], urls: list[str], told: Told
) -> None:
    """One kiosk: each of its patients tries random slots until booked or out of tries;
    a request to a process that is down goes to the other one."""
    rng = random.Random(number)
    home = number % len(urls)
    # Each kiosk from its own address (as behind the city's proxy): the per-address
    # identification limit, meant for guessing, is not what this run tests.
    address = {"X-Forwarded-For": f"10.9.{number}.1"}
    with httpx.Client(timeout=60) as http:
        for policy in policies:
            booked = False
            for _ in range(TRIES_PER_PATIENT):
                if booked:
                    break
                slot_id = rng.choice(slot_ids)
                body = {"oms_policy": policy, "birth_date": BORN.isoformat(), "slot_id": slot_id}
                for attempt in range(len(urls)):
                    url = urls[(home + attempt) % len(urls)]
                    try:
                        response = http.post(url + KIOSK, json=body, headers=address)
                    except httpx.TransportError:
                        with told.lock:
                            told.cut_off.append((policy, slot_id))
                        continue
                    with told.lock:
                        told.answers.append(
                            (policy, slot_id, response.status_code, response.json())
                        )
                    booked = response.status_code == 201
                    break


@pytest.mark.slow
def test_a_process_killed_mid_rush_books_no_slot_twice_and_tells_no_lie(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proven on PostgreSQL")
    clinic = make_clinic()
    therapists = [make_practitioner(clinic.id, "therapist") for _ in range(2)]
    slot_ids = [
        s
        for t in therapists
        for s in make_slots(t.id, start=time(8), end=SLOTS_UNTIL, slot_minutes=6)
    ]
    policies = kiosk_patients(clinic.id, CLIENTS * PATIENTS_PER_CLIENT, "63")
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    env = {"INFOCITY_BOOKING_BATCH_WINDOW_MS": "5"}
    logs = [tempfile.TemporaryFile() for _ in ports]  # noqa: SIM115 - closed below
    servers = [
        start_server(database, port, log, env=env) for port, log in zip(ports, logs, strict=True)
    ]
    told = Told()
    try:
        for server, url, log in zip(servers, urls, logs, strict=True):
            wait_until_ready(server, f"{url}/healthz", log=log)
        threads = [
            threading.Thread(
                target=client,
                args=(n, policies[n::CLIENTS], slot_ids, urls, told),
            )
            for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: told.count() >= CLIENTS, 300, "the rush under way")
        servers[0].send_signal(signal.SIGKILL)  # no chance to finish or roll back itself
        servers[0].wait(timeout=60)
        at_kill = told.count()
        servers[0] = start_server(database, ports[0], logs[0], env=env)
        wait_until_ready(servers[0], f"{urls[0]}/healthz", log=logs[0])
        for thread in threads:
            thread.join()
    finally:
        for server in servers:
            stop_server(server)
        for log in logs:
            log.close()

    assert told.count() > at_kill, "the rush ended before the kill: nothing was tested"
    statuses = Counter(status for _, _, status, _ in told.answers)
    assert set(statuses) <= {201, 409}, statuses  # no 5xx: a kill is not an error to others
    with UnitOfWork() as uow:
        booked = uow.session.execute(
            select(Appointment.id, Appointment.slot_id, Appointment.person_id).where(
                Appointment.status == "booked"
            )
        ).all()
        slot_status = dict(uow.session.execute(select(Slot.id, Slot.status)).all())
    per_slot = Counter(slot for _, slot, _ in booked)
    assert max(per_slot.values()) == 1  # no slot twice
    per_patient = Counter(person for _, _, person in booked)
    assert max(per_patient.values()) == 1  # the therapist's limit of one, kept
    in_database = {row.id: row.slot_id for row in booked}
    for _, slot_id, status, body in told.answers:
        if status == 201:
            assert in_database.get(body["id"]) == slot_id  # a booking told is a booking kept
        elif body["error"]["code"] == "slot_taken":
            assert slot_status[slot_id] == "booked"  # a slot said taken is taken
    answered = {body["id"] for _, _, status, body in told.answers if status == 201}
    # A booking nobody was told of can only be one whose answer the kill cut off.
    assert len(set(in_database) - answered) <= len(told.cut_off)
    assert per_slot.keys() == {slot for slot, status in slot_status.items() if status == "booked"}
