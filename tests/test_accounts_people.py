"""People in the register: a citizen's and a child's sex, asked in the cabinet and the
API and published to other services."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts import service
from infocity.accounts.read_model import PERSON_FACTS
from infocity.accounts.schemas import ChildCreate, ProfileUpdate
from infocity.core.clock import city_today
from infocity.core.uow import UnitOfWork
from tests.builders import api_token, bearer, csrf_token, login_page_client, make_citizen

CHILD_POLICY = "7711000000000002"


def child_born() -> str:
    """A birth date that is a child's whatever today is (five years old)."""
    return (city_today() - timedelta(days=5 * 365)).isoformat()


def test_a_citizen_states_their_sex_in_the_profile_and_sees_it(client: TestClient) -> None:
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)
    assert service.get_profile(citizen.principal).person.sex is None  # not asked before

    page = client.post(
        "/cabinet/profile",
        data={
            "last_name": "Иванова",
            "first_name": "Анна",
            "sex": "female",
            "csrf_token": csrf_token(client, "/cabinet"),
        },
        follow_redirects=True,
    )

    assert page.status_code == 200
    assert "<dt>Пол</dt><dd>Женский</dd>" in page.text
    assert '<option value="female" selected>' in page.text
    token = api_token(client, citizen.identifier, citizen.password)
    assert client.get("/api/v1/me", headers=bearer(token)).json()["person"]["sex"] == "female"
    changed = client.patch("/api/v1/me", json={"sex": "male"}, headers=bearer(token))
    assert changed.json()["person"]["sex"] == "male"
    client.cookies.set("lang", "en")
    assert "<dt>Sex</dt><dd>Male</dd>" in client.get("/cabinet").text


def test_an_unknown_sex_is_refused_at_its_field(client: TestClient) -> None:
    citizen = make_citizen()
    service.update_profile(citizen.principal, ProfileUpdate(sex="female"))
    token = api_token(client, citizen.identifier, citizen.password)
    api = client.patch("/api/v1/me", json={"sex": "x"}, headers=bearer(token))
    assert api.status_code == 422
    assert [f["field"] for f in api.json()["error"]["fields"]] == ["sex"]

    login_page_client(client, citizen.identifier, citizen.password)
    page = client.post(
        "/cabinet/profile",
        data={
            "last_name": "Иванова",
            "first_name": "Анна",
            "sex": "x",
            "csrf_token": csrf_token(client, "/cabinet"),
        },
    )
    assert page.status_code == 422
    assert 'id="f-sex-error"' in page.text
    assert service.get_profile(citizen.principal).person.sex == "female"


def test_a_childs_sex_is_asked_when_added_and_published_to_other_services(
    client: TestClient,
) -> None:
    parent = make_citizen()
    login_page_client(client, parent.identifier, parent.password)
    page = client.post(
        "/cabinet/children",
        data={
            "last_name": "Иванов",
            "first_name": "Пётр",
            "birth_date": child_born(),
            "sex": "male",
            "oms_policy": CHILD_POLICY,
            "csrf_token": csrf_token(client, "/cabinet"),
        },
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert "<dt>Пол</dt><dd>Мужской</dd>" in page.text
    token = api_token(client, parent.identifier, parent.password)
    added = client.post(
        "/api/v1/me/children",
        json={
            "last_name": "Иванова",
            "first_name": "Мария",
            "birth_date": child_born(),
            "sex": "female",
        },
        headers=bearer(token),
    )
    assert added.status_code == 201
    assert added.json()["sex"] == "female"

    family = {child.first_name: child for child in service.list_family(parent.principal)}
    assert {name: child.sex for name, child in family.items()} == {
        "Пётр": "male",
        "Мария": "female",
    }
    boy = family["Пётр"]
    with UnitOfWork() as uow:
        assert service.person_by_id(uow.session, boy.id) == service.PersonFacts(
            boy.id, boy.birth_date, "Пётр", "male"
        )
        by_policy = service.person_by_policy(uow.session, CHILD_POLICY)
        assert by_policy is not None
        assert by_policy.sex == "male"
        # The view other services read in their own statements says the same.
        assert (
            uow.session.execute(
                select(PERSON_FACTS.c.sex).where(PERSON_FACTS.c.person_id == boy.id)
            ).scalar_one()
            == "male"
        )


def test_a_child_added_without_a_sex_has_none_stated(database: str) -> None:
    parent = make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(last_name="Иванов", first_name="Пётр", birth_date=city_today()),
    )
    assert child.sex is None
    with UnitOfWork() as uow:
        facts = service.person_by_id(uow.session, child.id)
    assert facts is not None
    assert facts.sex is None
