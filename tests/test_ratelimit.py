"""Rate limits: counted in the database, sliding, and refusing with a clear message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infocity.core import ratelimit
from infocity.core.errors import RateLimited
from infocity.core.i18n import use_locale

WINDOW = 900  # 15 minutes
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a window boundary


def test_the_attempt_past_the_limit_is_refused_with_a_russian_message(database: str) -> None:
    for attempt in range(5):
        ratelimit.hit(
            "login:anna", limit=5, window_seconds=WINDOW, now=START + timedelta(seconds=attempt)
        )
    with pytest.raises(RateLimited) as refused, use_locale("ru"):
        ratelimit.hit("login:anna", limit=5, window_seconds=WINDOW, now=START)
    with use_locale("ru"):
        assert "Слишком много попыток" in refused.value.translated()
    # Another key is counted on its own.
    ratelimit.hit("login:sergey", limit=5, window_seconds=WINDOW, now=START)


def test_a_burst_does_not_double_across_a_window_boundary(database: str) -> None:
    just_before = START + timedelta(seconds=WINDOW - 2)
    for _ in range(5):
        ratelimit.hit("reset:anna", limit=5, window_seconds=WINDOW, now=just_before)
    # Two seconds later a new fixed window has begun, but the last 15 minutes still
    # hold five attempts: refused.
    with pytest.raises(RateLimited):
        ratelimit.hit(
            "reset:anna", limit=5, window_seconds=WINDOW, now=START + timedelta(seconds=WINDOW + 1)
        )


def test_attempts_are_allowed_again_once_a_whole_window_has_passed(database: str) -> None:
    for _ in range(5):
        ratelimit.hit("lookup:staff", limit=5, window_seconds=WINDOW, now=START)
    later = START + timedelta(seconds=2 * WINDOW + 1)
    assert ratelimit.hit("lookup:staff", limit=5, window_seconds=WINDOW, now=later) == 1
