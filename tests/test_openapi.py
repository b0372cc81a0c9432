"""The OpenAPI document is one a client generator can use, and it says what the API
really answers: operation ids, the bearer scheme on the protected operations, one name
per schema, errors as ``ErrorRead``, formats that match the values."""

from __future__ import annotations

import json
import re
from collections import Counter
from enum import StrEnum
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from infocity.app import create_app
from infocity.city.models import ORGANISATION_KINDS
from infocity.city.schemas import OrganisationKind
from infocity.core.auth import Role
from infocity.core.settings import get_settings
from infocity.health import models as health
from infocity.health import rules as health_rules
from infocity.health import schemas as health_schemas
from infocity.portal.rules import Status
from infocity.portal.schemas import ApplicationStatus
from tests.builders import api_token, bearer, citizen_api_token, make_citizen, make_staff
from tests.health_builders import make_clinic, make_practitioner

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = create_app().openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = spec["paths"][path][method]
    return operation


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on the first error


def test_every_operation_has_a_readable_unique_id(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in _operations(spec)]
    assert len(ids) > 50
    assert all(isinstance(i, str) and re.fullmatch(r"[a-z]+_[a-z_]+", i) for i in ids), ids
    assert [i for i, count in Counter(ids).items() if count > 1] == []
    assert _operation(spec, "post", "/api/v1/health/appointments")["operationId"] == "health_book"


def test_protected_operations_declare_the_bearer_scheme(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The token from POST /api/v1/auth/token: Authorization: Bearer <token>",
    }
    secured = {
        (method, path)
        for method, path, operation in _operations(spec)
        if operation.get("security") == [{"bearer": []}]
    }
    assert ("post", "/api/v1/health/appointments") in secured
    assert ("get", "/api/v1/me") in secured
    assert ("get", "/api/v1/inbox") in secured
    assert ("post", "/api/v1/portal/applications") in secured
    # Public operations ask for nothing.
    for public in (
        ("get", "/api/v1/health/specialties"),
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/token"),
        ("post", "/api/v1/health/kiosk/appointments"),
        ("get", "/api/v1/portal/services"),
    ):
        assert public not in secured, public
    # Every operation that answers 401 is one that takes the token (but the log-in), or
    # a device's key (turnstiles and tills).
    devices = {
        (method, path)
        for method, path, operation in _operations(spec)
        if operation.get("security") == [{"device_key": []}]
    }
    assert ("post", "/api/v1/cards/devices/events") in devices
    for method, path, operation in _operations(spec):
        if "401" in operation["responses"] and path != "/api/v1/auth/token":
            assert (method, path) in secured | devices, (method, path)


def test_schema_names_are_unique_and_every_reference_resolves(spec: dict[str, Any]) -> None:
    names = set(spec["components"]["schemas"])
    # FastAPI falls back to module-qualified names when two models share a name.
    assert [n for n in names if "__" in n] == []
    assert "ApplicationAttachmentRead" in names  # the portal's; health has its own
    references = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert references <= names
    detail = _operation(spec, "get", "/api/v1/portal/applications/{application_id}")
    assert detail["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApplicationDetailRead"
    }


