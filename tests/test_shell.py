"""The web shell: language, errors in the user's language, health endpoints."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import api_token, bearer, csrf_token, make_citizen


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


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/api/v1/no-such-thing"), client.get("/login")):
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in response.headers  # plain HTTP here
        assert response.headers.get("cache-control") != "no-store"  # nobody logged in
    assert client.get("/kiosk").headers["cache-control"] == "no-store"  # a shared screen


def test_hsts_over_tls(database: str) -> None:
    from infocity.app import create_app

    with TestClient(create_app(), base_url="https://testserver") as tls_client:
        assert "max-age=" in tls_client.get("/").headers["strict-transport-security"]


def test_pages_of_someone_logged_in_are_not_cached(client: TestClient) -> None:
    citizen = make_citizen()
    logged_in = client.post(
        "/login",
        data={
            "identifier": citizen.identifier,
            "password": citizen.password,
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert logged_in.headers["cache-control"] == "no-store"
    assert client.get("/cabinet").headers["cache-control"] == "no-store"
    assert client.get("/").headers["cache-control"] == "no-store"
    token = api_token(client, citizen.identifier, citizen.password)
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=bearer(token)).headers["cache-control"] == "no-store"


def test_api_docs_are_served_from_the_package_not_a_cdn(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text
    assert "/api/v1/docs/files/swagger-ui-bundle.js" in page.text
    assert "'unsafe-inline'" in page.headers["content-security-policy"]  # Swagger's start-up
    script = client.get("/api/v1/docs/files/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
