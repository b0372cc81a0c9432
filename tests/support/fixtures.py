"""Fixtures several test modules share (registered in tests/conftest.py): health's world
and its check that a refusal changed nothing, housing's readings window open every day."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infocity.core.settings import get_settings
from tests.health_builders import health_snapshot, make_world
from tests.support.refusals import Unchanged, refusals_change_nothing


@pytest.fixture
def world(database: str) -> dict[str, Any]:
    """A polyclinic with doctors, free times and attached patients (``make_world``)."""
    return make_world()


@pytest.fixture
def unchanged(database: str) -> Unchanged:
    """A refusal of health's use cases, and nothing of what they write changed."""
    return refusals_change_nothing(health_snapshot)


@pytest.fixture
def always_open(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A readings window from the 15th to the 14th of the next month: open every day."""
    monkeypatch.setenv("INFOCITY_READINGS_WINDOW_START_DAY", "15")
    monkeypatch.setenv("INFOCITY_READINGS_WINDOW_END_DAY", "14")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
