"""Group commit over HTTP: the collector batches what arrives together and answers each
caller; served kiosk bookings answer as alone (SQLite and PostgreSQL), and on PostgreSQL
many clients on two processes never get one slot twice."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from infocity.core.uow import UnitOfWork
from infocity.health.models import Appointment, Slot
from infocity.web.group_commit import GroupCommit
from tests.conftest import run_server
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots

KIOSK = "/api/v1/health/kiosk/appointments"
BORN = date(1982, 7, 14)


def test_requests_that_arrive_together_are_handled_in_one_batch() -> None:
    seen: list[list[int]] = []

    def handle(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        return [ValueError(f"no {n}") if n == 3 else n * 10 for n in items]

    together: GroupCommit[int, int] = GroupCommit(handle, window=0.05, size=100)

    async def ask_all() -> list[Any]:
        return await asyncio.gather(*(together.submit(n) for n in range(6)), return_exceptions=True)

    answers = asyncio.run(ask_all())
    assert seen == [[0, 1, 2, 3, 4, 5]]
    assert answers[:3] == [0, 10, 20]
    assert isinstance(answers[3], ValueError)  # only its own caller gets the error
    assert answers[4:] == [40, 50]


def test_a_full_batch_goes_at_once_and_the_rest_follow() -> None:
    seen: list[list[int]] = []

    def handle(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        return list(items)

    # A window far longer than the test: only a full batch may go before it ends.
    together: GroupCommit[int, int] = GroupCommit(handle, window=0.2, size=4)

    async def ask_all() -> list[int]:
        return await asyncio.gather(*(together.submit(n) for n in range(10)))

    assert asyncio.run(ask_all()) == list(range(10))
    assert [len(batch) for batch in seen] == [4, 4, 2]


def test_batches_run_side_by_side_up_to_the_lanes() -> None:
    seen: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def handle(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        if items[0] == 0:  # the first batch waits, as one waiting on a locked slot
            first_started.set()
            release.wait(10)
        return list(items)

    together: GroupCommit[int, int] = GroupCommit(handle, window=0.01, size=100, lanes=2)

    async def ask() -> list[int]:
        first = asyncio.ensure_future(together.submit(0))
        await asyncio.to_thread(first_started.wait, 10)
        # A second lane answers while the first batch still waits.
        second = await asyncio.wait_for(together.submit(1), 10)
        release.set()
        return [await first, second]

    assert asyncio.run(ask()) == [0, 1]
    assert seen == [[0], [1]]


def test_with_every_lane_busy_the_next_batch_collects_until_one_is_free() -> None:
    seen: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def handle(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        if items[0] == 0:
            first_started.set()
            release.wait(10)
        return list(items)

    together: GroupCommit[int, int] = GroupCommit(handle, window=0.01, size=100, lanes=1)

    async def ask() -> list[int]:
        first = asyncio.ensure_future(together.submit(0))
        await asyncio.to_thread(first_started.wait, 10)
        later = [asyncio.ensure_future(together.submit(n)) for n in (1, 2, 3)]
        await asyncio.sleep(0.05)  # several windows: they still wait for the lane
        assert not any(future.done() for future in later)
        release.set()
        return [await first, *[await future for future in later]]

    assert asyncio.run(ask()) == [0, 1, 2, 3]
    assert seen == [[0], [1, 2, 3]]


def test_a_lone_request_is_not_held_for_the_window() -> None:
    seen: list[list[int]] = []

    def handle(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        return list(items)

    # A window far longer than the test: nothing else is in flight, so it goes at once.
    together: GroupCommit[int, int] = GroupCommit(handle, window=30, size=100)

    async def ask() -> int:
        return await asyncio.wait_for(together.submit(7), 5)

    assert asyncio.run(ask()) == 7
    assert seen == [[7]]


def test_requests_in_flight_together_still_wait_for_companions() -> None:
    seen: list[list[int]] = []

    def handle(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        return list(items)

    together: GroupCommit[int, int] = GroupCommit(handle, window=0.05, size=100)

    async def ask() -> list[int]:
        first = asyncio.ensure_future(together.submit(1))
        second = asyncio.ensure_future(together.submit(2))
        await asyncio.sleep(0.01)  # within the window: a third request joins them
        third = asyncio.ensure_future(together.submit(3))
        return [await first, await second, await third]

    assert asyncio.run(ask()) == [1, 2, 3]
    assert seen == [[1, 2, 3]]


def race(bodies: list[dict[str, Any]], base_url: str) -> list[tuple[int, Any]]:
    """Send every booking at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, Any]] = [(0, None)] * len(bodies)

    def send(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            barrier.wait()
            response = client.post(KIOSK, json=bodies[index])
            results[index] = (response.status_code, response.json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def kiosk_patients(clinic_id: int, count: int, prefix: str) -> list[str]:
    policies = []
    for n in range(count):
        policy = f"{prefix}{n:014d}"
        patient = make_patient(BORN, oms_policy=policy)
        attach(patient.person_id, clinic_id)  # type: ignore[arg-type]
        policies.append(policy)
    return policies


@pytest.mark.slow
def test_served_kiosk_bookings_answer_as_alone(database: str) -> None:
    clinic = make_clinic()
    slot_ids = make_slots(make_practitioner(clinic.id, "therapist").id)
    policies = kiosk_patients(clinic.id, 6, "61")
    born = BORN.isoformat()
    bodies = [
        *({"oms_policy": p, "birth_date": born, "slot_id": slot_ids[0]} for p in policies[:4]),
        {"oms_policy": policies[4], "birth_date": born, "slot_id": slot_ids[1],
         "referral_id": 10**9},
        {"oms_policy": policies[5], "birth_date": "1982-07-15", "slot_id": slot_ids[2]},
    ]  # fmt: skip
    # A long window, so that what is sent together is booked together.
    with run_server(database, INFOCITY_BOOKING_BATCH_WINDOW_MS="20") as base_url:
        results = race(bodies, base_url)

    first = results[:4]
    assert Counter(status for status, _ in first) == {201: 1, 409: 3}
    assert {body["error"]["code"] for status, body in first if status == 409} == {"slot_taken"}
    assert results[4][0] == 404
    assert results[4][1]["error"]["code"] == "referral_not_found"
    assert results[5][0] == 404
    assert results[5][1]["error"]["code"] == "patient_not_found"
    (winner,) = [body for status, body in first if status == 201]
    with UnitOfWork() as uow:
        booked = uow.session.execute(
            select(Appointment.id, Appointment.slot_id).where(Appointment.status == "booked")
        ).all()
        statuses = dict(uow.session.execute(select(Slot.id, Slot.status)).all())
    assert [tuple(row) for row in booked] == [(winner["id"], slot_ids[0])]
    assert statuses[slot_ids[1]] == statuses[slot_ids[2]] == "free"


@pytest.mark.slow
def test_many_clients_two_processes_no_slot_twice(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proven on PostgreSQL")
    clinic = make_clinic()
    therapists = [make_practitioner(clinic.id, "therapist") for _ in range(2)]
    slot_ids = [s for t in therapists for s in make_slots(t.id, slot_minutes=6)]
    clients = 80
    policies = kiosk_patients(clinic.id, clients, "62")
    born = BORN.isoformat()
    bodies = [
        {"oms_policy": p, "birth_date": born, "slot_id": slot_ids[n % len(slot_ids)]}
        for n, p in enumerate(policies)
    ]
    with run_server(database, processes=2, INFOCITY_BOOKING_BATCH_WINDOW_MS="5") as base_url:
        results = race(bodies, base_url)

    assert {status for status, _ in results} <= {201, 409}, results
    won = Counter(body["slot_id"] for status, body in results if status == 201)
    assert won == dict.fromkeys(slot_ids, 1)  # every slot once, none twice
    accepted = {body["id"] for status, body in results if status == 201}
    with UnitOfWork() as uow:
        per_slot = dict(
            uow.session.execute(
                select(Appointment.slot_id, func.count())
                .where(Appointment.status == "booked")
                .group_by(Appointment.slot_id)
            ).all()
        )
        stored = set(uow.session.scalars(select(Appointment.id)))
    assert per_slot == dict.fromkeys(slot_ids, 1)
    assert stored == accepted  # every answer agrees with the database
