"""People in the register: a citizen's and a child's sex, asked in the cabinet and the
API and published to other services."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts import service
from infocity.accounts.models import FamilyLink, Person
from infocity.accounts.read_model import PERSON_FACTS
from infocity.accounts.schemas import ChildCreate, ProfileUpdate
from infocity.core.clock import city_today
from infocity.core.errors import AppError
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from tests.builders import (
    api_token,
    bearer,
    count_rows,
    csrf_token,
    login_page_client,
    make_citizen,
)
from tests.support.forms import form_token

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


# --- Children: the same child twice, changed, removed ---------------------------------


def add_child_page(client: TestClient, **fields: str) -> httpx.Response:
    data = {"last_name": "Иванов", "first_name": "Пётр", "birth_date": child_born(), **fields}
    response: httpx.Response = client.post(
        "/cabinet/children",
        data={**data, "csrf_token": csrf_token(client, "/cabinet")},
        follow_redirects=True,
    )
    return response


def test_the_same_child_twice_is_refused_with_a_clear_message(client: TestClient) -> None:
    parent = make_citizen()
    login_page_client(client, parent.identifier, parent.password)
    assert add_child_page(client).status_code == 200
    persons, links = count_rows(Person), count_rows(FamilyLink)

    again = add_child_page(client, first_name=" Пётр ")

    assert again.status_code == 409
    assert "Ребёнок с такими ФИО и датой рождения уже есть в вашей семье." in again.text
    token = api_token(client, parent.identifier, parent.password)
    api = client.post(
        "/api/v1/me/children",
        json={"last_name": "Иванов", "first_name": "Пётр", "birth_date": child_born()},
        headers={**bearer(token), "Accept-Language": "en"},
    )
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "child_already_in_family"
    assert "already in your family" in api.json()["error"]["message"]
    assert (count_rows(Person), count_rows(FamilyLink)) == (persons, links)
    # A twin (another first name) or a namesake born another day is welcome.
    assert add_child_page(client, first_name="Павел").status_code == 200
    older = (city_today() - timedelta(days=7 * 365)).isoformat()
    assert add_child_page(client, birth_date=older).status_code == 200
    assert len(service.list_family(parent.principal)) == 3


def test_a_parent_changes_a_childs_details_on_the_page_and_in_the_api(
    client: TestClient,
) -> None:
    parent = make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(last_name="Иванов", first_name="Пётр", birth_date=city_today()),
    )
    login_page_client(client, parent.identifier, parent.password)
    form = client.get(f"/cabinet/children/{child.id}")
    assert form.status_code == 200
    assert 'value="Пётр"' in form.text

    saved = client.post(
        f"/cabinet/children/{child.id}",
        data={
            "last_name": "Иванов",
            "first_name": "Павел",
            "birth_date": child_born(),
            "sex": "male",
            "oms_policy": CHILD_POLICY,
            "csrf_token": form_token(form),
        },
        follow_redirects=True,
    )

    assert saved.status_code == 200
    assert "Данные ребёнка сохранены." in saved.text
    assert "Иванов Павел" in saved.text
    changed = service.get_child(parent.principal, child.id)
    assert (changed.first_name, changed.sex, changed.oms_policy) == (
        "Павел",
        "male",
        "************0002",
    )
    assert changed.birth_date is not None
    assert changed.birth_date.isoformat() == child_born()
    token = api_token(client, parent.identifier, parent.password)
    api = client.patch(
        f"/api/v1/me/children/{child.id}",
        json={"sex": "female", "oms_policy": None},
        headers=bearer(token),
    )
    assert api.status_code == 200
    assert (api.json()["first_name"], api.json()["sex"], api.json()["oms_policy"]) == (
        "Павел",
        "female",
        None,
    )


def test_a_childs_details_are_refused_field_by_field_and_nothing_changes(
    client: TestClient,
) -> None:
    parent = make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(last_name="Иванов", first_name="Пётр", birth_date=city_today()),
    )
    login_page_client(client, parent.identifier, parent.password)
    form = client.get(f"/cabinet/children/{child.id}")

    refused = client.post(
        f"/cabinet/children/{child.id}",
        data={
            "last_name": "Иванов",
            "first_name": "",
            "birth_date": "2000-01-01",
            "snils": "123",
            "csrf_token": form_token(form),
        },
    )

    assert refused.status_code == 422
    for field in ("first_name", "birth_date", "snils"):
        assert f'id="f-{field}-error"' in refused.text
    assert "Ребёнку должно быть меньше 18 лет." in refused.text
    assert 'value="2000-01-01"' in refused.text  # kept for correction
    token = api_token(client, parent.identifier, parent.password)
    api = client.patch(
        f"/api/v1/me/children/{child.id}",
        json={"first_name": "", "birth_date": "2000-01-01"},
        headers=bearer(token),
    )
    assert api.status_code == 422
    assert [f["field"] for f in api.json()["error"]["fields"]] == ["first_name", "birth_date"]
    assert service.get_child(parent.principal, child.id) == child


def test_a_parent_cannot_touch_someone_elses_child(client: TestClient) -> None:
    parent, stranger = make_citizen(), make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(last_name="Иванов", first_name="Пётр", birth_date=city_today()),
    )
    token = api_token(client, stranger.identifier, stranger.password)
    assert (
        client.patch(
            f"/api/v1/me/children/{child.id}", json={"first_name": "Вор"}, headers=bearer(token)
        ).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/me/children/{child.id}", headers=bearer(token)).status_code == 404
    )
    login_page_client(client, stranger.identifier, stranger.password)
    assert client.get(f"/cabinet/children/{child.id}").status_code == 404
    assert client.get(f"/cabinet/children/{child.id}/remove").status_code == 404
    assert service.list_family(parent.principal) == [child]


def test_removing_a_child_asks_first_then_unlinks_them_and_keeps_the_record(
    client: TestClient,
) -> None:
    parent = make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(
            last_name="Иванов",
            first_name="Пётр",
            birth_date=city_today(),
            oms_policy=CHILD_POLICY,
        ),
    )
    login_page_client(client, parent.identifier, parent.password)
    cabinet = client.get("/cabinet")
    assert f'href="/cabinet/children/{child.id}/remove"' in cabinet.text

    confirmation = client.get(f"/cabinet/children/{child.id}/remove")
    assert confirmation.status_code == 200
    assert "Иванов Пётр" in confirmation.text
    assert "останется в городском реестре" in confirmation.text
    assert service.list_family(parent.principal) == [child]  # asking changed nothing

    removed = client.post(
        f"/cabinet/children/{child.id}/remove",
        data={"csrf_token": form_token(confirmation)},
        follow_redirects=True,
    )

    assert removed.status_code == 200
    assert "Ребёнок удалён из вашей семьи." in removed.text
    assert "Иванов Пётр" not in removed.text
    assert service.list_family(parent.principal) == []
    assert not service.acts_for(parent.principal, child.id)
    with UnitOfWork() as uow:
        # The person stays in the register; nobody hears about them through this parent.
        assert service.person_by_policy(uow.session, CHILD_POLICY) is not None
        assert service.users_to_notify(uow.session, child.id) == []
        told = uow.session.scalars(
            select(OutboxMessage.subject).where(
                OutboxMessage.kind == "child_removed", OutboxMessage.user_id == parent.id
            )
        ).all()
    assert "Ребёнок удалён из вашей семьи" in told
    # The same child may be added again later.
    token = api_token(client, parent.identifier, parent.password)
    assert (
        client.delete(f"/api/v1/me/children/{child.id}", headers=bearer(token)).status_code == 404
    )


def test_the_api_removes_a_child(client: TestClient) -> None:
    parent = make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(last_name="Иванов", first_name="Пётр", birth_date=city_today()),
    )
    token = api_token(client, parent.identifier, parent.password)
    assert (
        client.delete(f"/api/v1/me/children/{child.id}", headers=bearer(token)).status_code == 204
    )
    assert client.get("/api/v1/me/children", headers=bearer(token)).json() == []
    with UnitOfWork() as uow:
        assert service.person_by_id(uow.session, child.id) is not None


def test_two_tabs_removing_the_same_child_at_once_remove_it_once(database: str) -> None:
    parent = make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(last_name="Иванов", first_name="Пётр", birth_date=city_today()),
    )
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def remove() -> None:
        barrier.wait()
        try:
            service.remove_child(parent.principal, child.id)
            outcomes.append("removed")
        except AppError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=remove) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["child_not_found", "removed"]
    with UnitOfWork() as uow:
        told = uow.session.scalars(
            select(OutboxMessage.channel).where(OutboxMessage.kind == "child_removed")
        ).all()
    assert sorted(told) == ["email", "inbox"]  # announced once
