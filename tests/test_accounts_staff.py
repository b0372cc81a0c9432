"""Staff: audited citizen look-ups, the audit log, staff accounts, device keys, app tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from infocity.accounts import rules, service
from infocity.accounts.models import StaffRole, User
from infocity.accounts.schemas import (
    AuditFilter,
    ChildCreate,
    DeviceKeyCreate,
    GrantCreate,
    ProfileUpdate,
    StaffCreate,
)
from infocity.core.auth import SYSTEM
from infocity.core.db import utcnow
from infocity.core.errors import Conflict, Forbidden, InvalidInput, RateLimited, Unauthenticated
from infocity.core.models import AuditEntry
from infocity.core.settings import get_settings
from tests.builders import (
    Account,
    api_token,
    bearer,
    count_rows,
    csrf_token,
    login_page_client,
    make_citizen,
    make_organisation,
    make_snils,
    make_staff,
)

SNILS = make_snils(11)
POLICY = "7755000011112222"


def citizen_with_documents() -> Account:
    citizen = make_citizen(phone="+79161112233", last_name="Соколова", first_name="Вера")
    service.update_profile(
        citizen.principal, ProfileUpdate(snils=SNILS, oms_policy=POLICY, passport="4511 222333")
    )
    return citizen


def test_registrar_looks_a_citizen_up_and_the_access_is_audited(client: TestClient) -> None:
    clinic = make_organisation("clinic", name="Городская поликлиника №1")
    registrar = make_staff("registrar", clinic.id, display_name="Регистратор Лидия")
    admin = make_staff("city_admin", display_name="Админ Города")
    citizen = citizen_with_documents()

    login_page_client(client, registrar.identifier, registrar.password)
    workplace = client.get("/staff")
    assert "Регистратор поликлиники — Городская поликлиника №1" in workplace.text
    found = client.post(
        "/staff",
        data={"query": rules.format_snils(SNILS), "csrf_token": csrf_token(client, "/staff")},
    )
    assert found.status_code == 200
    # The registrar sees in full what the registry needs, and no other document.
    table = found.text.split("<table", 1)[1]  # the form above still holds the query
    for full in (POLICY, "+79161112233"):
        assert full in table
    for hidden in (rules.format_snils(SNILS), "4511 222333"):
        assert hidden not in table
    not_found = client.post(
        "/staff", data={"query": "+7 999 000-00-00", "csrf_token": csrf_token(client, "/staff")}
    )
    assert "Жителей с таким номером не найдено." in not_found.text

    entries = service.list_audit(admin.principal, AuditFilter(action="citizen.lookup"))
    assert [(e.actor_user_id, e.actor_role, e.organisation_id) for e in entries] == [
        (registrar.id, "registrar", clinic.id)
    ] * 2
    assert entries[1].subject_person_id == citizen.person_id
    assert entries[0].subject_person_id is None
    assert entries[0].detail is not None
    assert "not found" in entries[0].detail
    assert SNILS not in (entries[1].detail or "")  # the log holds no full numbers

    # A registrar may not read the audit log; the city administrator does.
    assert client.get("/admin/audit").status_code == 403
    client.cookies.clear()
    login_page_client(client, admin.identifier, admin.password)
    log = client.get("/admin/audit")
    assert log.status_code == 200
    assert log.text.count("citizen.lookup") >= 2
    assert "Регистратор Лидия" in log.text


def test_lookup_over_the_api_by_policy_and_phone(client: TestClient) -> None:
    clinic = make_organisation("clinic")
    doctor = make_staff("doctor", clinic.id)
    citizen = citizen_with_documents()
    token = api_token(client, doctor.identifier, doctor.password)
    audit_before = count_rows(AuditEntry)
    for query in ("7755 0000 1111 2222", "8 (916) 111-22-33"):
        response = client.get(
            "/api/v1/staff/citizens", params={"query": query}, headers=bearer(token)
        )
        assert response.status_code == 200
        [record] = response.json()
        assert record["person_id"] == citizen.person_id
        assert record["oms_policy"] == POLICY
        assert record["phone"] == "+79161112233"
    assert count_rows(AuditEntry) == audit_before + 2

    bad = client.get("/api/v1/staff/citizens", params={"query": "Соколова"}, headers=bearer(token))
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_lookup_query"
    assert bad.json()["error"]["field"] == "query"
    assert count_rows(AuditEntry) == audit_before + 2


def test_each_role_sees_only_the_fields_its_work_needs(database: str) -> None:
    citizen = make_citizen(
        "vera@example.org", phone="+79161112233", last_name="Соколова", first_name="Вера"
    )
    birth_date = utcnow().date() - timedelta(days=40 * 365)
    service.update_profile(
        citizen.principal,
        ProfileUpdate(
            snils=SNILS, oms_policy=POLICY, passport="4511 222333", birth_date=birth_date
        ),
    )
    child_born = utcnow().date() - timedelta(days=9 * 365)  # a pupil on any day
    service.add_child(
        citizen.principal,
        ChildCreate(
            last_name="Соколов",
            first_name="Миша",
            birth_date=child_born,
            oms_policy="7755000011113333",
        ),
    )

    def seen(role: str, kind: str | None, query: str) -> dict[str, object]:
        staff = make_staff(role, make_organisation(kind).id if kind else None)
        [record] = service.lookup_citizen(staff.principal, query)
        return record.model_dump(exclude={"person_id", "last_name", "first_name", "middle_name"})

    nothing: dict[str, object] = {
        "birth_date": None,
        "snils": None,
        "oms_policy": None,
        "passport": None,
        "phone": None,
        "email": None,
        "guardians": [],
    }
    for role in ("registrar", "doctor", "clinic_admin"):
        assert seen(role, "clinic", POLICY) == nothing | {
            "birth_date": birth_date,
            "oms_policy": POLICY,
            "phone": "+79161112233",
        }
    assert seen("housing_operator", "housing_operator", SNILS) == nothing | {
        "phone": "+79161112233",
        "email": "vera@example.org",
    }
    guardian = {
        "person_id": citizen.person_id,
        "last_name": "Соколова",
        "first_name": "Вера",
        "phone": "+79161112233",
    }
    # School and kindergarten staff find a pupil and reach the parents.
    for role, kind in (("school_staff", "school"), ("kindergarten_staff", "kindergarten")):
        assert seen(role, kind, "7755000011113333") == nothing | {
            "birth_date": child_born,
            "guardians": [guardian],
        }
    everything = seen("city_admin", None, SNILS)
    assert everything["snils"] == rules.format_snils(SNILS)
    assert everything["passport"] == "4511 222333"
    assert everything["oms_policy"] == POLICY


def test_lookups_are_rate_limited_per_staff_member(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOCITY_LOOKUPS_PER_MINUTE", "2")
    get_settings.cache_clear()
    clinic = make_organisation("clinic")
    first, second = make_staff("registrar", clinic.id), make_staff("registrar", clinic.id)
    service.lookup_citizen(first.principal, SNILS)
    service.lookup_citizen(first.principal, SNILS)
    with pytest.raises(RateLimited):
        service.lookup_citizen(first.principal, SNILS)
    assert service.lookup_citizen(second.principal, SNILS) == []


def test_roles_that_may_not_look_up_see_no_lookup_form(client: TestClient) -> None:
    analyst = make_staff("analyst")
    audited = count_rows(AuditEntry)
    login_page_client(client, analyst.identifier, analyst.password)
    page = client.get("/staff")
    assert page.status_code == 200
    assert "Аналитик — на весь город" in page.text
    assert 'name="query"' not in page.text
    refused = client.post(
        "/staff", data={"query": SNILS, "csrf_token": csrf_token(client, "/staff")}
    )
    assert refused.status_code == 403
    assert count_rows(AuditEntry) == audited


def test_city_admin_creates_staff_accounts_on_the_admin_page(client: TestClient) -> None:
    clinic = make_organisation("clinic", name="Поликлиника №5")
    school = make_organisation("school", name="Школа №57")
    admin = make_staff("city_admin")
    login_page_client(client, admin.identifier, admin.password)
    token = csrf_token(client, "/admin/staff")
    form = {
        "display_name": "Врач Сергей",
        "email": "doctor@clinic.example.ru",
        "role": "doctor",
        "password": "doctor-password-1",
        "csrf_token": token,
    }
    users = count_rows(User)
    wrong_kind = client.post("/admin/staff", data={**form, "organisation_id": str(school.id)})
    assert wrong_kind.status_code == 422
    assert "Эта роль относится к организации другого типа." in wrong_kind.text
    assert 'value="doctor@clinic.example.ru"' in wrong_kind.text
    assert "doctor-password-1" not in wrong_kind.text
    no_org = client.post("/admin/staff", data=form)
    assert "Выберите организацию для этой роли." in no_org.text
    assert count_rows(User) == users

    created = client.post(
        "/admin/staff", data={**form, "organisation_id": str(clinic.id)}, follow_redirects=True
    )
    assert created.status_code == 200
    assert "Учётная запись сотрудника создана." in created.text
    assert "Врач Сергей" in created.text
    assert "Врач — Поликлиника №5" in created.text
    doctor = service.principal_from_session(
        service.login("doctor@clinic.example.ru", "doctor-password-1", user_agent=None, ip=None)
    )
    assert doctor is not None
    assert [(g.role, g.organisation_id) for g in doctor.grants] == [("doctor", clinic.id)]
    staff_create = service.list_audit(admin.principal, AuditFilter(action="staff.create"))
    assert staff_create[0].actor_user_id == admin.id


def test_staff_accounts_over_the_api(client: TestClient) -> None:
    clinic = make_organisation("clinic")
    admin = make_staff("city_admin")
    registrar = make_staff("registrar", clinic.id)
    body = {
        "email": "analyst@city.example.ru",
        "display_name": "Аналитик",
        "role": "analyst",
        "password": "analyst-password",
    }
    users = count_rows(User)
    assert client.post("/api/v1/admin/staff", json=body).status_code == 401
    as_registrar = client.post(
        "/api/v1/admin/staff",
        json=body,
        headers=bearer(api_token(client, registrar.identifier, registrar.password)),
    )
    assert as_registrar.status_code == 403
    assert as_registrar.json()["error"]["code"] == "forbidden"
    city_wide_with_org = client.post(
        "/api/v1/admin/staff",
        json={**body, "organisation_id": clinic.id},
        headers=bearer(api_token(client, admin.identifier, admin.password)),
    )
    assert city_wide_with_org.status_code == 422
    assert city_wide_with_org.json()["error"]["code"] == "role_is_city_wide"
    assert count_rows(User) == users

    created = client.post(
        "/api/v1/admin/staff",
        json=body,
        headers=bearer(api_token(client, admin.identifier, admin.password)),
    )
    assert created.status_code == 201
    assert created.json()["roles"] == [{"role": "analyst", "organisation_id": None}]


def test_command_line_staff_creation_checks_the_role(database: str) -> None:
    for role in ("citizen", "superuser"):
        with pytest.raises(InvalidInput) as refused:
            service.create_staff_account(
                StaffCreate(
                    email="x@city.example.ru", display_name="X", role=role, password="long-password"
                ),
                actor=SYSTEM,
            )
        assert refused.value.code == "invalid_role"
    assert count_rows(User) == 0


def test_roles_are_granted_and_revoked_but_the_last_admin_stays(database: str) -> None:
    clinic = make_organisation("clinic")
    admin = make_staff("city_admin")
    registrar = make_staff("registrar", clinic.id)
    grant = GrantCreate(role="clinic_admin", organisation_id=clinic.id)
    user = service.grant_role(admin.principal, registrar.id, grant)
    assert {(r.role, r.organisation_id) for r in user.roles} == {
        ("registrar", clinic.id),
        ("clinic_admin", clinic.id),
    }
    with pytest.raises(Conflict):
        service.grant_role(admin.principal, registrar.id, grant)
    with pytest.raises(Forbidden):
        service.grant_role(registrar.principal, registrar.id, GrantCreate(role="city_admin"))
    service.revoke_role(admin.principal, registrar.id, grant)
    with pytest.raises(Conflict) as last:
        service.revoke_role(admin.principal, admin.id, GrantCreate(role="city_admin"))
    assert last.value.code == "last_city_admin"
    assert count_rows(StaffRole) == 2


def test_device_keys_are_shown_once_and_can_be_revoked(client: TestClient) -> None:
    school = make_organisation("school")
    admin = make_staff("city_admin")
    registrar = make_staff("registrar", make_organisation("clinic").id)
    body = {"organisation_id": school.id, "kind": "turnstile", "name": "Main entrance"}
    refused = client.post(
        "/api/v1/admin/devices",
        json=body,
        headers=bearer(api_token(client, registrar.identifier, registrar.password)),
    )
    assert refused.status_code == 403
    issued = client.post(
        "/api/v1/admin/devices",
        json=body,
        headers=bearer(api_token(client, admin.identifier, admin.password)),
    )
    assert issued.status_code == 201
    key = issued.json()["key"]
    identity = service.authenticate_device(key)
    assert (identity.organisation_id, identity.kind) == (school.id, "turnstile")
    service.revoke_device(admin.principal, identity.device_id)
    with pytest.raises(Unauthenticated):
        service.authenticate_device(key)
    with pytest.raises(InvalidInput):
        service.register_device(
            admin.principal, DeviceKeyCreate(organisation_id=school.id, kind="toaster", name="x")
        )


def test_an_app_token_works_until_the_app_logs_out(client: TestClient) -> None:
    citizen = make_citizen()
    token = api_token(client, citizen.identifier, citizen.password)
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=bearer(token)).status_code == 204
    after = client.get("/api/v1/me", headers=bearer(token))
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_token"
