"""A refused form says why, on SQLite and PostgreSQL: a reason about no field on the form
is shown at the top instead of "correct the marked fields" with nothing marked, invalid
input is marked at its field, and registration reports every mistake at once."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts.models import User
from infocity.core.uow import UnitOfWork
from infocity.health.models import Specialty, WaitlistEntry
from tests.builders import count_rows, login_page_client, make_citizen
from tests.health_builders import attach, make_clinic, make_patient
from tests.support.forms import submit as submit_form

CHECK_FIELDS = "Исправьте отмеченные поля."


class Alerts(HTMLParser):
    """The texts of the page's alerts and the names of the inputs marked invalid."""

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[str] = []
        self.invalid: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("aria-invalid") == "true" and values.get("name"):
            self.invalid.append(str(values["name"]))
        if values.get("role") == "alert":
            self._depth = 1
            self.alerts.append("")
        elif self._depth:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.alerts[-1] += data


def read(response: httpx.Response) -> Alerts:
    alerts = Alerts()
    alerts.feed(response.text)
    alerts.alerts = [" ".join(text.split()) for text in alerts.alerts]
    return alerts


def submit(client: TestClient, page_path: str, path: str, data: dict[str, Any]) -> httpx.Response:
    return submit_form(client, client.get(page_path), path, data)


def test_waiting_list_for_a_referral_specialty_says_a_referral_is_needed(
    client: TestClient,
) -> None:
    clinic = make_clinic()
    patient = make_patient(date(1980, 5, 17))
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    with UnitOfWork() as uow:
        cardiologist = uow.session.scalars(
            select(Specialty.id).where(Specialty.code == "cardiologist")
        ).one()
    login_page_client(client, patient.identifier, patient.password)

    refused = submit(
        client,
        "/health/waitlist",
        "/health/waitlist",
        {"patient_id": patient.person_id, "specialty_id": cardiologist},
    )

    assert 400 <= refused.status_code < 500
    alerts = read(refused).alerts
    # The patient has no referral, so the page has no referral field to mark.
    assert "К этому специалисту записывают по направлению лечащего врача." in alerts
    assert CHECK_FIELDS not in alerts
    assert count_rows(WaitlistEntry) == 0


def test_a_short_payer_code_is_marked_at_its_field(client: TestClient) -> None:
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)

    refused = submit(client, "/housing", "/housing/link", {"payer_code": "77012", "number": "12"})

    assert refused.status_code == 422
    page = read(refused)
    assert page.invalid == ["payer_code"]
    # The summary at the top, and the reason at the field it is about.
    assert page.alerts == [CHECK_FIELDS, "Недопустимое значение."]


def test_a_problem_report_refused_as_invalid_says_why(client: TestClient) -> None:
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)

    refused = submit(
        client,
        "/housing/requests/new",
        "/housing/requests/new",
        {"service_code": "no_hot_water", "description": "x" * 4001},
    )

    assert refused.status_code == 422
    # This form marks no field: the reason itself is at the top.
    assert read(refused).alerts == ["Слишком длинное значение."]


def test_registration_reports_every_mistake_at_once(client: TestClient) -> None:
    users = count_rows(User)
    refused = submit(
        client,
        "/register",
        "/register",
        {
            "last_name": "Смирнова1",
            "first_name": "Ольга",
            "email": "not-an-email",
            "phone": "12",
            "password": "short",
        },
    )

    assert refused.status_code == 422
    page = read(refused)
    assert sorted(page.invalid) == ["email", "last_name", "password", "phone"]
    assert page.alerts[0] == CHECK_FIELDS
    assert "Пароль должен быть не короче 10 символов." in page.alerts
    assert count_rows(User) == users


def test_registration_with_an_empty_name_still_reports_the_other_mistakes(
    client: TestClient,
) -> None:
    refused = submit(
        client,
        "/register",
        "/register",
        {"last_name": "", "first_name": "Ольга", "email": "not-an-email", "password": "short"},
    )

    assert refused.status_code == 422
    page = read(refused)
    assert sorted(page.invalid) == ["email", "last_name", "password"]
    assert "Это поле обязательно." in page.alerts  # the empty name: required, not "letters only"
    assert "Пароль должен быть не короче 10 символов." in page.alerts


def test_the_api_lists_every_refused_field_of_a_registration(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={"last_name": "Смирнова1", "first_name": "Ольга", "email": "x", "password": "short"},
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert {item["field"] for item in error["fields"]} == {"last_name", "email", "password"}
