"""The command line a city IT department uses: migrate, seed, create staff, serve."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from infocity.accounts import service as accounts
from infocity.accounts.schemas import CitizenCreate
from infocity.cli import app
from tests.builders import PASSWORD
from tests.conftest import run_server

runner = CliRunner()


def test_db_upgrade_and_current_report_the_head(database: str) -> None:
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    current = runner.invoke(app, ["db", "current"])
    assert "(current)" in current.output


def test_user_create_makes_a_city_admin_who_can_log_in(database: str) -> None:
    result = runner.invoke(
        app,
        [
            "user",
            "create",
            "--email",
            "chief@city.example",
            "--name",
            "Главный Админ",
            "--role",
            "city_admin",
        ],
        input="a-long-password-1\na-long-password-1\n",
    )
    assert result.exit_code == 0, result.output
    token = accounts.login("chief@city.example", "a-long-password-1", user_agent=None, ip=None)
    principal = accounts.principal_from_session(token)
    assert principal is not None
    assert principal.is_city_admin()


def test_user_create_refuses_an_unknown_role_and_creates_nothing(database: str) -> None:
    result = runner.invoke(
        app,
        ["user", "create", "--email", "x@city.example", "--name", "X", "--role", "overlord"],
        input="a-long-password-1\na-long-password-1\n",
    )
    assert result.exit_code == 2
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal: the account must not exist
        accounts.login("x@city.example", "a-long-password-1", user_agent=None, ip=None)


def test_user_verify_confirms_a_citizen_without_the_link(database: str) -> None:
    user = accounts.register_citizen(
        CitizenCreate(
            phone="+79160001122", password=PASSWORD, last_name="Смирнова", first_name="Ольга"
        )
    )
    result = runner.invoke(app, ["user", "verify", "8 916 000-11-22"])
    assert result.exit_code == 0, result.output
    principal = accounts.principal_for_user(user.id)
    assert principal is not None
    assert principal.verified
    assert runner.invoke(app, ["user", "verify", "nobody@example.ru"]).exit_code == 2


def test_seed_demo_twice_is_harmless(database: str) -> None:
    first = runner.invoke(app, ["seed", "demo"])
    second = runner.invoke(app, ["seed", "demo"])
    assert first.exit_code == 0
    assert "loaded" in first.output
    assert second.exit_code == 0
    assert "already present" in second.output


@pytest.mark.slow
def test_serve_with_two_processes_answers_and_is_ready(database: str) -> None:
    with run_server(database, processes=2) as base_url:
        ready = httpx.get(f"{base_url}/readyz", timeout=5)
        assert ready.status_code == 200
        for _ in range(10):
            assert httpx.get(f"{base_url}/", timeout=5).status_code == 200
        for _ in range(6):
            assert httpx.get(f"{base_url}/api/v1/health/clinics", timeout=5).status_code == 200
        metrics = httpx.get(f"{base_url}/metrics", timeout=5).text
        assert "infocity_http_requests_total" in metrics
        # Summed over both processes, under the full route template.
        api = 'route="/api/v1/health/clinics",status="200"'
        assert (
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("infocity_http_requests_total{") and api in line
            )
            == 6
        )
        # The database figures once, not once per process.
        assert metrics.count("# TYPE infocity_outbox_undelivered gauge") == 1
