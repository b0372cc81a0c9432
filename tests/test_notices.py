"""Notifications a person can read: lines apart, times as people write them, links
clickable, in the recipient's language; e-mail with an HTML part, SMS short; the demo
mailbox; and the base URL the links are built on."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from babel.dates import format_datetime
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from infocity import cli
from infocity.accounts import service as accounts
from infocity.core.i18n import use_locale
from infocity.core.models import InboxMessage, OutboxMessage
from infocity.core.outbox import notify
from infocity.core.settings import Settings, base_url_mismatch, get_settings
from infocity.core.templating import render_message
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from infocity.health import service as health
from infocity.health.schemas import BookingCreate
from tests.builders import make_citizen
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots
from tests.support.http import http_receiver
from tests.support.mail import MailRecorder, smtp_server
from tests.support.users import add_citizen, login_cookie

BASE_URL = "http://city.example:8123"


@pytest.fixture
def settings_env(settings_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The shared fixture, with links in messages pointing at the notices' base URL."""
    settings_env.setenv("INFOCITY_BASE_URL", BASE_URL)
    get_settings.cache_clear()
    return settings_env


@pytest.fixture
def mailbox(database: str, settings_env: pytest.MonkeyPatch) -> Iterator[MailRecorder]:
    """A real SMTP server the settings point at."""
    with smtp_server() as (controller, recorder):
        settings_env.setenv("INFOCITY_SMTP_HOST", "127.0.0.1")
        settings_env.setenv("INFOCITY_SMTP_PORT", str(controller.port))
        get_settings.cache_clear()
        yield recorder


REMINDER_CONTEXT: dict[str, Any] = {
    "patient_name": "Анна",
    "specialty": "терапевт",
    "specialty_en": "therapist",
    "practitioner": "Петров П. П.",
    "room": "204",
    "clinic": "Поликлиника № 1",
    "clinic_en": "Polyclinic No. 1",
    "address": "ул. Тверская, 1",
    "starts_at": datetime(2026, 12, 2, 10, 15, tzinfo=UTC),  # 13:15 in Moscow
    "ticket": "T-01",
    "confirm_link": f"{BASE_URL}/health/appointments/1/confirm?token=a",
    "cancel_link": f"{BASE_URL}/health/appointments/1/cancel?token=b",
}


def test_a_reminder_has_one_fact_per_line_and_the_time_as_people_write_it() -> None:
    with use_locale("ru"):
        subject, body = render_message(
            "health/messages/appointment_reminder.txt", **REMINDER_CONTEXT, link=None
        )
    lines = body.split("\n")
    assert subject == "Напоминание о записи к врачу"
    assert "Врач: Петров П. П." in lines
    assert "Кабинет: 204" in lines
    assert "Поликлиника: Поликлиника № 1, ул. Тверская, 1" in lines
    assert f"Подтвердить, что вы придёте: {REMINDER_CONTEXT['confirm_link']}" in lines
    assert f"Отменить запись: {REMINDER_CONTEXT['cancel_link']}" in lines
    assert "13:15, 2 декабря 2026" in body
    assert "13:15:00" not in body
    assert "Москва" not in body


def test_an_english_users_booking_email_is_english_multipart_with_clickable_links(
    mailbox: MailRecorder, client: TestClient, uow: UnitOfWork
) -> None:
    clinic = make_clinic()
    practitioner = make_practitioner(clinic.id, "therapist")
    [slot_id, *_] = make_slots(practitioner.id)
    patient = make_patient()  # registered from the Russian interface
    attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
    # The patient switches the site to English while logged in.
    client.cookies.update(login_cookie(uow, patient.id))
    client.get("/lang/en", follow_redirects=False)

    appointment = health.book_slot(patient.principal, BookingCreate(slot_id=slot_id))
    Worker("test").deliver_due()

    [mail] = [m for m in mailbox.messages if m["Subject"] == "Appointment booked"]
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert html is not None
    text, markup = plain.get_content(), html.get_content()
    with use_locale("en"):
        when = format_datetime(
            appointment.starts_at, "HH:mm, d MMMM y", tzinfo=get_settings().city_tz, locale="en"
        )
    lines = text.rstrip().split("\n")
    assert f"Doctor: {practitioner.name}" in lines
    assert f"Room: {practitioner.room}" in lines
    assert any(line.startswith("Polyclinic: ") for line in lines)
    assert when in text
    assert lines[-1] == f"{BASE_URL}/health/appointments"
    assert f'<a href="{BASE_URL}/health/appointments">' in markup
    assert f"Doctor: {practitioner.name}<br>" in markup


def test_html_part_escapes_what_the_text_holds(mailbox: MailRecorder, uow: UnitOfWork) -> None:
    citizen = add_citizen(uow, locale="en")
    with uow:
        notify(
            uow.session,
            citizen,
            kind="notice",
            template="portal/notifications/service_notice.txt",
            context={"title": "<b>Water</b>", "name": "Ann & Bob", "text": "<script>x</script>"},
            link="/inbox",
            channels=["email"],
        )
        uow.commit()
    Worker("test").deliver_due()
    [mail] = mailbox.messages
    html = mail.get_body(("html",))
    assert html is not None
    markup = html.get_content()
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert "Ann &amp; Bob" in markup
    assert f'<a href="{BASE_URL}/inbox">' in markup


