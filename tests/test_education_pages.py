"""The kindergarten pages: a parent applies and follows the position, an official
previews and runs the allocation, the parent accepts; the API says the same."""

from __future__ import annotations

from fastapi.testclient import TestClient

from infocity.core.auth import Role
from infocity.education.models.kindergarten import KindergartenApplication
from tests.builders import PASSWORD, count_rows, logged_in, make_staff
from tests.education_builders import (
    apply,
    cabinet_document,
    make_family,
    make_kindergarten,
    make_school,
    next_school_year_start,
    set_places,
)
from tests.support.forms import submit

PAGE = "/education/kindergarten"


def test_parent_applies_on_the_page_and_sees_the_position_and_why(client: TestClient) -> None:
    kindergarten = make_kindergarten("Детский сад «Ромашка»")
    ahead = make_family()
    apply(ahead, [kindergarten])
    family = make_family()
    logged_in(client, family.parent)
    client.cookies.set("lang", "en")
    page = client.get(PAGE)
    assert page.status_code == 200
    refused = submit(
        client,
        page,
        f"{PAGE}/apply",
        {
            "child_id": family.child_id,
            "kindergarten_1": kindergarten,
            "desired_start": next_school_year_start().isoformat(),
            "benefit": "priority",
        },
    )
    assert refused.status_code == 422
    assert "A benefit needs its supporting document" in refused.text
    assert count_rows(KindergartenApplication) == 1
    done = submit(
        client,
        page,
        f"{PAGE}/apply",
        {
            "child_id": family.child_id,
            "kindergarten_1": kindergarten,
            "desired_start": next_school_year_start().isoformat(),
            "benefit": "priority",
            "benefit_document_id": cabinet_document(family, "Удостоверение № 5 от 01.02.2026"),
        },
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"]).text
    assert "The application is in the queue." in shown
    assert "Kindergarten No." in shown  # its English name on the English page
    # A benefit goes ahead of the earlier application without one.
    assert '<td data-label="Position" class="position">1</td>' in shown
    assert "Ahead: 0, of them with a benefit: 0." in shown


def test_official_previews_and_runs_then_the_parent_accepts(client: TestClient) -> None:
    kindergarten = make_kindergarten()
    set_places(kindergarten, 3, 1)
    family = make_family()
    apply(family, [kindergarten])
    official = make_staff(Role.CITY_ADMIN)
    logged_in(client, official)
    page = client.get(f"{PAGE}/allocation")
    run_for = next_school_year_start().isoformat()
    preview = submit(client, page, f"{PAGE}/allocation", {"run_for": run_for, "action": "preview"})
    assert preview.status_code == 200
    assert "places to offer: 1" in preview.text or "мест к распределению: 1" in preview.text
    ran = submit(client, page, f"{PAGE}/allocation", {"run_for": run_for, "action": "run"})
    assert ran.status_code == 303
    client.cookies.clear()
    logged_in(client, family.parent)
    home = client.get(PAGE)
    offer_action = home.text.split('action="/education/kindergarten/offers/')[1].split('"')[0]
    assert offer_action.endswith("/accept")
    accepted = submit(client, home, f"{PAGE}/offers/{offer_action}", {})
    assert accepted.status_code == 303
    assert count_rows(KindergartenApplication) == 1


def test_a_citizen_cannot_open_the_allocation(client: TestClient) -> None:
    family = make_family()
    logged_in(client, family.parent)
    assert client.get(f"{PAGE}/allocation").status_code == 403


def test_api_apply_and_read_positions(client: TestClient) -> None:
    kindergarten = make_kindergarten()
    family = make_family()
    token = client.post(
        "/api/v1/auth/token",
        json={"identifier": family.parent.identifier, "password": family.parent.password},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "child_id": family.child_id,
        "kindergarten_ids": [kindergarten],
        "desired_start": next_school_year_start().isoformat(),
    }
    created = client.post("/api/v1/education/kindergarten/applications", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["positions"][0]["position"] == 1
    again = client.post("/api/v1/education/kindergarten/applications", json=body, headers=headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "child_already_queued")
    mine = client.get("/api/v1/education/kindergarten/applications", headers=headers)
    assert [a["status"] for a in mine.json()] == ["queued"]


def test_territory_file_through_the_api_lists_each_rejected_line(client: TestClient) -> None:
    school = make_school()
    official = make_staff(Role.CITY_ADMIN)
    token = client.post(
        "/api/v1/auth/token", json={"identifier": official.identifier, "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    bad = f'address,school_id\n"Москва, ул. Арбат, 1",{school.id}\n"Москва, ул. Арбат, 2",x\n'
    refused = client.post("/api/v1/education/territory", content=bad.encode(), headers=headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "territory_rows_rejected"
    assert [f["field"] for f in error["fields"]] == ["line 3"]
    good = bad.replace(",x\n", f",{school.id}\n")
    loaded = client.post("/api/v1/education/territory", content=good.encode(), headers=headers)
    assert loaded.json() == {"imported": 2}
    found = client.get("/api/v1/education/territory", params={"address": "москва, ул. арбат, 2"})
    assert found.json()["school_id"] == school.id
    unknown = client.get("/api/v1/education/territory", params={"address": "Москва, ул. Арбат, 3"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "address_unknown")


def test_the_catalogue_s_education_services_are_live(client: TestClient) -> None:
    from infocity.portal import service as portal

    portal.seed_catalogue()
    client.cookies.set("lang", "en")
    catalogue = client.get("/services").text
    for code, link in (
        ("kindergarten_enrolment", "/education/kindergarten"),
        ("school_enrolment", "/education/first-grade"),
        ("exam_results", "/education/exams"),
    ):
        start = catalogue.index(f'id="service-{code}"')
        entry = catalogue[start : catalogue.index("</article>", start)]
        assert f'href="{link}"' in entry
        assert "Coming soon" not in entry
        assert client.get(link).status_code in (200, 303)
