"""FHIR R4 scheduling as other systems use it: the directory, free Slots, booking and
cancelling an Appointment. Every resource returned is parsed by an independent model
library (fhir.resources), and a search and a booking run end to end through a FHIR client
library (fhirpy) against a served application."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhirpy import SyncFHIRClient
from sqlalchemy import update

from infocity.app import create_app
from infocity.core.clock import city_tz
from infocity.core.db import utcnow
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health.fhir import slot_lines
from infocity.health.fhir.publish import KINDS
from infocity.health.fhir.resources import BOOKING_DEEP_LINK, SLOT_CAPACITY
from infocity.health.jobs import publish_scheduling_files
from infocity.health.models import Practitioner, Slot
from infocity.health.rules import SlotStatus
from tests.builders import api_token, bearer
from tests.health_builders import (
    attach,
    get_slot,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)

FHIR = "/fhir/R4"


def parsed(response: Any, status: int = 200) -> dict[str, Any]:
    """The response's resource, checked: status, media type, and valid FHIR (a Bundle's
    entries each parsed as their own resource type too)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    for entry in body.get("entry", []):
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return body


def ids(bundle: dict[str, Any]) -> list[int]:
    return [int(e["resource"]["id"]) for e in bundle["entry"]]


def test_directory_slots_and_booking(client: TestClient) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    surgeon = make_practitioner(clinic.id, "surgeon")
    slots = make_slots(therapist.id)
    make_slots(surgeon.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    headers = bearer(api_token(client, patient.identifier, patient.password))

    capability = parsed(client.get(f"{FHIR}/metadata"))
    kinds = {r["type"]: r for r in capability["rest"][0]["resource"]}
    assert set(kinds) == {
        "Organization", "Location", "HealthcareService", "Practitioner", "PractitionerRole",
        "Schedule", "Slot", "Appointment", "Patient",
    }  # fmt: skip
    assert {i["code"] for i in kinds["Slot"]["interaction"]} == {"read", "search-type"}

    services = parsed(client.get(f"{FHIR}/HealthcareService"))
    assert services["total"] == 19
    (location,) = parsed(client.get(f"{FHIR}/Location"))["entry"]
    assert location["resource"]["address"]["text"] == "Москва, Тверская ул., 1"
    parsed(client.get(f"{FHIR}/Organization/{clinic.id}"))
    roles = parsed(client.get(f"{FHIR}/PractitionerRole", params={"specialty": "therapist"}))
    assert ids(roles) == [therapist.id]
    schedules = parsed(client.get(f"{FHIR}/Schedule", params={"actor": f"Location/{clinic.id}"}))
    assert sorted(ids(schedules)) == sorted([therapist.id, surgeon.id])
    parsed(client.get(f"{FHIR}/Practitioner/{therapist.id}"))

    # Free times by schedule, paged by two, with links that keep the search.
    page = parsed(
        client.get(f"{FHIR}/Slot", params={"schedule": f"Schedule/{therapist.id}", "_count": 2})
    )
    assert ids(page) == slots[:2]
    (next_link,) = [link["url"] for link in page["link"] if link["relation"] == "next"]
    assert ids(parsed(client.get(next_link))) == slots[2:4]
    deep_link = page["entry"][0]["resource"]["extension"][0]["valueUrl"]
    assert deep_link.endswith(f"/health/book/confirm?slot={slots[0]}")
    # By service type and a start range in the city's time: the second half hour only.
    second = get_slot(slots[2]).starts_at.astimezone(city_tz())
    ranged = parsed(
        client.get(
            f"{FHIR}/Slot",
            params=[
                ("service-type", "urn:infocity:health:specialty|therapist"),
                ("location", f"Location/{clinic.id}"),
                ("start", f"ge{second.isoformat()}"),
                ("start", f"lt{(second + timedelta(hours=1)).isoformat()}"),
                ("status", "free"),
            ],
        )
    )
    assert ids(ranged) == slots[2:]
    assert (
        ids(parsed(client.get(f"{FHIR}/Slot", params={"schedule": therapist.id, "status": "busy"})))
        == []
    )
    broad = parsed(client.get(f"{FHIR}/Slot"), 400)
    assert broad["issue"][0]["details"]["coding"][0]["code"] == "search_too_broad"

    # Booking a Slot is the portal's booking: a taken Slot is a conflict, in Russian.
    me = {"actor": {"reference": f"Patient/{patient.person_id}"}, "status": "needs-action"}
    body = {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{slots[0]}"}],
        "participant": [me],
    }
    anonymous = parsed(client.post(f"{FHIR}/Appointment", json=body), 401)
    assert anonymous["issue"][0]["code"] == "login"
    created = parsed(client.post(f"{FHIR}/Appointment", json=body, headers=headers), 201)
    assert created["status"] == "booked"
    assert created["slot"] == [{"reference": f"Slot/{slots[0]}"}]
    again = parsed(client.post(f"{FHIR}/Appointment", json=body, headers=headers), 409)
    assert (
        again["issue"][0]["diagnostics"]
        == "Это время только что заняли. Пожалуйста, выберите другое."
    )
    assert ids(parsed(client.get(f"{FHIR}/Slot", params={"schedule": therapist.id}))) == slots[1:]
    mine = parsed(
        client.get(
            f"{FHIR}/Appointment",
            params={"patient": f"Patient/{patient.person_id}"},
            headers=headers,
        )
    )
    assert ids(mine) == [int(created["id"])]
    (found,) = parsed(client.get(f"{FHIR}/Patient", headers=headers))["entry"]
    assert found["resource"]["birthDate"] == "1980-05-17"

    # Someone else sees neither the appointment nor the patient.
    other = make_patient()
    other_headers = bearer(api_token(client, other.identifier, other.password))
    parsed(client.get(f"{FHIR}/Appointment/{created['id']}", headers=other_headers), 404)
    parsed(client.get(f"{FHIR}/Patient/{patient.person_id}", headers=other_headers), 404)

    moved = parsed(
        client.put(
            f"{FHIR}/Appointment/{created['id']}",
            json={**created, "start": created["end"]},
            headers=headers,
        ),
        422,
    )
    assert moved["issue"][0]["details"]["coding"][0]["code"] == "change_not_supported"
    cancelled = parsed(
        client.put(
            f"{FHIR}/Appointment/{created['id']}",
            json={**created, "status": "cancelled"},
            headers=headers,
        )
    )
    assert cancelled["status"] == "cancelled"
    assert ids(parsed(client.get(f"{FHIR}/Slot", params={"schedule": therapist.id}))) == slots


def test_a_fhir_client_finds_and_books_a_slot(live_server: str) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    with TestClient(create_app()) as app:
        token = api_token(app, patient.identifier, patient.password)
    fhir = SyncFHIRClient(f"{live_server}{FHIR}", authorization=f"Bearer {token}")

    found = fhir.resources("Slot").search(schedule=f"Schedule/{therapist.id}").limit(2).fetch_all()
    assert [int(s["id"]) for s in found] == slots
    appointment = fhir.resource(
        "Appointment",
        status="proposed",
        slot=[found[0].to_reference()],
        participant=[
            {"actor": {"reference": f"Patient/{patient.person_id}"}, "status": "needs-action"}
        ],
    )
    appointment.save()
    assert appointment["status"] == "booked"
    get_fhir_model_class("Appointment").model_validate(dict(appointment))
    read = fhir.reference("Appointment", appointment["id"]).to_resource()
    assert read["participant"][1]["actor"]["reference"] == f"Practitioner/{therapist.id}"
    left = fhir.resources("Slot").search(schedule=f"Schedule/{therapist.id}").fetch_all()
    assert [int(s["id"]) for s in left] == slots[1:]


def test_bulk_publication_of_free_times(client: TestClient) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    manifest = client.get(f"{FHIR}/$bulk-publish")
    assert manifest.status_code == 200
    outputs = {o["type"]: o["url"] for o in manifest.json()["output"]}
    assert set(outputs) == {"Location", "Schedule", "Slot"}
    published: dict[str, list[dict[str, Any]]] = {}
    for kind, url in outputs.items():
        answer = client.get(url)
        assert answer.headers["content-type"].startswith("application/fhir+ndjson")
        assert "max-age" in answer.headers["cache-control"]
        published[kind] = [json.loads(line) for line in answer.text.splitlines()]
        for resource in published[kind]:
            get_fhir_model_class(kind).model_validate(resource)
    assert [int(s["id"]) for s in published["Slot"]] == slots
    extensions = {e["url"]: e for e in published["Slot"][0]["extension"]}
    assert extensions[BOOKING_DEEP_LINK]["valueUrl"].endswith(f"?slot={slots[0]}")
    assert extensions[SLOT_CAPACITY]["valueInteger"] == 1
    # Each line is the Slot as read by id.
    assert published["Slot"][-1] == client.get(f"{FHIR}/Slot/{slots[-1]}").json()
    assert [s["id"] for s in published["Schedule"]] == [str(therapist.id)]
    # A client that has this period's file is told so without it being read again.
    again = client.get(outputs["Slot"], headers={"If-None-Match": answer.headers["etag"]})
    if answer.headers["etag"] == again.headers["etag"]:  # not across a period's end
        assert again.status_code == 304


def test_the_worker_writes_the_files_a_request_sends(
    client: TestClient, settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    live = {kind: client.get(f"{FHIR}/$bulk-publish/{kind}.ndjson").content for kind in KINDS}
    settings_env.setenv("INFOCITY_FHIR_PUBLICATION_DIR", str(tmp_path))
    get_settings.cache_clear()
    size = publish_scheduling_files()  # the worker's job
    assert isinstance(size, int)
    assert size > 0
    written = {p.name for p in tmp_path.glob("*.ndjson")}
    assert len(written) == 3
    # The finished files are what a request would have written, sent as they are.
    manifest = client.get(f"{FHIR}/$bulk-publish").json()
    for output in manifest["output"]:
        answer = client.get(output["url"])
        assert answer.content == live[output["type"]]
        assert answer.headers["content-type"].startswith("application/fhir+ndjson")
        assert "max-age" in answer.headers["cache-control"]
        again = client.get(output["url"], headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
    slot_file = client.get(f"{FHIR}/$bulk-publish/Slot.ndjson")
    # A booking changes the next period's Slot file; the unchanged files keep their
    # names (and ETags), and the file replaced is kept one period for readers under way.
    with UnitOfWork() as uow:
        uow.session.execute(
            update(Slot).where(Slot.id == slots[0]).values(status=SlotStatus.BLOCKED)
        )
        uow.commit()
    publish_scheduling_files()
    assert len(written & {p.name for p in tmp_path.glob("*.ndjson")}) == 3
    answer = client.get(f"{FHIR}/$bulk-publish/Slot.ndjson")
    assert answer.headers["etag"] != slot_file.headers["etag"]
    assert [json.loads(line)["id"] for line in answer.text.splitlines()] == [
        str(s) for s in slots[1:]
    ]
    location = client.get(f"{FHIR}/$bulk-publish/Location.ndjson")
    assert location.content == live["Location"]
    publish_scheduling_files()  # the first Slot file is two publications old: removed
    assert len(written & {p.name for p in tmp_path.glob("*.ndjson")}) == 2


def test_postgresql_writes_the_slot_lines_python_writes(database: str) -> None:
    if not database.startswith("postgresql"):
        pytest.skip("the lines are written by PostgreSQL only there")
    clinic = make_clinic()
    quoted = make_practitioner(clinic.id, "therapist")
    retired = make_practitioner(clinic.id, "surgeon")
    plain = make_practitioner(clinic.id, "ophthalmologist")
    first = make_slots(quoted.id)
    slots = first + make_slots(retired.id) + make_slots(plain.id)
    name = 'Врач "Айболит" \\ Ü\tтабуляция'
    with UnitOfWork() as uow:
        uow.session.execute(
            update(Practitioner).where(Practitioner.id == quoted.id).values(name=name)
        )
        uow.session.execute(
            update(Practitioner).where(Practitioner.id == retired.id).values(active=False)
        )
        uow.session.execute(  # an instant with microseconds, written as Python writes them
            update(Slot)
            .where(Slot.id == slots[1])
            .values(ends_at=get_slot(slots[1]).ends_at - timedelta(microseconds=1))
        )
        uow.commit()
    now = utcnow()
    # Batches of 4 so that the file spans several, one of them short.
    by_postgres = b"".join(slot_lines.in_postgres(now, batch_size=4))
    by_python = b"".join(slot_lines.in_python(now, batch_size=4))
    assert by_postgres.decode().splitlines() == by_python.decode().splitlines()
    assert by_postgres == by_python
    # Ranges of 4 ids written by two sessions at once come back in order.
    assert b"".join(slot_lines.in_parallel(now, batch_size=4, connections=2)) == by_python
    lines = [json.loads(line) for line in by_postgres.splitlines()]
    assert [int(s["id"]) for s in lines] == slots
    assert lines[0]["schedule"]["display"] == name
    assert lines[1]["end"].endswith(".999999+00:00")
    assert "display" not in lines[len(first)]["schedule"]
    assert slot_lines.slot_lines() is slot_lines.in_parallel
