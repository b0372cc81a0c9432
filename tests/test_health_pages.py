"""The health pages through real forms (CSRF included), on SQLite and PostgreSQL: each
page for its role only, a booking seen by the registry, refusals that write nothing,
and the kiosk's identification."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork
from infocity.health.models import Appointment, ScheduleRule
from tests.builders import count_rows, csrf_token, login_page_client, make_staff
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)

BIRTH = date(1980, 5, 17)
POLICY = "7700000000001234"


@dataclass
class City:
    clinic_id: int
    other_clinic_id: int
    slots: list[int]
    day: date
    patient_email: str
    registrar_email: str
    stranger_email: str
    admin_email: str
    doctor_email: str


@pytest.fixture
def city(database: str) -> City:
    clinic = make_clinic()
    other = make_clinic()
    practitioner = make_practitioner(clinic.id, "therapist")
    day = city_today() + timedelta(days=1)
    slots = make_slots(practitioner.id, day)
    patient = make_patient(BIRTH, oms_policy=POLICY)
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    return City(
        clinic_id=clinic.id,
        other_clinic_id=other.id,
        slots=slots,
        day=day,
        patient_email=patient.identifier,
        registrar_email=make_staff("registrar", clinic.id).identifier,
        stranger_email=make_staff("registrar", other.id).identifier,
        admin_email=make_staff("clinic_admin", clinic.id).identifier,
        doctor_email=make_staff("doctor", clinic.id).identifier,
    )


def _new_browser() -> TestClient:
    from infocity.app import create_app

    return TestClient(create_app(), base_url="http://testserver")


@pytest.fixture
def third_browser(database: str) -> Iterator[TestClient]:
    with _new_browser() as third:
        yield third


def logged_in(client: TestClient, email: str) -> TestClient:
    return login_page_client(client, email, "correct-horse-battery")


def post(client: TestClient, path: str, data: dict[str, str | int]) -> httpx.Response:
    form = {**{k: str(v) for k, v in data.items()}, "csrf_token": csrf_token(client, "/kiosk")}
    response: httpx.Response = client.post(path, data=form, follow_redirects=False)
    return response


def book_through_pages(client: TestClient, slot_id: int | None = None) -> str:
    """Choose the therapist, a time and confirm, as a citizen would; the ticket's path."""
    home = client.get("/health")
    assert home.status_code == 200
    assert "Терапевт" in home.text
    choice = client.get("/health/book", params={"specialty": "therapist"})
    assert choice.status_code == 200
    links = re.findall(r'href="(/health/book/confirm[^"]+)"', choice.text)
    assert links
    link = links[0].replace("&amp;", "&")
    if slot_id is not None:
        link = re.sub(r"slot=\d+", f"slot={slot_id}", link)
    confirm = client.get(link)
    assert confirm.status_code == 200
    assert "Подтвердите запись" in confirm.text
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    response = client.post("/health/book", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


def test_citizen_books_and_the_registry_sees_it(
    city: City, client: TestClient, browser: TestClient, third_browser: TestClient
) -> None:
    logged_in(client, city.patient_email)
    ticket_path = book_through_pages(client)
    ticket = client.get(ticket_path)
    assert ticket.status_code == 200
    assert "Талон" in ticket.text
    assert "Иванова Анна" in ticket.text
    assert count_rows(Appointment) == 1

    mine = client.get("/health/appointments")
    assert "Иванова Анна" in mine.text
    assert "Предстоящие" in mine.text

    registrar = logged_in(browser, city.registrar_email)
    day = registrar.get("/registry", params={"day": city.day.isoformat()})
    assert day.status_code == 200
    assert "Иванова Анна" in day.text
    with UnitOfWork() as uow:
        audited = uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "health.registry.day")
        )
    assert audited == 1  # the view of the patient's name is in the audit log

    # A registrar of another polyclinic sees nothing of this one.
    stranger = logged_in(third_browser, city.stranger_email)
    assert stranger.get("/registry", params={"clinic": city.clinic_id}).status_code == 403
    own_day = stranger.get("/registry", params={"day": city.day.isoformat()})
    assert own_day.status_code == 200
    assert "Иванова Анна" not in own_day.text


