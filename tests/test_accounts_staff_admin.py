"""The city administrator manages a staff account: deactivates and reactivates it,
changes its name, e-mail, phone and roles, each confirmed first and audited."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts import service
from infocity.accounts.schemas import GrantCreate, StaffUpdate
from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import AppError, Conflict, Forbidden, Unauthenticated
from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork
from tests.builders import (
    Account,
    api_token,
    bearer,
    login_page_client,
    make_organisation,
    make_staff,
)
from tests.support.forms import form_token


def audited(action: str) -> list[str | None]:
    with UnitOfWork() as uow:
        return list(
            uow.session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def staff_session(identifier: str, password: str) -> TestClient:
    """A second browser, logged in as this staff member."""
    from infocity.app import create_app

    browser = TestClient(create_app())
    return login_page_client(browser, identifier, password)


def confirm(client: TestClient, path: str, **query: str) -> httpx.Response:
    """Open the confirmation page of a step, then press its button."""
    page = client.get(path, params=query)
    assert page.status_code == 200, page.text
    data = {**query, "csrf_token": form_token(page)}
    response: httpx.Response = client.post(path, data=data, follow_redirects=True)
    return response


def test_a_deactivated_account_is_stopped_at_once_and_can_be_reactivated(
    client: TestClient,
) -> None:
    clinic = make_organisation("clinic")
    registrar = make_staff(Role.REGISTRAR, clinic.id, display_name="Регистратор Лидия")
    admin = make_staff(Role.CITY_ADMIN)
    token = api_token(client, registrar.identifier, registrar.password)
    browser = staff_session(registrar.identifier, registrar.password)
    assert browser.get("/staff").status_code == 200
    login_page_client(client, admin.identifier, admin.password)

    asked = client.get(f"/admin/staff/{registrar.id}/deactivate")
    assert "не сможет войти" in asked.text
    assert service.principal_for_user(registrar.id) is not None  # asking changed nothing
    done = confirm(client, f"/admin/staff/{registrar.id}/deactivate")

    assert done.status_code == 200
    assert "Учётная запись отключена" in done.text
    assert browser.get("/staff", follow_redirects=False).headers["location"].startswith("/login")
    assert client.get("/api/v1/staff/citizens?query=x", headers=bearer(token)).status_code == 401
    with pytest.raises(Unauthenticated):
        service.login(registrar.identifier, registrar.password, user_agent=None, ip=None)
    assert audited("staff.deactivate") == [f"user {registrar.id}"]

    confirm(client, f"/admin/staff/{registrar.id}/reactivate")
    assert service.login(registrar.identifier, registrar.password, user_agent=None, ip=None)
    # What was stopped stays stopped: the old token and session do not come back.
    assert client.get("/api/v1/staff/citizens?query=x", headers=bearer(token)).status_code == 401
    assert browser.get("/staff", follow_redirects=False).status_code == 303
    assert audited("staff.reactivate") == [f"user {registrar.id}"]


def test_deactivation_over_the_api_and_its_refusals(client: TestClient) -> None:
    admin = make_staff(Role.CITY_ADMIN)
    analyst = make_staff(Role.ANALYST)
    token = api_token(client, admin.identifier, admin.password)
    stopped = client.post(f"/api/v1/admin/staff/{analyst.id}/deactivate", headers=bearer(token))
    assert stopped.status_code == 200
    assert stopped.json()["is_active"] is False
    again = client.post(f"/api/v1/admin/staff/{analyst.id}/deactivate", headers=bearer(token))
    assert again.status_code == 200
    assert len(audited("staff.deactivate")) == 1  # nothing happened the second time

    own = client.post(f"/api/v1/admin/staff/{admin.id}/deactivate", headers=bearer(token))
    assert own.status_code == 409
    assert own.json()["error"]["code"] == "own_account"
    # The command line (no account of its own) may not leave the city without an admin.
    with pytest.raises(Conflict) as refused:
        service.deactivate_staff_account(SYSTEM, admin.id)
    assert refused.value.code == "last_city_admin"
    unknown = client.post("/api/v1/admin/staff/999999/deactivate", headers=bearer(token))
    assert unknown.status_code == 404
    other = api_token(client, make_staff(Role.ANALYST).identifier, analyst.password)
    assert (
        client.post(f"/api/v1/admin/staff/{analyst.id}/reactivate", headers=bearer(other))
    ).status_code == 403
    with pytest.raises(Forbidden):
        service.update_staff_account(
            service.principal_for_user(make_staff(Role.ANALYST).id), admin.id, StaffUpdate()
        )


def test_an_admin_changes_a_staff_members_details_after_checking_them(
    client: TestClient,
) -> None:
    admin = make_staff(Role.CITY_ADMIN)
    analyst = make_staff(Role.ANALYST, display_name="Петров Пётр")
    login_page_client(client, admin.identifier, admin.password)
    page = client.get(f"/admin/staff/{analyst.id}")
    fields = {"display_name": "Петров Павел", "email": "p.petrov@city.example.ru", "phone": ""}

    preview = client.post(
        f"/admin/staff/{analyst.id}",
        data={**fields, "step": "preview", "csrf_token": form_token(page)},
    )
    assert preview.status_code == 200
    assert "Проверьте изменения" in preview.text
    assert service.get_staff_account(admin.principal, analyst.id).display_name == "Петров Пётр"
    saved = client.post(
        f"/admin/staff/{analyst.id}",
        data={
            **fields,
            "phone": "8 916 555 44 33",
            "step": "confirm",
            "csrf_token": form_token(page),
        },
        follow_redirects=True,
    )

    assert "Учётная запись сотрудника сохранена." in saved.text
    member = service.get_staff_account(admin.principal, analyst.id)
    assert (member.display_name, member.email, member.phone) == (
        "Петров Павел",
        "p.petrov@city.example.ru",
        "+79165554433",
    )
    assert audited("staff.update") == [f"user {analyst.id}: display_name, email, phone"]
    assert service.login("p.petrov@city.example.ru", analyst.password, user_agent=None, ip=None)


def test_staff_details_are_refused_field_by_field(client: TestClient) -> None:
    admin = make_staff(Role.CITY_ADMIN)
    analyst = make_staff(Role.ANALYST)
    token = api_token(client, admin.identifier, admin.password)
    bad = client.patch(
        f"/api/v1/admin/staff/{analyst.id}",
        json={"display_name": " ", "email": "not-an-email", "phone": "123"},
        headers=bearer(token),
    )
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["display_name", "email", "phone"]
    taken = client.patch(
        f"/api/v1/admin/staff/{analyst.id}", json={"email": admin.identifier}, headers=bearer(token)
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["field"] == "email"

    login_page_client(client, admin.identifier, admin.password)
    page = client.get(f"/admin/staff/{analyst.id}")
    refused = client.post(
        f"/admin/staff/{analyst.id}",
        data={
            "display_name": "Петров Пётр",
            "email": "",
            "phone": "123",
            "step": "confirm",
            "csrf_token": form_token(page),
        },
    )
    assert refused.status_code == 422
    assert 'id="f-email-error"' in refused.text
    assert 'id="f-phone-error"' in refused.text
    assert service.get_staff_account(admin.principal, analyst.id).email == analyst.identifier
    assert audited("staff.update") == []


def test_roles_are_granted_and_taken_away_on_the_page_after_confirmation(
    client: TestClient,
) -> None:
    clinic = make_organisation("clinic", name="Поликлиника №5")
    admin = make_staff(Role.CITY_ADMIN)
    member: Account = make_staff(Role.ANALYST)
    login_page_client(client, admin.identifier, admin.password)

    granted = confirm(
        client,
        f"/admin/staff/{member.id}/grant",
        role="registrar",
        organisation_id=str(clinic.id),
    )
    assert "Роль выдана." in granted.text
    assert "Регистратор поликлиники — Поликлиника №5" in granted.text
    taken = confirm(client, f"/admin/staff/{member.id}/revoke", role="analyst")
    assert "Роль отозвана." in taken.text
    roles = service.get_staff_account(admin.principal, member.id).roles
    assert [(g.role, g.organisation_id) for g in roles] == [("registrar", clinic.id)]
    assert audited("staff.grant") == [f"user {member.id} role registrar"]
    assert audited("staff.revoke") == [f"user {member.id} role analyst"]

    # A refusal (the role is already held) is said on the staff member's page.
    again = confirm(
        client, f"/admin/staff/{member.id}/grant", role="registrar", organisation_id=str(clinic.id)
    )
    assert again.status_code == 409
    assert "Эта роль уже выдана." in again.text


def test_roles_over_the_api(client: TestClient) -> None:
    admin = make_staff(Role.CITY_ADMIN)
    member = make_staff(Role.ANALYST)
    token = api_token(client, admin.identifier, admin.password)
    granted = client.post(
        f"/api/v1/admin/staff/{member.id}/roles",
        json={"role": "exam_official"},
        headers=bearer(token),
    )
    assert granted.status_code == 200
    assert {g["role"] for g in granted.json()["roles"]} == {"analyst", "exam_official"}
    revoked = client.post(
        f"/api/v1/admin/staff/{member.id}/roles/revoke",
        json={"role": "analyst"},
        headers=bearer(token),
    )
    assert [g["role"] for g in revoked.json()["roles"]] == ["exam_official"]
    listed = client.get("/api/v1/admin/staff", headers=bearer(token)).json()
    assert {u["id"] for u in listed} == {admin.id, member.id}
    with pytest.raises(AppError):
        service.revoke_role(admin.principal, member.id, GrantCreate(role="analyst"))
