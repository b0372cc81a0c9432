"""Health: polyclinics (adult and children's head polyclinics with their branches),
practitioners of the 19 specialties with weekly schedules, every resident attached to a
head polyclinic of their kind, and the slots of the booking horizon.

Stated distributions (documented in docs/benchmarks.md):

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from infocity.analytics.synthetic.base import (
    FEMALE_SHARE,
    OKRUGS,
    ORGANISATION_COLUMNS,
    STREETS,
    CityBase,
    Rows,
    Table,
    full_name,
    randbelow,
)
from infocity.core.ages import ADULT_AGE, age_on
from infocity.health import rules

ADULT_PRACTITIONER_SHARE = 0.8
HEAD_WEIGHT = 2.0  # a head polyclinic has twice the doctors of a branch
VACATION_SHARE = 0.04
VACATION_DAYS = 7

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


COLUMNS: dict[str, Sequence[str]] = {
    "organisations": ORGANISATION_COLUMNS,
    "clinics": ("id", "clinic_kind", "parent_clinic_id", "created_at"),
    "clinic_attachments": ("id", "person_id", "clinic_id", "kind", "valid_from", "valid_to"),
    "practitioners": (
        "id", "clinic_id", "specialty_id", "user_id", "name", "room", "active", "created_at",
        "slots_until",
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
}  # fmt: skip


@dataclass
class HealthCity(CityBase):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.clinics = self._clinics()
        self.clinics_base = self.reserve("organisations", len(self.clinics))
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
        self._heads = {
            kind: [c.index for c in self.clinics if c.kind == kind and c.head_index is None]
            for kind in ("adult", "children")
        }
        self._heads_by_birth: dict[date, list[int]] = {}

    def on_resident(
        self, index: int, age: int, birth: date, randrange: Callable[[int], int]
    ) -> None:
        super().on_resident(index, age, birth, randrange)
        candidates = self._heads_by_birth.get(birth)
        if candidates is None:  # once per birth date: residents share a few thousand
            kind = "children" if age_on(birth, self.start) < ADULT_AGE else "adult"
            candidates = self._heads_by_birth[birth] = self._heads[kind]
        self.attached_to.append(candidates[randrange(len(candidates))])

    def organisation_id(self, clinic_index: int) -> int:
        return self.clinics_base + clinic_index + 1

    def practitioner_id(self, index: int) -> int:
        return self.ids.get("practitioners", 0) + index + 1

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
                        name=full_name(rng, female),
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

    def attachments(self) -> Rows:
        """Each resident's current attachment (after ``persons()`` has run): id,
        person_id, clinic_id, kind, valid_from, valid_to."""
        if len(self.attached_to) != self.plan.residents:
            raise RuntimeError("persons() must be consumed before attachments()")
        rng = self._rng("attachments")
        randrange = randbelow(rng)
        base = self.created_at
        # valid_from: 30 days to five years back, at a random minute; the days and the
        # minutes as timedeltas computed once (the same instants).
        days = [base - timedelta(days=30 + day) for day in range(5 * 365)]
        minutes = [timedelta(minutes=minute) for minute in range(1440)]
        clinics = [(self.organisation_id(c.index), c.kind) for c in self.clinics]
        first_id = self.ids.get("clinic_attachments", 0) + 1
        person_base = self.person_id(0)
        for n, clinic_index in enumerate(self.attached_to):
            clinic_id, kind = clinics[clinic_index]
            day = randrange(5 * 365)
            yield (
                first_id + n,
                person_base + n,
                clinic_id,
                kind,
                days[day] - minutes[randrange(1440)],
                None,
            )

    # --- directory rows ----------------------------------------------------------

    def organisation_rows(self) -> Rows:
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

    def clinic_rows(self) -> Rows:
        """id, clinic_kind, parent_clinic_id, created_at (heads first, so a branch's
        head already exists when the branch row is checked)."""
        for c in self.clinics:
            parent = None if c.head_index is None else self.organisation_id(c.head_index)
            yield (self.organisation_id(c.index), c.kind, parent, self.created_at)

    def practitioner_rows(self) -> Rows:
        """id, clinic_id, specialty_id, user_id, name, room, active, created_at,
        slots_until (the last day of the slots loaded: the hourly job has nothing to add)."""
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
                self.last_day,
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

    def schedule_rule_rows(self) -> Rows:
        """id, clinic_id, practitioner_id, weekday, start_time, end_time, break_start,
        break_end, slot_minutes, valid_from, valid_to, created_at."""
        next_id = self.ids.get("schedule_rules", 0)
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

    def schedule_exception_rows(self) -> Rows:
        """id, clinic_id, practitioner_id, kind, date_from, date_to, start_time,
        end_time, created_at."""
        next_id = self.ids.get("schedule_exceptions", 0)
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

    def slot_rows(self) -> Rows:
        """id, clinic_id, practitioner_id, specialty_id, starts_at, ends_at, status,
        release_at, held_until, ticket_code, version."""
        release: dict[tuple[int, date], datetime] = {}
        next_id = self.ids.get("slots", 0)
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

    def tables(self) -> list[Table]:
        practitioners = self.practitioners
        return [
            *super().tables(),
            Table("organisations", COLUMNS["organisations"], self.organisation_rows,
                  lambda: len(self.clinics)),
            Table("clinics", COLUMNS["clinics"], self.clinic_rows, lambda: len(self.clinics)),
            Table("clinic_attachments", COLUMNS["clinic_attachments"], self.attachments,
                  lambda: self.plan.residents),
            Table("practitioners", COLUMNS["practitioners"], self.practitioner_rows,
                  lambda: len(practitioners)),
            Table("schedule_rules", COLUMNS["schedule_rules"], self.schedule_rule_rows,
                  lambda: sum(len(self._weekly(p.pattern)) for p in practitioners)),
            Table("schedule_exceptions", COLUMNS["schedule_exceptions"],
                  self.schedule_exception_rows,
                  lambda: sum(1 for p in practitioners if p.vacation_from)),
            Table("slots", COLUMNS["slots"], self.slot_rows, self.slot_count),
        ]  # fmt: skip
