"""A synthetic city, generated deterministically: the same seed, scale and start date give
the same city, row for row. Pure: no database, no clock (the loader writes the rows).

At scale 1 it is the health system of the city in 2014: about 12 million residents, 650
polyclinics (adult and children's head polyclinics with their branches), 30 thousand
practitioners of the 19 specialties with weekly schedules, every resident attached to a
head polyclinic of their kind, and the slots of the booking horizon.

Stated distributions (documented in docs/benchmarks.md):

- ages: the bands of ``AGE_BANDS`` (a large Russian city's age pyramid, rounded);
  54 % of residents are women;
- polyclinics: ``ADULT_HEADS`` adult head polyclinics with ``ADULT_BRANCHES`` branches,
  ``CHILDREN_HEADS`` children's ones with ``CHILDREN_BRANCHES`` branches; a head
  polyclinic is staffed twice as heavily as a branch;
- practitioners: 80 % in adult polyclinics; specialties by the weights of
  ``STAFFING``; every polyclinic has at least one therapist (adult) or paediatrician
  (children's); weekly patterns from ``PATTERNS`` (morning, evening, alternating);
  ``VACATION_SHARE`` of them take a week of vacation inside the horizon;
- slots: exactly what ``infocity.health.service.materialise_slots`` would create from
  those schedules (planned by the same pure ``rules.plan_slots``, released by
  ``rules.release_at``, numbered by ``rules.ticket_code``).
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from infocity.accounts.rules import snils_control_number
from infocity.core.ages import ADULT_AGE, age_on
from infocity.education.rules import exams as exam_rules
from infocity.health import rules

# --- The city at scale 1 -----------------------------------------------------------

RESIDENTS = 12_000_000
ADULT_HEADS = 46
ADULT_BRANCHES = 354
CHILDREN_HEADS = 40
CHILDREN_BRANCHES = 210  # 46 + 354 + 40 + 210 = 650 polyclinics
PRACTITIONERS = 30_000
EXAM_PARTICIPANTS = 750_000  # state exam participants a year
ADULT_PRACTITIONER_SHARE = 0.8
HEAD_WEIGHT = 2.0  # a head polyclinic has twice the doctors of a branch
FEMALE_SHARE = 0.54
VACATION_SHARE = 0.04
VACATION_DAYS = 7

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

# Doctors per specialty, relative, by polyclinic kind (absent: not staffed there).
STAFFING: dict[str, dict[str, int]] = {
    "adult": {
        "therapist": 28, "general_practitioner": 6, "surgeon": 5, "ophthalmologist": 5,
        "otolaryngologist": 5, "urologist": 3, "obstetrician_gynaecologist": 6, "dentist": 8,
        "cardiologist": 4, "neurologist": 5, "endocrinologist": 4, "gastroenterologist": 2,
        "pulmonologist": 2, "rheumatologist": 1, "allergist_immunologist": 1,
        "dermatovenereologist": 3, "infectious_diseases": 1, "traumatologist_orthopaedist": 4,
    },
    "children": {
        "paediatrician": 40, "surgeon": 5, "ophthalmologist": 6, "otolaryngologist": 6,
        "urologist": 1, "obstetrician_gynaecologist": 2, "dentist": 8, "cardiologist": 3,
        "neurologist": 6, "endocrinologist": 3, "gastroenterologist": 2, "pulmonologist": 2,
        "rheumatologist": 1, "allergist_immunologist": 3, "dermatovenereologist": 2,
        "infectious_diseases": 2, "traumatologist_orthopaedist": 4,
    },
}  # fmt: skip
PRIMARY = {"adult": "therapist", "children": "paediatrician"}

# A working day: (start, end, break start, break end), wall-clock times in the city.
Shift = tuple[time, time, time | None, time | None]
MORNING: Shift = (time(8, 0), time(14, 0), time(11, 0), time(11, 30))
EVENING: Shift = (time(14, 0), time(20, 0), time(17, 0), time(17, 30))
SATURDAY: Shift = (time(9, 0), time(15, 0), None, None)
PATTERNS: dict[str, tuple[tuple[int, Shift], ...]] = {
    "morning": tuple((weekday, MORNING) for weekday in range(5)),
    "evening": tuple((weekday, EVENING) for weekday in range(5)),
    "alternating": ((0, MORNING), (1, EVENING), (2, MORNING), (3, EVENING), (4, MORNING)),
    "with_saturday": ((0, EVENING), (1, MORNING), (2, EVENING), (3, MORNING), (5, SATURDAY)),
}
PATTERN_NAMES = tuple(PATTERNS)
RULES_VALID_FROM_DAYS = 365  # schedules began a year before the start date

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


def snils_for(n: int) -> str:
    """The SNILS of resident ``n``: unique per ``n`` (a bijective scatter of the serial
    above the demo's range), with the Pension Fund's control number."""
    first_nine = f"{300_000_000 + (n * 7919 + 13) % 600_000_000:09d}"
    return first_nine + snils_control_number(first_nine)


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
    body = f"45{(n * 7907 + 11) % 10**13:013d}"
    return body + luhn_digit(body)


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


@dataclass(frozen=True)
class IdBase:
    """Ids are assigned as base + 1, base + 2, ...: the loader reads each table's
    current maximum, so the city can be added to a database that has other rows."""

    organisations: int = 0
    persons: int = 0
    attachments: int = 0
    practitioners: int = 0
    schedule_rules: int = 0
    schedule_exceptions: int = 0
    slots: int = 0
    exam_imports: int = 0
    exam_participants: int = 0
    exam_results: int = 0
    exam_publications: int = 0


@dataclass(frozen=True)
class ClinicSpec:
    index: int  # 0-based
    kind: str  # adult | children
    head_index: int | None  # None: a head polyclinic
    number: int  # the polyclinic's number; branches carry their head's
    branch: int  # 0 for a head, 1.. for its branches
    okrug: int
    address: str
    latitude: float
    longitude: float

    @property
    def name(self) -> str:
        base = "Городская поликлиника" if self.kind == "adult" else "Детская городская поликлиника"
        name = f"{base} № {self.number}"
        return name if self.branch == 0 else f"{name}, филиал № {self.branch}"

    @property
    def name_en(self) -> str:
        base = "City Polyclinic" if self.kind == "adult" else "Children's City Polyclinic"
        name = f"{base} No. {self.number}"
        return name if self.branch == 0 else f"{name}, branch {self.branch}"


@dataclass(frozen=True)
class PractitionerSpec:
    index: int
    clinic_index: int
    specialty_code: str
    name: str
    room: str
    pattern: str
    vacation_from: date | None  # a week of vacation inside the horizon, or None


@dataclass
class SyntheticCity:
    """The generator. Rows come out as tuples in the column order of ``COLUMNS``."""

    plan: CityPlan
    seed: int
    start: date  # the first city date of the booking horizon
    tz: ZoneInfo
    specialties: dict[str, SpecialtyInfo]
    ids: IdBase = field(default_factory=IdBase)

    def __post_init__(self) -> None:
        self.created_at = datetime.combine(self.start, time(0), tzinfo=UTC)
        self.clinics = self._clinics()
        self.practitioners = self._practitioners()
        horizon = max(s.horizon_days for s in self.specialties.values())
        # As materialise_horizon: today up to the longest horizon plus one day.
        self.last_day = self.start + timedelta(days=horizon + 1)
        self.days = [
            self.start + timedelta(days=n) for n in range((self.last_day - self.start).days + 1)
        ]
        self._templates: dict[tuple[str, int], dict[date, list[rules.PlannedSlot]]] = {}
        # The head polyclinic (index) each resident is attached to, filled by persons().
        self.attached_to = array("l")

    def _rng(self, part: str) -> random.Random:
        return random.Random(f"infocity-city:{self.seed}:{part}")

    # --- ids -----------------------------------------------------------------------

    def organisation_id(self, clinic_index: int) -> int:
        return self.ids.organisations + clinic_index + 1

    def person_id(self, index: int) -> int:
        return self.ids.persons + index + 1

    def practitioner_id(self, index: int) -> int:
        return self.ids.practitioners + index + 1

    # --- the directory -----------------------------------------------------------

    def _clinics(self) -> list[ClinicSpec]:
        rng = self._rng("clinics")
        specs: list[ClinicSpec] = []
        for kind, heads, branches in (
            ("adult", self.plan.adult_heads, self.plan.adult_branches),
            ("children", self.plan.children_heads, self.plan.children_branches),
        ):
            head_indexes = []
            for number in range(1, heads + 1):
                head_indexes.append(len(specs))
                specs.append(self._clinic(rng, len(specs), kind, None, number, 0))
            branch_count = dict.fromkeys(head_indexes, 0)
            for n in range(branches):
                head = head_indexes[n % len(head_indexes)]
                branch_count[head] += 1
                specs.append(
                    self._clinic(
                        rng, len(specs), kind, head, specs[head].number, branch_count[head]
                    )
                )
        return specs

    def _clinic(
        self,
        rng: random.Random,
        index: int,
        kind: str,
        head: int | None,
        number: int,
        branch: int,
    ) -> ClinicSpec:
        okrug = rng.randrange(len(OKRUGS))
        name, lat, lon = OKRUGS[okrug]
        return ClinicSpec(
            index=index,
            kind=kind,
            head_index=head,
            number=number,
            branch=branch,
            okrug=okrug,
            address=f"{name}, ул. {rng.choice(STREETS)}, д. {rng.randint(1, 140)}",
            latitude=round(lat + rng.uniform(-0.04, 0.04), 6),
            longitude=round(lon + rng.uniform(-0.06, 0.06), 6),
        )

    def _practitioners(self) -> list[PractitionerSpec]:
        rng = self._rng("practitioners")
        per_clinic = self._doctors_per_clinic()
        horizon_days = max(s.horizon_days for s in self.specialties.values()) + 2
        specs: list[PractitionerSpec] = []
        for clinic in self.clinics:
            staffing = STAFFING[clinic.kind]
            codes = [code for code in staffing if code in self.specialties]
            weights = [staffing[code] for code in codes]
            for n in range(per_clinic[clinic.index]):
                code = PRIMARY[clinic.kind] if n == 0 else rng.choices(codes, weights=weights)[0]
                female = rng.random() < FEMALE_SHARE
                vacation = (
                    self.start + timedelta(days=rng.randrange(horizon_days))
                    if rng.random() < VACATION_SHARE
                    else None
                )
                specs.append(
                    PractitionerSpec(
                        index=len(specs),
                        clinic_index=clinic.index,
                        specialty_code=code,
                        name=_full_name(rng, female),
                        room=str(100 + n),
                        pattern=PATTERN_NAMES[rng.randrange(len(PATTERN_NAMES))],
                        vacation_from=vacation,
                    )
                )
        return specs

    def _doctors_per_clinic(self) -> list[int]:
        """Doctors per polyclinic: the adult share to adult ones, heads weighted twice."""
        total = self.plan.practitioners
        counts = [1] * len(self.clinics)  # everyone has their primary doctor
        for kind, share in (
            ("adult", ADULT_PRACTITIONER_SHARE),
            ("children", 1 - ADULT_PRACTITIONER_SHARE),
        ):
            members = [c for c in self.clinics if c.kind == kind]
            weights = [HEAD_WEIGHT if c.head_index is None else 1.0 for c in members]
            budget = max(0, round(total * share) - len(members))
            scale = budget / sum(weights)
            for clinic, weight in zip(members, weights, strict=True):
                counts[clinic.index] += int(weight * scale)
        return counts

    # --- residents ---------------------------------------------------------------

    def persons(self) -> Iterator[tuple[object, ...]]:
        """Residents: id, last, first, middle name, birth date, SNILS, OMS policy,
        created_at. Records each one's head polyclinic in ``attached_to``."""
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
        heads = {
            kind: [c.index for c in self.clinics if c.kind == kind and c.head_index is None]
            for kind in ("adult", "children")
        }
        last_band = len(bands) - 1
        attached_to = self.attached_to
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
            kind = "children" if age_on(birth, start) < ADULT_AGE else "adult"
            candidates = heads[kind]
            attached_to.append(candidates[randrange(len(candidates))])
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

    def attachments(self) -> Iterator[tuple[object, ...]]:
        """Each resident's current attachment (after ``persons()`` has run): id,
        person_id, clinic_id, kind, valid_from, valid_to."""
        if len(self.attached_to) != self.plan.residents:
            raise RuntimeError("persons() must be consumed before attachments()")
        rng = self._rng("attachments")
        randrange = rng.randrange
        base = self.created_at
        for n, clinic_index in enumerate(self.attached_to):
            clinic = self.clinics[clinic_index]
            yield (
                self.ids.attachments + n + 1,
                self.person_id(n),
                self.organisation_id(clinic_index),
                clinic.kind,
                base - timedelta(days=30 + randrange(5 * 365), minutes=randrange(1440)),
                None,
            )

    # --- directory rows ----------------------------------------------------------

    def organisation_rows(self) -> Iterator[tuple[object, ...]]:
        """id, kind, name, name_en, district_id, address, latitude, longitude, created_at."""
        for c in self.clinics:
            yield (
                self.organisation_id(c.index),
                "clinic",
                c.name,
                c.name_en,
                None,
                c.address,
                c.latitude,
                c.longitude,
                self.created_at,
            )

    def clinic_rows(self) -> Iterator[tuple[object, ...]]:
        """id, clinic_kind, parent_clinic_id, created_at (heads first, so a branch's
        head already exists when the branch row is checked)."""
        for c in self.clinics:
            parent = None if c.head_index is None else self.organisation_id(c.head_index)
            yield (self.organisation_id(c.index), c.kind, parent, self.created_at)

    def practitioner_rows(self) -> Iterator[tuple[object, ...]]:
        """id, clinic_id, specialty_id, user_id, name, room, active, created_at."""
        for p in self.practitioners:
            yield (
                self.practitioner_id(p.index),
                self.organisation_id(p.clinic_index),
                self.specialties[p.specialty_code].id,
                None,
                p.name,
                p.room,
                True,
                self.created_at,
            )

    def _weekly(self, pattern: str) -> list[rules.WeeklyRule]:
        valid_from = self.start - timedelta(days=RULES_VALID_FROM_DAYS)
        return [
            rules.WeeklyRule(
                weekday=weekday,
                start=shift[0],
                end=shift[1],
                valid_from=valid_from,
                break_start=shift[2],
                break_end=shift[3],
            )
            for weekday, shift in PATTERNS[pattern]
        ]

    def schedule_rule_rows(self) -> Iterator[tuple[object, ...]]:
        """id, clinic_id, practitioner_id, weekday, start_time, end_time, break_start,
        break_end, slot_minutes, valid_from, valid_to, created_at."""
        next_id = self.ids.schedule_rules
        for p in self.practitioners:
            for rule in self._weekly(p.pattern):
                next_id += 1
                yield (
                    next_id,
                    self.organisation_id(p.clinic_index),
                    self.practitioner_id(p.index),
                    rule.weekday,
                    rule.start,
                    rule.end,
                    rule.break_start,
                    rule.break_end,
                    None,  # the specialty's length
                    rule.valid_from,
                    None,
                    self.created_at,
                )

    def vacation(self, p: PractitionerSpec) -> rules.Override | None:
        if p.vacation_from is None:
            return None
        return rules.Override(
            "vacation", p.vacation_from, p.vacation_from + timedelta(days=VACATION_DAYS - 1)
        )

    def schedule_exception_rows(self) -> Iterator[tuple[object, ...]]:
        """id, clinic_id, practitioner_id, kind, date_from, date_to, start_time,
        end_time, created_at."""
        next_id = self.ids.schedule_exceptions
        for p in self.practitioners:
            vacation = self.vacation(p)
            if vacation is None:
                continue
            next_id += 1
            yield (
                next_id,
                self.organisation_id(p.clinic_index),
                self.practitioner_id(p.index),
                vacation.kind,
                vacation.date_from,
                vacation.date_to,
                None,
                None,
                self.created_at,
            )

    # --- slots -------------------------------------------------------------------

    def _template(self, pattern: str, minutes: int) -> dict[date, list[rules.PlannedSlot]]:
        """The planned slots of one weekly pattern and slot length, by city date: the
        same for every practitioner who shares them, so planned once."""
        key = (pattern, minutes)
        if key not in self._templates:
            planned = rules.plan_slots(
                self.start,
                self.last_day,
                self._weekly(pattern),
                [],
                default_minutes=minutes,
                tz=self.tz,
            )
            by_day: dict[date, list[rules.PlannedSlot]] = {}
            for slot in planned:
                by_day.setdefault(slot.day, []).append(slot)
            self._templates[key] = by_day
        return self._templates[key]

    def _practitioner_days(self, p: PractitionerSpec) -> list[tuple[date, list[rules.PlannedSlot]]]:
        specialty = self.specialties[p.specialty_code]
        template = self._template(p.pattern, specialty.slot_minutes)
        vacation = self.vacation(p)
        # A whole-day absence removes the day, as rules.day_intervals does.
        return [
            (day, template[day])
            for day in self.days
            if day in template and (vacation is None or not vacation.covers(day))
        ]

    def slot_count(self) -> int:
        return sum(
            len(planned) for p in self.practitioners for _, planned in self._practitioner_days(p)
        )

    def slot_rows(self) -> Iterator[tuple[object, ...]]:
        """id, clinic_id, practitioner_id, specialty_id, starts_at, ends_at, status,
        release_at, held_until, ticket_code, version."""
        release: dict[tuple[int, date], datetime] = {}
        next_id = self.ids.slots
        for p in self.practitioners:
            specialty = self.specialties[p.specialty_code]
            practitioner_id = self.practitioner_id(p.index)
            clinic_id = self.organisation_id(p.clinic_index)
            for day, planned in self._practitioner_days(p):
                key = (specialty.id, day)
                if key not in release:
                    release[key] = rules.release_at(
                        day,
                        horizon_days=specialty.horizon_days,
                        release_time=specialty.release_time,
                        tz=self.tz,
                    )
                released = release[key]
                for slot in planned:
                    next_id += 1
                    yield (
                        next_id,
                        clinic_id,
                        practitioner_id,
                        specialty.id,
                        slot.starts_at,
                        slot.ends_at,
                        "free",
                        released,
                        None,
                        rules.ticket_code(practitioner_id, day, slot.seq),
                        0,
                    )


def _full_name(rng: random.Random, female: bool) -> str:
    surname = SURNAMES[rng.randrange(len(SURNAMES))][1 if female else 0]
    first = (
        FEMALE_NAMES[rng.randrange(len(FEMALE_NAMES))]
        if female
        else MALE_NAMES[rng.randrange(len(MALE_NAMES))][0]
    )
    father = MALE_NAMES[rng.randrange(len(MALE_NAMES))]
    return f"{surname} {first} {father[2] if female else father[1]}"


# Column order of the rows each generator method yields, by table.
# --- Exam results ------------------------------------------------------------------

EXAM_ELECTIVES = ("physics", "chemistry", "informatics", "biology", "history",
                  "social_studies", "english", "literature", "geography")  # fmt: skip
EXAM_PASS_MARKS = {"russian": 24, "mathematics_basic": 7, "mathematics_profile": 27,
                   "physics": 36, "chemistry": 36, "informatics": 40, "biology": 36,
                   "history": 32, "social_studies": 42, "english": 22, "literature": 32,
                   "geography": 37}  # fmt: skip


def exam_registration_code(n: int) -> str:
    """The registration code of the ``n``-th exam participant (0-based)."""
    return f"{510000000000 + n:012d}"


def exam_document_number(n: int) -> str:
    """The number (without series) of the document the ``n``-th participant sat with."""
    return f"{100000 + (n * 7919) % 900000:06d}"


def exam_subjects(n: int) -> tuple[str, str, str]:
    """Russian, mathematics at one level, and one elective."""
    maths = "mathematics_profile" if n % 3 else "mathematics_basic"
    return ("russian", maths, EXAM_ELECTIVES[n % len(EXAM_ELECTIVES)])


def _exam_published_at(city: SyntheticCity) -> datetime:
    return city.created_at - timedelta(days=1)  # already public on the start date


def exam_import_rows(city: SyntheticCity) -> Iterator[tuple[object, ...]]:
    """One import carried every result: id, imported_by, rows, created_at."""
    yield (city.ids.exam_imports + 1, None, 3 * city.plan.exam_participants, city.created_at)


def exam_participant_rows(city: SyntheticCity) -> Iterator[tuple[object, ...]]:
    """id, registration_code, document_digest, created_at."""
    for n in range(city.plan.exam_participants):
        code = exam_registration_code(n)
        digest = exam_rules.document_digest(code, exam_document_number(n))
        yield (city.ids.exam_participants + n + 1, code, digest, city.created_at)


def exam_result_rows(city: SyntheticCity) -> Iterator[tuple[object, ...]]:
    """id, participant_id, subject, version, score, pass_mark, published_at, import_id,
    created_at."""
    rng = city._rng("exams")
    at = _exam_published_at(city)
    result_id = city.ids.exam_results
    for n in range(city.plan.exam_participants):
        for subject in exam_subjects(n):
            result_id += 1
            yield (result_id, city.ids.exam_participants + n + 1, subject, 1,
                   min(100, max(0, round(rng.gauss(62, 16)))), EXAM_PASS_MARKS[subject], at,
                   city.ids.exam_imports + 1, city.created_at)  # fmt: skip


def exam_publication_rows(city: SyntheticCity) -> Iterator[tuple[object, ...]]:
    """id, subject, published_at, state, announced_at: announced already."""
    at = _exam_published_at(city)
    for i, subject in enumerate(EXAM_PASS_MARKS):
        yield (city.ids.exam_publications + i + 1, subject, at, "announced", at)


COLUMNS: dict[str, Sequence[str]] = {
    "organisations": (
        "id", "kind", "name", "name_en", "district_id", "address", "latitude", "longitude",
        "created_at",
    ),
    "clinics": ("id", "clinic_kind", "parent_clinic_id", "created_at"),
    "persons": (
        "id", "last_name", "first_name", "middle_name", "birth_date", "snils", "oms_policy",
        "created_at",
    ),
    "clinic_attachments": ("id", "person_id", "clinic_id", "kind", "valid_from", "valid_to"),
    "practitioners": (
        "id", "clinic_id", "specialty_id", "user_id", "name", "room", "active", "created_at",
    ),
    "schedule_rules": (
        "id", "clinic_id", "practitioner_id", "weekday", "start_time", "end_time",
        "break_start", "break_end", "slot_minutes", "valid_from", "valid_to", "created_at",
    ),
    "schedule_exceptions": (
        "id", "clinic_id", "practitioner_id", "kind", "date_from", "date_to", "start_time",
        "end_time", "created_at",
    ),
    "slots": (
        "id", "clinic_id", "practitioner_id", "specialty_id", "starts_at", "ends_at", "status",
        "release_at", "held_until", "ticket_code", "version",
    ),
    "exam_imports": ("id", "imported_by", "rows", "created_at"),
    "exam_participants": ("id", "registration_code", "document_digest", "created_at"),
    "exam_results": (
        "id", "participant_id", "subject", "version", "score", "pass_mark", "published_at",
        "import_id", "created_at",
    ),
    "exam_publications": ("id", "subject", "published_at", "state", "announced_at"),
}  # fmt: skip
