"""A synthetic city, generated deterministically: the same seed, scale and start date give
the same city, row for row. Pure: no database, no clock (``analytics.loader`` writes the
rows).

At scale 1 it is the city of 2014: about 12 million residents (``people``); 650
polyclinics, 30 thousand practitioners with weekly schedules, everyone attached to a
polyclinic and the slots of the booking horizon (``health``); 1,600 schools, 1,800
kindergartens, 150 thousand children in the kindergarten queue, 110 thousand first-grade
applications and 750 thousand state exam participants (``education``); 1,532 school
buildings under video surveillance with about 6,100 cameras and their guards
(``video``). Each part is a module over the shared ``base``; ``SyntheticCity`` puts them
together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infocity.analytics.synthetic import education, health, people, video
from infocity.analytics.synthetic.base import (
    AGE_BANDS,
    FEMALE_SHARE,
    CityBase,
    CityPlan,
    SpecialtyInfo,
    Table,
    birth_date_for_age,
    luhn_digit,
    oms_policy_for,
    snils_for,
)
from infocity.analytics.synthetic.education import (
    BENEFIT_SHARES,
    EXAM_PASS_MARKS,
    EducationCity,
    exam_document_number,
    exam_registration_code,
    exam_subjects,
    parent_email,
)
from infocity.analytics.synthetic.health import STAFFING, HealthCity
from infocity.analytics.synthetic.people import PeopleCity
from infocity.analytics.synthetic.video import VideoCity


@dataclass
class SyntheticCity(VideoCity, EducationCity, HealthCity, PeopleCity):
    """The whole city: ``tables()`` lists every table's rows in load order (people, then
    health, then education, then school video surveillance)."""


# Every table the city writes, with its columns.
COLUMNS: dict[str, Sequence[str]] = {
    **people.COLUMNS,
    **health.COLUMNS,
    **education.COLUMNS,
    **video.COLUMNS,
}


__all__ = [
    "AGE_BANDS",
    "BENEFIT_SHARES",
    "COLUMNS",
    "EXAM_PASS_MARKS",
    "FEMALE_SHARE",
    "STAFFING",
    "CityBase",
    "CityPlan",
    "SpecialtyInfo",
    "SyntheticCity",
    "Table",
    "birth_date_for_age",
    "exam_document_number",
    "exam_registration_code",
    "exam_subjects",
    "luhn_digit",
    "oms_policy_for",
    "parent_email",
    "snils_for",
]
