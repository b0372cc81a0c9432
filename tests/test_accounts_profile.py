"""The citizen's cabinet: documents checked and shown masked, children added and listed."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts import rules, service
from infocity.accounts.models import FamilyLink, Person
from infocity.accounts.schemas import ChildCreate, ProfileUpdate
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
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

# Not the number the form's hint shows as an example.
SNILS_DIGITS = make_snils(42)
SNILS = rules.format_snils(SNILS_DIGITS)
MASKED_SNILS = rules.mask_snils(SNILS_DIGITS)
BAD_SNILS = SNILS[:-1] + str((int(SNILS[-1]) + 1) % 10)
POLICY = "7755123456781234"


def save_profile(client: TestClient, **fields: str) -> str:
    data = {"last_name": "Иванова", "first_name": "Анна", **fields}
    response = client.post(
        "/cabinet/profile",
        data={**data, "csrf_token": csrf_token(client, "/cabinet")},
        follow_redirects=True,
    )
    return f"{response.status_code}\n{response.text}"


def test_documents_are_saved_and_shown_masked(client: TestClient) -> None:
    citizen = make_citizen(phone="+79161234567")
    login_page_client(client, citizen.identifier, citizen.password)
    page = save_profile(
        client, snils=SNILS, oms_policy="7755 1234 5678 1234", passport="46 07 654321"
    )
    assert page.startswith("200")
    assert "Профиль сохранён." in page
    for masked in (MASKED_SNILS, "************1234", "** ** ***321", "+7 *** ***-**-67"):
        assert masked in page
    for full in (SNILS[:11], SNILS_DIGITS, POLICY, "654321", "9161234567"):
        assert full not in page

    me = client.get(
        "/api/v1/me", headers=bearer(api_token(client, citizen.identifier, citizen.password))
    )
    assert me.json()["person"]["snils"] == MASKED_SNILS
    assert me.json()["person"]["oms_policy"] == "************1234"
    assert me.json()["phone"] == "+7 *** ***-**-67"


def test_bad_snils_is_refused_in_the_users_language_and_nothing_changes(
    client: TestClient,
) -> None:
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)
    russian = save_profile(client, snils=BAD_SNILS, last_name="Петрова")
    assert russian.startswith("422")
    assert "Такого СНИЛС не бывает: проверьте цифры." in russian
    assert f'value="{BAD_SNILS}"' in russian  # kept for correction
    assert 'value="Петрова"' in russian

    client.cookies.set("lang", "en")
    english = save_profile(client, snils=BAD_SNILS)
    assert "This SNILS number is not valid: please check the digits." in english

    token = api_token(client, citizen.identifier, citizen.password)
    api = client.patch(
        "/api/v1/me",
        json={"snils": BAD_SNILS, "last_name": "Петрова"},
        headers={**bearer(token), "Accept-Language": "en"},
    )
    assert api.status_code == 422
    assert api.json() == {
        "error": {
            "code": "invalid_snils",
            "message": "This SNILS number is not valid: please check the digits.",
            "field": "snils",
        }
    }
    profile = service.get_profile(citizen.principal)
    assert profile.person.snils is None
    assert profile.person.last_name == "Иванова"


def test_a_document_of_another_person_is_refused_with_a_clear_message(
    client: TestClient,
) -> None:
    first = make_citizen()
    service.update_profile(first.principal, ProfileUpdate(snils=SNILS))
    second = make_citizen()
    token = api_token(client, second.identifier, second.password)
    taken = client.patch("/api/v1/me", json={"snils": SNILS_DIGITS}, headers=bearer(token))
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "snils_taken"
    assert taken.json()["error"]["field"] == "snils"
    assert "уже зарегистрирован на другого человека" in taken.json()["error"]["message"]
    # Saving one's own number again is not a conflict.
    again = client.patch(
        "/api/v1/me",
        json={"snils": SNILS},
        headers=bearer(api_token(client, first.identifier, first.password)),
    )
    assert again.status_code == 200


def test_a_document_set_to_null_is_removed_and_left_out_fields_stay(client: TestClient) -> None:
    citizen = make_citizen()
    service.update_profile(
        citizen.principal,
        ProfileUpdate(snils=SNILS, oms_policy=POLICY, birth_date=date(1990, 5, 1)),
    )
    token = api_token(client, citizen.identifier, citizen.password)
    response = client.patch("/api/v1/me", json={"oms_policy": None}, headers=bearer(token))
    person = response.json()["person"]
    assert person["oms_policy"] is None
    assert person["snils"] == MASKED_SNILS
    assert person["birth_date"] == "1990-05-01"


def test_oversized_or_unknown_fields_are_a_422_not_a_500(client: TestClient) -> None:
    citizen = make_citizen()
    token = api_token(client, citizen.identifier, citizen.password)
    for body in ({"last_name": "Я" * 101}, {"snils": "1" * 41}, {"is_admin": True}):
        response = client.patch("/api/v1/me", json=body, headers=bearer(token))
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_input"
    assert service.get_profile(citizen.principal).person.last_name == "Иванова"


def test_a_child_is_added_and_listed(client: TestClient) -> None:
    citizen = make_citizen()
    login_page_client(client, citizen.identifier, citizen.password)
    response = client.post(
        "/cabinet/children",
        data={
            "last_name": "Иванов",
            "first_name": "Пётр",
            "birth_date": "2019-04-12",
            "snils": make_snils(7),
            "csrf_token": csrf_token(client, "/cabinet"),
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Ребёнок добавлен в вашу семью." in response.text
    assert "Иванов Пётр" in response.text
    assert "12 апреля 2019\u202fг." in response.text  # the one date format of Russian
    assert make_snils(7) not in response.text

    token = api_token(client, citizen.identifier, citizen.password)
    children = client.get("/api/v1/me/children", headers=bearer(token)).json()
    assert [(c["first_name"], c["birth_date"]) for c in children] == [("Пётр", "2019-04-12")]
    # The family is told, in the inbox and by e-mail.
    with UnitOfWork() as uow:
        messages = uow.session.execute(
            select(OutboxMessage.channel, OutboxMessage.subject, OutboxMessage.body).where(
                OutboxMessage.kind == "child_added", OutboxMessage.user_id == citizen.id
            )
        ).all()
    assert sorted(m.channel for m in messages) == ["email", "inbox"]
    assert messages[0].subject == "В вашу семью добавлен ребёнок"
    assert "Иванов Пётр" in messages[0].body

    added = client.post(
        "/api/v1/me/children",
        json={"last_name": "Иванова", "first_name": "Мария", "birth_date": "2022-01-30"},
        headers=bearer(token),
    )
    assert added.status_code == 201
    assert len(client.get("/api/v1/me/children", headers=bearer(token)).json()) == 2


def test_an_adult_or_unborn_child_is_refused_and_nothing_is_written(client: TestClient) -> None:
    citizen = make_citizen()
    token = api_token(client, citizen.identifier, citizen.password)
    persons, links, messages = count_rows(Person), count_rows(FamilyLink), count_rows(OutboxMessage)
    for birth_date, code in (("2000-01-01", "not_a_child"), ("2999-01-01", "birth_date_in_future")):
        response = client.post(
            "/api/v1/me/children",
            json={"last_name": "Иванов", "first_name": "Пётр", "birth_date": birth_date},
            headers=bearer(token),
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["field"] == "birth_date"
    no_date = client.post(
        "/api/v1/me/children",
        json={"last_name": "Иванов", "first_name": "Пётр"},
        headers=bearer(token),
    )
    assert no_date.status_code == 422
    assert (count_rows(Person), count_rows(FamilyLink), count_rows(OutboxMessage)) == (
        persons,
        links,
        messages,
    )

    login_page_client(client, citizen.identifier, citizen.password)
    page = client.post(
        "/cabinet/children",
        data={
            "last_name": "Иванов",
            "first_name": "Пётр",
            "birth_date": "2000-01-01",
            "csrf_token": csrf_token(client, "/cabinet"),
        },
    )
    assert page.status_code == 422
    assert "Ребёнку должно быть меньше 18 лет." in page.text
    assert 'value="2000-01-01"' in page.text


def test_a_citizen_acts_for_themself_and_their_children_only(database: str) -> None:
    parent, stranger = make_citizen(), make_citizen()
    child = service.add_child(
        parent.principal,
        ChildCreate(last_name="Иванов", first_name="Пётр", birth_date=date(2018, 1, 1)),
    )
    assert parent.person_id is not None
    assert service.acts_for(parent.principal, parent.person_id)
    assert service.acts_for(parent.principal, child.id)
    assert not service.acts_for(stranger.principal, child.id)
    assert not service.acts_for(stranger.principal, parent.person_id)


def test_staff_have_no_citizen_cabinet(client: TestClient) -> None:
    clinic = make_organisation("clinic")
    registrar = make_staff("registrar", clinic.id)
    token = api_token(client, registrar.identifier, registrar.password)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 403
    login_page_client(client, registrar.identifier, registrar.password)
    cabinet = client.get("/cabinet", follow_redirects=False)
    assert cabinet.headers["location"] == "/staff"
