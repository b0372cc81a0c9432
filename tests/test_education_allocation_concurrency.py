"""Two officials running the kindergarten allocation at the same moment never give one
place twice nor one child two places: the database decides through the guarded updates."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from infocity.core.auth import Role
from infocity.core.uow import UnitOfWork
from infocity.education import errors, service
from infocity.education.models.directory import KindergartenGroup
from infocity.education.models.kindergarten import KindergartenOffer
from infocity.education.schemas.kindergarten import AllocationRead
from tests.builders import make_staff
from tests.education_builders import (
    apply,
    make_family,
    make_kindergarten,
    next_school_year_start,
    set_places,
)

OFFICIALS = 4
CHILDREN = 24


@pytest.mark.slow
def test_officials_running_at_once_cannot_give_one_place_twice(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    kindergartens = [make_kindergarten() for _ in range(3)]
    for kindergarten in kindergartens:
        set_places(kindergarten, 3, 4)
    for n in range(CHILDREN):
        apply(make_family(), [kindergartens[(n + i) % 3] for i in range(3)])
    officials = [make_staff(Role.CITY_ADMIN) for _ in range(OFFICIALS)]
    barrier = threading.Barrier(OFFICIALS)
    outcomes: list[AllocationRead | str] = [""] * OFFICIALS

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = service.run_allocation(
                officials[index].principal, next_school_year_start()
            )
        except errors.AllocationCollided:
            outcomes[index] = "collided"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(OFFICIALS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    given = [o for o in outcomes if isinstance(o, AllocationRead)]
    assert all(o == "collided" or isinstance(o, AllocationRead) for o in outcomes), outcomes
    # Every place was given once, by whichever runs got there first.
    assert sum(len(o.offers) for o in given) == 12
    with UnitOfWork() as uow:
        per_application = Counter(uow.session.scalars(select(KindergartenOffer.application_id)))
        per_group = dict(
            uow.session.execute(
                select(KindergartenOffer.group_id, func.count()).group_by(
                    KindergartenOffer.group_id
                )
            ).all()
        )
        groups = uow.session.execute(
            select(KindergartenGroup.id, KindergartenGroup.places, KindergartenGroup.free_places)
        ).all()
    assert set(per_application.values()) == {1}
    assert len(per_application) == 12
    for group_id, places, free in groups:
        assert free == 0
        assert per_group[group_id] == places
