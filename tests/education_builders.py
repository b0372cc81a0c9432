"""Education made for tests through the real service functions: schools,
kindergartens, queues and exam results."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from infocity.accounts import service as accounts
from infocity.accounts.schemas import ChildCreate
from infocity.core.auth import SYSTEM, Role
from infocity.core.clock import city_today
from infocity.core.db import utcnow
from infocity.education import service
from infocity.education.rules.first_grade import Phase
from infocity.education.rules.kindergarten import Benefit, school_year
from infocity.education.schemas.directory import (
    GroupPlacesSet,
    KindergartenCreate,
    KindergartenGroupRead,
    SchoolCreate,
    SchoolRead,
)
from infocity.education.schemas.exams import ExamImportRead
from infocity.education.schemas.first_grade import (
    CampaignSet,
    FirstGradeApplicationCreate,
    FirstGradeApplicationRead,
    FirstGradePlacesSet,
)
from infocity.education.schemas.kindergarten import (
    KindergartenApplicationCreate,
    KindergartenApplicationRead,
)
from infocity.portal import service as portal
from infocity.portal.schemas import CabinetDocumentCreate
from tests.builders import (
    Account,
    make_citizen,
    make_district,
    make_organisation,
    make_staff,
)

_numbers = itertools.count(1)
FIRST_NAMES = ("Миша", "Маша", "Петя", "Оля", "Ваня", "Катя", "Даша", "Гоша")


@dataclass(frozen=True)
class Districts:
    """Two districts and an official of the first one's education office."""

    home: int
    away: int
    official: Account


def two_districts() -> Districts:
    home, away = make_district(), make_district()
    office = make_organisation("education_office", district_id=home.id)
    return Districts(home.id, away.id, make_staff(Role.EDUCATION_OFFICIAL, office.id))


def make_school(buildings: int = 2, district_id: int | None = None) -> SchoolRead:
    n = next(_numbers)
    return service.create_school(
        SYSTEM,
        SchoolCreate(
            name=f"Школа №{n}",
            name_en=f"School No. {n}",
            district_id=district_id,
            buildings=[f"Москва, ул. Школьная, {n}, корп. {b + 1}" for b in range(buildings)],
        ),
    )


def make_kindergarten(
    name: str | None = None,
    at: tuple[float, float] | None = None,
    *,
    district_id: int | None = None,
) -> int:
    """A kindergarten; ``at``: its latitude and longitude."""
    n = next(_numbers)
    return service.create_kindergarten(
        SYSTEM,
        KindergartenCreate(
            district_id=district_id,
            name=name or f"Детский сад №{n}",
            name_en=f"Kindergarten No. {n}",
            address=f"Москва, ул. Садовая, {n}",
            latitude=at[0] if at else None,
            longitude=at[1] if at else None,
        ),
    ).id


def next_school_year_start() -> date:
    """The next 1 September in the city: the day allocations are usually for."""
    return date(school_year(city_today()) + 1, 9, 1)


def set_places(
    kindergarten_id: int, age_group: int, places: int, year: int | None = None
) -> KindergartenGroupRead:
    return service.set_group_places(
        SYSTEM,
        kindergarten_id,
        GroupPlacesSet(
            year=year or next_school_year_start().year, age_group=age_group, places=places
        ),
    )


def birth_date_for_group(age_group: int, start: date | None = None) -> date:
    """A birth date giving ``age_group`` full years on the 1 September of ``start``'s year."""
    first = date(school_year(start or next_school_year_start()), 9, 1)
    return date(first.year - age_group, 3, 15)


@dataclass(frozen=True)
class Family:
    parent: Account
    child_id: int


def make_family(age_group: int = 3, *, email: str | None = None) -> Family:
    parent = make_citizen(email=email)
    child = accounts.add_child(
        parent.principal,
        ChildCreate(
            last_name="Иванов",
            first_name=FIRST_NAMES[next(_numbers) % len(FIRST_NAMES)],
            birth_date=birth_date_for_group(age_group),
        ),
    )
    return Family(parent, child.id)


PDF = b"%PDF-1.4\n% a scanned certificate\n"


def cabinet_document(
    family: Family, title: str = "Справка № 12 от 01.02.2026", *, of_parent: bool = False
) -> int:
    """A document the parent keeps in the cabinet (the child's, unless ``of_parent``)."""
    person = family.parent.person_id if of_parent else family.child_id
    assert person is not None
    return portal.add_cabinet_document(
        family.parent.principal,
        CabinetDocumentCreate(person_id=person, title=title),
        "certificate.pdf",
        PDF,
    ).id


