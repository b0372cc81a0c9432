"""The JSON API of accounts and the city directory: error shapes, nothing written on bad
input, every error documented in OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from infocity.accounts.models import Person, User
from tests.builders import (
    PASSWORD,
    api_token,
    bearer,
    count_rows,
    make_citizen,
    make_district,
    make_organisation,
    make_staff,
)

GOOD = {
    "email": "olga@example.ru",
    "password": PASSWORD,
    "last_name": "Смирнова",
    "first_name": "Ольга",
}


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"email": "olga@"}, "invalid_email", "email"),
        ({"email": None, "phone": "12345"}, "invalid_phone", "phone"),
        ({"email": None}, "contact_required", "email"),
        ({"password": "short"}, "password_too_short", "password"),
        ({"password": "olga@example.ru"}, "password_is_login", "password"),
        ({"first_name": "Ольга2"}, "invalid_name", "first_name"),
    ],
)
def test_bad_registration_is_refused_with_a_code_and_field_and_writes_nothing(
    client: TestClient, change: dict[str, Any], code: str, field: str
) -> None:
    response = client.post("/api/v1/auth/register", json={**GOOD, **change})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    assert (count_rows(User), count_rows(Person)) == (0, 0)


def test_malformed_bodies_are_422_with_each_field_named(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "x" * 300, "password": PASSWORD, "first_name": "Ольга", "role": "admin"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == "Some fields are filled in incorrectly."
    fields = {f["field"]: f["message"] for f in error["fields"]}
    assert fields["last_name"] == "This field is required."
    assert fields["email"] == "This value is too long."
    assert "role" in fields
    assert count_rows(User) == 0
    not_json = client.post(
        "/api/v1/auth/register", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422


def test_registration_answers_the_new_account(client: TestClient) -> None:
    response = client.post("/api/v1/auth/register", json={**GOOD, "phone": "8 916 000 11 22"})
    assert response.status_code == 201
    user = response.json()
    assert user["email"] == "olga@example.ru"
    assert user["phone"] == "+79160001122"
    assert user["kind"] == "citizen"
    assert user["roles"] == [{"role": "citizen", "organisation_id": None}]
    assert "password" not in str(user)


def test_bad_bearer_tokens_are_refused(client: TestClient) -> None:
    for header in ("Bearer nonsense", "Basic abc", "Bearer "):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/me").json()["error"]["code"] == "login_required"


def test_out_of_range_numbers_are_422_not_500(client: TestClient) -> None:
    admin = make_staff("city_admin")
    token = bearer(api_token(client, admin.identifier, admin.password))
    huge = 2**70
    assert client.get(f"/api/v1/organisations/{huge}").status_code == 422
    assert client.get(f"/api/v1/admin/audit?actor_user_id={huge}", headers=token).status_code == 422
    assert (
        client.get("/api/v1/admin/audit?since=2026-01-01T00:00:00", headers=token).status_code
        == 422
    )
    ok = client.get("/api/v1/admin/audit?since=2026-01-01T00:00:00Z", headers=token)
    assert ok.status_code == 200
    devices = client.post(
        "/api/v1/admin/devices",
        json={"organisation_id": huge, "kind": "till", "name": "Till"},
        headers=token,
    )
    assert devices.status_code == 422


def test_city_directory(client: TestClient) -> None:
    district = make_district(code="CAO", name="Центральный")
    clinic = make_organisation("clinic", name="Поликлиника №1", district_id=district.id)
    make_organisation("school", name="Школа №57", district_id=district.id)
    assert client.get("/api/v1/districts").json() == [
        {"id": district.id, "code": "CAO", "name": "Центральный", "name_en": "Central"}
    ]
    clinics = client.get("/api/v1/organisations", params={"kind": "clinic"}).json()
    assert [o["name"] for o in clinics] == ["Поликлиника №1"]
    assert len(client.get("/api/v1/organisations").json()) == 2
    assert client.get(f"/api/v1/organisations/{clinic.id}").json()["kind"] == "clinic"
    missing = client.get("/api/v1/organisations/999999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "organisation_not_found"


def test_every_accounts_route_documents_its_errors(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "ErrorRead" in spec["components"]["schemas"]
    expected = {
        ("post", "/api/v1/auth/register"): {"409", "422", "429"},
        ("post", "/api/v1/auth/token"): {"401", "422", "429"},
        ("get", "/api/v1/me"): {"401", "403"},
        ("patch", "/api/v1/me"): {"401", "403", "409", "422"},
        ("post", "/api/v1/me/children"): {"401", "403", "409", "422"},
        ("get", "/api/v1/staff/citizens"): {"401", "403", "422", "429"},
        ("get", "/api/v1/admin/audit"): {"401", "403", "422"},
        ("post", "/api/v1/admin/staff"): {"401", "403", "409", "422"},
        ("post", "/api/v1/admin/devices"): {"401", "403", "422"},
    }
    for (method, path), statuses in expected.items():
        documented = set(spec["paths"][path][method]["responses"])
        assert statuses <= documented, (method, path)
        for status in statuses - {"422"}:
            schema = spec["paths"][path][method]["responses"][status]["content"]
            assert schema["application/json"]["schema"]["$ref"].endswith("/ErrorRead")


def test_a_citizen_account_can_use_the_api_by_phone(client: TestClient) -> None:
    citizen = make_citizen(phone="+79035550000")
    token = api_token(client, "8 903 555 00 00", citizen.password)
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["phone"] == "+7 *** ***-**-00"


def test_control_characters_are_refused_on_every_backend(client: TestClient) -> None:
    admin = make_staff("city_admin")
    token = bearer(api_token(client, admin.identifier, admin.password))
    staff = client.post(
        "/api/v1/admin/staff",
        json={
            "email": "a@city.ru",
            "display_name": "A\x00B",
            "role": "analyst",
            "password": PASSWORD,
        },
        headers=token,
    )
    assert staff.status_code == 422
    assert staff.json()["error"]["fields"] == [
        {"field": "display_name", "message": "Значение содержит недопустимые символы."}
    ]
    app = client.post(
        "/api/v1/auth/token",
        json={"identifier": admin.identifier, "password": admin.password, "name": "phone\x00"},
    )
    assert app.status_code == 422
    # Query parameters are refused before any route reads them: 400, naming the parameter.
    audit = client.get("/api/v1/admin/audit?action=%00", headers=token)
    assert audit.status_code == 400
    assert audit.json()["error"]["field"] == "action"


def test_the_json_api_sets_no_cookies_while_pages_get_their_csrf_cookie(
    client: TestClient,
) -> None:
    # The API authenticates with bearer tokens only: a cookie there would be noise for
    # apps, and a signed CSRF token per answer is CPU the release rush needs.
    api = client.get("/api/v1/health/specialties")
    assert api.status_code == 200
    assert "set-cookie" not in api.headers
    assert "set-cookie" not in client.get("/open311/v2/services.json").headers
    page = client.get("/login")
    assert page.status_code == 200
    assert "infocity_csrf=" in page.headers["set-cookie"]
