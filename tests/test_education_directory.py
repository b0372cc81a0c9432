"""The education directory: schools with buildings, kindergartens' places by age group,
school territories from the district's file, and who may change what."""

from __future__ import annotations

import pytest

from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import Forbidden
from infocity.education import errors, service
from infocity.education.models.directory import TerritoryAddress
from infocity.education.schemas.directory import GroupPlacesSet
from tests.builders import count_rows, make_organisation, make_staff
from tests.education_builders import make_kindergarten, make_school, set_places


def test_a_school_has_several_buildings(database: str) -> None:
    school = make_school(buildings=3)
    assert len(service.get_school(school.id).buildings) == 3


def test_territory_file_assigns_addresses_and_unknown_addresses_say_so(database: str) -> None:
    school = make_school()
    official = make_staff(Role.CITY_ADMIN)
    text = f'address,school_id\n"Москва, Тверская ул., 7",{school.id}\n'
    assert service.import_territory(official.principal, text).imported == 1
    found = service.school_for_address("москва,  тверская ул.,7")
    assert (found.school_id, found.school_name) == (school.id, school.name)
    with pytest.raises(errors.AddressNotInTerritory):
        service.school_for_address("Москва, Тверская ул., 8")


def test_a_territory_file_with_a_bad_row_is_refused_whole_with_its_lines(database: str) -> None:
    school = make_school()
    text = (
        "address,school_id\n"
        f'"Москва, ул. Арбат, 1",{school.id}\n'
        '"Москва, ул. Арбат, 2",abc\n'
        f'"Москва, ул. Арбат, 3",{school.id + 1000}\n'
        f'"москва, ул. арбат, 1",{school.id}\n'
        "только адрес\n"
    )
    with pytest.raises(errors.TerritoryRowsRejected) as refused:
        service.import_territory(make_staff(Role.CITY_ADMIN).principal, text)
    assert [line for line, _ in refused.value.rows] == [3, 4, 5, 6]
    assert count_rows(TerritoryAddress) == 0


def test_kindergarten_staff_set_places_of_their_own_kindergarten_only(database: str) -> None:
    mine, other = make_kindergarten(), make_kindergarten()
    staff = make_staff(Role.KINDERGARTEN_STAFF, mine)
    group = service.set_group_places(
        staff.principal, mine, GroupPlacesSet(year=2030, age_group=3, places=20)
    )
    assert (group.places, group.free_places) == (20, 20)
    with pytest.raises(Forbidden):
        service.set_group_places(
            staff.principal, other, GroupPlacesSet(year=2030, age_group=3, places=20)
        )
    with pytest.raises(Forbidden):
        service.import_territory(staff.principal, "address,school_id\n")


def test_places_never_drop_below_those_already_given(database: str) -> None:
    kindergarten = make_kindergarten()
    set_places(kindergarten, 3, 5, year=2030)
    changed = set_places(kindergarten, 3, 8, year=2030)
    assert (changed.places, changed.free_places) == (8, 8)
    listed = {k.id: k for k in service.list_kindergartens()}[kindergarten]
    assert [(g.year, g.age_group, g.places) for g in listed.groups] == [(2030, 3, 8)]


def test_only_a_school_or_kindergarten_gets_an_education_profile(database: str) -> None:
    clinic = make_organisation("clinic")
    with pytest.raises(errors.NotAnEducationOrganisation):
        service.register_education_organisation(SYSTEM, clinic.id)
    school = make_organisation("school")
    service.register_education_organisation(SYSTEM, school.id, ["Москва, ул. Новая, 1"])
    assert service.get_school(school.id).buildings == ["Москва, ул. Новая, 1"]
