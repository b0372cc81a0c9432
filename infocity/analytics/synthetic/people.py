"""Residents: the city register's people, by the age pyramid of ``AGE_BANDS`` (54 %
women, Russian names, valid SNILS and OMS policy numbers). Other parts note the
residents they need as they are generated (``CityBase.on_resident``): health attaches
each to a polyclinic, education picks children and their parents."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from infocity.analytics.synthetic.base import (
    AGE_BANDS,
    FEMALE_NAMES,
    FEMALE_SHARE,
    MALE_NAMES,
    SURNAMES,
    CityBase,
    Rows,
    Table,
    birth_date_for_age,
    oms_policy_for,
    snils_for,
)

COLUMNS: dict[str, Sequence[str]] = {
    "persons": (
        "id", "last_name", "first_name", "middle_name", "birth_date", "snils", "oms_policy",
        "created_at",
    ),
}  # fmt: skip


@dataclass
class PeopleCity(CityBase):
    def persons(self) -> Rows:
        """Residents: id, last, first, middle name, birth date, SNILS, OMS policy,
        created_at. Tells the other parts of each one (``on_resident``)."""
        rng = self._rng("persons")
        random_ = rng.random
        randrange = rng.randrange
        bands = [(low, high) for low, high, _ in AGE_BANDS]
        band_weights = [share for _, _, share in AGE_BANDS]
        cumulative: list[float] = []
        running = 0.0
        for weight in band_weights:
            running += weight
            cumulative.append(running / sum(band_weights))
        last_band = len(bands) - 1
        on_resident = self.on_resident
        created_at = self.created_at
        start = self.start
        for n in range(self.plan.residents):
            low, high = bands[min(bisect_left(cumulative, random_()), last_band)]
            age = low + randrange(high - low + 1)
            birth = birth_date_for_age(start, age, randrange(365))
            female = random_() < FEMALE_SHARE
            surname = SURNAMES[randrange(len(SURNAMES))][1 if female else 0]
            father = MALE_NAMES[randrange(len(MALE_NAMES))]
            middle = father[2] if female else father[1]
            first = (
                FEMALE_NAMES[randrange(len(FEMALE_NAMES))]
                if female
                else MALE_NAMES[randrange(len(MALE_NAMES))][0]
            )
            on_resident(n, age, birth, randrange)
            yield (
                self.person_id(n),
                surname,
                first,
                middle,
                birth,
                snils_for(n),
                oms_policy_for(n),
                created_at,
            )

    def tables(self) -> list[Table]:
        return [
            *super().tables(),
            Table("persons", COLUMNS["persons"], self.persons, lambda: self.plan.residents),
        ]
