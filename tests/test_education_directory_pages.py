"""The directory's and the first-grade campaign's pages for staff: officials of a
district see and change their district's schools and kindergartens, the staff of a
kindergarten their own; the territory file's wrong lines are listed; the city's official
sets the campaign's dates."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from infocity.core.auth import Role
from infocity.core.clock import city_today
from infocity.education.models.directory import School, TerritoryAddress
from infocity.education.rules.first_grade import Phase
from tests.builders import count_rows, logged_in, make_staff
from tests.education_builders import (
    first_grade_year,
    make_kindergarten,
    make_school,
    open_campaign,
    two_districts,
)
from tests.support.forms import form_token, submit

PAGE = "/education/directory"
CAMPAIGN = "/education/first-grade/campaign"


def test_district_official_and_kindergarten_staff_see_and_change_their_own(
    client: TestClient,
) -> None:
    districts = two_districts()
    home = districts.home
    school = make_school(district_id=home)
    other_school = make_school(district_id=districts.away)
    mine = make_kindergarten("Детский сад «Ромашка»", district_id=home)
    theirs = make_kindergarten("Детский сад «Василёк»", district_id=districts.away)
    year = first_grade_year() - 1

    logged_in(client, districts.official)
    page = client.get(PAGE)
    assert page.status_code == 200
    for shown in ("Ромашка", school.name):
        assert shown in page.text
    for hidden in ("Василёк", other_school.name):
        assert hidden not in page.text
    saved = submit(
        client,
        page,
        f"{PAGE}/kindergartens/{mine}/groups",
        {"year": year, "age_group": 3, "places": 20},
    )
    assert saved.status_code == 303
    assert "Места сохранены." in client.get(saved.headers["location"]).text
    refused = submit(
        client,
        page,
        f"{PAGE}/kindergartens/{theirs}/groups",
        {"year": year, "age_group": 3, "places": 5},
    )
    assert refused.status_code == 403
    assert "относится к другому округу" in refused.text

    missing = submit(client, page, f"{PAGE}/schools", {"district_id": home, "buildings": ""})
    assert missing.status_code == 422
    assert 'id="f-school-name-error"' in missing.text
    added = submit(
        client,
        page,
        f"{PAGE}/schools",
        {
            "name": "Школа №1500",
            "district_id": home,
            "buildings": "ул. Лесная, 1\nул. Лесная, 3",
        },
    )
    assert added.status_code == 303
    assert count_rows(School) == 3
    assert "ул. Лесная, 3" in client.get(PAGE).text

    csv = (
        "address,school_id\n"
        f'"ул. Лесная, 1",{school.id}\n'
        f'"ул. Лесная, 2",{other_school.id}\n'
        "без номера\n"
    )
    imported = client.post(
        f"{PAGE}/territory",
        data={"csrf_token": form_token(page)},
        files={"file": ("territory.csv", csv.encode(), "text/csv")},
    )
    assert imported.status_code == 422
    assert "Файл не загружен" in imported.text
    assert "Эта школа в другом округе." in imported.text
    assert '<td data-label="Строка">4</td>' in imported.text
    assert count_rows(TerritoryAddress) == 0

    client.cookies.clear()
    logged_in(client, make_staff(Role.KINDERGARTEN_STAFF, mine))
    own = client.get(PAGE).text
    assert "Ромашка" in own
    for hidden in ("Василёк", school.name):
        assert hidden not in own
    assert "Зарегистрировать школу" not in own


def test_city_official_sets_the_campaign_and_a_district_official_its_schools_places(
    client: TestClient,
) -> None:
    districts = two_districts()
    school = make_school(district_id=districts.home)
    other_school = make_school(district_id=districts.away)

    logged_in(client, make_staff(Role.CITY_ADMIN))
    client.cookies.set("lang", "en")
    page = client.get(CAMPAIGN)
    assert 'name="phase_1_opens"' in page.text
    today = city_today()
    dates = {
        "phase_1_opens": today,
        "phase_1_closes": today + timedelta(days=1),
        "phase_2_opens": today,  # before phase 1 closes: refused
        "phase_2_closes": today + timedelta(days=2),
    }
    refused = submit(client, page, CAMPAIGN, dates)
    assert refused.status_code == 422
    assert "phase 2 must open after phase 1 closes" in refused.text
    open_campaign(Phase.ONE)  # the builder's dates, valid whatever today is

    client.cookies.clear()
    logged_in(client, districts.official)
    page = client.get(CAMPAIGN)
    assert page.status_code == 200
    assert 'name="phase_1_opens"' not in page.text  # the dates are the city's
    assert school.name in page.text
    assert other_school.name not in page.text
    saved = submit(client, page, f"{CAMPAIGN}/schools/{school.id}", {"places": 25})
    assert saved.status_code == 303
    assert "Мест: 25, свободно: 25." in client.get(CAMPAIGN).text
    assert (
        submit(client, page, f"{CAMPAIGN}/schools/{other_school.id}", {"places": 5}).status_code
        == 403
    )
