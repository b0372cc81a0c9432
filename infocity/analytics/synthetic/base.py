"""What every part of the synthetic city shares: the plan (how many of everything at a
scale), the city's geography and names, personal numbers, ids, and ``CityBase``, the
generator each service's part extends (``people``, ``health``, ``education``).

A part is a dataclass mixin over ``CityBase``: its ``__post_init__`` plans what it needs
(calling ``super().__post_init__()`` first), ``on_resident`` lets it note residents as
``people`` generates them, and ``tables()`` adds its tables, in load order, to those of
the parts before it. A new service (cards, Wi-Fi, video) adds a module of that shape and
a base class to ``SyntheticCity`` in ``__init__``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from infocity.health import rules

# --- The city at scale 1 -----------------------------------------------------------

RESIDENTS = 12_000_000
ADULT_HEADS = 46
ADULT_BRANCHES = 354
CHILDREN_HEADS = 40
CHILDREN_BRANCHES = 210  # 46 + 354 + 40 + 210 = 650 polyclinics
PRACTITIONERS = 30_000
EXAM_PARTICIPANTS = 750_000  # state exam participants a year
SCHOOLS = 1_600  # general schools, each with one to four buildings
KINDERGARTENS = 1_800  # kindergarten buildings, six age groups each
KINDERGARTEN_APPLICANTS = 150_000  # children in the queue for the coming school year
FIRST_GRADE_APPLICANTS = 110_000  # children going to first grade this year
FEMALE_SHARE = 0.54

# (youngest, oldest, share of residents)
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 6, 0.08),
    (7, 17, 0.09),
    (18, 29, 0.17),
    (30, 44, 0.25),
    (45, 59, 0.20),
    (60, 74, 0.15),
    (75, 99, 0.06),
)

OKRUGS: tuple[tuple[str, float, float], ...] = (
    ("ЦАО", 55.754, 37.620), ("САО", 55.838, 37.525), ("СВАО", 55.854, 37.632),
    ("ВАО", 55.787, 37.775), ("ЮВАО", 55.692, 37.754), ("ЮАО", 55.623, 37.641),
    ("ЮЗАО", 55.662, 37.541), ("ЗАО", 55.728, 37.443), ("СЗАО", 55.829, 37.451),
    ("ЗелАО", 55.991, 37.214), ("НАО", 55.558, 37.376), ("ТАО", 55.400, 37.150),
)  # fmt: skip
STREETS = (
    "Тверская", "Профсоюзная", "Ленинский проспект", "Варшавское шоссе", "Мира проспект",
    "Каширское шоссе", "Дмитровское шоссе", "Рязанский проспект", "Кутузовский проспект",
    "Щёлковское шоссе", "Волгоградский проспект", "Алтуфьевское шоссе", "Бутлерова",
    "Вернадского проспект", "Генерала Белова", "Маршала Жукова проспект",
)  # fmt: skip

# Surnames as (male, female); first names with the patronymics they give.
SURNAMES = (
    ("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"), ("Васильев", "Васильева"), ("Петров", "Петрова"),
    ("Соколов", "Соколова"), ("Михайлов", "Михайлова"), ("Новиков", "Новикова"),
    ("Фёдоров", "Фёдорова"), ("Морозов", "Морозова"), ("Волков", "Волкова"),
    ("Алексеев", "Алексеева"), ("Лебедев", "Лебедева"), ("Семёнов", "Семёнова"),
    ("Егоров", "Егорова"), ("Павлов", "Павлова"), ("Козлов", "Козлова"),
    ("Степанов", "Степанова"), ("Николаев", "Николаева"), ("Орлов", "Орлова"),
    ("Андреев", "Андреева"), ("Макаров", "Макарова"), ("Никитин", "Никитина"),
    ("Захаров", "Захарова"), ("Зайцев", "Зайцева"), ("Соловьёв", "Соловьёва"),
    ("Борисов", "Борисова"), ("Яковлев", "Яковлева"), ("Григорьев", "Григорьева"),
    ("Романов", "Романова"), ("Воробьёв", "Воробьёва"), ("Белов", "Белова"),
    ("Тарасов", "Тарасова"), ("Кириллов", "Кириллова"), ("Ковалевский", "Ковалевская"),
)  # fmt: skip
MALE_NAMES = (
    ("Александр", "Александрович", "Александровна"), ("Сергей", "Сергеевич", "Сергеевна"),
    ("Дмитрий", "Дмитриевич", "Дмитриевна"), ("Андрей", "Андреевич", "Андреевна"),
    ("Алексей", "Алексеевич", "Алексеевна"), ("Максим", "Максимович", "Максимовна"),
    ("Евгений", "Евгеньевич", "Евгеньевна"), ("Иван", "Иванович", "Ивановна"),
    ("Михаил", "Михайлович", "Михайловна"), ("Артём", "Артёмович", "Артёмовна"),
    ("Владимир", "Владимирович", "Владимировна"), ("Николай", "Николаевич", "Николаевна"),
    ("Павел", "Павлович", "Павловна"), ("Игорь", "Игоревич", "Игоревна"),
    ("Олег", "Олегович", "Олеговна"), ("Юрий", "Юрьевич", "Юрьевна"),
    ("Виктор", "Викторович", "Викторовна"), ("Кирилл", "Кириллович", "Кирилловна"),
)  # fmt: skip
FEMALE_NAMES = (
    "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана",
    "Екатерина", "Юлия", "Анастасия", "Дарья", "Марина", "Людмила", "Галина", "Софья",
    "Виктория", "Полина",
)  # fmt: skip


# --- Personal numbers (pure) -------------------------------------------------------


def _weighted_chunks(weights: tuple[int, int, int]) -> tuple[int, ...]:
    """For each three-digit chunk 000…999, the sum of its digits times ``weights``."""
    return tuple(
        sum(int(digit) * weight for digit, weight in zip(f"{chunk:03d}", weights, strict=True))
        for chunk in range(1000)
    )


def _luhn_chunks(doubled_last: bool) -> tuple[int, ...]:
    """For each three-digit chunk, its Luhn sum when its last digit is (or is not) doubled."""

    def term(value: int, doubled: bool) -> int:
        value *= 2 if doubled else 1
        return value - 9 if value > 9 else value

    return tuple(
        term(chunk // 100, doubled_last)
        + term(chunk // 10 % 10, not doubled_last)
        + term(chunk % 10, doubled_last)
        for chunk in range(1000)
    )


# The personal numbers of 12 million residents are computed three digits at a time.
_SNILS_HIGH, _SNILS_MIDDLE, _SNILS_LOW = (
    _weighted_chunks((9, 8, 7)),
    _weighted_chunks((6, 5, 4)),
    _weighted_chunks((3, 2, 1)),
)
_LUHN_DOUBLED, _LUHN_PLAIN = _luhn_chunks(True), _luhn_chunks(False)
_OMS_PREFIX_LUHN = 5 + 8  # "45" in front of 13 digits: the 5 stays, the 4 is doubled


def snils_for(n: int) -> str:
    """The SNILS of resident ``n``: unique per ``n`` (a bijective scatter of the serial
    above the demo's range), with the Pension Fund's control number (as
    ``accounts.rules.snils_control_number`` computes it)."""
    first_nine = 300_000_000 + (n * 7919 + 13) % 600_000_000
    total = (
        _SNILS_HIGH[first_nine // 1_000_000]
        + _SNILS_MIDDLE[first_nine // 1000 % 1000]
        + _SNILS_LOW[first_nine % 1000]
    )
    if total > 101:
        total %= 101
    return f"{first_nine}00" if total >= 100 else f"{first_nine}{total:02d}"


def luhn_digit(digits: str) -> str:
    """The Luhn check digit that makes ``digits + digit`` pass the Luhn test."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the rightmost payload digit, then every other
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def oms_policy_for(n: int) -> str:
    """The 16-digit single-format OMS policy of resident ``n``: region prefix 45, a
    unique scatter of ``n``, and a Luhn check digit (a plausible stand-in; the register
    checks only that a policy has 16 digits)."""
    scatter = (n * 7907 + 11) % 10**13
    total = (
        _OMS_PREFIX_LUHN
        + _LUHN_DOUBLED[scatter % 1000]
        + _LUHN_PLAIN[scatter // 1000 % 1000]
        + _LUHN_DOUBLED[scatter // 10**6 % 1000]
        + _LUHN_PLAIN[scatter // 10**9 % 1000]
        + _LUHN_DOUBLED[scatter // 10**12]
    )
    return f"45{scatter:013d}{(10 - total % 10) % 10}"


def randbelow(rng: random.Random) -> Callable[[int], int]:
    """``rng.randrange(n)`` for a positive ``n``, drawing the same numbers from the same
    stream (CPython's algorithm: ``n.bit_length()`` random bits until below ``n``)
    without its argument checks: the residents' loops call it tens of millions of times."""
    getrandbits = rng.getrandbits

    def below(n: int) -> int:
        bits = n.bit_length()
        r = getrandbits(bits)
        while r >= n:
            r = getrandbits(bits)
        return r

    return below


def birth_date_for_age(start: date, age: int, day_of_year: int) -> date:
    """A birth date that makes someone ``age`` full years old on ``start``
    (``day_of_year`` in 0..364 spreads birthdays over the year)."""
    year = start.year - age
    try:
        anniversary = start.replace(year=year)
    except ValueError:  # 29 February in a year that has none
        anniversary = date(year, 2, 28)
    return anniversary - timedelta(days=day_of_year)


# --- The plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class CityPlan:
    """How many of everything at scale ``scale`` (at least one of each kind)."""

    scale: float
    residents: int
    adult_heads: int
    adult_branches: int
    children_heads: int
    children_branches: int
    practitioners: int
    exam_participants: int = 0
    schools: int = 0
    kindergartens: int = 0
    kindergarten_applicants: int = 0
    first_grade_applicants: int = 0

    @classmethod
    def at(cls, scale: float) -> CityPlan:
        if not 0 < scale <= 10:
            raise ValueError("the scale must be in (0, 10]")

        def count(full: int, minimum: int = 1) -> int:
            return max(minimum, round(full * scale))

        return cls(
            scale=scale,
            residents=count(RESIDENTS, 100),
            adult_heads=count(ADULT_HEADS),
            adult_branches=count(ADULT_BRANCHES),
            children_heads=count(CHILDREN_HEADS),
            children_branches=count(CHILDREN_BRANCHES),
            practitioners=count(PRACTITIONERS, 2 * len(rules.SPECIALTIES)),
            exam_participants=count(EXAM_PARTICIPANTS, 10),
            schools=count(SCHOOLS, 3),  # three to choose from
            kindergartens=count(KINDERGARTENS, 3),
            kindergarten_applicants=count(KINDERGARTEN_APPLICANTS, 5),
            first_grade_applicants=count(FIRST_GRADE_APPLICANTS, 5),
        )

    @property
    def clinics(self) -> int:
        return self.adult_heads + self.adult_branches + self.children_heads + self.children_branches


@dataclass(frozen=True)
class SpecialtyInfo:
    """What slot generation needs of a specialty row already in the database."""

    id: int
    code: str
    slot_minutes: int
    horizon_days: int
    release_time: time
    audience: str


ORGANISATION_COLUMNS = (
    "id", "kind", "name", "name_en", "district_id", "address", "latitude", "longitude",
    "created_at",
)  # fmt: skip

Rows = Iterator[tuple[object, ...]]


@dataclass(frozen=True)
class Table:
    """One table's rows from one part of the city: its columns (the order of the tuples
    ``rows`` yields) and how many there will be (for the progress bar). A table may come
    from several parts (``organisations``: polyclinics, schools, kindergartens)."""

    name: str
    columns: Sequence[str]
    rows: Callable[[], Rows]
    count: Callable[[], int]


@dataclass
class CityBase:
    """The generator's shared state. Rows come out as tuples in the order of their
    ``Table.columns``; ids are the database's current maximum (``ids``, by table) + 1, 2…"""

    plan: CityPlan
    seed: int
    start: date  # the first city date of the booking horizon
    tz: ZoneInfo
    specialties: dict[str, SpecialtyInfo]
    ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.created_at = datetime.combine(self.start, time(0), tzinfo=UTC)
        self._reserved: dict[str, int] = {}
        self.persons_base = self.ids.get("persons", 0)

    def _rng(self, part: str) -> random.Random:
        return random.Random(f"infocity-city:{self.seed}:{part}")

    def reserve(self, table: str, count: int) -> int:
        """The id base of ``count`` new rows of a table several parts write (ids base + 1
        … base + count), after the database's rows and the parts before."""
        base = self._reserved.get(table, self.ids.get(table, 0))
        self._reserved[table] = base + count
        return base

    def person_id(self, index: int) -> int:
        return self.persons_base + index + 1

    def on_resident(
        self, index: int, age: int, birth: date, randrange: Callable[[int], int]
    ) -> None:
        """Called by ``people`` for each resident as it is generated (parts that need
        to note residents override it and call ``super()``); ``randrange`` is the
        residents' own random stream."""

    def tables(self) -> list[Table]:
        """Every table of the city, in load order (foreign keys point backwards)."""
        return []


def full_name(rng: random.Random, female: bool) -> str:
    surname = SURNAMES[rng.randrange(len(SURNAMES))][1 if female else 0]
    first = (
        FEMALE_NAMES[rng.randrange(len(FEMALE_NAMES))]
        if female
        else MALE_NAMES[rng.randrange(len(MALE_NAMES))][0]
    )
    father = MALE_NAMES[rng.randrange(len(MALE_NAMES))]
    return f"{surname} {first} {father[2] if female else father[1]}"
