"""The server the browser tests share (``shared_server``): one process serves the tests
of a test process one after another, and each test sees only its own data in it."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import empty_database, shared_server
from tests.health_builders import make_clinic

pytestmark = pytest.mark.slow


def _clinics(base_url: str) -> list[int]:
    answer = httpx.get(f"{base_url}/api/v1/health/clinics", timeout=60)
    assert answer.status_code == 200
    return [clinic["id"] for clinic in answer.json()]


def test_the_next_test_is_served_by_the_same_server_without_the_last_ones_data(
    live_server: str, database: str
) -> None:
    first = make_clinic()
    assert _clinics(live_server) == [first.id]

    empty_database(database)  # what the ``database`` fixture does after each test
    with shared_server(database) as again:
        assert again == live_server  # no second start-up
        assert _clinics(again) == []
        clinic = make_clinic()
        # The numbering starts again too, as in a freshly migrated database.
        assert _clinics(again) == [clinic.id] == [first.id]
