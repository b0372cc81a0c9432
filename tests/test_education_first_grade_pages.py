"""The first-grade pages and API: a parent applies in phase 1 and sees the decision, the
official previews and makes the decisions, the school confirms the documents."""

from __future__ import annotations

from fastapi.testclient import TestClient

from infocity.core.auth import Role
from infocity.education.models.first_grade import FirstGradeApplication
from infocity.education.rules.first_grade import Phase
from tests.builders import api_token, bearer, citizen_api_token, count_rows, logged_in, make_staff
from tests.education_builders import (
    first_grade_places,
    make_first_grader,
    make_school,
    open_campaign,
    territory,
)
from tests.support.forms import submit

PAGE = "/education/first-grade"


def test_parent_applies_in_phase_1_the_official_decides_the_school_confirms(
    client: TestClient,
) -> None:
    open_campaign(Phase.ONE)
    school = make_school().id
    first_grade_places(school, 1)
    territory("Москва, ул. Липовая, 7", school)
    family = make_first_grader()
    logged_in(client, family.parent)
    client.cookies.set("lang", "en")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "Phase 1: siblings" in page.text
    refused = submit(
        client,
        page,
        f"{PAGE}/apply",
        {"child_id": family.child_id, "school_1": school, "home_address": "ул. Другая, 1"},
    )
    assert refused.status_code == 422
    assert "Phase 1 is for children with a brother or sister" in refused.text
    assert count_rows(FirstGradeApplication) == 0
    done = submit(
        client,
        page,
        f"{PAGE}/apply",
        {"child_id": family.child_id, "school_1": school, "home_address": "Москва, ул. Липовая, 7"},
    )
    assert done.status_code == 303
    shown = client.get(done.headers["location"]).text
    assert "The application is sent." in shown
    assert "Waiting for the decision" in shown
    assert "Lives on the school" in shown

    client.cookies.clear()
    official = make_staff(Role.CITY_ADMIN)
    logged_in(client, official)
    assert client.get(PAGE, follow_redirects=False).headers["location"] == f"{PAGE}/allocation"
    desk = client.get(f"{PAGE}/allocation")
    preview = submit(client, desk, f"{PAGE}/allocation", {"phase": "1", "action": "preview"})
    assert preview.status_code == 200
    assert "Принят(а): Школа" in preview.text
    assert "Решить до" in preview.text
    ran = submit(client, desk, f"{PAGE}/allocation", {"phase": "1", "action": "run"})
    assert ran.status_code == 303

    client.cookies.clear()
    logged_in(client, family.parent)
    assert "Принят(а): принесите документы в школу" in client.get(PAGE).text

    client.cookies.clear()
    staff = make_staff(Role.SCHOOL_STAFF, school)
    logged_in(client, staff)
    school_page = f"{PAGE}/schools/{school}"
    assert client.get(PAGE, follow_redirects=False).headers["location"] == school_page
    listed = client.get(school_page)
    assert "Москва, ул. Липовая, 7" in listed.text
    (application,) = [
        a.split('/confirm"')[0] for a in listed.text.split("/applications/")[1:] if "/confirm" in a
    ]
    confirmed = submit(client, listed, f"{school_page}/applications/{application}/confirm", {})
    assert confirmed.status_code == 303
    assert (
        "Документы подтверждены, ребёнок зачислен."
        in client.get(confirmed.headers["location"]).text
    )
    other = make_school().id
    assert client.get(f"{PAGE}/schools/{other}").status_code == 403


def test_api_apply_and_read_the_decision(client: TestClient) -> None:
    year = open_campaign(Phase.TWO)
    school = make_school().id
    first_grade_places(school, 1)
    campaign = client.get("/api/v1/education/first-grade/campaign").json()
    assert campaign["open_phase"] == 2
    assert campaign["schools"][0]["free_places"] == 1
    token = citizen_api_token()
    headers = bearer(token)
    family_child = client.post(
        "/api/v1/me/children",
        json={"last_name": "Сидоров", "first_name": "Лёва", "birth_date": f"{year - 7}-02-01"},
        headers=headers,
    )
    assert family_child.status_code == 201, family_child.text
    child_id = family_child.json()["id"]
    created = client.post(
        "/api/v1/education/first-grade/applications",
        json={"child_id": child_id, "school_ids": [school]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    again = client.post(
        "/api/v1/education/first-grade/applications",
        json={"child_id": child_id, "school_ids": [school]},
        headers=headers,
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "child_already_applied_first_grade"
    (mine,) = client.get("/api/v1/education/first-grade/applications", headers=headers).json()
    assert mine["status"] == "submitted"


def test_official_sets_the_campaign_and_places_through_the_api(client: TestClient) -> None:
    school = make_school().id
    official = make_staff(Role.CITY_ADMIN)
    headers = bearer(api_token(client, official.identifier, official.password))
    body = {
        "year": 2040,
        "phase_1_opens": "2040-04-01",
        "phase_1_closes": "2040-06-30",
        "phase_2_opens": "2040-07-06",
        "phase_2_closes": "2040-09-01",
    }
    set_ = client.put("/api/v1/education/first-grade/campaigns/2040", json=body, headers=headers)
    assert set_.status_code == 200, set_.text
    places = client.put(
        f"/api/v1/education/first-grade/campaigns/2040/schools/{school}",
        json={"places": 50},
        headers=headers,
    )
    assert places.json()["free_places"] == 50
    read = client.get("/api/v1/education/first-grade/campaign?year=2040").json()
    assert read["phase_1_decision_days"] == 3
    assert [s["places"] for s in read["schools"]] == [50]
    wrong = client.put(
        "/api/v1/education/first-grade/campaigns/2040",
        json={**body, "phase_2_opens": "2040-06-01"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "first_grade_campaign_dates_invalid"
