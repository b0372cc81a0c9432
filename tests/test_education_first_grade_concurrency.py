"""Two officials running a first-grade allocation at the same moment never give one
place twice nor decide one child twice: the guarded updates decide."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from infocity.core.auth import Role
from infocity.core.uow import UnitOfWork
from infocity.education import errors, service
from infocity.education.models.first_grade import FirstGradeApplication, FirstGradePlaces
from infocity.education.rules.first_grade import FirstGradeStatus, Phase
from infocity.education.schemas.first_grade import FirstGradeRunRead
from tests.builders import make_staff
from tests.education_builders import (
    apply_first_grade,
    first_grade_places,
    make_first_grader,
    make_school,
    open_campaign,
)

OFFICIALS = 4
CHILDREN = 20


@pytest.mark.slow
def test_officials_running_at_once_cannot_give_one_place_twice(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    year = open_campaign(Phase.TWO)
    schools = [make_school().id for _ in range(3)]
    for school in schools:
        first_grade_places(school, 4)
    for n in range(CHILDREN):
        apply_first_grade(make_first_grader(), [schools[(n + i) % 3] for i in range(3)])
    officials = [make_staff(Role.CITY_ADMIN) for _ in range(OFFICIALS)]
    barrier = threading.Barrier(OFFICIALS)
    outcomes: list[FirstGradeRunRead | str] = [""] * OFFICIALS

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = service.run_first_grade_allocation(
                officials[index].principal, year, Phase.TWO
            )
        except errors.FirstGradeRunCollided:
            outcomes[index] = "collided"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(OFFICIALS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(o == "collided" or isinstance(o, FirstGradeRunRead) for o in outcomes), outcomes
    given = [o for o in outcomes if isinstance(o, FirstGradeRunRead)]
    assert sum(1 for o in given for d in o.decisions if d.school_id is not None) == 12
    with UnitOfWork() as uow:
        statuses = Counter(uow.session.scalars(select(FirstGradeApplication.status)))
        per_school = Counter(
            uow.session.scalars(
                select(FirstGradeApplication.school_id).where(
                    FirstGradeApplication.status == FirstGradeStatus.ADMITTED.value
                )
            )
        )
        free = list(uow.session.scalars(select(FirstGradePlaces.free_places)))
    assert statuses == {"admitted": 12, "refused": 8}
    assert per_school == dict.fromkeys(schools, 4)
    assert free == [0, 0, 0]
