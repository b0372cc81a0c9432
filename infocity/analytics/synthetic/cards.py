"""School cards and students' social cards over the education part: pupils with cards
and balances, the representatives subscribed to them, each school's turnstiles and
canteen tills, and students with their social cards and the validators that check them.

Stated distributions (documented in docs/benchmarks.md):

- pupils: ``CARD_PUPILS`` residents of 7–17 hold an active card (a 7-byte UID) of a
  school drawn uniformly; balance 0–2,000 roubles;
- representatives: ``REPRESENTATIVES`` residents of 30–54 (not the education part's
  parents), each with an account and a legal representative's subscription (passes,
  purchases, low balance; in-app inbox) to one pupil, ``SECOND_CHILD_SHARE`` of them to
  a second one too; their pupils' service is activated and the family link is written;
- devices: ``TURNSTILES_PER_BUILDING`` turnstiles a school building and
  ``TILLS_PER_SCHOOL`` canteen tills a school; a device's key is ``device_key(seed, id)``
  (the synthetic city's devices are known to its benchmarks, never to a real city);
- students: ``SOCIAL_CARDS`` residents of 18–24 with an account and a social card of a
  college (``COLLEGES``), active until 31 August of a year one to four years on;
  ``BLOCKED_SHARE`` of them blocked as lost; ``VALIDATORS`` transit validators of the
  city's transport operator.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from infocity.analytics.synthetic.base import OKRUGS, ORGANISATION_COLUMNS, Rows, Table
from infocity.analytics.synthetic.education import COLUMNS as EDUCATION_COLUMNS
from infocity.analytics.synthetic.education import NO_PASSWORD, EducationCity, parent_email
from infocity.cards.rules.ledger import DEFAULT_LOW_BALANCE
from infocity.core.security import token_hash

CARD_PUPILS = 750_000
REPRESENTATIVES = 300_000
SOCIAL_CARDS = 750_000
COLLEGES = 150
VALIDATORS = 100
TURNSTILES_PER_BUILDING = 2
TILLS_PER_SCHOOL = 2
SECOND_CHILD_SHARE = 0.2
BLOCKED_SHARE = 0.01
PUPIL_AGES = (7, 17)
STUDENT_AGES = (18, 24)
REPRESENTATIVE_AGES = (30, 54)
MAX_BALANCE = 200_000  # kopecks

COLUMNS: dict[str, Sequence[str]] = {
    "organisations": ORGANISATION_COLUMNS,
    "users": EDUCATION_COLUMNS["users"],
    "family_links": EDUCATION_COLUMNS["family_links"],
    "device_keys": ("id", "organisation_id", "kind", "name", "key_hash", "created_at",
                    "last_seen_at", "revoked_at"),
    "card_pupils": ("id", "person_id", "school_id", "balance", "held", "daily_limit",
                    "spent_day", "spent", "low_balance", "low_balance_alerted",
                    "activated_at", "created_at"),
    "school_cards": ("id", "uid", "pupil_id", "status", "issued_by", "issued_at",
                     "changed_at"),
    "card_representatives": ("id", "pupil_id", "user_id", "standing", "display_name",
                             "added_by", "notify_passes", "notify_purchases",
                             "notify_low_balance", "notify_digest", "channels", "created_at"),
    "social_cards": ("id", "person_id", "user_id", "college_id", "application_id",
                     "student_number", "uid", "status", "valid_until", "block_reason",
                     "replaces_card_id", "created_at", "updated_at"),
}  # fmt: skip


def device_key(seed: int, device_id: int) -> str:
    """The raw key of the synthetic city's device ``device_id`` (stored as its hash)."""
    return hashlib.sha256(f"infocity-city:{seed}:device:{device_id}".encode()).hexdigest()


def school_card_uid(n: int) -> str:
    """The UID of the ``n``-th pupil's card (7 bytes, hexadecimal)."""
    return f"05{n:012X}"


def social_card_uid(n: int) -> str:
    """The UID of the ``n``-th student's social card (7 bytes, hexadecimal)."""
    return f"06{n:012X}"


@dataclass(frozen=True)
class Subscription:
    """A representative (the resident's index) told about pupils (indexes into pupils)."""

    adult: int
    pupils: tuple[int, ...]


