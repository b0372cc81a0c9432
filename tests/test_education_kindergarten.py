"""The kindergarten queue and the allocation of places, as parents and officials see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from infocity.core.auth import SYSTEM, Role
from infocity.core.clock import city_today
from infocity.core.db import utcnow
from infocity.core.errors import Forbidden
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.education import errors, service
from infocity.education.models.kindergarten import KindergartenApplication
from infocity.education.rules.kindergarten import Benefit
from infocity.education.schemas.kindergarten import KindergartenApplicationCreate
from tests.builders import count_rows, make_citizen, make_staff
from tests.education_builders import (
    apply,
    cabinet_document,
    make_family,
    make_kindergarten,
    next_school_year_start,
    set_places,
)


def _positions(family_parent: object) -> dict[int, tuple[int, int, int]]:
    (application,) = service.list_my_kindergarten_applications(family_parent)  # type: ignore[arg-type]
    return {
        p.kindergarten_id: (p.position, p.ahead, p.ahead_with_benefit)
        for p in application.positions
    }


def test_position_is_by_benefit_then_date_and_the_parent_sees_what_moved(database: str) -> None:
    first, second = make_kindergarten(), make_kindergarten()
    early = make_family()
    apply(early, [first, second])
    assert _positions(early.parent.principal) == {first: (1, 0, 0), second: (1, 0, 0)}
    later = make_family()
    apply(later, [first], benefit=Benefit.PRIORITY)
    # The later application holds a benefit: it goes ahead in the first kindergarten only,
    # and the very look that shows the new position tells what moved.
    (application,) = service.list_my_kindergarten_applications(early.parent.principal)
    assert {
        p.kindergarten_id: (p.position, p.ahead, p.ahead_with_benefit)
        for p in application.positions
    } == {first: (2, 1, 1), second: (1, 0, 0)}
    moves = {
        p.kindergarten_id: [(c.old_position, c.new_position) for c in p.changes]
        for p in application.positions
    }
    assert moves == {first: [(1, 2)], second: []}
    assert [p.rank for p in application.positions] == [1, 2]
    # Looking again records nothing new.
    (again,) = service.list_my_kindergarten_applications(early.parent.principal)
    assert [len(p.changes) for p in again.positions] == [1, 0]


def test_one_active_application_per_child(database: str) -> None:
    kindergarten = make_kindergarten()
    family = make_family()
    apply(family, [kindergarten])
    with pytest.raises(errors.ChildAlreadyQueued):
        apply(family, [kindergarten])
    assert count_rows(KindergartenApplication) == 1


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (
            {"benefit": Benefit.EXTRAORDINARY, "benefit_document_id": None},
            errors.BenefitDocumentMissing,
        ),
        (
            {"benefit": Benefit.PRIORITY, "benefit_document_id": "a stranger's document"},
            errors.DocumentNotYours,
        ),
        ({"kindergarten_ids": "same twice"}, errors.ChoicesInvalid),
        ({"kindergarten_ids": [10**9]}, errors.KindergartenNotFound),
        ({"desired_start": "yesterday"}, errors.DesiredStartInPast),
        ({"child_id": "someone else's"}, errors.NotYourChild),
        ({"child_id": "the parent"}, errors.NotYourChild),
    ],
)
def test_bad_applications_are_refused_and_write_nothing(
    database: str, change: dict[str, object], refusal: type[Exception]
) -> None:
    kindergarten = make_kindergarten()
    family = make_family()
    stranger = make_family()
    values: dict[str, object] = {
        "child_id": family.child_id,
        "kindergarten_ids": [kindergarten],
        "desired_start": next_school_year_start(),
        "benefit": Benefit.NONE,
    }
    values.update(change)
    replaced = {
        "same twice": [kindergarten, kindergarten],
        "yesterday": city_today() - timedelta(days=1),
        "someone else's": stranger.child_id,
        "the parent": family.parent.person_id,
        "a stranger's document": cabinet_document(stranger),
    }
    values = {k: replaced.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
    with pytest.raises(refusal):
        service.apply_for_kindergarten(
            family.parent.principal, KindergartenApplicationCreate.model_validate(values)
        )
    assert count_rows(KindergartenApplication) == 0


def test_a_child_too_old_for_kindergarten_is_refused(database: str) -> None:
    kindergarten = make_kindergarten()
    with pytest.raises(errors.WrongAgeForKindergarten):
        apply(make_family(age_group=7), [kindergarten])


def test_preview_writes_nothing_and_the_run_offers_places_in_queue_order(database: str) -> None:
    popular, quiet = make_kindergarten(), make_kindergarten()
    set_places(popular, 3, 1)
    set_places(quiet, 3, 1)
    first = make_family()
    apply(first, [popular, quiet])
    benefit = make_family()
    apply(benefit, [popular], benefit=Benefit.EXTRAORDINARY)
    none_left = make_family()
    apply(none_left, [popular])
    official = make_staff(Role.CITY_ADMIN)
    run_for = next_school_year_start()

    preview = service.preview_allocation(official.principal, run_for)
    assert preview.run_id is None
    assert {o.kindergarten_id: o.benefit for o in preview.offers} == {
        popular: Benefit.EXTRAORDINARY,
        quiet: Benefit.NONE,
    }
    assert service.preview_allocation(official.principal, run_for).offers == preview.offers

    result = service.run_allocation(official.principal, run_for)
    assert result.run_id is not None
    assert result.offers == preview.offers
    (offered,) = service.list_my_kindergarten_applications(first.parent.principal)
    assert offered.status == "offered"
    assert [(o.kindergarten_id, o.status) for o in offered.offers] == [(quiet, "open")]
    # The parents are told by the worker after the run, each once.
    assert service.notify_kindergarten_offers(SYSTEM) == 2
    assert service.notify_kindergarten_offers(SYSTEM) == 0
    with UnitOfWork() as uow:
        kinds = set(
            uow.session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.user_id == first.parent.id)
            )
        )
    assert "kindergarten_offer" in kinds
    (waiting,) = service.list_my_kindergarten_applications(none_left.parent.principal)
    assert (waiting.status, waiting.offers) == ("queued", [])
    # Nothing left to give: a second run offers nothing.
    assert service.run_allocation(official.principal, run_for).offers == []


def test_citizens_and_kindergarten_staff_cannot_run_the_allocation(database: str) -> None:
    kindergarten = make_kindergarten()
    for actor in (make_citizen(), make_staff(Role.KINDERGARTEN_STAFF, kindergarten)):
        with pytest.raises(Forbidden):
            service.run_allocation(actor.principal, next_school_year_start())


def test_accepting_enrols_and_declining_keeps_the_original_date(database: str) -> None:
    kindergarten = make_kindergarten()
    set_places(kindergarten, 3, 1)
    declines, accepts = make_family(), make_family()
    original = apply(declines, [kindergarten]).applied_at
    apply(accepts, [kindergarten])
    run_for = next_school_year_start()
    service.run_allocation(SYSTEM, run_for)
    (offered,) = service.list_my_kindergarten_applications(declines.parent.principal)
    declined = service.answer_offer(declines.parent.principal, offered.offers[0].id, accept=False)
    assert (declined.status, declined.applied_at) == ("queued", original)
    assert declined.positions[0].position == 1  # still first in line with the original date
    with pytest.raises(errors.OfferClosed):
        service.answer_offer(declines.parent.principal, offered.offers[0].id, accept=True)
    # The place returned: the next run offers it to the next in line, not again to the
    # child whose parent declined it.
    service.run_allocation(SYSTEM, run_for)
    (still,) = service.list_my_kindergarten_applications(declines.parent.principal)
    assert (still.status, [o.status for o in still.offers]) == ("queued", ["declined"])
    (offered_next,) = service.list_my_kindergarten_applications(accepts.parent.principal)
    open_offer = offered_next.offers[0]
    with pytest.raises(errors.OfferNotFound):
        service.answer_offer(declines.parent.principal, open_offer.id, accept=True)
    enrolled = service.answer_offer(accepts.parent.principal, open_offer.id, accept=True)
    assert enrolled.status == "enrolled"


def test_an_offer_not_answered_in_time_lapses_and_the_place_returns(database: str) -> None:
    kindergarten = make_kindergarten()
    set_places(kindergarten, 3, 1)
    family = make_family()
    apply(family, [kindergarten])
    service.run_allocation(SYSTEM, next_school_year_start())
    assert service.lapse_overdue_offers() == 0
    assert service.lapse_overdue_offers(now=utcnow() + timedelta(days=9)) == 1
    (application,) = service.list_my_kindergarten_applications(family.parent.principal)
    assert application.status == "queued"
    assert [o.status for o in application.offers] == ["lapsed"]
    with UnitOfWork() as uow:
        told = list(
            uow.session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.user_id == family.parent.id)
            )
        )
    assert "kindergarten_offer_lapsed" in told
    (group,) = {k.id: k for k in service.list_kindergartens()}[kindergarten].groups
    assert group.free_places == 1


def test_withdrawing_an_offered_application_returns_the_place(database: str) -> None:
    kindergarten = make_kindergarten()
    set_places(kindergarten, 3, 1)
    family = make_family()
    application = apply(family, [kindergarten])
    service.run_allocation(SYSTEM, next_school_year_start())
    withdrawn = service.withdraw_kindergarten_application(family.parent.principal, application.id)
    assert withdrawn.status == "withdrawn"
    (group,) = {k.id: k for k in service.list_kindergartens()}[kindergarten].groups
    assert group.free_places == 1
    # The child may apply again.
    assert apply(family, [kindergarten]).status == "queued"


def test_children_of_three_without_a_place_are_listed_with_the_nearest_places(
    database: str,
) -> None:
    full = make_kindergarten(at=(55.75, 37.60))
    near = make_kindergarten(at=(55.76, 37.61))
    far = make_kindergarten(at=(55.90, 37.40))
    set_places(full, 3, 0)
    set_places(near, 3, 2)
    set_places(far, 3, 5)
    set_places(far, 4, 5)
    waiting = make_family(age_group=3)
    application = apply(waiting, [full])
    apply(make_family(age_group=2), [full])  # under 3 on that day: not listed
    official = make_staff(Role.CITY_ADMIN)

    (listed,) = service.list_waiting_at_three(official.principal, next_school_year_start())
    assert (listed.application_id, listed.age, listed.first_choice_id) == (
        application.id,
        3,
        full,
    )
    assert [(k.kindergarten_id, k.free_places) for k in listed.nearest] == [(near, 2), (far, 5)]
    assert listed.nearest[0].distance_km is not None
    assert listed.nearest[0].distance_km < listed.nearest[1].distance_km  # type: ignore[operator]
    with pytest.raises(Forbidden):
        service.list_waiting_at_three(waiting.parent.principal, next_school_year_start())
