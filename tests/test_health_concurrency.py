"""No slot is ever booked twice, and the per-patient limit holds, whatever the number of
processes: many clients race through the HTTP API served by two server processes on
PostgreSQL, and the database decides."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from infocity.core.uow import UnitOfWork
from infocity.health.models import Appointment, Slot
from tests.builders import api_token
from tests.conftest import shared_server
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots

CLIENTS = 60
SLOTS = 5


def race(requests: list[tuple[str, dict[str, Any], dict[str, str]]], base_url: str) -> list[Any]:
    """Send every request at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(requests))
    results: list[Any] = [None] * len(requests)

    def send(index: int) -> None:
        path, body, headers = requests[index]
        with httpx.Client(base_url=base_url, timeout=60) as client:
            barrier.wait()
            response = client.post(path, json=body, headers=headers)
            results[index] = (response.status_code, response.json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def postgres_only(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip(
            "SQLite runs one writer at a time (BEGIN IMMEDIATE): there is no race to prove; "
            "the proof is on PostgreSQL"
        )


@pytest.mark.slow
def test_many_clients_many_processes_one_appointment_per_slot(database: str) -> None:
    postgres_only(database)
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slot_ids = make_slots(therapist.id, slot_minutes=12)[:SLOTS]
    assert len(slot_ids) == SLOTS
    birth = date(1985, 4, 1)
    policies = []
    for n in range(CLIENTS):
        policy = f"55{n:014d}"
        patient = make_patient(birth, oms_policy=policy)
        attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
        policies.append(policy)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (
            "/api/v1/health/kiosk/appointments",
            {"oms_policy": policy, "birth_date": birth.isoformat(), "slot_id": slot_ids[n % SLOTS]},
            {},
        )
        for n, policy in enumerate(policies)
    ]
    with shared_server(database, processes=2) as base_url:
        results = race(requests, base_url)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: SLOTS, 409: CLIENTS - SLOTS}, statuses
    assert {body["error"]["code"] for status, body in results if status == 409} == {"slot_taken"}
    winners = Counter(body["slot_id"] for status, body in results if status == 201)
    assert winners == dict.fromkeys(slot_ids, 1)
    with UnitOfWork() as uow:
        booked = uow.session.execute(
            select(Appointment.slot_id, func.count())
            .where(Appointment.status == "booked")
            .group_by(Appointment.slot_id)
        ).all()
        slot_statuses = set(uow.session.scalars(select(Slot.status).where(Slot.id.in_(slot_ids))))
    assert dict(booked) == dict.fromkeys(slot_ids, 1)
    assert slot_statuses == {"booked"}


@pytest.mark.slow
def test_one_patient_racing_for_several_slots_gets_exactly_one(database: str) -> None:
    postgres_only(database)
    clinic = make_clinic()
    therapists = [make_practitioner(clinic.id, "therapist") for _ in range(2)]
    slot_ids = [s for t in therapists for s in make_slots(t.id, slot_minutes=10)]
    patient = make_patient()
    attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
    with shared_server(database, processes=2) as base_url:
        with httpx.Client(base_url=base_url) as client:
            token = api_token(client, patient.identifier, patient.password)  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {token}"}
        results = race(
            [("/api/v1/health/appointments", {"slot_id": s}, headers) for s in slot_ids],
            base_url,
        )

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: len(slot_ids) - 1}, statuses
    codes = {body["error"]["code"] for status, body in results if status == 409}
    assert codes == {"active_limit_reached"}
    with UnitOfWork() as uow:
        active = uow.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.person_id == patient.person_id, Appointment.status == "booked")
        )
    assert active == 1


@pytest.mark.slow
def test_one_patient_racing_for_overlapping_times_gets_one_of_them(database: str) -> None:
    # Four patients, each sending four bookings at once, on two processes: a surgeon,
    # a therapist, an ophthalmologist and a urologist at the same time. Each
    # specialty's own limit lets every one through; only the overlap guard decides.
    postgres_only(database)
    clinic = make_clinic()
    specialties = ("surgeon", "therapist", "ophthalmologist", "urologist")
    days = [make_slots(make_practitioner(clinic.id, code).id) for code in specialties]
    patients = [make_patient() for _ in range(4)]
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    with shared_server(database, processes=2) as base_url:
        with httpx.Client(base_url=base_url) as client:
            for n, patient in enumerate(patients):
                attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
                token = api_token(client, patient.identifier, patient.password)  # type: ignore[arg-type]
                headers = {"Authorization": f"Bearer {token}"}
                requests += [
                    ("/api/v1/health/appointments", {"slot_id": day[n]}, headers) for day in days
                ]
        results = race(requests, base_url)

    for n in range(len(patients)):
        mine = results[n * len(days) : (n + 1) * len(days)]
        assert Counter(status for status, _ in mine) == {201: 1, 409: len(days) - 1}, mine
        refusals = [body["error"] for status, body in mine if status == 409]
        assert {(e["code"], e["message"]) for e in refusals} == {
            ("patient_busy", "У вас уже есть запись на это время.")
        }
    with UnitOfWork() as uow:
        booked = uow.session.execute(
            select(Appointment.person_id, func.count())
            .where(Appointment.status == "booked")
            .group_by(Appointment.person_id)
        ).all()
    assert dict(booked) == {patient.person_id: 1 for patient in patients}
