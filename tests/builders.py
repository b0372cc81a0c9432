"""Test data made through the real service functions (never by writing rows directly).

Other services' tests use these too: keep the names and arguments stable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.accounts import rules, service
from infocity.accounts.schemas import CitizenCreate, StaffCreate, UserRead
from infocity.city import service as city
from infocity.city.schemas import DistrictCreate, DistrictRead, OrganisationCreate, OrganisationRead
from infocity.core.auth import SYSTEM, Principal, Role
from infocity.core.db import Base
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from tests.support.forms import form_token

PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Account:
    """A user made for a test: what the service returned, how they act, how they log in."""

    user: UserRead
    principal: Principal
    identifier: str
    password: str

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def person_id(self) -> int | None:
        return self.user.person_id


def make_snils(n: int | None = None) -> str:
    """A valid SNILS (11 digits), different for each ``n``."""
    first_nine = f"{100_000_000 + (n if n is not None else next(_numbers)) * 7919:09d}"[-9:]
    return first_nine + rules.snils_control_number(first_nine)


def make_district(code: str | None = None, name: str = "Центральный") -> DistrictRead:
    return city.create_district(
        DistrictCreate(code=code or f"D{next(_numbers):03d}", name=name, name_en="Central"),
        actor=SYSTEM,
    )


def make_organisation(
    kind: str = "clinic", name: str | None = None, district_id: int | None = None
) -> OrganisationRead:
    return city.create_organisation(
        OrganisationCreate(
            kind=kind,
            name=name or f"{kind} №{next(_numbers)}",
            district_id=district_id,
            address="Москва, Тверская ул., 1",
        ),
        actor=SYSTEM,
    )


def _account(user: UserRead, identifier: str, password: str) -> Account:
    principal = service.principal_for_user(user.id)
    assert principal is not None
    return Account(user=user, principal=principal, identifier=identifier, password=password)


def make_citizen(
    email: str | None = None,
    password: str = PASSWORD,
    *,
    phone: str | None = None,
    last_name: str = "Иванова",
    first_name: str = "Анна",
    middle_name: str | None = None,
) -> Account:
    """A registered citizen; an e-mail is made up unless a phone alone is given."""
    if email is None and phone is None:
        email = f"citizen{next(_numbers)}@example.ru"
    user = service.register_citizen(
        CitizenCreate(
            email=email,
            phone=phone,
            password=password,
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
        )
    )
    service.verify_contact(verification_token(user.id))
    identifier = user.email or user.phone
    assert identifier is not None
    return _account(user, identifier, password)


def verification_token(user_id: int) -> str:
    """The token of the latest confirmation link sent to ``user_id`` (read from the
    outbox, as the person would read their mail)."""
    with UnitOfWork() as uow:
        link = uow.session.scalars(
            select(OutboxMessage.link)
            .where(OutboxMessage.user_id == user_id, OutboxMessage.kind == "contact_verification")
            .order_by(OutboxMessage.created_at.desc())
            .limit(1)
        ).one()
    assert link is not None
    return link.rsplit("/verify/", 1)[1]


def make_staff(
    role: Role | str,
    organisation_id: int | None = None,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    display_name: str = "Петров Пётр",
) -> Account:
    """A staff account created as the command line would (as ``SYSTEM``)."""
    email = email or f"staff{next(_numbers)}@city.example.ru"
    user = service.create_staff_account(
        StaffCreate(
            email=email,
            display_name=display_name,
            role=str(role),
            organisation_id=organisation_id,
            password=password,
        ),
        actor=SYSTEM,
    )
    return _account(user, email, password)


def csrf_token(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of this browser, read from a page's form as a browser would."""
    return form_token(client.get(path))


def login_page_client(client: TestClient, identifier: str, password: str) -> TestClient:
    """Log ``client`` in through the real /login form; it then carries the session cookie."""
    response = client.post(
        "/login",
        data={"identifier": identifier, "password": password, "csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def logged_in(client: TestClient, account: Account) -> TestClient:
    """``client`` logged in through the /login form as ``account``."""
    return login_page_client(client, account.identifier, account.password)


def api_token(client: TestClient, identifier: str, password: str) -> str:
    """A bearer token for the JSON API, as a mobile app gets one."""
    response = client.post(
        "/api/v1/auth/token", json={"identifier": identifier, "password": password}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count_rows(model: type[Base]) -> int:
    """How many rows a table has (to show that refused input wrote nothing)."""
    with UnitOfWork() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def citizen_api_token(email: str | None = None, password: str = PASSWORD) -> str:
    """A new citizen's bearer token, issued by the service as the app log-in would."""
    citizen = make_citizen(email=email, password=password)
    return service.issue_api_token(citizen.identifier, password, "test app").access_token
