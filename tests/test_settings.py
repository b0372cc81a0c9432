"""Settings: safe defaults for a laptop, refusals for a careless production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infocity.core.settings import PLACEHOLDER_SECRET, Settings


def test_development_defaults_to_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFOCITY_DATABASE_URL", raising=False)
    settings = Settings(environment="development")
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("var/infocity.db")


def test_production_refuses_placeholder_secrets() -> None:
    with pytest.raises(ValidationError, match="INFOCITY_SECRET_KEY"):
        Settings(environment="production", secret_key=PLACEHOLDER_SECRET)


def test_production_accepts_secrets_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s" * 40 + "\n")
    hook = tmp_path / "hook"
    hook.write_text("h" * 40)
    monkeypatch.setenv("INFOCITY_SECRET_KEY_FILE", str(secret))
    monkeypatch.setenv("INFOCITY_WEBHOOK_SECRET_FILE", str(hook))
    settings = Settings(environment="production", secure_cookies=True)
    assert settings.secret_key == "s" * 40
    assert settings.webhook_secret == "h" * 40


def test_unknown_city_time_zone_is_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(city_timezone="Mars/Olympus")


def test_production_refuses_to_start_without_secure_cookies() -> None:
    secrets: dict[str, Any] = {"secret_key": "s" * 40, "webhook_secret": "h" * 40}
    with pytest.raises(ValidationError, match="INFOCITY_SECURE_COOKIES"):
        Settings(environment="production", **secrets)
    assert Settings(environment="production", secure_cookies=True, **secrets).secure_cookies


def test_an_sms_gateway_needs_its_kannel_account() -> None:
    url = "http://127.0.0.1:13013/cgi-bin/sendsms"
    with pytest.raises(ValidationError, match="INFOCITY_SMS_GATEWAY_USERNAME"):
        Settings(sms_gateway_url=url, sms_gateway_username="infocity")
    settings = Settings(
        sms_gateway_url=url, sms_gateway_username="infocity", sms_gateway_password="secret"
    )
    assert settings.sms_sender == "InfoCity"
    with pytest.raises(ValidationError, match="sms_sender"):
        Settings(sms_sender="Город Москва")
