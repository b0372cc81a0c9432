"""/metrics as an operator uses it: series that tell API from pages, booking outcomes,
the outbox backlog, the periodic jobs, rate-limit refusals, and who may read it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from infocity.core import jobs, ratelimit
from infocity.core.db import utcnow
from infocity.core.errors import AppError, RateLimited
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.schemas import BookingCreate, RescheduleCreate
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_api_and_page_routes_are_separate_series(client: TestClient) -> None:
    before = scrape(client)
    assert client.get("/api/v1/health/clinics").status_code == 200
    after = scrape(client)
    series = "infocity_http_requests_total"
    api = {"method": "GET", "route": "/api/v1/health/clinics", "status": "200"}
    page = {"method": "GET", "route": "/health/clinics", "status": "200"}
    assert value(after, series, **api) == value(before, series, **api) + 1
    assert value(after, series, **page) == value(before, series, **page)


def test_unmatched_paths_share_one_series(client: TestClient) -> None:
    client.get("/no/such/page/12345")
    samples = scrape(client)
    routes = {
        dict(labels)["route"] for name, labels in samples if name == "infocity_http_requests_total"
    }
    assert "unmatched" in routes
    assert not any("12345" in route for route in routes)


def test_bookings_cancellations_moves_and_refusals_are_counted(client: TestClient) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    patient = make_patient()
    attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
    before = scrape(client)

    booked = service.book_slot(patient.principal, BookingCreate(slot_id=slots[0]))
    with pytest.raises(AppError) as refused:
        service.book_slot(make_patient().principal, BookingCreate(slot_id=slots[0]))
    moved = service.reschedule_appointment(
        patient.principal, booked.id, RescheduleCreate(slot_id=slots[1])
    )
    service.cancel_appointment(patient.principal, moved.id)

    after = scrape(client)
    assert value(after, "infocity_health_bookings_total", channel="app") == (
        value(before, "infocity_health_bookings_total", channel="app") + 1
    )
    code = {"code": refused.value.code}
    assert value(after, "infocity_health_bookings_refused_total", **code) == (
        value(before, "infocity_health_bookings_refused_total", **code) + 1
    )
    for name in ("infocity_health_moves_total", "infocity_health_cancellations_total"):
        assert value(after, name) == value(before, name) + 1


def test_outbox_depth_and_oldest_undelivered_age(client: TestClient) -> None:
    samples = scrape(client)
    assert value(samples, "infocity_metrics_database_up") == 1
    assert value(samples, "infocity_outbox_undelivered") == 0
    assert value(samples, "infocity_outbox_oldest_undelivered_age_seconds") == 0

    clinic = make_clinic()
    slots = make_slots(make_practitioner(clinic.id, "therapist").id)
    patient = make_patient()
    attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
    service.book_slot(patient.principal, BookingCreate(slot_id=slots[0]))  # queues messages
    with UnitOfWork() as uow:
        uow.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(hours=2)))
        uow.commit()
    samples = scrape(client)
    assert value(samples, "infocity_outbox_undelivered") >= 1
    age = value(samples, "infocity_outbox_oldest_undelivered_age_seconds")
    assert 7200 <= age < 7200 + 600

    with UnitOfWork() as uow:
        uow.session.execute(update(OutboxMessage).values(status="sent", sent_at=utcnow()))
        uow.commit()
    samples = scrape(client)
    assert value(samples, "infocity_outbox_undelivered") == 0
    assert value(samples, "infocity_outbox_oldest_undelivered_age_seconds") == 0


def test_each_jobs_last_success_and_failure(client: TestClient) -> None:
    @jobs.periodic("test.metrics_failing", every=timedelta(minutes=1))
    def failing() -> None:
        raise RuntimeError("boom")

    try:
        now = utcnow()
        jobs.ensure_schedules(now)
        assert jobs.run_job(jobs.REGISTRY["core.purge_rate_limits"], "metrics-test", now=now)
        assert not jobs.run_job(jobs.REGISTRY["test.metrics_failing"], "metrics-test", now=now)
        samples = scrape(client)
    finally:
        del jobs.REGISTRY["test.metrics_failing"]
    purge = {"job": "core.purge_rate_limits"}
    last = value(samples, "infocity_job_last_success_timestamp_seconds", **purge)
    assert abs(last - utcnow().timestamp()) < 600
    assert 0 <= value(samples, "infocity_job_last_success_duration_seconds", **purge) < 600
    assert value(samples, "infocity_job_last_run_failed", **purge) == 0
    failed = {"job": "test.metrics_failing"}
    assert value(samples, "infocity_job_last_run_failed", **failed) == 1
    assert ("infocity_job_last_success_timestamp_seconds", frozenset(failed.items())) not in samples


def test_rate_limit_refusals_are_counted_by_limit_not_by_client(client: TestClient) -> None:
    before = scrape(client)
    ratelimit.hit("metrics-test:203.0.113.7", limit=1, window_seconds=3600)
    with pytest.raises(RateLimited):
        ratelimit.hit("metrics-test:203.0.113.7", limit=1, window_seconds=3600)
    after = scrape(client)
    series = "infocity_rate_limit_refusals_total"
    assert (
        value(after, series, limit="metrics-test")
        == value(before, series, limit="metrics-test") + 1
    )
    assert not any("203.0.113.7" in str(labels) for _, labels in after)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set INFOCITY_* variables for one test; the settings are read again after it."""
    yield monkeypatch
    get_settings.cache_clear()


def _production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFOCITY_ENVIRONMENT", "production")
    monkeypatch.setenv("INFOCITY_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("INFOCITY_WEBHOOK_SECRET", "w" * 40)
    monkeypatch.setenv("INFOCITY_SECURE_COOKIES", "true")
    get_settings.cache_clear()


def test_metrics_token_is_required_when_set(
    database: str, settings_env: pytest.MonkeyPatch
) -> None:
    from infocity.app import create_app

    _production(settings_env)
    settings_env.setenv("INFOCITY_METRICS_TOKEN", "scraper-secret-1234")
    get_settings.cache_clear()
    with TestClient(create_app(), client=("203.0.113.9", 4000)) as remote:
        assert remote.get("/metrics").status_code == 401
        wrong = remote.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_token"
        right = remote.get("/metrics", headers={"Authorization": "Bearer scraper-secret-1234"})
        assert right.status_code == 200
        assert "infocity_outbox_undelivered" in right.text


def test_production_without_token_serves_metrics_only_to_this_machine(
    database: str, settings_env: pytest.MonkeyPatch
) -> None:
    from infocity.app import create_app

    _production(settings_env)
    app = create_app()
    with TestClient(app, client=("203.0.113.9", 4000)) as remote:
        refused = remote.get("/metrics")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    with TestClient(app, client=("127.0.0.1", 4000)) as local:
        assert local.get("/metrics").status_code == 200


def test_the_workers_metrics_endpoint_listens_on_this_machine_only_by_default(
    database: str, settings_env: pytest.MonkeyPatch
) -> None:
    from infocity.core import worker

    bound: list[tuple[int, str]] = []
    settings_env.setattr(worker, "start_http_server", lambda port, addr: bound.append((port, addr)))
    settings_env.setattr(worker.Worker, "run", lambda self, once=False: None)
    settings_env.setenv("INFOCITY_WORKER_METRICS_PORT", "9188")
    get_settings.cache_clear()
    worker.run_worker()
    settings_env.setenv("INFOCITY_WORKER_METRICS_HOST", "0.0.0.0")
    get_settings.cache_clear()
    worker.run_worker()
    assert bound == [(9188, "127.0.0.1"), (9188, "0.0.0.0")]