def test_citizen_moves_and_cancels(city: City, client: TestClient) -> None:
    logged_in(client, city.patient_email)
    ticket_path = book_through_pages(client)
    appointment_id = int(ticket_path.split("/")[-1].split("?")[0])

    page = client.get(f"/health/appointments/{appointment_id}/reschedule")
    assert page.status_code == 200
    new_slot = city.slots[-1]
    moved = post(client, f"/health/appointments/{appointment_id}/reschedule", {"slot_id": new_slot})
    assert moved.status_code == 303
    new_id = int(moved.headers["location"].split("/")[-1].split("?")[0])
    assert "перенесена" in client.get(moved.headers["location"]).text

    cancelled = post(client, f"/health/appointments/{new_id}/cancel", {})
    assert cancelled.status_code == 303
    with UnitOfWork() as uow:
        statuses = dict(uow.session.execute(select(Appointment.id, Appointment.status)).all())
    assert statuses == {appointment_id: "rescheduled", new_id: "cancelled_by_patient"}


def test_each_page_is_for_its_role(city: City, client: TestClient, browser: TestClient) -> None:
    assert client.get("/health", follow_redirects=False).status_code == 303  # log in first
    assert client.get("/kiosk").status_code == 200  # the kiosk needs no account

    logged_in(client, city.patient_email)
    for path in ("/registry", "/doctor", "/clinic-admin", "/registry/patients"):
        assert client.get(path).status_code == 403, path

    stranger = logged_in(browser, city.stranger_email)
    refused = stranger.get("/registry", params={"clinic": city.clinic_id})
    assert refused.status_code == 403
    own = stranger.get("/registry", params={"day": city.day.isoformat()})
    assert own.status_code == 200
    assert stranger.get("/clinic-admin").status_code == 403
    assert stranger.get("/doctor").status_code == 403
    assert stranger.get("/health", follow_redirects=False).status_code == 303  # to /staff


def test_staff_pages_render_for_their_roles(city: City, browser: TestClient) -> None:
    admin = logged_in(browser, city.admin_email)
    page = admin.get("/clinic-admin")
    assert page.status_code == 200
    assert "Расписание" in page.text
    assert admin.get("/registry").status_code == 200  # a clinic admin also books

    with _new_browser() as doctor_browser:
        doctor = logged_in(doctor_browser, city.doctor_email)
        page = doctor.get("/doctor")
        assert page.status_code == 200
        assert "Мои пациенты" in page.text


def test_refusals_re_render_in_russian_and_write_nothing(
    city: City, client: TestClient, browser: TestClient
) -> None:
    logged_in(client, city.patient_email)
    book_through_pages(client, slot_id=city.slots[0])
    before = count_rows(Appointment)

    # The same time again: the confirmation comes back with the reason.
    confirm = client.get("/health/book/confirm", params={"slot": city.slots[0]})
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    again = client.post("/health/book", data=fields)
    assert again.status_code == 409
    assert 'role="alert"' in again.text
    assert "Это время только что заняли" in again.text
    # Nonsense in the form: a clear error, nothing written.
    nonsense = post(client, "/health/book", {"slot_id": "abc"})
    assert nonsense.status_code == 422
    assert "Некоторые поля заполнены неверно" in nonsense.text
    assert count_rows(Appointment) == before

    # A forged form (no CSRF token) is refused.
    forged = client.post("/health/book", data={"slot_id": str(city.slots[1])})
    assert forged.status_code == 403
    assert count_rows(Appointment) == before

    # The clinic admin's schedule form keeps what was typed and says what is wrong.
    admin = logged_in(browser, city.admin_email)
    rules_before = count_rows(ScheduleRule)
    page = admin.get("/clinic-admin")
    practitioner_id = re.search(r'name="practitioner_id"[^>]*>\s*<option value="(\d+)"', page.text)
    assert practitioner_id
    refused = post(
        admin,
        "/clinic-admin/rules",
        {
            "clinic_id": city.clinic_id,
            "practitioner_id": practitioner_id.group(1),
            "weekday": 2,
            "start_time": "09:00",
            "end_time": "12:00",
            "valid_from": "2030-05-10",
            "valid_to": "2030-05-01",
        },
    )
    assert refused.status_code == 422
    assert "Дата окончания не может быть раньше даты начала" in refused.text
    assert 'value="2030-05-10"' in refused.text
    assert count_rows(ScheduleRule) == rules_before


