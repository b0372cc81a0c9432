"""Schemathesis fuzzes every JSON route of the served OpenAPI document: whatever it
sends, the API answers with a client error or success, never a 5xx.

The operations are driven from a plain test (rather than schemathesis' pytest plugin) so
that each run gets its own fresh database from the ``database`` fixture, on SQLite and
on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from infocity.web.app import create_app
from tests import builders

EXAMPLES_PER_OPERATION = 20


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()


@pytest.mark.slow
def test_api_never_answers_a_server_error(database: str) -> None:
    # A real citizen's bearer token, so the fuzzer reaches past the login check.
    headers = {"Authorization": f"Bearer {builders.citizen_api_token()}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10
    failures = []
    for operation in operations:
        try:
            _fuzz(operation, headers)
        except Exception as exc:  # collect all, so one run shows every broken route
            failures.append(f"{operation.label}: {exc}")
    assert failures == []