def apply(
    family: Family,
    kindergarten_ids: list[int],
    *,
    benefit: Benefit = Benefit.NONE,
    desired_start: date | None = None,
) -> KindergartenApplicationRead:
    return service.apply_for_kindergarten(
        family.parent.principal,
        KindergartenApplicationCreate(
            child_id=family.child_id,
            kindergarten_ids=kindergarten_ids,
            desired_start=desired_start or next_school_year_start(),
            benefit=benefit,
            benefit_document_id=None if benefit is Benefit.NONE else cabinet_document(family),
        ),
    )


# --- Exam results ----------------------------------------------------------------------

HEADER = "registration_code,document_number,subject,score,pass_mark,published_at"
_codes = itertools.count(1)


@dataclass(frozen=True)
class Participant:
    registration_code: str
    document_number: str


def make_participant() -> Participant:
    """A registration code and a document number no other test uses (not imported yet)."""
    n = next(_codes)
    return Participant(f"{770000000000 + n:012d}", f"{400000 + n:06d}")


def publication_instant(hours_ahead: int = 1) -> datetime:
    """A publication instant on the whole second ``hours_ahead`` hours from now (UTC)."""
    return (utcnow() + timedelta(hours=hours_ahead)).replace(microsecond=0, tzinfo=UTC)


def results_csv(rows: Iterable[tuple[Participant, str, int, int, datetime]]) -> str:
    """A results file: (participant, subject, score, pass mark, publication instant)."""
    lines = [HEADER]
    for who, subject, score, mark, at in rows:
        lines.append(
            f"{who.registration_code},{who.document_number},{subject},{score},{mark},"
            f"{at.isoformat()}"
        )
    return "\n".join(lines) + "\n"


def import_results(
    rows: Iterable[tuple[Participant, str, int, int, datetime]],
) -> ExamImportRead:
    """Import the rows as the command line would (``SYSTEM``)."""
    return service.import_exam_results(SYSTEM, results_csv(rows))


# --- First grade -----------------------------------------------------------------------


def first_grade_year() -> int:
    """The school year a first-grade campaign running today enrols for."""
    return school_year(city_today()) + 1


def open_campaign(phase: Phase | None = Phase.ONE) -> int:
    """This year's first-grade campaign with ``phase`` taking applications today (None:
    both phases over); its school year."""
    today, year = city_today(), first_grade_year()
    first_september = date(year, 9, 1)
    day = timedelta(days=1)
    if phase is Phase.ONE:
        # A day either side, so that a test crossing the city's midnight stays in it.
        closes = min(today + day, first_september - 2 * day)
        dates = (today - day, max(closes, today), max(closes, today) + day, first_september)
    elif phase is Phase.TWO:
        dates = (today - 2 * day, today - day, today, first_september)
    else:
        dates = (today - 4 * day, today - 3 * day, today - 2 * day, today - day)
    service.set_first_grade_campaign(
        SYSTEM,
        CampaignSet(
            year=year,
            phase_1_opens=dates[0],
            phase_1_closes=dates[1],
            phase_2_opens=dates[2],
            phase_2_closes=dates[3],
        ),
    )
    return year


def first_grade_places(school_id: int, places: int) -> None:
    service.set_first_grade_places(
        SYSTEM, first_grade_year(), school_id, FirstGradePlacesSet(places=places)
    )


def first_grader_birth_date(years: int = 7) -> date:
    """A birth date giving ``years`` full years (and some months) on 1 September."""
    return date(first_grade_year() - years, 3, 15)


def make_first_grader(birth_date: date | None = None) -> Family:
    parent = make_citizen()
    child = accounts.add_child(
        parent.principal,
        ChildCreate(
            last_name="Петров",
            first_name=FIRST_NAMES[next(_numbers) % len(FIRST_NAMES)],
            birth_date=birth_date or first_grader_birth_date(),
        ),
    )
    return Family(parent, child.id)


def territory(address: str, school_id: int) -> None:
    """Put a home address on a school's territory."""
    service.import_territory(SYSTEM, f'address,school_id\n"{address}",{school_id}\n')


def apply_first_grade(
    family: Family, school_ids: list[int], **rights: object
) -> FirstGradeApplicationRead:
    """Apply as the parent; ``rights``: the application's other fields (sibling,
    priority document, home address, age permission)."""
    return service.apply_for_first_grade(
        family.parent.principal,
        FirstGradeApplicationCreate.model_validate(
            {"child_id": family.child_id, "school_ids": school_ids, **rights}
        ),
    )
