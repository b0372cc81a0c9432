"""The citizen API as a mobile app uses it: what this patient may book, free times by day
with doctors and rooms, referrals and polyclinics, appointments with where to go; by a
bearer token and by OMS policy and date of birth, with the kiosk's limits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from infocity.core.db import utcnow
from tests.builders import api_token, bearer
from tests.health_builders import (
    attach,
    make_child,
    make_clinic,
    make_patient,
    make_practitioner,
    make_referral,
    make_slots,
)

API = "/api/v1/health"


def _codes(options: dict[str, Any]) -> dict[str, list[int]]:
    return {
        s["specialty"]["code"]: [r["id"] for r in s["referrals"]] for s in options["specialties"]
    }


def test_an_app_books_only_what_the_patient_may_book(client: TestClient) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    cardiologist = make_practitioner(clinic.id, "cardiologist")
    therapist_slots = make_slots(therapist.id)
    cardio_slots = make_slots(cardiologist.id)
    patient = make_patient(date(1979, 8, 9), oms_policy="7711000000000017")
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    child = make_child(patient)
    old = make_referral(
        patient.person_id, clinic.id, valid_days=1, now=utcnow() - timedelta(days=3)
    )
    referral = make_referral(patient.person_id, clinic.id)
    headers = bearer(api_token(client, patient.identifier, patient.password))

    options = client.get(f"{API}/booking-options", headers=headers).json()
    assert options["clinic"]["address"] == "Москва, Тверская ул., 1"
    codes = _codes(options)
    # The adult is offered what their polyclinic has a doctor of, and the referral's
    # specialty with the open referral only; never a children's specialty.
    assert codes == {"therapist": [], "cardiologist": [referral.id]}
    assert [p["id"] for p in options["patients"]] == [patient.person_id, child.id]
    child_options = client.get(
        f"{API}/booking-options", params={"patient_id": child.id}, headers=headers
    ).json()
    assert child_options["clinic"] is None
    assert "therapist" not in _codes(child_options)

    referrals = client.get(f"{API}/referrals", headers=headers).json()
    assert {r["id"]: r["state"] for r in referrals} == {referral.id: "open", old.id: "expired"}
    attachments = client.get(f"{API}/attachments", headers=headers).json()
    assert [(a["person_id"], a["clinic"]["id"], a["kind"]) for a in attachments] == [
        (patient.person_id, clinic.id, "adult")
    ]
    assert attachments[0]["can_change_from"] > attachments[0]["since"]

    by_referral_only = client.get(
        f"{API}/patient-slots",
        params={"specialty_code": "cardiologist"},
        headers={**headers, "Accept-Language": "en"},
    ).json()
    assert by_referral_only["days"] == []
    assert by_referral_only["problem"] == (
        "This specialist sees patients by a referral from their doctor."
    )
    slots = client.get(
        f"{API}/patient-slots",
        params={"specialty_code": "cardiologist", "referral_id": referral.id},
        headers=headers,
    ).json()
    assert slots["problem"] is None
    (day,) = slots["days"]
    (doctor,) = day["doctors"]
    assert (doctor["practitioner_id"], doctor["room"]) == (cardiologist.id, cardiologist.room)
    assert [s["id"] for s in doctor["slots"]] == cardio_slots
    assert slots["doctors"][0]["free"] == len(cardio_slots)

    booked = client.post(
        f"{API}/appointments",
        json={"slot_id": cardio_slots[0], "referral_id": referral.id},
        headers=headers,
    )
    assert booked.status_code == 201, booked.text
    referrals = client.get(f"{API}/referrals", headers=headers).json()
    assert {r["id"]: r["state"] for r in referrals}[referral.id] == "used"
    (mine,) = client.get(f"{API}/appointments", headers=headers).json()
    assert (mine["id"], mine["doctor"], mine["room"]) == (
        booked.json()["id"],
        cardiologist.name,
        cardiologist.room,
    )
    assert mine["clinic"]["address"] == "Москва, Тверская ул., 1"
    assert mine["changeable"]

    doctors = client.get(f"{API}/specialties/{therapist.specialty_id}/doctors").json()
    assert [d["id"] for d in doctors] == [therapist.id]
    assert therapist_slots  # the therapist's day is there to be booked by policy below


def test_by_policy_and_birth_date_as_at_the_kiosk(client: TestClient) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    patient = make_patient(date(1979, 8, 9), oms_policy="7711000000000017")
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    other = make_patient()
    assert other.person_id is not None
    attach(other.person_id, clinic.id)
    other_booked = client.post(
        f"{API}/appointments",
        json={"slot_id": slots[3]},
        headers=bearer(api_token(client, other.identifier, other.password)),
    ).json()
    me = {"oms_policy": "7711 0000 0000 0017", "birth_date": "1979-08-09"}

    options = client.post(f"{API}/kiosk/booking-options", json=me).json()
    assert "therapist" in _codes(options)
    assert options["clinic"]["id"] == clinic.id
    offered = client.post(f"{API}/kiosk/slots", json={**me, "specialty_code": "therapist"})
    assert [s["id"] for s in offered.json()["days"][0]["doctors"][0]["slots"]] == slots[:3]
    assert client.post(f"{API}/kiosk/referrals", json=me).json() == []
    (attachment,) = client.post(f"{API}/kiosk/attachments", json=me).json()
    assert attachment["clinic"]["id"] == clinic.id

    booked = client.post(f"{API}/kiosk/appointments", json={**me, "slot_id": slots[0]}).json()
    moved = client.post(
        f"{API}/kiosk/appointments/{booked['id']}/reschedule", json={**me, "slot_id": slots[1]}
    )
    assert moved.status_code == 200, moved.text
    (listed, replaced) = client.post(f"{API}/kiosk/appointments/list", json=me).json()
    assert (listed["id"], listed["status"], replaced["status"]) == (
        moved.json()["id"],
        "booked",
        "rescheduled",
    )
    assert (listed["doctor"], listed["room"]) == (therapist.name, therapist.room)
    assert listed["clinic"]["address"] == "Москва, Тверская ул., 1"

    # Another patient's appointment is "not found", and so is a wrong birth date.
    theirs = client.post(f"{API}/kiosk/appointments/{other_booked['id']}/cancel", json=me)
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "appointment_not_found")
    wrong = client.post(
        f"{API}/kiosk/appointments/{listed['id']}/cancel", json={**me, "birth_date": "1979-08-10"}
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (404, "patient_not_found")
    cancelled = client.post(f"{API}/kiosk/appointments/{listed['id']}/cancel", json=me)
    assert cancelled.json()["status"] == "cancelled_by_patient"

    # Every call identifies anew and counts towards the kiosk's limit per policy.
    answer = client.post(f"{API}/kiosk/appointments/list", json=me)
    assert (answer.status_code, answer.json()["error"]["code"]) == (429, "rate_limited")
