"""School staff's pages of school cards: the school's pupils with their card and balance,
a search, a card issued to a child found in the register, a lost card blocked and a new
one issued in its place (the balance stays), each look at pupils in the audit log, and
another school's staff seeing nothing."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.cards import service
from infocity.cards.models.cards import SchoolCard
from infocity.core.errors import Forbidden
from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork
from tests.builders import logged_in, make_citizen
from tests.cards_builders import (
    enrolled_child,
    event,
    make_child,
    make_device,
    make_school,
    new_uid,
    send,
    top_up,
    yesterday_at,
)
from tests.support.forms import form_token


def _audited(action: str) -> list[tuple[int | None, int | None]]:
    with UnitOfWork() as uow:
        return [
            (row.organisation_id, row.subject_person_id)
            for row in uow.session.execute(
                select(AuditEntry.organisation_id, AuditEntry.subject_person_id).where(
                    AuditEntry.action == action
                )
            )
        ]


def test_staff_list_and_search_their_pupils_and_the_look_is_audited(database: str) -> None:
    school = make_school()
    parent, masha = enrolled_child(school, first_name="Маша")
    _other_parent, petya = enrolled_child(school, first_name="Петя")
    top_up(parent, masha.id, 15_000)

    listed = service.list_school_pupils(school.staff.principal, school.id)
    assert [(p.name, p.balance, p.card_status) for p in listed.pupils] == [
        ("Иванова Маша", 15_000, "active"),
        ("Иванова Петя", 0, "active"),
    ]
    found = service.list_school_pupils(school.staff.principal, school.id, search="петя")
    assert [p.id for p in found.pupils] == [petya.id]
    by_uid = service.list_school_pupils(school.staff.principal, school.id, search=masha.uid)
    assert [p.id for p in by_uid.pupils] == [masha.id]
    assert _audited("cards.school.pupils") == [(school.id, None)] * 3


def test_another_schools_staff_see_nothing_of_its_pupils(database: str) -> None:
    school, other = make_school(), make_school()
    _parent, pupil = enrolled_child(school)
    with pytest.raises(Forbidden):
        service.list_school_pupils(other.staff.principal, school.id)
    with pytest.raises(Forbidden):
        service.get_school_pupil(other.staff.principal, pupil.id)
    with pytest.raises(Forbidden):
        service.list_school_pupils(make_citizen().principal, school.id)
    assert _audited("cards.school.pupils") == []
    assert _audited("cards.school.pupil") == []


def test_a_pupils_cards_and_latest_events_newest_first(database: str) -> None:
    school = make_school()
    _parent, pupil = enrolled_child(school)
    turnstile = make_device(school.id)
    send(
        turnstile,
        event("e1", "entry", pupil.uid, yesterday_at(8)),
        event("e2", "exit", pupil.uid, yesterday_at(14)),
    )
    service.block_card(school.staff.principal, pupil.card_id)
    new = service.reissue_card(school.staff.principal, pupil.card_id, new_uid())

    seen = service.get_school_pupil(school.staff.principal, pupil.id)
    assert [(c.uid, c.status) for c in seen.cards] == [
        (new.uid, "active"),
        (pupil.uid, "replaced"),
    ]
    assert seen.pupil.card_uid == new.uid
    assert [(e.kind, e.device) for e in seen.events] == [
        ("exit", "turnstile 1"),
        ("entry", "turnstile 1"),
    ]
    assert _audited("cards.school.pupil") == [(school.id, pupil.person_id)]


def test_children_are_found_in_the_register_to_be_given_a_card(database: str) -> None:
    school = make_school()
    parent = make_citizen()
    child = make_child(parent, "Оля")  # Иванова Оля, born 2015-03-01
    _parent, pupil = enrolled_child(school, first_name="Маша")

    found = service.find_children_for_card(
        school.staff.principal, school.id, "иванова", date(2015, 3, 1)
    )
    assert sorted((f.name, f.pupil_id) for f in found) == [
        ("Иванова Маша", pupil.id),
        ("Иванова Оля", None),
    ]
    assert child in {f.person_id for f in found}
    assert _audited("cards.school.register_search") == [(school.id, None)]


def test_staff_issue_block_and_reissue_through_the_pages(database: str, client: TestClient) -> None:
    school = make_school()
    parent = make_citizen()
    child = make_child(parent, "Оля")
    logged_in(client, school.staff)

    page = client.get("/cards/school", params={"last_name": "Иванова", "birth_date": "2015-03-01"})
    assert page.status_code == 200
    assert "Иванова Оля" in page.text
    uid = new_uid()
    issued = client.post(
        "/cards/school/issue",
        data={
            "school_id": str(school.id),
            "person_id": str(child),
            "uid": uid,
            "csrf_token": form_token(page),
        },
        follow_redirects=False,
    )
    assert issued.status_code == 303
    pupil_page = issued.headers["location"].split("?")[0]
    pupil_id = int(pupil_page.rsplit("/", 1)[1])
    with UnitOfWork() as uow:
        card_id = uow.session.scalars(
            select(SchoolCard.id).where(SchoolCard.pupil_id == pupil_id)
        ).one()

    page = client.get(issued.headers["location"])
    assert uid in page.text
    listed = client.get("/cards/school")
    assert "Иванова Оля" in listed.text
    assert uid in listed.text

    blocked = client.post(
        f"{pupil_page}/cards/{card_id}/block",
        data={"csrf_token": form_token(page)},
        follow_redirects=True,
    )
    assert blocked.status_code == 200
    with UnitOfWork() as uow:
        assert uow.session.get(SchoolCard, card_id).status == "blocked"  # type: ignore[union-attr]

    refused = client.post(
        f"{pupil_page}/cards/{card_id}/reissue",
        data={"uid": "not a uid", "csrf_token": form_token(blocked)},
    )
    assert refused.status_code == 422
    new_uid_text = new_uid()
    reissued = client.post(
        f"{pupil_page}/cards/{card_id}/reissue",
        data={"uid": new_uid_text, "csrf_token": form_token(blocked)},
        follow_redirects=True,
    )
    assert reissued.status_code == 200
    assert new_uid_text in reissued.text
    pupils = service.list_school_pupils(school.staff.principal, school.id)
    assert [(p.card_uid, p.card_status) for p in pupils.pupils] == [(new_uid_text, "active")]


def test_another_schools_staff_are_refused_the_pages(database: str, client: TestClient) -> None:
    school, other = make_school(), make_school()
    _parent, pupil = enrolled_child(school)
    logged_in(client, other.staff)
    assert client.get(f"/cards/school?school={school.id}").status_code == 403
    assert client.get(f"/cards/school/pupils/{pupil.id}").status_code == 403
    own = client.get("/cards/school")
    assert own.status_code == 200
    assert pupil.uid not in own.text
