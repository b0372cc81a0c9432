"""Limits on what a request may carry: control characters in any text, the size of a
body, who may send an upload, and values the database refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError

from infocity.app import create_app
from tests.builders import bearer, citizen_api_token, csrf_token

MIB = 1024 * 1024


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/portal/services?q=%00",
        "/api/v1/organisations?kind=%00",
        "/api/v1/portal/services?q=a%1Fb",
    ],
)
def test_control_characters_in_a_query_are_refused_in_the_users_language(
    client: TestClient, path: str
) -> None:
    refused = client.get(path)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_characters"
    assert error["field"] in ("q", "kind")
    assert "недопустимые" in error["message"]
    english = client.get(path, headers={"Accept-Language": "en"}).json()["error"]
    assert english["message"] == "This value contains characters that are not allowed."


def test_control_characters_are_refused_on_pages_and_open311(client: TestClient) -> None:
    page = client.get("/services?q=%00")
    assert page.status_code == 400
    assert "text/html" in page.headers["content-type"]
    assert "недопустимые" in page.text
    open311 = client.get("/open311/v2/requests.json?service_code=%00")
    assert open311.status_code == 400
    # Open311 answers errors in its own shape: a list of {code, description}.
    assert open311.json()[0]["code"] == 400
    in_path = client.get("/open311/v2/services/a%00b.json")  # 404 without the check
    assert in_path.status_code == 400
    assert client.get("/api/v1/portal/services?q=%D0%B2%D0%BE%D0%B4%D0%B0").status_code == 200


def test_control_characters_in_a_form_field_are_refused(client: TestClient) -> None:
    token = csrf_token(client)
    refused = client.post(
        "/login",
        data={"identifier": "a\x00b@example.org", "password": "x", "csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert "недопустимые" in refused.text
    # Tab and line breaks are what text areas send: a wrong password, not bad characters.
    wrong = client.post(
        "/login",
        data={"identifier": "a@example.org", "password": "x\r\n\ty", "csrf_token": token},
        follow_redirects=False,
    )
    assert "недопустимые" not in wrong.text


def test_a_value_the_database_refuses_is_a_400(database: str) -> None:
    app = create_app()

    def overflow() -> None:
        raise DataError("INSERT …", {}, Exception("numeric field overflow"))

    app.add_api_route("/api/v1/test-overflow", overflow)
    app.add_api_route("/test-overflow", overflow)
    with TestClient(app) as client:
        refused = client.get("/api/v1/test-overflow")
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "bad_request"
        assert client.get("/test-overflow").status_code == 400


def test_a_body_above_the_limit_is_refused(client: TestClient) -> None:
    big = {"identifier": "x" * (2 * MIB), "password": "p"}
    refused = client.post("/api/v1/auth/token", json=big)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"identifier": "'
        for _ in range(3):
            yield b"x" * MIB
        yield b'", "password": "p"}'

    chunked = client.post(
        "/api/v1/auth/token", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "too_large"


def _call(app: FastAPI, path: str, headers: dict[str, str], body: bytes) -> tuple[int, int]:
    """Send one request straight to the ASGI app; the status and how many times the
    app read from the client (0: not a byte of the body was read)."""
    reads = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return status, reads


def test_nothing_is_read_of_a_body_declared_too_large(database: str) -> None:
    app = create_app()
    headers = {"Content-Type": "application/json", "Content-Length": str(100 * MIB)}
    assert _call(app, "/api/v1/auth/token", headers, b"{}") == (413, 0)


def test_an_upload_is_read_only_from_a_logged_in_caller(database: str) -> None:
    app = create_app()
    headers = {
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(300 * MIB),
    }
    path = "/api/v1/portal/applications/1/attachments"
    assert _call(app, path, headers, b"--x--") == (401, 0)
    assert _call(app, path, {**headers, "Authorization": "Bearer nope"}, b"--x--") == (401, 0)
    # Pages: the browser is sent to the login form, and nothing was read either.
    assert _call(app, "/applications/1/attachments", headers, b"--x--") == (303, 0)
    logged_in = {**headers, **bearer(citizen_api_token())}
    assert _call(app, path, logged_in, b"--x--") == (413, 0)


def test_an_upload_may_be_larger_than_other_bodies(client: TestClient) -> None:
    headers = bearer(citizen_api_token())
    upload = client.post(
        "/api/v1/portal/applications/999/attachments",
        files={"file": ("scan.pdf", b"%PDF-" + b"0" * (3 * MIB), "application/pdf")},
        headers=headers,
    )
    assert upload.status_code == 404  # read, and refused for what it is, not for its size
    too_big = client.post(
        "/api/v1/portal/applications/999/attachments",
        files={"file": ("scan.pdf", b"%PDF-" + b"0" * (7 * MIB), "application/pdf")},
        headers=headers,
    )
    assert too_big.status_code == 413


def test_control_characters_in_any_json_body_are_refused_naming_the_field(
    client: TestClient,
) -> None:
    # Comments are not read into InputModel: the check before the route covers them too.
    headers = bearer(citizen_api_token())
    refused = client.post(
        "/api/v1/portal/applications/1/comments",
        json={"body": "hello\u0007"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == [
        {"field": "body", "message": "Значение содержит недопустимые символы."}
    ]
    nested = client.post(
        "/api/v1/portal/applications",
        json={"type": "clinic_attachment", "form": {"note": ["ok", "a\u0000b"]}},
        headers=headers,
    )
    assert nested.status_code == 422
    assert nested.json()["error"]["fields"][0]["field"] == "form.note.1"
    # Line breaks and tabs are text; an escaped backslash before "u0000" is not a NUL.
    fine = client.post(
        "/api/v1/portal/applications/1/comments",
        content=b'{"body": "line one\\r\\nline\\ttwo \\\\u0000"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert fine.status_code == 404  # no such application: read, and not refused for its text
    # Three backslashes: an escaped backslash, then an escaped NUL; DEL may come raw.
    for body in (b'{"body": "x \\\\\\u0000"}', b'{"body": "x \x7f"}'):
        odd = client.post(
            "/api/v1/portal/applications/1/comments",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert odd.status_code == 422, body
        assert odd.json()["error"]["fields"][0]["field"] == "body"


def test_the_housing_request_form_refuses_nul_and_keeps_line_breaks(client: TestClient) -> None:
    from infocity.housing.models import ServiceRequest
    from tests.builders import count_rows, login_page_client, make_citizen
    from tests.housing_builders import link, make_apartment, make_operator

    apartment = make_apartment(make_operator())
    citizen = make_citizen()
    link(citizen, apartment)
    login_page_client(client, citizen.identifier, citizen.password)
    form = {
        "service_code": "heating",
        "apartment_id": str(apartment.id),
        "csrf_token": csrf_token(client, "/housing/requests/new"),
    }
    refused = client.post("/housing/requests/new", data={**form, "description": "Холодно\x00"})
    assert refused.status_code == 400
    assert "недопустимые" in refused.text
    assert count_rows(ServiceRequest) == 0
    filed = client.post(
        "/housing/requests/new",
        data={**form, "description": "Холодно.\r\n\tВторой этаж."},
        follow_redirects=False,
    )
    assert filed.status_code == 303
    assert count_rows(ServiceRequest) == 1
    back_office = client.get("/back-office?status=%00")
    assert back_office.status_code == 400
