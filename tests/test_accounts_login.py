"""Registration, log-in and log-out, as a citizen experiences them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts import service
from infocity.accounts.models import Person, User
from infocity.accounts.schemas import CitizenCreate
from infocity.accounts.service import registration, sessions
from infocity.core import security
from infocity.core.auth import Action, Role, authorize
from infocity.core.db import dispose_engines, utcnow
from infocity.core.errors import Conflict, Forbidden, InvalidInput, RateLimited, Unauthenticated
from infocity.core.models import OutboxMessage, WebSession
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from tests.builders import (
    PASSWORD,
    api_token,
    bearer,
    count_rows,
    csrf_token,
    login_page_client,
    make_citizen,
    make_organisation,
    make_staff,
    verification_token,
)


def users() -> list[User]:
    with UnitOfWork() as uow:
        found = list(uow.session.scalars(select(User).order_by(User.id)))
        uow.session.expunge_all()
        return found


ROOT = Path(__file__).resolve().parents[1]


def register_form(client: TestClient, **fields: str) -> httpx.Response:
    data = {
        "last_name": "Смирнова",
        "first_name": "Ольга",
        "email": "olga@example.ru",
        "password": PASSWORD,
        "csrf_token": csrf_token(client, "/register"),
        **fields,
    }
    response: httpx.Response = client.post("/register", data=data, follow_redirects=False)
    return response


def test_register_then_log_in_through_the_pages(client: TestClient) -> None:
    registered = register_form(client)
    assert registered.status_code == 303
    assert registered.headers["location"] == "/login?registered=1"
    assert "Учётная запись создана" in client.get("/login?registered=1").text

    logged_in = client.post(
        "/login",
        data={
            "identifier": "OLGA@example.ru",
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == "/cabinet"
    # Not confirmed yet: the cabinet asks for the link sent by e-mail.
    waiting = client.get("/cabinet", follow_redirects=False)
    assert waiting.headers["location"] == "/verify"
    assert "Мы отправили ссылку" in client.get("/verify").text

    [user_id] = [u.id for u in users()]
    token = verification_token(user_id)
    assert "Подтвердить" in client.get(f"/verify/{token}").text
    confirmed = client.post(
        f"/verify/{token}",
        data={"csrf_token": csrf_token(client, f"/verify/{token}")},
        follow_redirects=False,
    )
    assert confirmed.headers["location"] == "/cabinet?saved=verified"
    cabinet = client.get("/cabinet?saved=verified")
    assert cabinet.status_code == 200
    assert "Смирнова Ольга" in cabinet.text
    assert "Почта или телефон подтверждены." in cabinet.text


def test_log_in_by_phone_written_any_way_and_go_back_to_the_page_asked_for(
    client: TestClient,
) -> None:
    make_citizen(phone="+7 (916) 555-44-33")
    asked = client.get("/cabinet", follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=/cabinet"
    response = client.post(
        "/login",
        data={
            "identifier": "8 916 555 44 33",
            "password": PASSWORD,
            "next": "/cabinet?saved=profile",
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/cabinet?saved=profile"


def test_log_in_never_redirects_to_another_site(client: TestClient) -> None:
    citizen = make_citizen()
    response = client.post(
        "/login",
        data={
            "identifier": citizen.identifier,
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/cabinet"


def test_a_second_account_with_the_same_email_or_phone_is_refused(client: TestClient) -> None:
    make_citizen(email="anna@example.ru", phone="+79161234567")
    users, persons = count_rows(User), count_rows(Person)

    same_email = register_form(client, email="Anna@Example.ru")
    assert same_email.status_code == 409
    assert "уже есть" in same_email.text

    same_phone = client.post(
        "/api/v1/auth/register",
        json={
            "phone": "8 916 123-45-67",
            "password": PASSWORD,
            "last_name": "Иванова",
            "first_name": "Анна",
        },
    )
    assert same_phone.status_code == 409
    assert same_phone.json()["error"]["code"] == "account_exists"
    assert (count_rows(User), count_rows(Person)) == (users, persons)


def test_registration_keeps_entered_values_and_shows_field_errors(client: TestClient) -> None:
    response = register_form(client, last_name="Смирнова1", email="not-an-email")
    page = response.text
    assert response.status_code == 422
    assert 'value="Смирнова1"' in page
    assert "Исправьте отмеченные поля." in page
    assert 'aria-invalid="true"' in page
    assert PASSWORD not in page  # a password is never sent back
    assert count_rows(User) == 0


def test_wrong_password_and_unknown_account_get_the_same_answer(client: TestClient) -> None:
    citizen = make_citizen()
    wrong = client.post(
        "/api/v1/auth/token", json={"identifier": citizen.identifier, "password": "wrong-password"}
    )
    unknown = client.post(
        "/api/v1/auth/token", json={"identifier": "nobody@example.ru", "password": "wrong-password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"

    token = csrf_token(client)
    pages = [
        client.post(
            "/login",
            data={"identifier": identifier, "password": "wrong-password", "csrf_token": token},
        )
        for identifier in (citizen.identifier, "nobody@example.ru")
    ]
    assert pages[0].status_code == pages[1].status_code == 401
    assert "Неверная почта, телефон или пароль." in pages[0].text
    assert pages[0].text.replace(citizen.identifier, "X") == pages[1].text.replace(
        "nobody@example.ru", "X"
    )


def test_login_rate_limit_holds_across_units_of_work_and_processes(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOCITY_LOGIN_ATTEMPTS_PER_15MIN", "3")
    get_settings.cache_clear()
    citizen = make_citizen()
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            service.login(citizen.identifier, "wrong-password", user_agent=None, ip=None)
    # A new unit of work with fresh connections, as in another app process.
    dispose_engines()
    with pytest.raises(RateLimited):
        service.login(citizen.identifier, PASSWORD, user_agent=None, ip=None, uow=UnitOfWork())
    # And a real second process, however the log-in is written.
    code = (
        "import sys\n"
        "from infocity.accounts import service\n"
        "from infocity.core.errors import RateLimited\n"
        "try:\n"
        f"    service.login({citizen.identifier.upper()!r}, {PASSWORD!r},\n"
        "                  user_agent=None, ip=None)\n"
        "except RateLimited:\n"
        "    sys.exit(42)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "INFOCITY_DATABASE_URL": database},
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 42, result.stderr.decode()
    assert count_rows(WebSession) == 0


def test_too_many_log_ins_are_refused_with_a_message(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOCITY_LOGIN_ATTEMPTS_PER_15MIN", "2")
    get_settings.cache_clear()
    citizen = make_citizen()
    statuses = [
        client.post(
            "/api/v1/auth/token",
            json={"identifier": citizen.identifier, "password": "wrong-password"},
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    page = client.post(
        "/login",
        data={
            "identifier": citizen.identifier,
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert page.status_code == 429
    assert "Слишком много попыток" in page.text


def test_form_without_csrf_token_is_refused_and_changes_nothing(client: TestClient) -> None:
    response = client.post(
        "/register",
        data={
            "last_name": "Смирнова",
            "first_name": "Ольга",
            "email": "olga@example.ru",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 403
    assert count_rows(User) == 0

    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)
    forged = client.post(
        "/cabinet/profile",
        data={"last_name": "Подделкина", "first_name": "Анна", "csrf_token": "forged"},
    )
    assert forged.status_code == 403
    assert "Подделкина" not in client.get("/cabinet").text


def test_logout_ends_the_session(client: TestClient) -> None:
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)
    assert count_rows(WebSession) == 1
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/cabinet")})
    assert response.status_code == 200  # followed to the home page
    assert count_rows(WebSession) == 0
    assert client.get("/cabinet", follow_redirects=False).status_code == 303


def test_two_registrations_of_the_same_email_at_once_make_one_account(database: str) -> None:
    data = CitizenCreate(
        email="twins@example.ru", password=PASSWORD, last_name="Петрова", first_name="Мария"
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def register() -> None:
        barrier.wait()
        try:
            service.register_citizen(data)
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["account_exists", "created"]
    assert count_rows(User) == 1


def test_failures_from_one_address_do_not_lock_the_owner_out(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOCITY_LOGIN_ATTEMPTS_PER_15MIN", "3")
    get_settings.cache_clear()
    slept: list[float] = []
    monkeypatch.setattr(sessions, "_sleep", slept.append)
    admin = make_staff(Role.CITY_ADMIN)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            service.login(admin.identifier, "wrong-password", user_agent=None, ip="10.0.0.66")
    # The failing address is stopped, even with the right password...
    with pytest.raises(RateLimited):
        service.login(admin.identifier, PASSWORD, user_agent=None, ip="10.0.0.66")
    # ...and the administrator, from their own address, is not; without delay yet.
    assert service.login(admin.identifier, PASSWORD, user_agent=None, ip="10.0.0.1")
    assert slept == []

    # Guessing from more addresses slows every log-in to the account, never refuses it.
    for address in ("10.0.0.67", "10.0.0.68"):
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                service.login(admin.identifier, "wrong-password", user_agent=None, ip=address)
    assert service.login(admin.identifier, PASSWORD, user_agent=None, ip="10.0.0.2")
    assert slept[-1] == 1.0  # nine failures past a threshold of three
    assert count_rows(WebSession) == 2


def test_registrations_from_one_address_are_limited(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOCITY_REGISTRATIONS_PER_HOUR", "2")
    get_settings.cache_clear()
    statuses = [
        client.post(
            "/api/v1/auth/register",
            json={
                "email": f"bot{n}@example.ru",
                "password": PASSWORD,
                "last_name": "Ботов",
                "first_name": "Бот",
            },
        ).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]
    page = register_form(client, email="bot9@example.ru")
    assert page.status_code == 429
    assert "Слишком много попыток" in page.text
    assert count_rows(User) == 2
    # Another address still signs up.
    service.register_citizen(
        CitizenCreate(
            email="olga@example.ru", password=PASSWORD, last_name="Смирнова", first_name="Ольга"
        ),
        ip="10.0.0.1",
    )


def test_password_hashes_run_at_most_two_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFOCITY_PASSWORD_HASH_CONCURRENCY", "2")
    get_settings.cache_clear()
    security._hash_slots.cache_clear()
    running, most = 0, 0
    lock = threading.Lock()

    class CountingHasher:
        def hash(self, password: str) -> str:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.02)  # a hash takes a while; others arrive meanwhile
            with lock:
                running -= 1
            return "hash"

    monkeypatch.setattr(security, "_current_hasher", CountingHasher)
    threads = [threading.Thread(target=security.hash_password, args=("pw",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    security._hash_slots.cache_clear()
    assert most == 2


def test_a_new_account_may_log_in_but_not_act_until_its_contact_is_confirmed(
    client: TestClient,
) -> None:
    registered = client.post(
        "/api/v1/auth/register",
        json={
            "phone": "+7 916 000-11-22",
            "password": PASSWORD,
            "last_name": "Смирнова",
            "first_name": "Ольга",
        },
    )
    assert registered.status_code == 201
    user_id = registered.json()["id"]
    # The link goes by SMS, never to the in-app inbox (which proves nothing).
    with UnitOfWork() as uow:
        channels = list(
            uow.session.scalars(
                select(OutboxMessage.channel).where(
                    OutboxMessage.user_id == user_id, OutboxMessage.kind == "contact_verification"
                )
            )
        )
    assert channels == ["sms"]

    token = api_token(client, "+79160001122", PASSWORD)  # logging in works
    headers = bearer(token)
    refused = client.patch("/api/v1/me", json={"oms_policy": "7700000000000011"}, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "verification_required"
    assert client.get("/api/v1/inbox", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/verify/resend", headers=headers).status_code == 204

    assert client.post("/api/v1/auth/verify", json={"token": "nonsense"}).status_code == 422
    link_token = verification_token(user_id)  # the newest link
    assert client.post("/api/v1/auth/verify", json={"token": link_token}).status_code == 204
    again = client.post("/api/v1/auth/verify", json={"token": link_token})
    assert again.json()["error"]["code"] == "invalid_verification_token"  # single use
    saved = client.patch("/api/v1/me", json={"oms_policy": "7700000000000011"}, headers=headers)
    assert saved.status_code == 200, saved.text


def test_an_unconfirmed_citizen_holds_no_role(database: str) -> None:
    user = service.register_citizen(
        CitizenCreate(
            email="olga@example.ru", password=PASSWORD, last_name="Смирнова", first_name="Ольга"
        )
    )
    principal = service.principal_for_user(user.id)
    assert principal is not None
    assert not principal.verified
    assert principal.roles == frozenset()  # checks by role do not let it act either
    with pytest.raises(Forbidden) as refused:
        authorize(principal, Action.APPOINTMENT_BOOK_OWN)
    assert refused.value.code == "verification_required"
    assert authorize(principal, Action.INBOX_READ) is principal
    # Staff made by an administrator and citizens confirmed by one act at once.
    service.confirm_contact(None, "olga@example.ru")
    confirmed = service.principal_for_user(user.id)
    assert confirmed is not None
    assert confirmed.verified
    assert Role.CITIZEN in confirmed.roles
    assert make_staff(Role.REGISTRAR, make_organisation().id).principal.verified


def test_a_confirmation_link_expires(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    user = service.register_citizen(
        CitizenCreate(
            email="olga@example.ru", password=PASSWORD, last_name="Смирнова", first_name="Ольга"
        )
    )
    token = verification_token(user.id)
    two_days_later = utcnow() + timedelta(days=2)
    monkeypatch.setattr(registration, "utcnow", lambda: two_days_later)
    with pytest.raises(InvalidInput):
        service.verify_contact(token)
    principal = service.principal_for_user(user.id)
    assert principal is not None
    assert not principal.verified


def test_in_the_demo_a_phone_account_confirms_with_the_sms_in_its_inbox(
    client: TestClient,
) -> None:
    # No SMS gateway (the demo): the worker puts the SMS in the in-app inbox.
    registered = client.post(
        "/api/v1/auth/register",
        json={"phone": "+79160001122", "password": PASSWORD, "last_name": "Смирнова",
              "first_name": "Ольга"},
    )  # fmt: skip
    assert registered.status_code == 201
    Worker("test").deliver_due()
    headers = bearer(api_token(client, "+79160001122", PASSWORD))
    [message] = client.get("/api/v1/inbox", headers=headers).json()["items"]
    link = message["link"]
    assert "/verify/" in link
    assert (
        client.post(
            "/api/v1/auth/verify", json={"token": link.rsplit("/verify/", 1)[1]}
        ).status_code
        == 204
    )
    assert client.get("/api/v1/me", headers=headers).status_code == 200
