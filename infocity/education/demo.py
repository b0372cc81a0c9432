"""The demo city's schools and kindergartens: education profiles of the demo
organisations, places for the next school year, a territory file and a first-grade
campaign with phase 1 open (through the service functions).

Call ``load_demo_education()`` after ``infocity.demo.load_demo_city()``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from infocity.city import service as city
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_today, city_tz
from infocity.core.uow import UnitOfWork
from infocity.education import service
from infocity.education.models.directory import Kindergarten
from infocity.education.rules.kindergarten import SCHOOL_YEAR_STARTS, school_year
from infocity.education.schemas.directory import GroupPlacesSet
from infocity.education.schemas.first_grade import CampaignSet, FirstGradePlacesSet

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
    service.import_exam_results(SYSTEM, demo_exam_results(city_today()))
    _first_grade_campaign([by_name[name] for name in SCHOOL_BUILDINGS])
    return True


def _first_grade_campaign(schools: list[int]) -> None:
    """A first-grade campaign for the next 1 September with phase 1 open from today."""
    today = city_today()
    year = service.campaign_year(today)
    first_september = date(year, *SCHOOL_YEAR_STARTS)
    closes = max(today, min(today + timedelta(days=60), first_september - timedelta(days=2)))
    service.set_first_grade_campaign(
        SYSTEM,
        CampaignSet(
            year=year,
            phase_1_opens=today,
            phase_1_closes=closes,
            phase_2_opens=closes + timedelta(days=1),
            phase_2_closes=first_september,
        ),
    )
    for school in schools:
        service.set_first_grade_places(SYSTEM, year, school, FirstGradePlacesSet(places=25))


# Two participants of the demo's results day: (registration code, document number).
EXAM_PARTICIPANTS = (("770000000101", "400101"), ("770000000102", "400102"))


def demo_exam_results(today: date) -> str:
    """The demo's results file: two subjects published yesterday at 10:00 and one to be
    published tomorrow, so the look-up shows both what is out and what is not yet."""
    yesterday = datetime.combine(today - timedelta(days=1), time(10), city_tz())
    tomorrow = datetime.combine(today + timedelta(days=1), time(10), city_tz())
    lines = ["registration_code,document_number,subject,score,pass_mark,published_at"]
    for (code, document), scores in zip(
        EXAM_PARTICIPANTS, ((78, 64, 55), (31, 88, 70)), strict=True
    ):
        for subject, score, mark, at in zip(
            ("russian", "mathematics_profile", "physics"),
            scores,
            (24, 27, 36),
            (yesterday, yesterday, tomorrow),
            strict=True,
        ):
            lines.append(f"{code},{document},{subject},{score},{mark},{at.isoformat()}")
    return "\n".join(lines) + "\n"
