"""The JSON API of medical appointments, as a mobile app, a kiosk and a registrar use it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import api_token, bearer, make_staff
from tests.health_builders import (
    attach,
    make_child,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)


@pytest.fixture
def setup(client: TestClient) -> dict[str, Any]:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    patient = make_patient(date(1979, 8, 9), oms_policy="7711000000000017")
    attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
    token = api_token(client, patient.identifier, patient.password)
    return {"clinic": clinic, "therapist": therapist, "slots": slots, "patient": patient,
            "headers": bearer(token)}  # fmt: skip


def test_directory_and_free_slots(client: TestClient, setup: dict[str, Any]) -> None:
    specialties = client.get("/api/v1/health/specialties").json()
    assert len(specialties) == 19
    clinics = client.get("/api/v1/health/clinics").json()
    assert [c["id"] for c in clinics] == [setup["clinic"].id]
    found = client.get(
        "/api/v1/health/slots",
        params={"specialty_id": setup["therapist"].specialty_id, "clinic_id": setup["clinic"].id},
    )
    assert found.status_code == 200
    assert [s["id"] for s in found.json()] == setup["slots"]


def test_book_list_reschedule_cancel(client: TestClient, setup: dict[str, Any]) -> None:
    headers, slots = setup["headers"], setup["slots"]
    booked = client.post("/api/v1/health/appointments", json={"slot_id": slots[0]}, headers=headers)
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    listed = client.get("/api/v1/health/appointments", headers=headers).json()
    assert [a["id"] for a in listed] == [appointment["id"]]
    moved = client.post(
        f"/api/v1/health/appointments/{appointment['id']}/reschedule",
        json={"slot_id": slots[1]},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    cancelled = client.post(
        f"/api/v1/health/appointments/{moved.json()['id']}/cancel", headers=headers
    )
    assert cancelled.json()["status"] == "cancelled_by_patient"


def test_refusals_speak_the_users_language(client: TestClient, setup: dict[str, Any]) -> None:
    headers, slot = setup["headers"], setup["slots"][0]
    client.post("/api/v1/health/appointments", json={"slot_id": slot}, headers=headers)
    other = make_patient()
    attach(other.person_id, setup["clinic"].id)  # type: ignore[arg-type]
    other_headers = bearer(api_token(client, other.identifier, other.password))
    for language, message in (
        ("ru", "Это время только что заняли. Пожалуйста, выберите другое."),
        ("en", "Someone has just booked this time. Please choose another."),
    ):
        response = client.post(
            "/api/v1/health/appointments",
            json={"slot_id": slot},
            headers={**other_headers, "Accept-Language": language},
        )
        assert response.status_code == 409
        assert response.json()["error"] == {"code": "slot_taken", "message": message}


def test_cancel_needs_a_login(client: TestClient, setup: dict[str, Any]) -> None:
    response = client.post("/api/v1/health/appointments/1/cancel")
    assert response.status_code == 401


def test_kiosk_booking_and_its_rate_limit(client: TestClient, setup: dict[str, Any]) -> None:
    body = {"oms_policy": "7711 0000 0000 0017", "birth_date": "1979-08-09",
            "slot_id": setup["slots"][2], "channel": "kiosk"}  # fmt: skip
    malformed = client.post("/api/v1/health/kiosk/appointments", json={**body, "oms_policy": "12"})
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (422, "invalid_oms_policy")
    wrong = client.post(
        "/api/v1/health/kiosk/appointments", json={**body, "birth_date": "1979-08-10"}
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (404, "patient_not_found")
    booked = client.post("/api/v1/health/kiosk/appointments", json=body)
    assert booked.status_code == 201, booked.text
    assert booked.json()["channel"] == "kiosk"
    codes = [
        client.post("/api/v1/health/kiosk/appointments", json=body).json()["error"]["code"]
        for _ in range(10)
    ]
    assert codes[-1] == "rate_limited"


def test_parent_books_for_child_through_the_app(client: TestClient, setup: dict[str, Any]) -> None:
    kids = make_clinic("children")
    paediatrician = make_practitioner(kids.id, "paediatrician")
    slot = make_slots(paediatrician.id)[0]
    child = make_child(setup["patient"])
    attach(child.id, kids.id)
    response = client.post(
        "/api/v1/health/appointments",
        json={"slot_id": slot, "patient_id": child.id},
        headers=setup["headers"],
    )
    assert response.status_code == 201, response.text
    listed = client.get("/api/v1/health/appointments", headers=setup["headers"]).json()
    assert [a["person_id"] for a in listed] == [child.id]


def test_registrar_and_doctor(client: TestClient, setup: dict[str, Any]) -> None:
    registrar = make_staff("registrar", setup["clinic"].id)
    registrar_headers = bearer(api_token(client, registrar.identifier, registrar.password))
    booked = client.post(
        "/api/v1/health/registry/appointments",
        json={"patient_id": setup["patient"].person_id, "slot_id": setup["slots"][3]},
        headers=registrar_headers,
    )
    assert booked.status_code == 201, booked.text
    doctor = make_staff("doctor", setup["clinic"].id)
    doctor_headers = bearer(api_token(client, doctor.identifier, doctor.password))
    referral = client.post(
        f"/api/v1/health/clinics/{setup['clinic'].id}/referrals",
        json={"person_id": setup["patient"].person_id, "specialty_code": "cardiologist"},
        headers=doctor_headers,
    )
    assert referral.status_code == 201, referral.text
    assert referral.json()["status"] == "active"
    refused = client.post(
        f"/api/v1/health/clinics/{setup['clinic'].id}/referrals",
        json={"person_id": setup["patient"].person_id, "specialty_code": "cardiologist"},
        headers=registrar_headers,
    )
    assert refused.status_code == 403
