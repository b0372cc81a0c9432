"""Form markup as a browser reads it: the input attributes the pages ask for arrive as
real attributes (numeric keypad, length limits, autocomplete, number range), and no page
has two elements with one id, so every label points at its own field."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from infocity.health import service
from infocity.health.schemas import BookingCreate
from tests.builders import Account, login_page_client, make_staff
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_doctor,
    make_patient,
    make_practitioner,
    make_slots,
)


class Markup(HTMLParser):
    """The inputs (by name, first of each), every element id and every label's target."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.ids: list[str] = []
        self.label_targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(str(values["id"]))
        if tag == "label" and values.get("for"):
            self.label_targets.append(str(values["for"]))
        if tag in ("input", "select", "textarea") and values.get("name"):
            self.inputs.setdefault(str(values["name"]), values)


def parse(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    return markup


@dataclass
class City:
    patient: Account
    doctor: Account
    registrar: Account
    day: date


@pytest.fixture
def city(database: str) -> City:
    """A therapist with a staff account and a booked patient tomorrow (so the doctor's
    day shows the referral form), a registrar of the same polyclinic."""
    clinic = make_clinic()
    doctor = make_doctor(clinic.id)
    therapist = make_practitioner(clinic.id, "therapist", user_id=doctor.id)
    day = city_today() + timedelta(days=1)
    slots = make_slots(therapist.id, day)
    patient = make_patient(date(1980, 5, 17))
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    service.book_slot(patient.principal, BookingCreate(slot_id=slots[0]))
    return City(patient, doctor, make_staff("registrar", clinic.id), day)


@pytest.fixture
def browsers(database: str) -> Iterator[list[TestClient]]:
    from infocity.app import create_app

    clients = [TestClient(create_app(), base_url="http://testserver") for _ in range(3)]
    for client in clients:
        client.__enter__()
    yield clients
    for client in clients:
        client.__exit__(None, None, None)


# Pages with forms whose ids are checked too (the attributes are checked on EXPECTED's).
OTHER_CITIZEN_PAGES = (
    "/health",
    "/health/waitlist",
    "/health/appointments",
    "/housing/requests/new",
)


def pages(city: City, browsers: list[TestClient]) -> dict[str, str]:
    """Each page of the forms concerned, as its user sees it."""
    citizen, doctor, registrar = browsers
    login_page_client(citizen, city.patient.identifier, city.patient.password)
    login_page_client(doctor, city.doctor.identifier, city.doctor.password)
    login_page_client(registrar, city.registrar.identifier, city.registrar.password)
    with TestClient(citizen.app, base_url="http://testserver") as anonymous:
        kiosk = anonymous.get("/kiosk")
    responses = {
        **{path: citizen.get(path) for path in OTHER_CITIZEN_PAGES},
        "/registry": registrar.get("/registry"),
        "/staff": registrar.get("/staff"),
        "/health/home-visits": citizen.get("/health/home-visits"),
        "/housing": citizen.get("/housing"),
        "/cabinet": citizen.get("/cabinet"),
        "/kiosk": kiosk,
        "/registry/patients": registrar.get("/registry/patients"),
        "/doctor": doctor.get("/doctor", params={"day": city.day.isoformat()}),
    }
    for path, response in responses.items():
        assert response.status_code == 200, path
    return {path: response.text for path, response in responses.items()}


EXPECTED = {
    "/health/home-visits": {
        "address": {"maxlength": "500", "autocomplete": "street-address"},
        "reason": {"maxlength": "1000"},
        "contact_phone": {"autocomplete": "tel"},
    },
    "/housing": {
        "payer_code": {"inputmode": "numeric", "maxlength": "10"},
        "number": {"maxlength": "10"},
    },
    "/kiosk": {
        "oms_policy": {"inputmode": "numeric", "autocomplete": "off"},
        "birth_date": {"autocomplete": "off"},
    },
    "/registry/patients": {"oms_policy": {"inputmode": "numeric", "autocomplete": "off"}},
    "/doctor": {"valid_days": {"min": "1", "max": "365"}},
}


def test_input_attributes_reach_the_browser_unescaped(
    city: City, browsers: list[TestClient]
) -> None:
    rendered = pages(city, browsers)
    for path, fields in EXPECTED.items():
        markup = parse(rendered[path])
        for name, wanted in fields.items():
            attrs = markup.inputs[name]
            got = {key: attrs.get(key) for key in wanted}
            assert got == wanted, (path, name, got)


def test_no_page_has_duplicate_ids_and_every_label_has_its_field(
    city: City, browsers: list[TestClient]
) -> None:
    for path, html in pages(city, browsers).items():
        markup = parse(html)
        duplicates = [i for i, n in Counter(markup.ids).items() if n > 1]
        assert duplicates == [], (path, duplicates)
        assert set(markup.label_targets) <= set(markup.ids), path
