"""First-grade enrolment as parents, city officials and schools see it: the campaign's
phases, who may apply, the allocation with its decisions and the school's list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select

from infocity.core.auth import SYSTEM, Role
from infocity.core.clock import city_date
from infocity.core.errors import Forbidden
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.core.workdays import add_working_days
from infocity.education import errors, service
from infocity.education.models.first_grade import FirstGradeApplication, FirstGradeChoice
from infocity.education.rules.first_grade import FirstGradeStatus, Phase
from infocity.education.schemas.first_grade import CampaignSet, FirstGradeApplicationCreate
from tests.builders import count_rows, make_staff
from tests.education_builders import (
    Family,
    apply_first_grade,
    cabinet_document,
    first_grade_places,
    first_grade_year,
    make_first_grader,
    make_school,
    open_campaign,
    territory,
)


def _told(family: Family) -> list[str]:
    with UnitOfWork() as uow:
        return list(
            uow.session.scalars(
                select(OutboxMessage.kind)
                .where(OutboxMessage.user_id == family.parent.id)
                .order_by(OutboxMessage.id)
            )
        )


def _status(family: Family) -> tuple[FirstGradeStatus, str | None, str | None]:
    (application,) = service.list_my_first_grade_applications(family.parent.principal)
    return application.status, application.school_name, application.refusal_reason


@pytest.fixture
def nothing_written() -> Iterator[None]:
    """The refused application wrote nothing."""
    yield
    assert count_rows(FirstGradeApplication) == 0
    assert count_rows(FirstGradeChoice) == 0


@pytest.mark.calendar
def test_phase_1_ranks_sibling_then_priority_then_territory_and_tells_every_parent(
    database: str,
) -> None:
    year = open_campaign(Phase.ONE)
    school, other = make_school().id, make_school().id
    first_grade_places(school, 2)
    first_grade_places(other, 5)
    territory("Москва, ул. Школьная, 100", school)
    # Filed first, yet only on the territory: behind the sibling and the priority.
    near = make_first_grader()
    apply_first_grade(near, [school], home_address="москва, ул. школьная,  100")
    priority = make_first_grader()
    apply_first_grade(priority, [school], priority_document_id=cabinet_document(priority))
    sibling = make_first_grader()
    applied = apply_first_grade(
        sibling, [school], sibling_school_id=school, sibling_name="Петров Иван"
    )
    # The legal term: working days after phase 1 closes.
    campaign = service.get_first_grade_campaign(year)
    assert campaign is not None
    assert applied.decide_by == add_working_days(campaign.phase_1_closes, 3)
    assert applied.status is FirstGradeStatus.SUBMITTED
    # Another school's territory gives no right here: the child goes to their own school.
    moved = make_first_grader()
    territory("Москва, ул. Школьная, 102", other)
    apply_first_grade(moved, [school, other], home_address="Москва, ул. Школьная, 102")

    official = make_staff(Role.CITY_ADMIN)
    preview = service.preview_first_grade_allocation(official.principal, year, Phase.ONE)
    assert preview.run_id is None
    assert preview.considered == 4
    assert _status(near)[0] is FirstGradeStatus.SUBMITTED  # the preview wrote nothing

    run = service.run_first_grade_allocation(official.principal, year, Phase.ONE)
    assert [d.school_id for d in run.decisions] == [d.school_id for d in preview.decisions]
    assert _status(sibling)[0] is FirstGradeStatus.ADMITTED
    assert _status(priority)[0] is FirstGradeStatus.ADMITTED
    assert _status(near) == (FirstGradeStatus.REFUSED, None, "no_places")
    assert _status(moved)[0] is FirstGradeStatus.ADMITTED
    (mine,) = service.list_my_first_grade_applications(moved.parent.principal)
    assert mine.school_id == other
    assert "first_grade_admitted" in _told(sibling)
    assert "first_grade_refused" in _told(near)
    campaign = service.get_first_grade_campaign(year)
    assert campaign is not None
    assert {s.school_id: s.free_places for s in campaign.schools} == {school: 0, other: 4}
    # Decided once: a second run has nobody left to decide.
    assert service.run_first_grade_allocation(official.principal, year, Phase.ONE).decisions == []


@pytest.mark.calendar
def test_phase_2_takes_everyone_by_time_for_the_places_left(database: str) -> None:
    year = open_campaign(Phase.TWO)
    school = make_school().id
    first_grade_places(school, 1)
    early, late = make_first_grader(), make_first_grader()
    applied = apply_first_grade(early, [school])
    assert applied.phase is Phase.TWO
    assert applied.decide_by == add_working_days(city_date(applied.applied_at), 5)
    apply_first_grade(late, [school])
    service.run_first_grade_allocation(SYSTEM, year, Phase.TWO)
    assert _status(early)[0] is FirstGradeStatus.ADMITTED
    assert _status(late)[0] is FirstGradeStatus.REFUSED


def test_one_active_application_per_child(database: str) -> None:
    open_campaign(Phase.TWO)
    school = make_school().id
    first_grade_places(school, 3)
    family = make_first_grader()
    apply_first_grade(family, [school])
    with pytest.raises(errors.ChildAlreadyApplied):
        apply_first_grade(family, [school])
    assert count_rows(FirstGradeApplication) == 1


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"school_ids": "same twice"}, errors.SchoolChoicesInvalid),
        ({"school_ids": "no places"}, errors.SchoolHasNoFirstGrade),
        ({"child_id": "someone else's"}, errors.NotYourChild),
        ({"child_id": "the parent"}, errors.NotYourChild),
        ({"sibling_school_id": "the other school"}, errors.SiblingSchoolNotChosen),
        ({"home_address": "not on the territory"}, errors.NoRightInPhase1),
    ],
)
def test_bad_applications_are_refused_and_write_nothing(
    database: str, nothing_written: None, change: dict[str, object], refusal: type[Exception]
) -> None:
    open_campaign(Phase.ONE)
    school, without_places = make_school().id, make_school().id
    first_grade_places(school, 3)
    family, stranger = make_first_grader(), make_first_grader()
    values: dict[str, object] = {
        "child_id": family.child_id,
        "school_ids": [school],
        "priority_document_id": cabinet_document(family),
    }
    values.update(change)
    replaced: dict[str, object] = {
        "same twice": [school, school],
        "no places": [school, without_places],
        "someone else's": stranger.child_id,
        "the parent": family.parent.person_id,
        "the other school": without_places,
        "not on the territory": "Москва, ул. Неизвестная, 1",
    }
    values = {k: replaced.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
    if "sibling_school_id" in change:
        values["sibling_name"] = "Петров Иван"
    if "home_address" in change:
        values.pop("priority_document_id")
    with pytest.raises(refusal):
        service.apply_for_first_grade(
            family.parent.principal, FirstGradeApplicationCreate.model_validate(values)
        )


@pytest.mark.calendar
def test_outside_the_phases_the_parent_is_told_the_dates(
    database: str, nothing_written: None
) -> None:
    open_campaign(None)
    school = make_school().id
    first_grade_places(school, 3)
    with pytest.raises(errors.CampaignClosed) as refused:
        apply_first_grade(make_first_grader(), [school])
    assert "Первый этап" in refused.value.translated()


@pytest.mark.calendar
@pytest.mark.parametrize("years", [6, 8])
def test_a_child_outside_six_and_a_half_to_eight_needs_a_permission(
    database: str, years: int
) -> None:
    year = open_campaign(Phase.TWO)
    school = make_school().id
    first_grade_places(school, 3)
    # 6 years and 5 months, or 8 years and 5 months, on 1 September.
    born = date(year - years, 3, 15) if years == 8 else date(year - 6, 4, 15)
    family = make_first_grader(born)
    with pytest.raises(errors.WrongAgeForFirstGrade):
        apply_first_grade(family, [school])
    assert count_rows(FirstGradeApplication) == 0
    applied = apply_first_grade(
        family, [school], age_permission="Разрешение управления образования № 5 от 02.03"
    )
    assert applied.status is FirstGradeStatus.SUBMITTED


def test_campaign_dates_out_of_order_are_refused(database: str) -> None:
    year = first_grade_year()
    with pytest.raises(errors.CampaignDatesInvalid):
        service.set_first_grade_campaign(
            SYSTEM,
            CampaignSet(
                year=year,
                phase_1_opens=date(year, 4, 1),
                phase_1_closes=date(year, 7, 10),
                phase_2_opens=date(year, 7, 6),
                phase_2_closes=date(year, 9, 5),
            ),
        )
    assert service.get_first_grade_campaign(year) is None


def test_the_school_sees_its_list_and_confirms_documents(database: str) -> None:
    year = open_campaign(Phase.TWO)
    school, other = make_school().id, make_school().id
    first_grade_places(school, 2)
    family = make_first_grader()
    application = apply_first_grade(family, [school], home_address="Москва, ул. Новая, 1")
    service.run_first_grade_allocation(SYSTEM, year, Phase.TWO)

    staff = make_staff(Role.SCHOOL_STAFF, school)
    (entry,) = service.list_school_first_graders(staff.principal, school, year)
    assert (entry.application_id, entry.home_address) == (application.id, "Москва, ул. Новая, 1")
    assert entry.status is FirstGradeStatus.ADMITTED
    # Another school's staff and the parent see nothing of it and confirm nothing.
    stranger = make_staff(Role.SCHOOL_STAFF, other)
    with pytest.raises(Forbidden):
        service.list_school_first_graders(stranger.principal, school, year)
    with pytest.raises(Forbidden):
        service.confirm_first_grade_documents(stranger.principal, application.id)
    with pytest.raises(Forbidden):
        service.confirm_first_grade_documents(family.parent.principal, application.id)

    confirmed = service.confirm_first_grade_documents(staff.principal, application.id)
    assert confirmed.status is FirstGradeStatus.ENROLLED
    assert _status(family)[0] is FirstGradeStatus.ENROLLED
    assert "first_grade_enrolled" in _told(family)
    with pytest.raises(errors.FirstGradeApplicationChanged):
        service.confirm_first_grade_documents(staff.principal, application.id)


def test_withdrawing_an_admitted_child_returns_the_place(database: str) -> None:
    year = open_campaign(Phase.TWO)
    school = make_school().id
    first_grade_places(school, 1)
    family = make_first_grader()
    application = apply_first_grade(family, [school])
    service.run_first_grade_allocation(SYSTEM, year, Phase.TWO)
    withdrawn = service.withdraw_first_grade_application(family.parent.principal, application.id)
    assert withdrawn.status is FirstGradeStatus.WITHDRAWN
    campaign = service.get_first_grade_campaign(year)
    assert campaign is not None
    assert campaign.schools[0].free_places == 1
    # The child may apply again.
    assert apply_first_grade(family, [school]).status is FirstGradeStatus.SUBMITTED


def test_citizens_and_school_staff_cannot_run_the_allocation(database: str) -> None:
    year = open_campaign(Phase.ONE)
    school = make_school().id
    for who in (make_first_grader().parent, make_staff(Role.SCHOOL_STAFF, school)):
        with pytest.raises(Forbidden):
            service.run_first_grade_allocation(who.principal, year, Phase.ONE)
