"""The demo city's schools and kindergartens: education profiles of the demo
organisations, places for the next school year and a territory file (through the
service functions).

Call ``load_demo_education()`` after ``infocity.demo.load_demo_city()``.
"""

from __future__ import annotations

from sqlalchemy import select

from infocity.city import service as city
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_today
from infocity.core.uow import UnitOfWork
from infocity.education import service
from infocity.education.models.directory import Kindergarten
from infocity.education.rules.kindergarten import school_year
from infocity.education.schemas.directory import GroupPlacesSet

SCHOOL_BUILDINGS = {
    "School No. 1520": ["Большой Афанасьевский пер., 30", "Денежный пер., 3"],
    "School No. 57": ["Малый Знаменский пер., 7/10", "Волхонка, 12"],
}
# Places of each age group (full years on 1 September) for the next school year.
KINDERGARTEN_PLACES = {
    "Kindergarten No. 1101": {1: 2, 2: 3, 3: 5, 4: 2, 5: 1, 6: 1},
    "Kindergarten No. 2304": {1: 1, 2: 2, 3: 3, 4: 1, 5: 1, 6: 1},
}
TERRITORY = [
    ("Москва, ул. Арбат, 42", "School No. 57"),
    ("Москва, ул. Арбат, 44", "School No. 57"),
    ("Москва, Денежный пер., 5", "School No. 1520"),
    ("Москва, Большой Афанасьевский пер., 28", "School No. 1520"),
]


def load_demo_education() -> bool:
    """Load the demo schools and kindergartens unless they are there already."""
    by_name = {
        o.name_en: o.id
        for kind in ("school", "kindergarten")
        for o in city.list_organisations(kind)
    }
    if not set(SCHOOL_BUILDINGS) | set(KINDERGARTEN_PLACES) <= by_name.keys():
        return False  # the demo city is not loaded
    with UnitOfWork() as uow:
        if uow.session.scalar(select(Kindergarten.id).limit(1)) is not None:
            return False
    for name, buildings in SCHOOL_BUILDINGS.items():
        service.register_education_organisation(SYSTEM, by_name[name], buildings)
    year = school_year(city_today()) + 1
    for name, groups in KINDERGARTEN_PLACES.items():
        service.register_education_organisation(SYSTEM, by_name[name])
        for group, places in groups.items():
            service.set_group_places(
                SYSTEM, by_name[name], GroupPlacesSet(year=year, age_group=group, places=places)
            )
    lines = ["address,school_id"] + [f'"{a}",{by_name[s]}' for a, s in TERRITORY]
    service.import_territory(SYSTEM, "\n".join(lines) + "\n")
    return True
