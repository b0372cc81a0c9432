"""Password reset: a one-hour, single-use link sent in the citizen's language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts import service
from infocity.accounts.service import password_reset
from infocity.core import channels, worker
from infocity.core.db import utcnow
from infocity.core.errors import InvalidInput, Unauthenticated
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from tests.builders import PASSWORD, csrf_token, login_page_client, make_citizen

NEW_PASSWORD = "a-brand-new-secret"


def reset_messages() -> list[OutboxMessage]:
    with UnitOfWork() as uow:
        messages = list(
            uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "password_reset")
                .order_by(OutboxMessage.created_at)
            )
        )
        uow.session.expunge_all()  # keep them readable after the unit of work rolls back
        return messages


def reset_token() -> str:
    link = reset_messages()[-1].link
    assert link is not None
    return link.rsplit("/reset/", 1)[1]


def test_reset_link_is_queued_in_the_citizens_language(client: TestClient) -> None:
    english = client.post(
        "/api/v1/auth/register",
        json={
            "email": "jane@example.org",
            "phone": "+79035556677",
            "password": PASSWORD,
            "last_name": "Smith",
            "first_name": "Jane",
        },
        headers={"Accept-Language": "en"},
    )
    assert english.status_code == 201
    make_citizen(email="anna@example.ru")

    for identifier in ("jane@example.org", "anna@example.ru"):
        response = client.post("/api/v1/auth/password-reset", json={"identifier": identifier})
        assert response.status_code == 202

    messages = reset_messages()
    assert sorted((m.address, m.channel, m.locale) for m in messages) == [
        ("+79035556677", "sms", "en"),
        ("anna@example.ru", "email", "ru"),
        ("jane@example.org", "email", "en"),
    ]
    by_address = {m.address: m for m in messages}
    assert by_address["jane@example.org"].subject == "Resetting your InfoCity password"
    assert "Hello, Jane Smith!" in by_address["jane@example.org"].body
    assert by_address["anna@example.ru"].subject == "Восстановление пароля в Инфогороде"
    assert "60 минут" in by_address["anna@example.ru"].body
    link = by_address["anna@example.ru"].link
    assert link is not None
    assert link.startswith("http://127.0.0.1:8000/reset/")
    assert link in by_address["anna@example.ru"].body
    assert all(m.status == "queued" for m in messages)


def test_the_answer_does_not_tell_whether_an_account_exists(client: TestClient) -> None:
    make_citizen(email="anna@example.ru")
    known = client.post("/api/v1/auth/password-reset", json={"identifier": "anna@example.ru"})
    unknown = client.post("/api/v1/auth/password-reset", json={"identifier": "who@example.ru"})
    garbage = client.post("/api/v1/auth/password-reset", json={"identifier": "not a login"})
    assert known.status_code == unknown.status_code == garbage.status_code == 202
    assert known.json() == unknown.json() == garbage.json()
    assert "Если учётная запись" in known.json()["message"]
    assert len(reset_messages()) == 1

    token = csrf_token(client, "/reset")
    pages = [
        client.post("/reset", data={"identifier": identifier, "csrf_token": token})
        for identifier in ("anna@example.ru", "who@example.ru")
    ]
    assert pages[0].url == pages[1].url
    assert pages[0].text == pages[1].text


def test_the_link_sets_a_new_password_once_and_logs_out_everywhere(client: TestClient) -> None:
    citizen = make_citizen(email="anna@example.ru")
    login_page_client(client, citizen.identifier, PASSWORD)
    app_token = service.issue_api_token(citizen.identifier, PASSWORD, "phone")
    service.request_password_reset("anna@example.ru", ip=None)
    token = reset_token()

    page = client.get(f"/reset/{token}")
    assert page.status_code == 200
    done = client.post(
        f"/reset/{token}",
        data={"new_password": NEW_PASSWORD, "csrf_token": csrf_token(client, f"/reset/{token}")},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/login?reset=1"

    # The browser that was logged in, and the app, are logged out.
    assert client.get("/cabinet", follow_redirects=False).status_code == 303
    assert service.principal_from_api_token(app_token.access_token) is None
    with pytest.raises(Unauthenticated):
        service.login(citizen.identifier, PASSWORD, user_agent=None, ip=None)
    assert service.login(citizen.identifier, NEW_PASSWORD, user_agent=None, ip=None)

    again = client.post(
        f"/reset/{token}",
        data={"new_password": "yet-another-secret", "csrf_token": csrf_token(client)},
    )
    assert again.status_code == 422
    assert "уже использована" in again.text
    assert service.login(citizen.identifier, NEW_PASSWORD, user_agent=None, ip=None)


def test_an_expired_link_is_refused(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    citizen = make_citizen()
    service.request_password_reset(citizen.identifier, ip=None)
    token = reset_token()
    two_hours_later = utcnow() + timedelta(hours=2)
    monkeypatch.setattr(password_reset, "utcnow", lambda: two_hours_later)
    with pytest.raises(InvalidInput) as refused:
        service.reset_password(token, NEW_PASSWORD)
    assert refused.value.code == "invalid_reset_token"
    monkeypatch.undo()
    assert service.login(citizen.identifier, PASSWORD, user_agent=None, ip=None)


def test_a_weak_new_password_is_refused_and_the_link_still_works(client: TestClient) -> None:
    citizen = make_citizen(email="anna@example.ru")
    service.request_password_reset(citizen.identifier, ip=None)
    token = reset_token()
    weak = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "1234567890"}
    )
    assert weak.status_code == 422
    assert weak.json()["error"] == {
        "code": "password_all_digits",
        "message": "Пароль не должен состоять только из цифр.",
        "field": "new_password",
    }
    ok = client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert ok.status_code == 204


def test_reset_requests_are_rate_limited(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from infocity.core.errors import RateLimited
    from infocity.core.settings import get_settings

    monkeypatch.setenv("INFOCITY_RESET_REQUESTS_PER_HOUR", "2")
    get_settings.cache_clear()
    citizen = make_citizen()
    service.request_password_reset(citizen.identifier, ip="10.0.0.1")
    service.request_password_reset(citizen.identifier.upper(), ip="10.0.0.2")
    with pytest.raises(RateLimited):
        service.request_password_reset(citizen.identifier, ip="10.0.0.3")
    assert len(reset_messages()) == 2


def outbox_rows() -> list[tuple[str, str, str | None, str]]:
    """(channel, status, link, body) of every reset message, as stored."""
    return [(m.channel, m.status, m.link, m.body) for m in reset_messages()]


def test_the_stored_link_is_wiped_once_delivered(database: str) -> None:
    make_citizen(phone="+79035556677")  # the demo has no SMS gateway: SMS go to the inbox
    service.request_password_reset("+79035556677", ip=None)
    [(_, _, link, body)] = outbox_rows()
    assert link is not None
    assert link in body
    Worker("test").deliver_due()
    [(channel, status, stored_link, stored_body)] = outbox_rows()
    assert (channel, status, stored_link) == ("sms", "sent", None)
    assert "/reset/" not in stored_body
    assert "60 минут" in stored_body  # the rest of the record stays


def test_a_link_that_expired_undelivered_is_not_sent_and_is_wiped(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_citizen(email="anna@example.ru")
    service.request_password_reset("anna@example.ru", ip=None)
    [reset] = reset_messages()
    # The mail server was down for longer than the link lives.
    two_hours_later = utcnow() + timedelta(hours=2)
    monkeypatch.setattr(worker, "utcnow", lambda: two_hours_later)
    sent: list[str] = []
    monkeypatch.setitem(channels.SENDERS, "email", lambda delivery: sent.append(delivery.id))
    Worker("test").deliver_due()
    [(channel, status, link, body)] = outbox_rows()
    assert (channel, status, link) == ("email", "failed", None)
    assert "/reset/" not in body
    assert reset.id not in sent
