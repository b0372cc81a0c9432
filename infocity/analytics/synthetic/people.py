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
    randbelow,
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
        getrandbits = rng.getrandbits
        randrange = randbelow(rng)
        band_weights = [share for _, _, share in AGE_BANDS]
        cumulative: list[float] = []
        running = 0.0
        for weight in band_weights:
            running += weight
            cumulative.append(running / sum(band_weights))
        last_band = len(AGE_BANDS) - 1
        # Each band's youngest age, width and the random bits a draw below it takes.
        bands = [(low, high - low + 1, (high - low + 1).bit_length()) for low, high, _ in AGE_BANDS]
        # A birth date for every age and day of the year, computed once.
        days = 365
        births = [
            birth_date_for_age(self.start, age, day)
            for age in range(AGE_BANDS[-1][1] + 1)
            for day in range(days)
        ]
        # The draws below are rng.randrange(n), inlined: the same numbers, a third of
        # the time (``randbelow``).
        surnames, men, women = len(SURNAMES), len(MALE_NAMES), len(FEMALE_NAMES)
        surname_bits, men_bits, women_bits = (
            surnames.bit_length(),
            men.bit_length(),
            women.bit_length(),
        )
        day_bits = days.bit_length()
        on_resident = self.on_resident
        created_at = self.created_at
        person_base = self.person_id(0)
        for n in range(self.plan.residents):
            low, width, bits = bands[min(bisect_left(cumulative, random_()), last_band)]
            r = getrandbits(bits)
            while r >= width:
                r = getrandbits(bits)
            age = low + r
            day = getrandbits(day_bits)
            while day >= days:
                day = getrandbits(day_bits)
            birth = births[age * days + day]
            female = random_() < FEMALE_SHARE
            r = getrandbits(surname_bits)
            while r >= surnames:
                r = getrandbits(surname_bits)
            surname = SURNAMES[r][1 if female else 0]
            r = getrandbits(men_bits)
            while r >= men:
                r = getrandbits(men_bits)
            father = MALE_NAMES[r]
            if female:
                r = getrandbits(women_bits)
                while r >= women:
                    r = getrandbits(women_bits)
                first = FEMALE_NAMES[r]
                middle = father[2]
            else:
                r = getrandbits(men_bits)
                while r >= men:
                    r = getrandbits(men_bits)
                first = MALE_NAMES[r][0]
                middle = father[1]
            on_resident(n, age, birth, randrange)
            yield (
                person_base + n,
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