def test_errors_are_documented_as_the_api_answers_them(
    spec: dict[str, Any], client: TestClient
) -> None:
    assert "HTTPValidationError" not in json.dumps(spec)
    error = {"$ref": "#/components/schemas/ErrorRead"}
    for _method, path, operation in _operations(spec):
        responses = operation["responses"]
        if "422" in responses:
            assert responses["422"]["content"]["application/json"]["schema"] == error, path
        if "requestBody" in operation:
            assert responses["400"]["content"]["application/json"]["schema"] == error, path
    for method, path in (
        ("delete", "/api/v1/health/schedule-rules/{rule_id}"),
        ("get", "/api/v1/organisations/{organisation_id}"),
        ("get", "/api/v1/portal/services"),
    ):
        assert _operation(spec, method, path)["responses"]["422"]["content"] == {
            "application/json": {"schema": error}
        }

    # What the API answers for those: a 400 for a body that is not UTF-8, a 422 shaped so.
    unreadable = client.post(
        "/api/v1/auth/register",
        content=b'{"email": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert unreadable.status_code == 400
    assert unreadable.json()["error"]["code"] == "bad_request"
    invalid = client.get("/api/v1/organisations/0")
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_input"


def test_formats_and_enums_match_the_values(spec: dict[str, Any], client: TestClient) -> None:
    schemas = spec["components"]["schemas"]
    release = schemas["SpecialtyRead"]["properties"]["release_time"]
    assert "format" not in release  # JSON Schema's "time" needs a UTC offset
    make_clinic()  # and the specialties with it
    specialties = client.get("/api/v1/health/specialties").json()
    assert specialties
    for specialty in specialties:
        assert re.fullmatch(release["pattern"], specialty["release_time"])
    assert schemas["SpecialtyRead"]["properties"]["booking_mode"]["enum"] == [
        "direct",
        "referral",
    ]
    assert "enum" in schemas["AppointmentRead"]["properties"]["status"]
    assert "enum" in schemas["WaitlistEntryRead"]["properties"]["status"]
    assert "enum" in schemas["HomeVisitRead"]["properties"]["status"]

    download = _operation(
        spec, "get", "/api/v1/portal/applications/{application_id}/attachments/{attachment_id}"
    )
    content = download["responses"]["200"]["content"]
    assert set(content) == {"application/pdf", "image/jpeg", "image/png"}
    for media in content.values():
        assert media["schema"] == {"type": "string", "format": "binary"}


def test_method_not_allowed_names_every_method_of_the_path(client: TestClient) -> None:
    options = client.options("/api/v1/health/appointments")
    assert options.status_code == 405
    assert options.headers["allow"] == "GET, POST"
    assert options.json()["error"]["code"] == "method_not_allowed"
    # read-all is not a message id: GET is refused as a method, not as invalid input.
    headers = {"Authorization": f"Bearer {citizen_api_token()}"}
    read_all = client.get("/api/v1/inbox/read-all", headers=headers)
    assert read_all.status_code == 405
    assert read_all.headers["allow"] == "POST"
    assert client.post("/api/v1/inbox/read-all", headers=headers).status_code == 200
    assert client.get("/api/v1/inbox/abc", headers=headers).status_code == 404


def test_input_the_document_does_not_allow_is_refused(client: TestClient) -> None:
    clinic = make_clinic()
    doctor = make_practitioner(clinic.id)
    admin = make_staff(Role.CLINIC_ADMIN, clinic.id)
    headers = bearer(api_token(client, admin.identifier, admin.password))
    rule = {
        "practitioner_id": doctor.id,
        "weekday": 0,
        "start_time": "08:00",
        "end_time": "14:00",
        "valid_from": "2030-01-07",
    }
    # A number is no "HH:MM:SS": read as seconds in UTC it made an aware time that the
    # schedule checks could not compare (a 500). An offset is not a wall-clock time.
    for end_time in (0, 50400, "14:00:00Z", "14:00+03:00", "2 pm"):
        refused = client.post(
            "/api/v1/health/schedule-rules", json={**rule, "end_time": end_time}, headers=headers
        )
        assert refused.status_code == 422, (end_time, refused.text)
        assert refused.json()["error"]["fields"][0]["field"] == "end_time"
    # A date is YYYY-MM-DD, not seconds since 1970 nor a midnight.
    for valid_from in (1893974400, "1893974400", "2030-01-07T00:00:00"):
        refused = client.post(
            "/api/v1/health/schedule-rules",
            json={**rule, "valid_from": valid_from},
            headers=headers,
        )
        assert refused.status_code == 422, (valid_from, refused.text)
    assert (
        client.post("/api/v1/health/schedule-rules", json=rule, headers=headers).status_code == 201
    )

    city_admin = make_staff(Role.CITY_ADMIN)
    admin_headers = bearer(api_token(client, city_admin.identifier, city_admin.password))
    for until in ("0.5", "1700000000"):
        audit = client.get("/api/v1/admin/audit", params={"until": until}, headers=admin_headers)
        assert audit.status_code == 422, until
    audit = client.get(
        "/api/v1/admin/audit", params={"until": "2030-01-01T00:00:00Z"}, headers=admin_headers
    )
    assert audit.status_code == 200


def test_too_many_attempts_say_when_to_retry(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOCITY_LOGIN_ATTEMPTS_PER_15MIN", "1")
    get_settings.cache_clear()
    citizen = make_citizen()
    wrong = {"identifier": citizen.identifier, "password": "wrong-password"}
    assert client.post("/api/v1/auth/token", json=wrong).status_code == 401
    refused = client.post("/api/v1/auth/token", json=wrong)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60


def test_enums_of_the_document_are_the_stored_values() -> None:
    assert get_args(OrganisationKind) == ORGANISATION_KINDS
    assert get_args(ApplicationStatus) == tuple(s.value for s in Status)
    for literal, stored in (
        (health_schemas.BookingMode, values(health_rules.BookingMode)),
        (health_schemas.Audience, values(health_rules.Audience)),
        (health_schemas.ClinicKind, values(health_rules.ClinicKind)),
        (health_schemas.Sex, values(health_rules.Sex)),
        (health_schemas.AppointmentStatus, values(health_rules.AppointmentStatus)),
        (health_schemas.Channel, health.CHANNELS),
        (health_schemas.ExceptionKind, health.EXCEPTION_KINDS),
        (health_schemas.ReferralStatus, values(health_rules.ReferralStatus)),
        (health_schemas.WaitlistStatus, values(health_rules.WaitlistStatus)),
        (health_schemas.HomeVisitStatus, values(health_rules.HomeVisitStatus)),
    ):
        assert get_args(literal) == stored


def values(kind: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in kind)
