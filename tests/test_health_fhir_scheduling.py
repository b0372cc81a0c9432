"""FHIR scheduling beyond plain searches: Slot pages that follow a position (``_cursor``)
rather than an offset, a Slot read by id, and the Argonaut operations ``$find`` (the times
one patient may book) and ``$book`` (the portal's booking). Every resource returned is
parsed by fhir.resources (``parsed``); ``$find`` and ``$book`` also run through fhirpy."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhirpy import SyncFHIRClient

from infocity.app import create_app
from infocity.health.fhir.resources import BOOKING_DEEP_LINK
from tests.builders import api_token, bearer
from tests.health_builders import (
    attach,
    get_slot,
    make_clinic,
    make_patient,
    make_practitioner,
    make_referral,
    make_slots,
)
from tests.test_health_fhir import FHIR, ids, parsed


def _next(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def _code(outcome: dict[str, Any]) -> str:
    code: str = outcome["issue"][0]["details"]["coding"][0]["code"]
    return code


def test_slot_pages_follow_a_position_and_a_slot_is_read_by_id(client: TestClient) -> None:
    head = make_clinic()
    branch = make_clinic(parent_clinic_id=head.id)
    therapist = make_practitioner(head.id, "therapist")
    surgeon = make_practitioner(branch.id, "surgeon")
    # The same four times at both doctors: pages must cross ties of start in id order.
    both = make_slots(therapist.id) + make_slots(surgeon.id)
    expected = sorted(both, key=lambda s: (get_slot(s).starts_at, s))

    # A polyclinic alone (no service type) finds its branches' times too, three a page.
    seen: list[int] = []
    url: str | None = f"{FHIR}/Slot?location=Location/{head.id}&_count=3"
    while url is not None:
        page = parsed(client.get(url))
        assert len(page["entry"]) <= 3
        assert "_offset" not in url
        seen += ids(page)
        url = _next(page)
    assert seen == expected
    assert ids(parsed(client.get(f"{FHIR}/Slot", params={"location": branch.id}))) == sorted(
        both[4:], key=lambda s: (get_slot(s).starts_at, s)
    )

    # Offsets are refused (a deep page would read everything before it), as is a bad cursor.
    offset = parsed(client.get(f"{FHIR}/Slot", params={"location": head.id, "_offset": 3}), 400)
    assert _code(offset) == "invalid_search"
    assert "_offset" in offset["issue"][0]["diagnostics"]
    bad = parsed(client.get(f"{FHIR}/Slot", params={"location": head.id, "_cursor": "x"}), 400)
    assert "_cursor" in bad["issue"][0]["diagnostics"]

    # One Slot by id: free with its booking link, busy once booked, 404 if there is none.
    slot = parsed(client.get(f"{FHIR}/Slot/{expected[0]}"))
    assert slot["status"] == "free"
    assert slot["extension"][0]["url"] == BOOKING_DEEP_LINK
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, head.id)
    headers = bearer(api_token(client, patient.identifier, patient.password))
    therapist_slot = both[0]
    booked = client.post(
        "/api/v1/health/appointments", json={"slot_id": therapist_slot}, headers=headers
    )
    assert booked.status_code == 201, booked.text
    taken = parsed(client.get(f"{FHIR}/Slot/{therapist_slot}"))
    assert (taken["status"], "extension" in taken) == ("busy", False)
    assert therapist_slot not in ids(parsed(client.get(f"{FHIR}/Slot?location={head.id}")))
    assert _code(parsed(client.get(f"{FHIR}/Slot/{both[-1] + 1000}"), 404)) == "not_found"


def test_find_offers_what_the_patient_may_book_and_book_books_it(client: TestClient) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    cardiologist = make_practitioner(clinic.id, "cardiologist")
    therapy = make_slots(therapist.id)
    cardiology = make_slots(cardiologist.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    headers = bearer(api_token(client, patient.identifier, patient.password))
    me = f"Patient/{patient.person_id}"

    capability = parsed(client.get(f"{FHIR}/metadata"))
    kinds = {r["type"]: r for r in capability["rest"][0]["resource"]}
    assert {o["name"] for o in kinds["Appointment"]["operation"]} == {"find", "book"}
    assert {i["code"] for i in kinds["Slot"]["interaction"]} == {"read", "search-type"}

    find = f"{FHIR}/Appointment/$find"
    parsed(client.get(find, params={"patient": me, "service-type": "therapist"}), 401)
    offered = parsed(
        client.get(find, params={"patient": me, "service-type": "therapist"}, headers=headers)
    )
    assert [int(e["resource"]["slot"][0]["reference"].split("/")[1]) for e in offered["entry"]] == (
        therapy
    )
    first = offered["entry"][0]["resource"]
    assert first["status"] == "proposed"
    assert first["participant"][1]["actor"]["reference"] == f"Practitioner/{therapist.id}"

    # A referral-only specialty: nothing without a referral, and why, in Russian.
    refused = parsed(
        client.get(find, params={"patient": me, "service-type": "cardiologist"}, headers=headers)
    )
    (outcome,) = [e for e in refused["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["resource"]["issue"][0]["diagnostics"] == (
        "К этому специалисту записывают по направлению лечащего врача."
    )
    referral = make_referral(patient.person_id, clinic.id, "cardiologist")
    by_referral = parsed(
        client.get(
            find,
            params={
                "patient": me,
                "service-type": "cardiologist",
                "referral": f"ServiceRequest/{referral.id}",
                "_count": 2,
            },
            headers=headers,
        )
    )
    proposed = [e["resource"] for e in by_referral["entry"]]
    assert [p["slot"][0]["reference"] for p in proposed] == [f"Slot/{s}" for s in cardiology[:2]]
    assert proposed[0]["basedOn"] == [{"reference": f"ServiceRequest/{referral.id}"}]

    # $book takes the proposed Appointment back: the portal's booking, with its refusals.
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "appt-resource", "resource": proposed[0]}],
    }
    book = f"{FHIR}/Appointment/$book"
    done = parsed(client.post(book, json=parameters, headers=headers))
    (appointment,) = [e["resource"] for e in done["entry"]]
    assert (appointment["status"], appointment["slot"]) == ("booked", proposed[0]["slot"])
    # One appointment of a specialty at a time, as on the portal; a taken time is taken.
    again = parsed(client.post(book, json=proposed[1], headers=headers), 409)
    assert _code(again) == "active_limit_reached"
    taken = parsed(client.post(book, json=parameters, headers=headers), 409)
    assert _code(taken) == "slot_taken"
    (mine,) = client.get("/api/v1/health/appointments", headers=headers).json()
    assert mine["id"] == int(appointment["id"])
    empty = parsed(client.post(book, json={"resourceType": "Parameters"}, headers=headers), 422)
    assert _code(empty) == "invalid_resource"


def test_a_fhir_client_finds_and_books_with_the_operations(live_server: str) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    with TestClient(create_app()) as app:
        token = api_token(app, patient.identifier, patient.password)
    fhir = SyncFHIRClient(f"{live_server}{FHIR}", authorization=f"Bearer {token}")

    offered = fhir.execute(
        "Appointment/$find",
        method="get",
        params={"patient": f"Patient/{patient.person_id}", "service-type": "therapist"},
    )
    get_fhir_model_class("Bundle").model_validate(offered)
    proposed = [e["resource"] for e in offered["entry"]]
    assert [p["slot"][0]["reference"] for p in proposed] == [f"Slot/{s}" for s in slots]
    booked = fhir.execute(
        "Appointment/$book",
        data={
            "resourceType": "Parameters",
            "parameter": [{"name": "appt-resource", "resource": proposed[-1]}],
        },
    )
    get_fhir_model_class("Bundle").model_validate(booked)
    appointment = booked["entry"][0]["resource"]
    assert appointment["status"] == "booked"
    read = fhir.reference("Appointment", appointment["id"]).to_resource()
    assert read["slot"][0]["reference"] == f"Slot/{slots[-1]}"
    assert fhir.reference("Slot", str(slots[-1])).to_resource()["status"] == "busy"