def test_an_sms_is_a_short_line_and_one_link(
    settings_env: pytest.MonkeyPatch, uow: UnitOfWork
) -> None:
    citizen = add_citizen(uow, locale="ru", email=False, phone=True)
    with http_receiver() as gateway:
        settings_env.setenv("INFOCITY_SMS_GATEWAY_URL", gateway.url)
        settings_env.setenv("INFOCITY_SMS_GATEWAY_USERNAME", "infocity")
        settings_env.setenv("INFOCITY_SMS_GATEWAY_PASSWORD", "secret")
        get_settings.cache_clear()
        with uow:
            notify(
                uow.session,
                citizen,
                kind="appointment_reminder",
                template="health/messages/appointment_reminder.txt",
                context=REMINDER_CONTEXT,
                link="/health/appointments",
                channels=["sms"],
            )
            uow.commit()
        Worker("test").deliver_due()
    [request] = gateway.requests
    text = request.body.decode()
    assert text == f"Напоминание о записи к врачу\n{BASE_URL}/health/appointments"
    assert len(re.findall(r"https?://", text)) == 1


def test_links_in_an_inbox_message_are_clickable(client: TestClient, uow: UnitOfWork) -> None:
    citizen = add_citizen(uow, email=False)
    with uow:
        [message] = notify(
            uow.session,
            citizen,
            kind="appointment_reminder",
            template="health/messages/appointment_reminder.txt",
            context=REMINDER_CONTEXT,
            link="/health/appointments",
        )
        uow.commit()
    Worker("test").deliver_due()
    with uow:
        inbox_id = uow.session.scalar(
            select(InboxMessage.id).where(InboxMessage.outbox_id == message.id)
        )
    assert citizen.user_id is not None
    client.cookies.update(login_cookie(uow, citizen.user_id))
    page = client.get(f"/inbox/{inbox_id}").text
    for name in ("confirm_link", "cancel_link"):
        url = str(REMINDER_CONTEXT[name]).replace("&", "&amp;")
        assert f'<a href="{url}">' in page
    assert "Кабинет: 204<br>" in page


def test_an_english_app_login_makes_the_users_messages_english(uow: UnitOfWork) -> None:
    citizen = make_citizen()
    with use_locale("en"):
        accounts.issue_api_token(citizen.identifier, citizen.password, "phone")
    with uow:
        assert accounts.recipient_for_user(uow.session, citizen.id).locale == "en"


# --- The demo mailbox ------------------------------------------------------------------


def test_demo_mailbox_shows_a_phone_accounts_reset_link_to_anyone(
    settings_env: pytest.MonkeyPatch, client: TestClient
) -> None:
    settings_env.setenv("INFOCITY_DEMO_MAILBOX", "true")
    get_settings.cache_clear()
    make_citizen(phone="+79001234567")
    accounts.request_password_reset("+79001234567", ip=None)
    Worker("test").deliver_due()

    page = client.get("/demo/mailbox")  # nobody logged in
    assert page.status_code == 200
    links = re.findall(rf'<a href="({re.escape(BASE_URL)}/reset/[^"]+)">', page.text)
    assert len(links) == 1
    assert "+79001234567" in page.text
    reset_form = client.get(links[0].removeprefix(BASE_URL))
    assert reset_form.status_code == 200
    with UnitOfWork() as uow:
        statuses = set(uow.session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent"}  # nothing left retrying against an absent server
    assert 'href="/demo/mailbox"' in client.get("/login").text
    assert 'href="/demo/mailbox"' in client.get("/reset").text


def test_without_the_demo_mailbox_the_page_is_not_found(client: TestClient) -> None:
    assert get_settings().demo_mailbox_on is False
    assert client.get("/demo/mailbox").status_code == 404
    assert 'href="/demo/mailbox"' not in client.get("/login").text


def test_the_demo_mailbox_is_refused_in_production() -> None:
    secret = "s" * 40
    with pytest.raises(ValidationError, match="INFOCITY_DEMO_MAILBOX"):
        Settings(
            environment="production",
            secret_key=secret,
            webhook_secret=secret,
            secure_cookies=True,
            demo_mailbox=True,
        )
    assert not Settings(
        environment="production", secret_key=secret, webhook_secret=secret, secure_cookies=True
    ).demo_mailbox_on
    assert Settings(environment="development").demo_mailbox_on


# --- The base URL ----------------------------------------------------------------------


@pytest.mark.parametrize(("port", "warned"), [(8123, True), (8000, False)])
def test_serve_warns_when_links_would_not_reach_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, port: int, warned: bool
) -> None:
    monkeypatch.delenv("INFOCITY_BASE_URL", raising=False)
    get_settings.cache_clear()
    monkeypatch.setattr("infocity.core.logging.configure_logging", lambda: None)
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(cli.app, ["serve", "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert ("links in messages will not work" in caplog.text) is warned


@pytest.mark.parametrize(
    ("base_url", "host", "port", "warns"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", 8000, False),
        ("http://127.0.0.1:8000", "127.0.0.1", 8080, True),
        ("http://localhost:8000", "0.0.0.0", 8000, False),
        ("http://127.0.0.1:8000", "192.168.1.5", 8000, True),
        ("http://192.168.1.5:8000", "192.168.1.5", 9000, True),
        ("http://localhost", "127.0.0.1", 8000, True),
        ("https://city.example", "127.0.0.1", 8000, False),  # a proxy in front
    ],
)
def test_a_base_url_that_does_not_reach_the_server_is_told(
    base_url: str, host: str, port: int, warns: bool
) -> None:
    assert (base_url_mismatch(base_url, host, port) is not None) is warns
