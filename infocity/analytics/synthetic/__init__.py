"""A synthetic city, generated deterministically: the same seed, scale and start date give
the same city, row for row. Pure: no database, no clock (``analytics.loader`` writes the
rows).

At scale 1 it is the city of 2014: about 12 million residents (``people``); 650
polyclinics, 30 thousand practitioners with weekly schedules, everyone attached to a
polyclinic and the slots of the booking horizon (``health``); 1,600 schools, 1,800
kindergartens, 150 thousand children in the kindergarten queue, 110 thousand first-grade
applications and 750 thousand state exam participants (``education``); 750 thousand
pupils with school cards, 300 thousand parents subscribed, the schools' turnstiles and
tills, and 750 thousand students' social cards (``cards``); 1,532 school buildings under
video surveillance with about 6,100 cameras and their guards (``video``); Wi-Fi hotspots,
2 million people identified by phone and a day of 3.3 million connections (``wifi``).
Each part is a module over the shared ``base``; ``SyntheticCity`` puts them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infocity.analytics.synthetic import cards, education, health, people, video, wifi
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
from infocity.analytics.synthetic.cards import CardsCity, device_key, school_card_uid
from infocity.analytics.synthetic.education import (
    BENEFIT_SHARES,
    EXAM_PASS_MARKS,
    exam_document_number,
    exam_registration_code,
    exam_subjects,
    parent_email,
)
from infocity.analytics.synthetic.health import STAFFING, HealthCity
from infocity.analytics.synthetic.people import PeopleCity
from infocity.analytics.synthetic.video import VideoCity
from infocity.analytics.synthetic.wifi import WifiCity


@dataclass
class SyntheticCity(WifiCity, VideoCity, HealthCity, PeopleCity):
    """The whole city: ``tables()`` lists every table's rows in load order (people, then
    health, education, cards, school video surveillance, Wi-Fi)."""


# Every table the city writes, with its columns.
COLUMNS: dict[str, Sequence[str]] = {
    **people.COLUMNS,
    **health.COLUMNS,
    **education.COLUMNS,
    **cards.COLUMNS,
    **wifi.COLUMNS,
    **video.COLUMNS,
}


__all__ = [
    "AGE_BANDS",
    "BENEFIT_SHARES",
    "COLUMNS",
    "EXAM_PASS_MARKS",
    "FEMALE_SHARE",
    "STAFFING",
    "CardsCity",
    "CityBase",
    "CityPlan",
    "SpecialtyInfo",
    "SyntheticCity",
    "Table",
    "birth_date_for_age",
    "device_key",
    "exam_document_number",
    "exam_registration_code",
    "exam_subjects",
    "luhn_digit",
    "oms_policy_for",
    "parent_email",
    "school_card_uid",
    "snils_for",
]