def test_kiosk_identifies_books_and_forgets(city: City, client: TestClient) -> None:
    wrong = post(client, "/kiosk", {"oms_policy": POLICY, "birth_date": "1980-05-18"})
    assert wrong.status_code == 404
    assert "не найден" in wrong.text
    assert "infocity_kiosk" not in client.cookies
    assert client.get("/kiosk/specialties", follow_redirects=False).status_code == 303

    right = post(client, "/kiosk", {"oms_policy": POLICY, "birth_date": BIRTH.isoformat()})
    assert right.status_code == 303
    home = client.get("/kiosk/specialties")
    assert home.status_code == 200
    assert 'class="kiosk"' in home.text
    slots = client.get("/kiosk/slots", params={"specialty": "therapist"})
    link = re.findall(r'href="(/kiosk/confirm[^"]+)"', slots.text)[0].replace("&amp;", "&")
    confirm = client.get(link)
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    booked = client.post("/kiosk/book", data=fields, follow_redirects=False)
    assert booked.status_code == 303
    ticket = client.get(booked.headers["location"])
    assert "Талон" in ticket.text
    assert count_rows(Appointment) == 1

    finished = post(client, "/kiosk/finish", {})
    assert finished.status_code == 303
    assert client.get(booked.headers["location"], follow_redirects=False).status_code == 303
    assert client.get("/kiosk/specialties", follow_redirects=False).status_code == 303


def test_registrar_finds_books_and_cancels_for_a_patient(city: City, browser: TestClient) -> None:
    registrar = logged_in(browser, city.registrar_email)
    wrong = post(
        registrar,
        "/registry/patients",
        {"clinic_id": city.clinic_id, "oms_policy": POLICY, "birth_date": "1999-01-01"},
    )
    assert wrong.status_code == 404
    card = post(
        registrar,
        "/registry/patients",
        {"clinic_id": city.clinic_id, "oms_policy": POLICY, "birth_date": BIRTH.isoformat()},
    )
    assert card.status_code == 200
    assert "Иванова Анна" in card.text
    person_id = re.search(r"/registry/patients/(\d+)/book", card.text)
    assert person_id
    slots = registrar.get(
        f"/registry/patients/{person_id.group(1)}/book",
        params={"clinic": city.clinic_id, "specialty": "therapist"},
    )
    assert slots.status_code == 200
    booked = post(
        registrar,
        f"/registry/patients/{person_id.group(1)}/book",
        {"clinic_id": city.clinic_id, "slot_id": city.slots[2], "specialty": "therapist"},
    )
    assert booked.status_code == 303
    with UnitOfWork() as uow:
        appointment_id, channel = uow.session.execute(
            select(Appointment.id, Appointment.channel)
        ).one()
    assert channel == "registry"
    day = registrar.get("/registry", params={"day": city.day.isoformat()})
    assert "Иванова Анна" in day.text
    cancelled = post(
        registrar,
        f"/registry/appointments/{appointment_id}/cancel",
        {
            "next": f"/registry?clinic={city.clinic_id}&day={city.day.isoformat()}",
            "reason": "Врач на учёбе",
        },
    )
    assert cancelled.status_code == 303
    assert "Иванова Анна" not in registrar.get(cancelled.headers["location"]).text


def test_clinic_admin_previews_an_absence_before_applying_it(
    city: City, client: TestClient, browser: TestClient
) -> None:
    logged_in(client, city.patient_email)
    ticket = client.get(book_through_pages(client, slot_id=city.slots[0]))
    number = re.search(r'class="ticket-number">([^<]+)<', ticket.text)
    assert number

    admin = logged_in(browser, city.admin_email)
    page = admin.get("/clinic-admin")
    practitioner_id = re.search(r'name="practitioner_id"[^>]*>\s*<option value="(\d+)"', page.text)
    assert practitioner_id
    absence = {
        "clinic_id": city.clinic_id,
        "practitioner_id": practitioner_id.group(1),
        "kind": "sick_leave",
        "date_from": city.day.isoformat(),
        "date_to": city.day.isoformat(),
    }
    preview = post(admin, "/clinic-admin/exceptions", {**absence, "step": "preview"})
    assert preview.status_code == 200
    assert "Затронутые записи" in preview.text
    assert number.group(1) in preview.text
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(Appointment.status)) == "booked"  # nothing yet

    token = re.search(r'name="preview" value="([0-9a-f]+)"', preview.text)
    assert token
    applied = post(
        admin, "/clinic-admin/exceptions", {**absence, "step": "apply", "preview": token.group(1)}
    )
    assert applied.status_code == 303
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(Appointment.status)) == "cancelled_by_clinic"
