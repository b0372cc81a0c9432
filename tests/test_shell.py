"""The web shell: language, errors in the user's language, health endpoints."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_home_page_is_russian_by_default_and_english_on_request(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="ru">' in page.text
    assert "Городские услуги" in page.text

    switched = client.get("/lang/en?next=/", follow_redirects=True)
    assert '<html lang="en">' in switched.text
    assert "City services" in switched.text


def test_language_switch_never_redirects_to_another_site(client: TestClient) -> None:
    response = client.get("/lang/en?next=//evil.example/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_unknown_api_route_answers_json_error_in_users_language(client: TestClient) -> None:
    ru = client.get("/api/v1/no-such-thing")
    assert ru.status_code == 404
    assert ru.json()["error"]["code"] == "not_found"
    assert ru.json()["error"]["message"] == "По этому адресу ничего не найдено."

    en = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert en.json()["error"]["message"] == "Nothing was found at this address."


def test_readyz_reports_database_and_migrations(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_each_response_carries_a_request_id(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"


def test_metrics_are_exposed_for_prometheus(client: TestClient) -> None:
    client.get("/healthz")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "infocity_http_requests_total" in metrics.text
