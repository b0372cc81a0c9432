"""Education: schools with their buildings, kindergartens with their age groups' places,
children of the right ages with a parent who has an account, kindergarten applications
for the coming school year (three kindergartens each), a first-grade campaign with its
applications, and the state exam participants with their results.

Stated distributions (documented in docs/benchmarks.md):

- kindergartens: six age groups each (1 to 6 full years on 1 September), 15–29 places a
  group, of which the share ``FREE_SHARE`` of its age is free for the coming year (the
  youngest groups take in, the older ones are mostly full);
- kindergarten applicants: children who are in a kindergarten age group on the coming
  1 September, each with one parent (a resident of 30–44 with an account) and three
  different kindergartens in order, the first by popularity (``POPULAR_EVERY``-th
  kindergarten draws ``POPULAR_WEIGHT`` times as many first choices), the other two in the
  same okrug; benefits in the shares of ``BENEFIT_SHARES``; filed over the three years
  before the start date; ``LATER_START_SHARE`` of them want a place only from January;
- first grade: the coming year's campaign (phase 1 from 1 April to 30 June, phase 2
  from 6 July to 5 September), 2–5 classes of 25 a school; applicants 6.5–8 on
  1 September, each with three schools, the first being the school of their territory;
  all filed in phase 1 and waiting for its decision;
- exams: each participant sat Russian, mathematics (basic or profile) and one elective,
  published the day before the start date.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from infocity.analytics.synthetic.base import (
    OKRUGS,
    ORGANISATION_COLUMNS,
    STREETS,
    CityBase,
    Rows,
    Table,
)
from infocity.education.rules import exams as exam_rules
from infocity.education.rules import first_grade as first_grade_rules
from infocity.education.rules import kindergarten as kindergarten_rules

FREE_SHARE = {1: 0.9, 2: 0.5, 3: 0.3, 4: 0.05, 5: 0.03, 6: 0.02}  # by age group
BENEFIT_SHARES = (("extraordinary", 0.03), ("priority", 0.12), ("none", 0.85))
POPULAR_EVERY = 7
POPULAR_WEIGHT = 4
LATER_START_SHARE = 0.1
PARENT_AGES = (30, 44)
CHILD_AGES = (0, 7)  # residents noted as possible applicants (kindergarten, first grade)
CLASS_SIZE = 25
# A stored hash no password matches: generated parents cannot log in by password.
NO_PASSWORD = "!"  # noqa: S105
DECISION_DAYS = (7, 7)  # working days, phase 1 and phase 2

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


def parent_email(n: int) -> str:
    """The e-mail of the ``n``-th generated parent (a reserved domain: never delivered)."""
    return f"parent{n}@city.example"


COLUMNS: dict[str, Sequence[str]] = {
    "organisations": ORGANISATION_COLUMNS,
    "schools": ("id", "created_at"),
    "school_buildings": ("id", "school_id", "address"),
    "kindergartens": ("id", "created_at"),
    "kindergarten_groups": ("id", "kindergarten_id", "year", "age_group", "places",
                            "free_places"),
    "users": ("id", "kind", "person_id", "email", "phone", "password_hash", "display_name",
              "locale", "is_active", "created_at", "password_changed_at", "verified_at"),
    "family_links": ("guardian_id", "child_id", "relation", "created_at"),
    "kindergarten_applications": (
        "id", "child_id", "guardian_user_id", "child_birth_date", "age_group", "desired_start",
        "benefit", "benefit_document", "status", "applied_at", "withdrawn_at",
    ),
    "kindergarten_choices": ("application_id", "rank", "kindergarten_id", "seen_position"),
    "first_grade_campaigns": (
        "id", "year", "phase_1_opens", "phase_1_closes", "phase_2_opens", "phase_2_closes",
        "phase_1_decision_days", "phase_2_decision_days", "created_at",
    ),
    "first_grade_places": ("id", "campaign_id", "school_id", "places", "free_places"),
    "first_grade_applications": (
        "id", "campaign_id", "child_id", "guardian_user_id", "child_birth_date", "phase",
        "territory_school_id", "status", "applied_at", "decide_by",
    ),
    "first_grade_choices": ("application_id", "rank", "school_id"),
    "exam_imports": ("id", "imported_by", "rows", "created_at"),
    "exam_participants": ("id", "registration_code", "document_digest", "created_at"),
    "exam_results": (
        "id", "participant_id", "subject", "version", "score", "pass_mark", "published_at",
        "import_id", "created_at",
    ),
    "exam_publications": ("id", "subject", "published_at", "state", "announced_at"),
}  # fmt: skip


@dataclass(frozen=True)
class PlaceSpec:
    """A school or a kindergarten: its number, okrug and address."""

    index: int
    number: int
    okrug: int
    address: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Applicant:
    """A child who applies: the resident's index and birth date, the parent's index."""

    child: int
    birth: date
    parent: int


@dataclass
class EducationCity(CityBase):
    def __post_init__(self) -> None:
        super().__post_init__()
        rng = self._rng("education")
        self.schools = [self._place(rng, n) for n in range(self.plan.schools)]
        self.schools_base = self.reserve("organisations", len(self.schools))
        self.kindergartens = [self._place(rng, n) for n in range(self.plan.kindergartens)]
        self.kindergartens_base = self.reserve("organisations", len(self.kindergartens))
        # The coming school year: its 1 September is the allocation's day.
        self.year = kindergarten_rules.school_year(self.start) + 1
        self.first_september = date(self.year, *kindergarten_rules.SCHOOL_YEAR_STARTS)
        # Noted by persons(): children who may apply, and residents who may be parents.
        self.young = array("l")
        self.young_births = array("l")  # proleptic ordinals
        self.parents = array("l")
        self._picked: tuple[list[Applicant], list[Applicant]] | None = None

    def on_resident(
        self, index: int, age: int, birth: date, randrange: Callable[[int], int]
    ) -> None:
        super().on_resident(index, age, birth, randrange)
        if age <= CHILD_AGES[1]:
            self.young.append(index)
            self.young_births.append(birth.toordinal())
        elif PARENT_AGES[0] <= age <= PARENT_AGES[1]:
            self.parents.append(index)

    def _place(self, rng: random.Random, n: int) -> PlaceSpec:
        okrug = rng.randrange(len(OKRUGS))
        name, lat, lon = OKRUGS[okrug]
        return PlaceSpec(
            index=n,
            number=n + 1,
            okrug=okrug,
            address=f"{name}, ул. {rng.choice(STREETS)}, д. {rng.randint(1, 140)}",
            latitude=round(lat + rng.uniform(-0.04, 0.04), 6),
            longitude=round(lon + rng.uniform(-0.06, 0.06), 6),
        )

    def school_id(self, index: int) -> int:
        return self.schools_base + index + 1

    def kindergarten_id(self, index: int) -> int:
        return self.kindergartens_base + index + 1

    # --- the directory -----------------------------------------------------------

    def education_organisation_rows(self) -> Rows:
        for s in self.schools:
            yield (self.school_id(s.index), "school", f"Школа № {s.number}",
                   f"School No. {s.number}", None, s.address, s.latitude, s.longitude,
                   self.created_at)  # fmt: skip
        for k in self.kindergartens:
            yield (self.kindergarten_id(k.index), "kindergarten", f"Детский сад № {k.number}",
                   f"Kindergarten No. {k.number}", None, k.address, k.latitude, k.longitude,
                   self.created_at)  # fmt: skip

    def school_rows(self) -> Rows:
        for s in self.schools:
            yield (self.school_id(s.index), self.created_at)

    def school_building_rows(self) -> Rows:
        """One to four buildings a school: the first at its own address."""
        rng = self._rng("school-buildings")
        next_id = self.ids.get("school_buildings", 0)
        for s in self.schools:
            addresses = {s.address}
            for _ in range(rng.randrange(4)):
                name = OKRUGS[s.okrug][0]
                addresses.add(f"{name}, ул. {rng.choice(STREETS)}, д. {rng.randint(1, 140)}")
            for address in sorted(addresses):
                next_id += 1
                yield (next_id, self.school_id(s.index), address)

    def school_building_count(self) -> int:
        return sum(1 for _ in self.school_building_rows())

    def kindergarten_rows(self) -> Rows:
        for k in self.kindergartens:
            yield (self.kindergarten_id(k.index), self.created_at)

    def kindergarten_group_rows(self) -> Rows:
        rng = self._rng("kindergarten-groups")
        next_id = self.ids.get("kindergarten_groups", 0)
        for k in self.kindergartens:
            for group in range(
                kindergarten_rules.YOUNGEST_GROUP, kindergarten_rules.OLDEST_GROUP + 1
            ):
                places = 15 + rng.randrange(15)
                next_id += 1
                yield (next_id, self.kindergarten_id(k.index), self.year, group, places,
                       round(places * FREE_SHARE[group]))  # fmt: skip

    # --- children and their parents ------------------------------------------------

    def applicants(self) -> tuple[list[Applicant], list[Applicant]]:
        """The kindergarten and the first-grade applicants (after ``persons()``), each
        child with a parent of their own."""
        if self._picked is None:
            if not self.parents and self.plan.residents:
                raise RuntimeError("persons() must be consumed before the applicants")
            rng = self._rng("applicants")
            young: tuple[list[tuple[int, date]], list[tuple[int, date]]] = ([], [])
            for index, ordinal in zip(self.young, self.young_births, strict=True):
                birth = date.fromordinal(ordinal)
                if first_grade_rules.age_fits(birth, self.year):
                    young[1].append((index, birth))
                elif kindergarten_rules.fits_kindergarten(
                    kindergarten_rules.age_group(birth, self.year)
                ):
                    young[0].append((index, birth))
            # Each child a parent of their own: a tiny city may have fewer of either.
            wanted = (self.plan.kindergarten_applicants, self.plan.first_grade_applicants)
            counts = [min(len(y), w) for y, w in zip(young, wanted, strict=True)]
            counts[0] = min(counts[0], len(self.parents))
            counts[1] = min(counts[1], len(self.parents) - counts[0])
            parents = iter(rng.sample(range(len(self.parents)), counts[0] + counts[1]))
            picked = [
                [Applicant(child, birth, self.parents[next(parents)])
                 for child, birth in rng.sample(y, count)]
                for y, count in zip(young, counts, strict=True)
            ]  # fmt: skip
            self._picked = (picked[0], picked[1])
        return self._picked

    def _all_applicants(self) -> list[Applicant]:
        kindergarten, first_grade = self.applicants()
        return kindergarten + first_grade

    def user_rows(self) -> Rows:
        """An account (verified, by e-mail and phone) for every applicant's parent."""
        base = self.ids.get("users", 0)
        for n, a in enumerate(self._all_applicants()):
            yield (base + n + 1, "citizen", self.person_id(a.parent), parent_email(a.parent),
                   f"+79{a.parent % 10**9:09d}", NO_PASSWORD, f"Родитель {a.parent}", "ru",
                   True, self.created_at, self.created_at, self.created_at)  # fmt: skip

    def family_link_rows(self) -> Rows:
        for a in self._all_applicants():
            yield (self.person_id(a.parent), self.person_id(a.child), "parent", self.created_at)

    def parent_user_id(self, n: int) -> int:
        """The account of the ``n``-th applicant's parent (kindergarten ones first)."""
        return self.ids.get("users", 0) + n + 1

    # --- the kindergarten queue ---------------------------------------------------

    def _choices(self, rng: random.Random, places: list[PlaceSpec], weights: list[int],
                 by_okrug: dict[int, list[int]]) -> list[int]:  # fmt: skip
        """Three different places (indexes), the first by popularity, the rest nearby."""
        first = rng.choices(range(len(places)), weights=weights)[0]
        near = [i for i in by_okrug[places[first].okrug] if i != first]
        others = [i for i in range(len(places)) if i != first] if len(near) < 2 else near
        return [first, *rng.sample(others, min(2, len(others)))]

    def kindergarten_application_rows(self) -> Rows:
        rng = self._rng("kindergarten-applications")
        kindergarten, _ = self.applicants()
        base = self.ids.get("kindergarten_applications", 0)
        later = date(self.year + 1, 1, 1)
        benefits = [b for b, _ in BENEFIT_SHARES]
        shares = [s for _, s in BENEFIT_SHARES]
        for n, a in enumerate(kindergarten):
            benefit = rng.choices(benefits, weights=shares)[0]
            desired = later if rng.random() < LATER_START_SHARE else self.first_september
            applied = self.created_at - timedelta(seconds=rng.randrange(3 * 365 * 86400))
            yield (base + n + 1, self.person_id(a.child), self.parent_user_id(n), a.birth,
                   kindergarten_rules.age_group(a.birth, kindergarten_rules.school_year(desired)),
                   desired, benefit, None if benefit == "none" else f"Справка № {n + 1}",
                   "queued", applied, None)  # fmt: skip

    def kindergarten_choice_rows(self) -> Rows:
        rng = self._rng("kindergarten-choices")
        kindergarten, _ = self.applicants()
        base = self.ids.get("kindergarten_applications", 0)
        weights = [
            POPULAR_WEIGHT if k.index % POPULAR_EVERY == 0 else 1 for k in self.kindergartens
        ]
        by_okrug: dict[int, list[int]] = {}
        for k in self.kindergartens:
            by_okrug.setdefault(k.okrug, []).append(k.index)
        for n in range(len(kindergarten)):
            for rank, index in enumerate(
                self._choices(rng, self.kindergartens, weights, by_okrug), 1
            ):
                yield (base + n + 1, rank, self.kindergarten_id(index), None)

    # --- first grade --------------------------------------------------------------

    def campaign_dates(self) -> first_grade_rules.CampaignDates:
        return first_grade_rules.CampaignDates(
            date(self.year, 4, 1),
            date(self.year, 6, 30),
            date(self.year, 7, 6),
            date(self.year, 9, 5),
        )

    def first_grade_campaign_rows(self) -> Rows:
        d = self.campaign_dates()
        yield (self.ids.get("first_grade_campaigns", 0) + 1, self.year, d.phase_1_opens,
               d.phase_1_closes, d.phase_2_opens, d.phase_2_closes, *DECISION_DAYS,
               self.created_at)  # fmt: skip

    def first_grade_place_rows(self) -> Rows:
        rng = self._rng("first-grade-places")
        campaign = self.ids.get("first_grade_campaigns", 0) + 1
        for s in self.schools:
            places = CLASS_SIZE * (2 + rng.randrange(4))
            yield (self.ids.get("first_grade_places", 0) + s.index + 1, campaign,
                   self.school_id(s.index), places, places)  # fmt: skip

    def first_grade_application_rows(self) -> Rows:
        rng = self._rng("first-grade-applications")
        kindergarten, first_grade = self.applicants()
        base = self.ids.get("first_grade_applications", 0)
        campaign = self.ids.get("first_grade_campaigns", 0) + 1
        d = self.campaign_dates()
        decide_by = first_grade_rules.decision_due(
            first_grade_rules.Phase.ONE, d.phase_1_opens, d.phase_1_closes, DECISION_DAYS
        )
        opens = datetime.combine(d.phase_1_opens, time(6), tzinfo=UTC)
        span = (d.phase_1_closes - d.phase_1_opens).days * 86400
        self._territory: list[int] = []
        for n, a in enumerate(first_grade):
            school = rng.randrange(len(self.schools))
            self._territory.append(school)
            applied = opens + timedelta(seconds=rng.randrange(span))
            yield (base + n + 1, campaign, self.person_id(a.child),
                   self.parent_user_id(len(kindergarten) + n), a.birth, 1, self.school_id(school),
                   "submitted", applied, decide_by)  # fmt: skip

    def first_grade_choice_rows(self) -> Rows:
        rng = self._rng("first-grade-choices")
        base = self.ids.get("first_grade_applications", 0)
        by_okrug: dict[int, list[int]] = {}
        for s in self.schools:
            by_okrug.setdefault(s.okrug, []).append(s.index)
        for n, territory in enumerate(self._territory):
            near = [i for i in by_okrug[self.schools[territory].okrug] if i != territory]
            others = (
                near if len(near) >= 2 else [i for i in range(len(self.schools)) if i != territory]
            )
            for rank, index in enumerate([territory, *rng.sample(others, min(2, len(others)))], 1):
                yield (base + n + 1, rank, self.school_id(index))

    # --- exams ----------------------------------------------------------------------

    def exam_published_at(self) -> datetime:
        return self.created_at - timedelta(days=1)  # already public on the start date

    def exam_import_rows(self) -> Rows:
        """One import carried every result: id, imported_by, rows, created_at."""
        yield (self.ids.get("exam_imports", 0) + 1, None, 3 * self.plan.exam_participants,
               self.created_at)  # fmt: skip

    def exam_participant_rows(self) -> Rows:
        """id, registration_code, document_digest, created_at."""
        base = self.ids.get("exam_participants", 0)
        for n in range(self.plan.exam_participants):
            code = exam_registration_code(n)
            digest = exam_rules.document_digest(code, exam_document_number(n))
            yield (base + n + 1, code, digest, self.created_at)

    def exam_result_rows(self) -> Rows:
        """id, participant_id, subject, version, score, pass_mark, published_at,
        import_id, created_at."""
        rng = self._rng("exams")
        at = self.exam_published_at()
        result_id = self.ids.get("exam_results", 0)
        participants = self.ids.get("exam_participants", 0)
        import_id = self.ids.get("exam_imports", 0) + 1
        for n in range(self.plan.exam_participants):
            for subject in exam_subjects(n):
                result_id += 1
                yield (result_id, participants + n + 1, subject, 1,
                       min(100, max(0, round(rng.gauss(62, 16)))), EXAM_PASS_MARKS[subject], at,
                       import_id, self.created_at)  # fmt: skip

    def exam_publication_rows(self) -> Rows:
        """id, subject, published_at, state, announced_at: announced already."""
        at = self.exam_published_at()
        base = self.ids.get("exam_publications", 0)
        for i, subject in enumerate(EXAM_PASS_MARKS):
            yield (base + i + 1, subject, at, "announced", at)

    def tables(self) -> list[Table]:
        plan = self.plan
        schools, kindergartens = len(self.schools), len(self.kindergartens)
        groups = kindergarten_rules.OLDEST_GROUP - kindergarten_rules.YOUNGEST_GROUP + 1
        # Applicants are picked once the residents are generated: their counts are the
        # plan's (the progress bar's estimate; fewer when a tiny city lacks children).
        applicants = plan.kindergarten_applicants + plan.first_grade_applicants

        def table(name: str, rows: Callable[[], Rows], count: Callable[[], int]) -> Table:
            return Table(name, COLUMNS[name], rows, count)

        return [
            *super().tables(),
            table("organisations", self.education_organisation_rows,
                  lambda: schools + kindergartens),
            table("schools", self.school_rows, lambda: schools),
            table("school_buildings", self.school_building_rows, self.school_building_count),
            table("kindergartens", self.kindergarten_rows, lambda: kindergartens),
            table("kindergarten_groups", self.kindergarten_group_rows,
                  lambda: kindergartens * groups),
            table("users", self.user_rows, lambda: applicants),
            table("family_links", self.family_link_rows, lambda: applicants),
            table("kindergarten_applications", self.kindergarten_application_rows,
                  lambda: plan.kindergarten_applicants),
            table("kindergarten_choices", self.kindergarten_choice_rows,
                  lambda: 3 * plan.kindergarten_applicants),
            table("first_grade_campaigns", self.first_grade_campaign_rows, lambda: 1),
            table("first_grade_places", self.first_grade_place_rows, lambda: schools),
            table("first_grade_applications", self.first_grade_application_rows,
                  lambda: plan.first_grade_applicants),
            table("first_grade_choices", self.first_grade_choice_rows,
                  lambda: 3 * plan.first_grade_applicants),
            table("exam_imports", self.exam_import_rows, lambda: 1),
            table("exam_participants", self.exam_participant_rows,
                  lambda: plan.exam_participants),
            table("exam_results", self.exam_result_rows, lambda: 3 * plan.exam_participants),
            table("exam_publications", self.exam_publication_rows, lambda: len(EXAM_PASS_MARKS)),
        ]  # fmt: skip
