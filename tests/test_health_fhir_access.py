"""Who may use FHIR: client systems registered by a city administrator get tokens for the
scopes they were granted (client credentials); a citizen's token sees only their family."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork
from tests.builders import api_token, bearer, make_staff
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots
from tests.test_health_fhir import FHIR, ids, parsed


def _token(client: TestClient, issued: dict[str, Any], **extra: str) -> Any:
    return client.post(
        f"{FHIR}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issued["client_id"],
            "client_secret": issued["client_secret"],
            **extra,
        },
    )


def _audited(person_id: int) -> list[tuple[str, str | None]]:
    """The audit entries of client systems about the patient, oldest first."""
    with UnitOfWork() as uow:
        rows = uow.session.execute(
            select(AuditEntry.action, AuditEntry.detail)
            .where(
                AuditEntry.subject_person_id == person_id, AuditEntry.action.like("health.fhir.%")
            )
            .order_by(AuditEntry.id)
        )
        return [(row.action, row.detail) for row in rows]


def test_client_systems_and_their_scopes(client: TestClient) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    patient = make_patient(oms_policy="7711000000000017")
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)

    admin = make_staff("city_admin")
    admin_headers = bearer(api_token(client, admin.identifier, admin.password))
    citizen_headers = bearer(api_token(client, patient.identifier, patient.password))
    register = "/api/v1/health/fhir-clients"
    scopes = ["system/Patient.read", "system/Appointment.read", "system/Appointment.write"]
    call_centre = {"name": "Call centre", "scopes": scopes}
    refused = client.post(register, json=call_centre, headers=citizen_headers)
    assert refused.status_code == 403
    unknown = client.post(
        register, json={**call_centre, "scopes": ["system/*.*"]}, headers=admin_headers
    )
    assert unknown.json()["error"]["code"] == "invalid_scope"
    issued = client.post(register, json=call_centre, headers=admin_headers)
    assert issued.status_code == 201, issued.text
    slots_only = client.post(
        register, json={"name": "Maps", "scopes": ["system/Slot.read"]}, headers=admin_headers
    ).json()

    wrong = _token(client, {**issued.json(), "client_secret": "guess"})
    assert parsed(wrong, 401)["issue"][0]["details"]["coding"][0]["code"] == "invalid_client"
    too_much = _token(client, slots_only, scope="system/Appointment.write")
    assert parsed(too_much, 422)["issue"][0]["details"]["coding"][0]["code"] == "invalid_scope"
    granted = _token(client, issued.json()).json()
    assert granted["token_type"] == "bearer"
    headers = bearer(granted["access_token"])
    maps = bearer(_token(client, slots_only).json()["access_token"])

    policy = "urn:infocity:oms-policy|7711000000000017"
    denied = parsed(client.get(f"{FHIR}/Patient", params={"identifier": policy}, headers=maps), 403)
    assert denied["issue"][0]["code"] == "forbidden"
    forged = parsed(
        client.get(f"{FHIR}/Patient", headers=bearer(granted["access_token"] + "x")), 401
    )
    assert forged["issue"][0]["code"] == "login"

    # The call centre finds the patient by policy, books, lists, cancels.
    (found,) = parsed(
        client.get(f"{FHIR}/Patient", params={"identifier": policy}, headers=headers)
    )["entry"]
    assert found["resource"]["id"] == str(patient.person_id)
    # $find reads the patient's polyclinic and referrals for the system: audited too.
    find = f"{FHIR}/Appointment/$find"
    asked = {"patient": f"Patient/{patient.person_id}", "service-type": "therapist"}
    parsed(client.get(find, params=asked, headers=maps), 403)
    offered = parsed(client.get(find, params=asked, headers=headers))
    assert len(offered["entry"]) == len(slots)
    client_id = issued.json()["client_id"]
    assert _audited(patient.person_id) == [
        ("health.fhir.patient_lookup", f"client {client_id} (Call centre)"),
        ("health.fhir.find", f"client {client_id} (Call centre), therapist"),
    ]
    actor = {"reference": f"Patient/{patient.person_id}"}
    body = {
        "resourceType": "Appointment",
        "status": "proposed",
        "slot": [{"reference": f"Slot/{slots[0]}"}],
        "participant": [{"actor": actor, "status": "needs-action"}],
    }
    parsed(client.post(f"{FHIR}/Appointment", json=body, headers=maps), 403)
    booked = parsed(client.post(f"{FHIR}/Appointment", json=body, headers=headers), 201)
    listed = parsed(
        client.get(
            f"{FHIR}/Appointment",
            params={"patient": f"Patient/{patient.person_id}"},
            headers=headers,
        )
    )
    assert ids(listed) == [int(booked["id"])]
    # The patient sees it in their own list, booked through the call centre.
    (mine,) = client.get("/api/v1/health/appointments", headers=citizen_headers).json()
    assert (mine["id"], mine["channel"]) == (int(booked["id"]), "call_centre")
    cancelled = parsed(
        client.put(
            f"{FHIR}/Appointment/{booked['id']}",
            json={**booked, "status": "cancelled"},
            headers=headers,
        )
    )
    assert cancelled["status"] == "cancelled"
