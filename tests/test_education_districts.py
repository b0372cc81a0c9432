"""District education officials: the schools, kindergartens and children of their own
district, refused by name in another; the steps that concern the whole city stay with
the city's officials."""

from __future__ import annotations

from datetime import date

import pytest

from infocity.core.auth import Role
from infocity.education import errors, service
from infocity.education.models.directory import TerritoryAddress
from infocity.education.rules.first_grade import Phase
from infocity.education.schemas.directory import GroupPlacesSet, SchoolCreate
from infocity.education.schemas.first_grade import CampaignSet, FirstGradePlacesSet
from tests.builders import count_rows, make_staff
from tests.education_builders import (
    apply,
    first_grade_year,
    make_family,
    make_kindergarten,
    make_school,
    next_school_year_start,
    open_campaign,
    set_places,
    two_districts,
)


def test_a_district_official_acts_in_their_district_and_is_refused_in_another(
    database: str,
) -> None:
    districts = two_districts()
    home, away = districts.home, districts.away
    official = districts.official.principal
    city_official = make_staff(Role.CITY_ADMIN).principal
    mine, theirs = (
        make_kindergarten(district_id=home),
        make_kindergarten(district_id=away),
    )
    year = next_school_year_start().year

    # The directory: their district's places, not another's; a school registered there.
    places = GroupPlacesSet(year=year, age_group=3, places=1)
    assert service.set_group_places(official, mine, places).free_places == 1
    with pytest.raises(errors.OutsideYourDistrict):
        service.set_group_places(official, theirs, places)
    school = service.create_school(
        official, SchoolCreate(name="Школа №1", district_id=home, buildings=["ул. А, 1"])
    )
    with pytest.raises(errors.OutsideYourDistrict):
        service.create_school(
            official, SchoolCreate(name="Школа №2", district_id=away, buildings=["ул. Б, 2"])
        )
    other_school = make_school(district_id=away)
    text = f'address,school_id\n"ул. А, 1",{school.id}\n"ул. Б, 2",{other_school.id}\n'
    with pytest.raises(errors.TerritoryRowsRejected) as refused:
        service.import_territory(official, text)
    assert refused.value.rows == [(3, "This school is in another district.")]
    assert count_rows(TerritoryAddress) == 0

    # The kindergarten allocation: their district's part of the preview, the children
    # of 3 waiting (no run yet) whose first choice is there; the run is the city's.
    set_places(theirs, 3, 1)
    near, far = make_family(3), make_family(3)
    apply(near, [mine])
    apply(far, [theirs])
    preview = service.preview_allocation(official, next_school_year_start())
    assert [o.kindergarten_id for o in preview.offers] == [mine]
    assert len(service.preview_allocation(city_official, next_school_year_start()).offers) == 2
    waiting = service.list_waiting_at_three(official, next_school_year_start())
    assert [w.first_choice_id for w in waiting] == [mine]
    assert len(service.list_waiting_at_three(city_official, next_school_year_start())) == 2
    with pytest.raises(errors.CityOfficialsOnly):
        service.run_allocation(official, next_school_year_start())

    # First grade: their schools' places and lists; the campaign's dates are the city's.
    open_campaign(Phase.ONE)
    fg_year = first_grade_year()
    assert (
        service.set_first_grade_places(
            official, fg_year, school.id, FirstGradePlacesSet(places=25)
        ).places
        == 25
    )
    with pytest.raises(errors.OutsideYourDistrict):
        service.set_first_grade_places(
            official, fg_year, other_school.id, FirstGradePlacesSet(places=25)
        )
    assert service.list_school_first_graders(official, school.id, fg_year) == []
    with pytest.raises(errors.OutsideYourDistrict):
        service.list_school_first_graders(official, other_school.id, fg_year)
    with pytest.raises(errors.CityOfficialsOnly):
        service.set_first_grade_campaign(
            official,
            CampaignSet(
                year=fg_year,
                phase_1_opens=date(fg_year, 4, 1),
                phase_1_closes=date(fg_year, 6, 30),
                phase_2_opens=date(fg_year, 7, 6),
                phase_2_closes=date(fg_year, 8, 31),
            ),
        )
    with pytest.raises(errors.CityOfficialsOnly):
        service.run_first_grade_allocation(official, fg_year, Phase.ONE)
