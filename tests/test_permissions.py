"""Who may do what: every role against every action, organisation scoping, and a user
who must see nothing tried against every staff route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from infocity.accounts import service
from infocity.accounts.models import DeviceKey, User
from infocity.accounts.schemas import AuditFilter, ProfileUpdate
from infocity.core.auth import (
    ROLE_ORGANISATION_KIND,
    Action,
    Grant,
    Principal,
    Role,
    allowed,
    authorize,
)
from infocity.core.errors import Forbidden, Unauthenticated
from infocity.core.models import AuditEntry
from tests.builders import (
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

R = Role
CLINIC_LOOKUP = {R.REGISTRAR, R.DOCTOR, R.CLINIC_ADMIN}
# Written out on purpose rather than read from PERMISSIONS: a change to the matrix must
# be a deliberate change here too.
EXPECTED: dict[Action, set[Role]] = {
    Action.OWN_PROFILE_EDIT: {R.CITIZEN},
    Action.INBOX_READ: set(Role),
    Action.API_TOKEN_ISSUE: set(Role),
    Action.CITIZEN_LOOKUP: CLINIC_LOOKUP
    | {R.SCHOOL_STAFF, R.KINDERGARTEN_STAFF, R.HOUSING_OPERATOR, R.CITY_ADMIN},
    Action.ORGANISATION_STAFF_READ: {R.CLINIC_ADMIN, R.CITY_ADMIN},
    Action.DEVICE_KEY_ISSUE: {R.CITY_ADMIN},
    Action.STAFF_MANAGE: {R.CITY_ADMIN},
    Action.AUDIT_READ: {R.CITY_ADMIN},
    Action.STATS_READ: {R.ANALYST, R.CITY_ADMIN},
    Action.WORKPLACE_OPEN: set(Role) - {R.CITIZEN},
    Action.DIRECTORY_MANAGE: {R.CITY_ADMIN},
    # Medical appointments
    Action.APPOINTMENT_BOOK_OWN: {R.CITIZEN},
    Action.APPOINTMENT_BOOK_FOR_ANY: {R.REGISTRAR, R.CLINIC_ADMIN},
    Action.REFERRAL_ISSUE: {R.DOCTOR},
    Action.SCHEDULE_MANAGE: {R.CLINIC_ADMIN},
    Action.APPOINTMENT_MARK_OUTCOME: {R.DOCTOR},
    Action.HOME_VISIT_MANAGE: {R.REGISTRAR, R.CLINIC_ADMIN},
    Action.FHIR_CLIENT_REGISTER: {R.CITY_ADMIN},
    # Portal applications
    Action.APPLICATION_SUBMIT: {R.CITIZEN},
    Action.APPLICATION_PROCESS: {
        R.REGISTRAR,
        R.CLINIC_ADMIN,
        R.HOUSING_OPERATOR,
        R.COLLEGE_STAFF,
        R.CITY_ADMIN,
    },
    # Housing and utilities
    Action.HOUSING_OWN: {R.CITIZEN},
    Action.HOUSING_REQUESTS_PROCESS: {R.HOUSING_OPERATOR},
    Action.HOUSING_BILLING: {R.HOUSING_OPERATOR, R.CITY_ADMIN},
    Action.EDUCATION_DIRECTORY_MANAGE: {R.EDUCATION_OFFICIAL, R.CITY_ADMIN},
    Action.KINDERGARTEN_PLACES_MANAGE: {R.KINDERGARTEN_STAFF, R.EDUCATION_OFFICIAL, R.CITY_ADMIN},
    Action.KINDERGARTEN_APPLY: {R.CITIZEN},
    Action.KINDERGARTEN_ALLOCATE: {R.EDUCATION_OFFICIAL, R.CITY_ADMIN},
    Action.FIRST_GRADE_APPLY: {R.CITIZEN},
    Action.FIRST_GRADE_MANAGE: {R.EDUCATION_OFFICIAL, R.CITY_ADMIN},
    Action.FIRST_GRADE_SCHOOL: {R.SCHOOL_STAFF, R.EDUCATION_OFFICIAL, R.CITY_ADMIN},
    # Exam results
    Action.EXAM_RESULTS_IMPORT: {R.EXAM_OFFICIAL},
    Action.EXAM_RESULTS_SUBSCRIBE: {R.CITIZEN},
    Action.SOCIAL_CARD_HOLD: {R.CITIZEN},
    Action.SOCIAL_CARD_ISSUE: {R.COLLEGE_STAFF, R.CITY_ADMIN},
    Action.SCHOOL_CARDS_ISSUE: {R.SCHOOL_STAFF, R.CITY_ADMIN},
    Action.SCHOOL_CARDS_OWN: {R.CITIZEN},
    Action.SCHOOL_CARDS_PAYMENTS: {R.CITY_ADMIN},
    # Public Wi-Fi
    Action.WIFI_NETWORKS_MANAGE: {R.WIFI_OPERATOR, R.CITY_ADMIN},
    Action.WIFI_STATS_READ: {R.WIFI_OPERATOR, R.ANALYST, R.CITY_ADMIN},
    Action.WIFI_BIND_OWN: {R.CITIZEN},
    # School video surveillance
    Action.SAFETY_REGISTRY_MANAGE: {R.CITY_ADMIN},
    Action.SAFETY_MONITOR: {R.SECURITY_STAFF, R.CITY_ADMIN},
    Action.SAFETY_PROBE: {R.CITY_ADMIN},
    Action.SAFETY_REPORTS: {R.ANALYST, R.CITY_ADMIN},
}
HOME_ORG, OTHER_ORG = 1, 2


def principal_with(role: Role) -> Principal:
    """A user holding ``role`` in organisation 1, or city-wide if the role is city-wide."""
    organisation = HOME_ORG if ROLE_ORGANISATION_KIND.get(role) else None
    kind = "citizen" if role is Role.CITIZEN else "staff"
    return Principal(user_id=1, kind=kind, display_name="X", grants=(Grant(role, organisation),))


def test_every_action_has_a_row_here() -> None:
    """A new action fails here once (not in every test below) until its row is written."""
    assert set(Action) - set(EXPECTED) == set(), "add the new action to EXPECTED with its roles"
    assert set(EXPECTED) - set(Action) == set()


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", list(Role))
def test_role_against_action(role: Role, action: Action) -> None:
    principal = principal_with(role)
    expected = role in EXPECTED[action]
    assert allowed(principal, action) is expected
    if expected:
        assert authorize(principal, action) is principal
    else:
        with pytest.raises(Forbidden):
            authorize(principal, action)


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", sorted(r for r, kind in ROLE_ORGANISATION_KIND.items() if kind))
def test_organisation_roles_reach_only_their_organisation(role: Role, action: Action) -> None:
    principal = principal_with(role)
    expected = role in EXPECTED[action]
    assert allowed(principal, action, HOME_ORG) is expected
    assert allowed(principal, action, OTHER_ORG) is False


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize(
    "role", sorted(r for r, kind in ROLE_ORGANISATION_KIND.items() if not kind)
)
def test_city_wide_roles_reach_every_organisation(role: Role, action: Action) -> None:
    principal = principal_with(role)
    expected = role in EXPECTED[action]
    assert allowed(principal, action, HOME_ORG) is expected
    assert allowed(principal, action, OTHER_ORG) is expected


def test_a_second_grant_in_another_organisation_adds_only_that_organisation() -> None:
    principal = Principal(
        user_id=1,
        kind="staff",
        display_name="X",
        grants=(Grant(Role.DOCTOR, HOME_ORG), Grant(Role.CLINIC_ADMIN, OTHER_ORG)),
    )
    assert allowed(principal, Action.ORGANISATION_STAFF_READ, OTHER_ORG)
    assert not allowed(principal, Action.ORGANISATION_STAFF_READ, HOME_ORG)
    assert allowed(principal, Action.CITIZEN_LOOKUP, HOME_ORG)
    assert not allowed(principal, Action.CITIZEN_LOOKUP, 3)


def test_a_district_role_reaches_every_organisation_of_its_district_only() -> None:
    official = Principal(
        user_id=1,
        kind="staff",
        display_name="X",
        grants=(Grant(Role.EDUCATION_OFFICIAL, HOME_ORG, district_id=7),),
    )
    action = Action.KINDERGARTEN_PLACES_MANAGE
    assert allowed(official, action, OTHER_ORG, district_id=7)
    assert not allowed(official, action, OTHER_ORG, district_id=8)
    assert not allowed(official, action, OTHER_ORG)  # the district unknown: refused
    assert official.districts(action) == frozenset({7})
    assert principal_with(Role.CITY_ADMIN).districts(action) is None
    assert principal_with(Role.KINDERGARTEN_STAFF).districts(action) == frozenset()


def test_nobody_logged_in_is_asked_to_log_in() -> None:
    for action in Action:
        with pytest.raises(Unauthenticated):
            authorize(None, action)


# --- A user who must see nothing ---------------------------------------------------

STAFF_PAGES = ["/staff", "/admin/audit", "/admin/staff"]
STAFF_API = [
    ("GET", "/api/v1/staff/citizens?query=QUERY", None),
    ("GET", "/api/v1/admin/audit", None),
    (
        "POST",
        "/api/v1/admin/staff",
        {
            "email": "intruder@example.ru",
            "display_name": "Intruder",
            "role": "city_admin",
            "password": "intruder-password",
        },
    ),
    ("POST", "/api/v1/admin/devices", {"organisation_id": 1, "kind": "till", "name": "Till"}),
]


def test_a_citizen_without_family_sees_nothing_of_staff_routes(client: TestClient) -> None:
    clinic = make_organisation("clinic")
    admin = make_staff("city_admin", email="admin@city.example.ru", display_name="Главный Админ")
    registrar = make_staff("registrar", clinic.id, display_name="Регистратор Лидия")
    other = make_citizen(last_name="Секретова", first_name="Тайна")
    snils = make_snils(99)
    service.update_profile(other.principal, ProfileUpdate(snils=snils))
    service.lookup_citizen(registrar.principal, snils)  # something in the audit log
    secrets = [
        snils,
        snils[-4:] + " ",
        "Секретова",
        "admin@city.example.ru",
        "Главный Админ",
        "Регистратор Лидия",
        "citizen.lookup",
    ]
    nobody = make_citizen(email="nobody@example.ru")
    counts = (count_rows(User), count_rows(AuditEntry), count_rows(DeviceKey))

    # Not logged in: pages send to the log-in form, the API asks for a token.
    for path in STAFF_PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    for method, path, body in STAFF_API:
        response = client.request(method, path.replace("QUERY", snils), json=body)
        assert response.status_code == 401

    login_page_client(client, nobody.identifier, nobody.password)
    token = csrf_token(client, "/cabinet")
    pages = [client.get(path) for path in STAFF_PAGES]
    pages.append(client.post("/staff", data={"query": snils, "csrf_token": token}))
    pages.append(
        client.post(
            "/admin/staff",
            data={
                "email": "intruder@example.ru",
                "display_name": "Intruder",
                "role": "city_admin",
                "password": "intruder-password",
                "csrf_token": token,
            },
        )
    )
    for page in pages:
        assert page.status_code == 403, page.request.url
        for secret in secrets:
            assert secret not in page.text

    bearer_token = bearer(api_token(client, nobody.identifier, nobody.password))
    for method, path, body in STAFF_API:
        response = client.request(
            method, path.replace("QUERY", snils), json=body, headers=bearer_token
        )
        assert response.status_code == 403, path
        assert response.json() == {
            "error": {"code": "forbidden", "message": "У вас нет доступа к этому разделу."}
        }

    # Their own cabinet holds only themself.
    assert client.get("/api/v1/me/children", headers=bearer_token).json() == []
    cabinet = client.get("/cabinet")
    assert "Дети пока не добавлены." in cabinet.text
    for secret in secrets:
        assert secret not in cabinet.text
    assert (count_rows(User), count_rows(AuditEntry), count_rows(DeviceKey)) == counts
    assert service.list_audit(admin.principal, AuditFilter())[0].actor_user_id == registrar.id
