"""Several app processes behave as one: a session made in one is known to the other, and
a rate limit counts attempts made through either."""

from __future__ import annotations

import httpx
import pytest

from tests import builders
from tests.conftest import run_server
from tests.support.forms import form_token


def _csrf(client: httpx.Client, base_url: str) -> str:
    return form_token(client.get(f"{base_url}/login"))


@pytest.mark.slow
def test_session_and_rate_limit_are_shared_by_separate_processes(database: str) -> None:
    citizen = builders.make_citizen()
    with run_server(database) as first, run_server(database) as second:
        # One browser: its cookies go to both servers (same host, different ports).
        with httpx.Client(follow_redirects=False, timeout=10) as browser:
            token = _csrf(browser, first)
            logged_in = browser.post(
                f"{first}/login",
                data={
                    "identifier": citizen.identifier,
                    "password": citizen.password,
                    "csrf_token": token,
                },
            )
            assert logged_in.status_code == 303
            cabinet = browser.get(f"{second}/cabinet")
            assert cabinet.status_code == 200
            assert "/logout" in cabinet.text

        # Wrong passwords alternate between the servers; the limit still holds.
        with httpx.Client(follow_redirects=False, timeout=10) as attacker:
            statuses = []
            for attempt in range(14):
                base_url = first if attempt % 2 else second
                token = _csrf(attacker, base_url)
                answer = attacker.post(
                    f"{base_url}/login",
                    data={
                        "identifier": citizen.identifier,
                        "password": "wrong-password-1",
                        "csrf_token": token,
                    },
                )
                statuses.append(answer.status_code)
        # Ten attempts per account per 15 minutes, the successful login above included:
        # nine wrong passwords are answered, the tenth and later are refused.
        assert 429 not in statuses[:9]
        assert set(statuses[9:]) == {429}