@dataclass
class CardsCity(EducationCity):
    def __post_init__(self) -> None:
        super().__post_init__()
        scale = self.plan.scale
        self.card_pupil_count = max(3, round(CARD_PUPILS * scale))
        self.representative_count = max(2, round(REPRESENTATIVES * scale))
        self.social_card_count = max(3, round(SOCIAL_CARDS * scale))
        self.college_count = max(1, round(COLLEGES * scale))
        self.colleges_base = self.reserve("organisations", self.college_count + 1)
        self.operator_id = self.colleges_base + self.college_count + 1  # transit operator
        self.pupil_residents = array("l")
        self.student_residents = array("l")
        self.adult_residents = array("l")
        self._cards_picked: tuple[list[int], list[int], list[Subscription]] | None = None

    def on_resident(
        self, index: int, age: int, birth: date, randrange: Callable[[int], int]
    ) -> None:
        super().on_resident(index, age, birth, randrange)
        if PUPIL_AGES[0] <= age <= PUPIL_AGES[1]:
            self.pupil_residents.append(index)
        elif STUDENT_AGES[0] <= age <= STUDENT_AGES[1]:
            self.student_residents.append(index)
        elif REPRESENTATIVE_AGES[0] <= age <= REPRESENTATIVE_AGES[1]:
            self.adult_residents.append(index)

    def card_holders(self) -> tuple[list[int], list[int], list[Subscription]]:
        """Pupils with cards, students with social cards (resident indexes) and the
        subscriptions (after ``persons()``)."""
        if self._cards_picked is None:
            rng = self._rng("cards")
            pupils = rng.sample(
                list(self.pupil_residents), min(self.card_pupil_count, len(self.pupil_residents))
            )
            students = rng.sample(
                list(self.student_residents),
                min(self.social_card_count, len(self.student_residents)),
            )
            taken = {a.parent for a in self._all_applicants()}
            free = [n for n in self.adult_residents if n not in taken]
            adults = rng.sample(free, min(self.representative_count, len(free)))
            subscriptions: list[Subscription] = []
            next_pupil = 0
            for adult in adults:
                many = 2 if rng.random() < SECOND_CHILD_SHARE else 1
                if next_pupil + many > len(pupils):
                    break
                subscriptions.append(
                    Subscription(adult, tuple(range(next_pupil, next_pupil + many)))
                )
                next_pupil += many
            self._cards_picked = (pupils, students, subscriptions)
        return self._cards_picked

    def card_pupil_id(self, n: int) -> int:
        return self.ids.get("card_pupils", 0) + n + 1

    def _users_base(self) -> int:
        """Card users are numbered after the education part's parents (counted, not
        concatenated: this is asked for every card user's row)."""
        kindergarten, first_grade = self.applicants()
        return self.ids.get("users", 0) + len(kindergarten) + len(first_grade)

    def representative_user_id(self, n: int) -> int:
        return self._users_base() + n + 1

    def student_user_id(self, n: int) -> int:
        _pupils, _students, subscriptions = self.card_holders()
        return self._users_base() + len(subscriptions) + n + 1

    # --- organisations and devices -----------------------------------------------

    def cards_organisation_rows(self) -> Rows:
        rng = self._rng("colleges")
        for n in range(self.college_count):
            name, lat, lon = OKRUGS[rng.randrange(len(OKRUGS))]
            yield (self.colleges_base + n + 1, "college", f"Колледж № {n + 1}",
                   f"College No. {n + 1}", None, f"{name}, д. {rng.randint(1, 140)}",
                   round(lat, 6), round(lon, 6), self.created_at)  # fmt: skip
        yield (self.operator_id, "city", "Городской транспорт", "City transport", None,
               "Москва", OKRUGS[0][1], OKRUGS[0][2], self.created_at)  # fmt: skip

    def device_plan(self) -> Iterator[tuple[int, int, str, str]]:
        """(id, organisation, kind, name) of every device: turnstiles, tills, validators."""
        buildings: Counter[object] = Counter(row[1] for row in self.school_building_rows())
        next_id = self.ids.get("device_keys", 0)
        for s in self.schools:
            school = self.school_id(s.index)
            for n in range(buildings.get(school, 1) * TURNSTILES_PER_BUILDING):
                next_id += 1
                yield (next_id, school, "turnstile", f"Турникет {n + 1}")
            for n in range(TILLS_PER_SCHOOL):
                next_id += 1
                yield (next_id, school, "till", f"Касса {n + 1}")
        for n in range(VALIDATORS):
            next_id += 1
            yield (next_id, self.operator_id, "validator", f"Валидатор {n + 1}")

    def device_key_rows(self) -> Rows:
        for device_id, organisation, kind, name in self.device_plan():
            key = token_hash(device_key(self.seed, device_id))
            yield (device_id, organisation, kind, name, key, self.created_at, None, None)

    def device_count(self) -> int:
        return sum(1 for _ in self.device_plan())

    # --- school cards ---------------------------------------------------------------

    def cards_user_rows(self) -> Rows:
        _pupils, students, subscriptions = self.card_holders()
        at = self.created_at
        for n, sub in enumerate(subscriptions):
            a = sub.adult
            yield (self.representative_user_id(n), "citizen", self.person_id(a), parent_email(a),
                   f"+79{a % 10**9:09d}", NO_PASSWORD, f"Родитель {a}", "ru", True, at, at,
                   at)  # fmt: skip
        for n, s in enumerate(students):
            yield (self.student_user_id(n), "citizen", self.person_id(s),
                   f"student{s}@city.example", f"+79{s % 10**9:09d}", NO_PASSWORD,
                   f"Студент {s}", "ru", True, at, at, at)  # fmt: skip

    def cards_family_link_rows(self) -> Rows:
        pupils, _students, subscriptions = self.card_holders()
        for sub in subscriptions:
            for p in sub.pupils:
                yield (self.person_id(sub.adult), self.person_id(pupils[p]), "parent",
                       self.created_at)  # fmt: skip

    def card_pupil_rows(self) -> Rows:
        rng = self._rng("card-pupils")
        pupils, _students, subscriptions = self.card_holders()
        activated = {p for sub in subscriptions for p in sub.pupils}
        for n, resident in enumerate(pupils):
            school = self.school_id(rng.randrange(len(self.schools)))
            yield (self.card_pupil_id(n), self.person_id(resident), school,
                   rng.randrange(MAX_BALANCE // 100 + 1) * 100, 0, None, None, 0,
                   DEFAULT_LOW_BALANCE, False,
                   self.created_at if n in activated else None, self.created_at)  # fmt: skip

    def school_card_rows(self) -> Rows:
        base = self.ids.get("school_cards", 0)
        for n in range(len(self.card_holders()[0])):
            yield (base + n + 1, school_card_uid(n), self.card_pupil_id(n), "active", None,
                   self.created_at, None)  # fmt: skip

    def card_representative_rows(self) -> Rows:
        _pupils, _students, subscriptions = self.card_holders()
        next_id = self.ids.get("card_representatives", 0)
        for n, sub in enumerate(subscriptions):
            for p in sub.pupils:
                next_id += 1
                yield (next_id, self.card_pupil_id(p), self.representative_user_id(n), "legal",
                       f"Родитель {sub.adult}", None, True, True, True, False, "inbox",
                       self.created_at)  # fmt: skip

    # --- social cards -------------------------------------------------------------

    def social_card_rows(self) -> Rows:
        rng = self._rng("social-cards")
        _pupils, students, _subscriptions = self.card_holders()
        base = self.ids.get("social_cards", 0)
        for n, resident in enumerate(students):
            blocked = rng.random() < BLOCKED_SHARE
            until = date(self.start.year + 1 + rng.randrange(4), 8, 31)
            yield (base + n + 1, self.person_id(resident), self.student_user_id(n),
                   self.colleges_base + rng.randrange(self.college_count) + 1, None,
                   f"С-{n + 1:07d}", social_card_uid(n), "blocked" if blocked else "active",
                   until, "lost" if blocked else None, None, self.created_at,
                   self.created_at)  # fmt: skip

    def tables(self) -> list[Table]:
        pupils, students = self.card_pupil_count, self.social_card_count
        adults = self.representative_count
        subscribed = round(adults * (1 + SECOND_CHILD_SHARE))

        def table(name: str, rows: Callable[[], Rows], count: Callable[[], int]) -> Table:
            return Table(name, COLUMNS[name], rows, count)

        return [
            *super().tables(),
            table("organisations", self.cards_organisation_rows,
                  lambda: self.college_count + 1),
            table("device_keys", self.device_key_rows, self.device_count),
            table("users", self.cards_user_rows, lambda: adults + students),
            table("family_links", self.cards_family_link_rows, lambda: subscribed),
            table("card_pupils", self.card_pupil_rows, lambda: pupils),
            table("school_cards", self.school_card_rows, lambda: pupils),
            table("card_representatives", self.card_representative_rows, lambda: subscribed),
            table("social_cards", self.social_card_rows, lambda: students),
        ]  # fmt: skip
