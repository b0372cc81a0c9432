"""The citizen's cabinet (/my and /api/v1/portal/overview): one card per city service,
each read through that service's own use cases, with its empty state and its links."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from fastapi.testclient import TestClient

from infocity.core.auth import SYSTEM
from infocity.core.i18n import use_locale
from infocity.core.settings import get_settings
from infocity.health import service as health
from infocity.health.schemas import BookingCreate, HomeVisitCreate, WaitlistEntryCreate
from infocity.housing import service as housing
from infocity.housing.schemas import ServiceRequestCreate
from infocity.portal import service
from tests.builders import api_token, bearer, make_citizen, make_staff
from tests.health_builders import (
    attach,
    city_today,
    make_child,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)
from tests.housing_builders import link, make_apartment, make_operator, set_prices

CARDS = ["applications", "health", "housing", "notifications"]


def _card(overview: dict[str, Any], code: str) -> dict[str, Any]:
    [card] = [c for c in overview["cards"] if c["code"] == code]
    assert isinstance(card, dict)
    return card


def _overview(client: TestClient, identifier: str, password: str, lang: str = "ru") -> Any:
    answer = client.get(
        "/api/v1/portal/overview",
        headers={**bearer(api_token(client, identifier, password)), "Accept-Language": lang},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_service_has_its_card_with_an_empty_state_and_links(client: TestClient) -> None:
    citizen = make_citizen()
    overview = _overview(client, citizen.identifier, citizen.password)
    assert [c["code"] for c in overview["cards"]] == CARDS
    assert all(card["items"] == [] for card in overview["cards"])
    assert _card(overview, "health")["empty"] == "Предстоящих записей нет."
    assert _card(overview, "housing")["title"] == "ЖКХ и коммунальные услуги"
    assert "/housing" in [link["href"] for link in _card(overview, "housing")["links"]]
    assert "/services" in [link["href"] for link in _card(overview, "applications")["links"]]
    english = _overview(client, citizen.identifier, citizen.password, "en")
    assert _card(english, "housing")["empty"] == "No apartment is linked to your cabinet yet."
    assert _card(english, "health")["title"] == "Upcoming appointments"

    staff = make_staff("registrar", make_clinic().id)
    refused = client.get(
        "/api/v1/portal/overview",
        headers=bearer(api_token(client, staff.identifier, staff.password)),
    )
    assert refused.status_code == 403


def test_health_card_shows_the_family_s_times_to_answer_and_to_go_to(
    client: TestClient,
) -> None:
    clinic, kids = make_clinic(), make_clinic("children")
    therapist = make_practitioner(clinic.id, "therapist")
    paediatrician = make_practitioner(kids.id, "paediatrician")
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    child = make_child(patient)
    attach(child.id, kids.id)
    slots = make_slots(therapist.id)
    others = [make_patient() for _ in slots]
    for other in others:
        assert other.person_id is not None
        attach(other.person_id, clinic.id)
    taken = [
        health.book_slot(other.principal, BookingCreate(slot_id=slot))
        for other, slot in zip(others, slots, strict=True)
    ]
    [specialty_id] = {taken[0].specialty_id}
    health.join_waitlist(patient.principal, WaitlistEntryCreate(specialty_id=specialty_id))
    health.cancel_appointment(others[2].principal, taken[2].id)  # kept for the patient now
    child_visit = health.book_slot(
        patient.principal,
        BookingCreate(slot_id=make_slots(paediatrician.id)[0], patient_id=child.id),
    )
    health.request_home_visit(
        patient.principal,
        HomeVisitCreate(
            address="Москва, ул. Тестовая, 1", reason="Температура", contact_phone="+79990001122"
        ),
    )

    card = _card(_overview(client, patient.identifier, patient.password), "health")
    hold, appointment, visit = card["items"]
    assert hold["attention"] is True
    assert hold["note"] == "Для вас придержано время"
    assert [a["href"] for a in hold["actions"]] == [
        f"/health/waitlist#hold-{health.list_my_waitlist(patient.principal)[0].id}"
    ]
    assert appointment["href"] == f"/health/appointments/{child_visit.id}"
    assert {"label": "Пациент", "kind": "text", "value": "Пётр Иванов"} in appointment["facts"]
    assert appointment["actions"][0]["href"].endswith("/reschedule")
    assert visit["note"] == "Заявка получена"
    assert "Москва, ул. Тестовая, 1" in visit["text"]

    # What has begun or was cancelled is no longer upcoming.
    later = service.my_overview(patient.principal, now=child_visit.starts_at + timedelta(minutes=1))
    [health_card] = [c for c in later.cards if c.code == "health"]
    assert [i.href for i in health_card.items] == ["/health/home-visits"]


def test_housing_card_shows_debt_last_bill_readings_window_and_open_requests(
    client: TestClient,
) -> None:
    citizen = make_citizen()
    set_prices()
    apartment = make_apartment(make_operator(), residents=2)
    link(citizen, apartment)
    housing.generate_bills(SYSTEM, housing.readings_window().period)
    filed = housing.file_request(
        citizen.principal,
        ServiceRequestCreate(
            service_code="no_hot_water", description="Нет воды", apartment_id=apartment.id
        ),
    )
    overview = _overview(client, citizen.identifier, citizen.password)
    card = _card(overview, "housing")
    home, window, request = card["items"]
    assert home["href"] == f"/housing/apartments/{apartment.id}"
    assert home["attention"] is True
    assert [f["kind"] for f in home["facts"]] == ["money", "month", "money"]
    assert home["facts"][0]["label"] == "Задолженность"
    assert home["actions"][0]["href"].startswith("/housing/bills/")
    assert window["text"] in (
        "Показания счётчиков принимаются сейчас",
        "Показания счётчиков сейчас не принимаются",
    )
    assert request["href"] == f"/housing/requests/{filed.id}"
    assert request["note"] == "Новая"

    # The window as it stands at the moment of reading: open on the 20th, shut on the 8th.
    zone = get_settings().city_tz
    month = city_today().replace(day=1) + timedelta(days=40)
    for day, text in ((20, "Meter readings are accepted now"), (8, "not accepted")):
        at = datetime.combine(month.replace(day=day), time(12), tzinfo=zone)
        with use_locale("en"):
            later = service.my_overview(citizen.principal, now=at)
        [housing_card] = [c for c in later.cards if c.code == "housing"]
        assert text in housing_card.items[1].text
