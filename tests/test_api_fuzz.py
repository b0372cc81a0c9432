"""Schemathesis runs against the served OpenAPI document as ``schemathesis run --checks
all`` does, every phase (the document's examples, boundary values, fuzzing, chains of
calls) and every check: whatever it sends, valid by the document or not, the API never
answers a 5xx, and what it answers is what the document says (status codes, content
types, headers, bodies, the ``Allow`` of a 405, invalid input refused, the bearer token
required where it is declared).

The project's settings for those checks are in ``schemathesis.toml`` (the command line
reads the same file). The engine runs in-process on the application, in a plain test
rather than schemathesis' pytest plugin, so that each run gets its own fresh database
from the ``database`` fixture, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from infocity.app import create_app
from tests import builders

ROOT = Path(__file__).resolve().parents[1]
# Per operation and phase: about a minute for each database on two cores.
EXAMPLES_PER_OPERATION = 10
# Revokes the token it is sent: run on its own, or every later call would be a 401.
LOG_OUT = "accounts_revoke_token"


def _schema() -> Any:
    # A real citizen's bearer token, so the run reaches past the login check.
    settings = f"""
workers = 1
headers = {{ Authorization = "Bearer {builders.citizen_api_token()}" }}

[generation]
max-examples = {EXAMPLES_PER_OPERATION}
deterministic = true

"""
    config = SchemathesisConfig.from_str(settings + (ROOT / "schemathesis.toml").read_text())
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(), config=config)


def _failures(schema: Any) -> tuple[int, list[str]]:
    """How many operations ran, and every failed check or error, one line each."""
    operations, failures = set(), []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            operations.add(event.recorder.label)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(
                            f"{event.recorder.label}: {check.name}: {failure.title}: "
                            f"{failure.message} ({check.failure_info.code_sample})"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {event}")
    return len(operations), sorted(set(failures))


@pytest.mark.slow
def test_api_answers_as_its_document_says(database: str) -> None:
    ran, failures = _failures(_schema().exclude(operation_id=LOG_OUT))
    ran_log_out, log_out_failures = _failures(_schema().include(operation_id=LOG_OUT))
    assert ran > 50
    assert ran_log_out == 1
    assert failures + log_out_failures == []
