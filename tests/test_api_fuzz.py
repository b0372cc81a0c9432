"""Schemathesis fuzzes every JSON route from the served OpenAPI document: whatever it
sends, the API answers with a documented client error or success, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from infocity.web.app import create_app
from tests import builders


@pytest.fixture
def api_schema(database: str) -> Any:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app())


@pytest.fixture
def auth_headers(database: str) -> dict[str, str]:
    """A real citizen's bearer token, so the fuzzer reaches past the login check."""
    token = builders.citizen_api_token()
    return {"Authorization": f"Bearer {token}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_a_server_error(case: Any, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=auth_headers, checks=[not_a_server_error])
