"""The patient's own district doctor is offered first: a polyclinic's districts, each
served by a district doctor's post, and a patient's district recorded at the registry (on
SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.errors import AppError
from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Attachment, Practitioner
from infocity.health.schemas import BookingCreate, DistrictUpdate
from tests.builders import Account, api_token, bearer, logged_in, make_staff
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)
from tests.support.forms import submit


@dataclass
class Polyclinic:
    clinic_id: int
    other: int  # a therapist who serves no district
    district_doctor: int  # the therapist of district 7
    neighbour: int  # the therapist of district 8
    patient: Account  # attached, district not yet known


@pytest.fixture
def polyclinic(database: str) -> Polyclinic:
    clinic = make_clinic()
    # Created in this order so that the district doctor is neither first by id nor by name.
    other = make_practitioner(clinic.id)
    district_doctor = make_practitioner(clinic.id, district=7)
    neighbour = make_practitioner(clinic.id, district=8)
    day = city_today() + timedelta(days=1)
    for doctor in (other, district_doctor, neighbour):
        make_slots(doctor.id, day)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    return Polyclinic(clinic.id, other.id, district_doctor.id, neighbour.id, patient)


def _doctors(page: str) -> list[int]:
    return [int(d) for d in re.findall(r'<li data-doctor="(\d+)">', page)]


def _district(person_id: int) -> int | None:
    with UnitOfWork() as uow:
        return uow.session.scalar(
            select(Attachment.district).where(
                Attachment.person_id == person_id, Attachment.valid_to.is_(None)
            )
        )


def test_the_district_doctor_comes_first_before_the_patient_ever_booked(
    polyclinic: Polyclinic, client: TestClient
) -> None:
    patient = polyclinic.patient
    assert patient.person_id is not None
    citizen = logged_in(client, patient)
    unknown = citizen.get("/health/book", params={"specialty": "therapist"}).text
    assert "ваш врач" not in unknown  # no district, no history: no doctor is "yours"

    registrar = make_staff("registrar", polyclinic.clinic_id)
    service.set_patient_district(
        registrar.principal,
        patient.person_id,
        DistrictUpdate(clinic_id=polyclinic.clinic_id, district=7),
    )
    page = citizen.get("/health/book", params={"specialty": "therapist"}).text
    assert _doctors(page)[0] == polyclinic.district_doctor
    assert "ваш врач" in page

    # Having once seen another doctor does not push the district doctor down.
    slot = make_slots(polyclinic.other, city_today() + timedelta(days=2))[0]
    service.book_slot(patient.principal, BookingCreate(slot_id=slot))
    again = citizen.get("/health/book", params={"specialty": "therapist"}).text
    assert _doctors(again)[0] == polyclinic.district_doctor

    citizen.cookies.set("lang", "en")
    english = citizen.get("/health/book", params={"specialty": "therapist"}).text
    assert _doctors(english)[0] == polyclinic.district_doctor
    assert "your doctor" in english


def test_the_registrar_records_the_district_on_the_patients_card(
    polyclinic: Polyclinic, client: TestClient
) -> None:
    person_id = polyclinic.patient.person_id
    assert person_id is not None
    desk = logged_in(client, make_staff("registrar", polyclinic.clinic_id))
    card_url = f"/registry/patients/{person_id}?clinic={polyclinic.clinic_id}"
    card = desk.get(card_url)
    assert "Участок" in card.text
    assert "не указан" in card.text
    # The districts to choose from are those the clinic's doctors serve, with their names.
    options = re.findall(r'<option value="(\d+)"', card.text)
    assert options == ["7", "8"]

    saved = submit(
        desk,
        card,
        f"/registry/patients/{person_id}/district",
        {"clinic_id": polyclinic.clinic_id, "district": 8},
    )
    assert saved.status_code == 303
    shown = desk.get(saved.headers["location"])
    assert "Участок пациента сохранён" in shown.text
    assert re.search(r"<dd data-district>№ 8</dd>", shown.text)
    assert _district(person_id) == 8
    with UnitOfWork() as uow:
        audited = uow.session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "health.patient.district")
        ).all()
    assert audited == ["8"]

    # A district no doctor serves is refused at its field, and nothing changes.
    refused = submit(
        desk,
        shown,
        f"/registry/patients/{person_id}/district",
        {"clinic_id": polyclinic.clinic_id, "district": 9},
    )
    assert refused.status_code == 422
    assert "Ни один врач этой поликлиники не обслуживает этот участок." in refused.text
    assert _district(person_id) == 8

    desk.cookies.set("lang", "en")
    english = desk.get(card_url)
    assert "The patient&#39;s district" in english.text or "The patient's district" in english.text
    assert "No. 8" in english.text


def test_only_the_patients_own_clinic_sets_the_district(polyclinic: Polyclinic) -> None:
    person_id = polyclinic.patient.person_id
    assert person_id is not None
    elsewhere = make_clinic()
    make_practitioner(elsewhere.id, district=7)
    stranger = make_staff("registrar", elsewhere.id)
    with pytest.raises(AppError) as caught:
        service.set_patient_district(
            stranger.principal, person_id, DistrictUpdate(clinic_id=elsewhere.id, district=7)
        )
    assert caught.value.code == "patient_not_found"  # as if the id did not exist
    with pytest.raises(AppError) as caught:
        service.set_patient_district(
            stranger.principal, person_id, DistrictUpdate(clinic_id=polyclinic.clinic_id)
        )
    assert caught.value.status == 403
    with pytest.raises(AppError) as caught:
        service.set_patient_district(
            polyclinic.patient.principal,
            person_id,
            DistrictUpdate(clinic_id=polyclinic.clinic_id, district=7),
        )
    assert caught.value.status == 403
    assert _district(person_id) is None


def test_a_doctors_post_is_opened_for_a_district(
    polyclinic: Polyclinic, client: TestClient
) -> None:
    doctor = make_staff("doctor", polyclinic.clinic_id, display_name="Орлова Вера")
    admin = logged_in(client, make_staff("clinic_admin", polyclinic.clinic_id))
    page = admin.get("/clinic-admin", params={"clinic": polyclinic.clinic_id})
    assert "Номер участка" in page.text
    opened = submit(
        admin,
        page,
        "/clinic-admin/posts",
        {
            "clinic_id": polyclinic.clinic_id,
            "user_id": doctor.id,
            "specialty_code": "therapist",
            "room": "301",
            "district": 9,
        },
    )
    assert opened.status_code == 303
    with UnitOfWork() as uow:
        district = uow.session.scalar(
            select(Practitioner.district).where(Practitioner.user_id == doctor.id)
        )
    assert district == 9
    listed = admin.get(opened.headers["location"])
    assert re.search(r"Орлова Вера — [^<]*301, участок № 9</h2>", listed.text)


def test_the_api_records_the_district_for_the_registry(
    polyclinic: Polyclinic, client: TestClient
) -> None:
    person_id = polyclinic.patient.person_id
    assert person_id is not None
    path = f"/api/v1/health/registry/patients/{person_id}/district"
    body = {"clinic_id": polyclinic.clinic_id, "district": 7}
    assert client.put(path, json=body).status_code == 401
    registrar = make_staff("registrar", polyclinic.clinic_id)
    token = api_token(client, registrar.identifier, registrar.password)
    saved = client.put(path, json=body, headers=bearer(token))
    assert saved.status_code == 200
    assert saved.json()["district"] == 7
    refused = client.put(path, json={**body, "district": 0}, headers=bearer(token))
    assert refused.status_code == 422
    assert _district(person_id) == 7
