"""First-grade enrolment: the city's campaign and each school's places, and the parent's
application in phase 1 or 2 (the decisions are in ``first_grade_decisions``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.education import errors
from infocity.education.models.directory import School, TerritoryAddress
from infocity.education.models.first_grade import (
    FirstGradeApplication,
    FirstGradeCampaign,
    FirstGradeChoice,
    FirstGradePlaces,
)
from infocity.education.rules import directory as directory_rules
from infocity.education.rules import first_grade as rules
from infocity.education.rules.first_grade import FirstGradeStatus, Phase
from infocity.education.rules.kindergarten import school_year
from infocity.education.schemas.first_grade import (
    CampaignRead,
    CampaignSet,
    ChosenSchoolRead,
    FirstGradeApplicationCreate,
    FirstGradeApplicationRead,
    FirstGradePlacesSet,
    SchoolPlacesRead,
)
from infocity.education.service.directory import (
    _authorize_in,
    _cabinet_document,
    _require_city_wide,
)

SERVICE_CODE = "school_enrolment"  # the portal catalogue's entry
PAGE_LINK = "/education/first-grade"
NO_NAME: tuple[str, str | None] = ("", None)


def campaign_year(today: date) -> int:
    """The school year a campaign running on ``today`` enrols for: the next 1 September."""
    return school_year(today) + 1


def _dates(campaign: FirstGradeCampaign) -> rules.CampaignDates:
    return rules.CampaignDates(
        campaign.phase_1_opens,
        campaign.phase_1_closes,
        campaign.phase_2_opens,
        campaign.phase_2_closes,
    )


def _school_names(uow: UnitOfWork) -> dict[int, tuple[str, str | None]]:
    ids = set(uow.session.scalars(select(School.id)))
    return {
        o.id: (o.name, o.name_en) for o in city.list_organisations("school", uow=uow) if o.id in ids
    }


def _campaign(session: Session, year: int) -> FirstGradeCampaign:
    campaign = session.scalar(select(FirstGradeCampaign).where(FirstGradeCampaign.year == year))
    if campaign is None:
        raise errors.CampaignNotFound()
    return campaign


def _campaign_read(uow: UnitOfWork, campaign: FirstGradeCampaign, today: date) -> CampaignRead:
    names = _school_names(uow)
    places = uow.session.scalars(
        select(FirstGradePlaces).where(FirstGradePlaces.campaign_id == campaign.id)
    )
    schools = sorted(
        (
            SchoolPlacesRead(
                school_id=p.school_id,
                school_name=names.get(p.school_id, NO_NAME)[0],
                school_name_en=names.get(p.school_id, NO_NAME)[1],
                places=p.places,
                free_places=p.free_places,
            )
            for p in places
        ),
        key=lambda s: (s.school_name, s.school_id),
    )
    return CampaignRead(
        id=campaign.id,
        year=campaign.year,
        phase_1_opens=campaign.phase_1_opens,
        phase_1_closes=campaign.phase_1_closes,
        phase_2_opens=campaign.phase_2_opens,
        phase_2_closes=campaign.phase_2_closes,
        phase_1_decision_days=campaign.phase_1_decision_days,
        phase_2_decision_days=campaign.phase_2_decision_days,
        open_phase=rules.phase_on(_dates(campaign), today),
        schools=schools,
    )


# --- The city's campaign ---------------------------------------------------------------


def set_first_grade_campaign(
    actor: Principal | None,
    data: CampaignSet,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CampaignRead:
    """Set the dates of a school year's campaign and its decision terms (city officials);
    a campaign already set gets the new dates."""
    actor = authorize(actor, Action.FIRST_GRADE_MANAGE)
    _require_city_wide(actor, Action.FIRST_GRADE_MANAGE)
    dates = rules.CampaignDates(
        data.phase_1_opens, data.phase_1_closes, data.phase_2_opens, data.phase_2_closes
    )
    if not rules.dates_in_order(dates, data.year):
        raise errors.CampaignDatesInvalid()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        campaign = session.scalar(
            select(FirstGradeCampaign).where(FirstGradeCampaign.year == data.year)
        )
        if campaign is None:
            campaign = FirstGradeCampaign(year=data.year, created_at=now)
            session.add(campaign)
        for name, value in data.model_dump().items():
            setattr(campaign, name, value)
        session.flush()
        audit.record(
            session,
            actor,
            "education.first_grade.campaign",
            detail=f"{data.year}: {data.phase_1_opens}..{data.phase_2_closes}",
        )
        result = _campaign_read(uow, campaign, city_date(now))
        uow.commit()
        return result


def set_first_grade_places(
    actor: Principal | None,
    year: int,
    school_id: int,
    data: FirstGradePlacesSet,
    *,
    uow: UnitOfWork | None = None,
) -> SchoolPlacesRead:
    """Set a school's first-grade places in a campaign (officials of its district or of
    the city). Places already given stay given: there can never be fewer places than
    admitted children."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = _authorize_in(actor, Action.FIRST_GRADE_MANAGE, school_id, uow)
        campaign = _campaign(session, year)
        if session.get(School, school_id) is None:
            raise errors.SchoolNotFound()
        row = session.scalar(
            select(FirstGradePlaces)
            .where(
                FirstGradePlaces.campaign_id == campaign.id,
                FirstGradePlaces.school_id == school_id,
            )
            .with_for_update()
        )
        if row is None:
            row = FirstGradePlaces(
                campaign_id=campaign.id,
                school_id=school_id,
                places=data.places,
                free_places=data.places,
            )
            session.add(row)
        else:
            taken = row.places - row.free_places
            if data.places < taken:
                raise errors.PlacesBelowTaken(taken)
            row.free_places = data.places - taken
            row.places = data.places
        session.flush()
        audit.record(
            session,
            actor,
            "education.first_grade.places",
            organisation_id=school_id,
            detail=f"{year}: {data.places}",
        )
        names = _school_names(uow)
        result = SchoolPlacesRead(
            school_id=school_id,
            school_name=names.get(school_id, NO_NAME)[0],
            school_name_en=names.get(school_id, NO_NAME)[1],
            places=row.places,
            free_places=row.free_places,
        )
        uow.commit()
        return result


def get_first_grade_campaign(
    year: int | None = None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> CampaignRead | None:
    """The campaign of ``year`` (by default the one enrolling for the next 1 September)
    with its schools' places, or None when it is not set (public)."""
    today = city_date(now or utcnow())
    uow = uow or UnitOfWork()
    with uow:
        campaign = uow.session.scalar(
            select(FirstGradeCampaign).where(
                FirstGradeCampaign.year == (year or campaign_year(today))
            )
        )
        return None if campaign is None else _campaign_read(uow, campaign, today)


# --- The parent's application ----------------------------------------------------------


def children_for_first_grade(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[tuple[int, str]]:
    """The parent's children (id, name) a first-grade application may be filed for."""
    actor = authorize(actor, Action.FIRST_GRADE_APPLY)
    return [
        (child.id, " ".join(p for p in (child.last_name, child.first_name) if p))
        for child in accounts.list_family(actor, uow=uow)
    ]


def _clean(text: str | None) -> str | None:
    return (text or "").strip() or None


def _check_choices(data: FirstGradeApplicationCreate) -> None:
    if len(set(data.school_ids)) != len(data.school_ids):
        raise errors.SchoolChoicesInvalid()
    if (data.sibling_school_id is None) != (_clean(data.sibling_name) is None) or (
        data.sibling_school_id is not None and data.sibling_school_id not in data.school_ids
    ):
        raise errors.SiblingSchoolNotChosen()


def apply_for_first_grade(
    actor: Principal | None,
    data: FirstGradeApplicationCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> FirstGradeApplicationRead:
    """Apply for a first-grade place for a child of the parent's family at up to three
    schools, in the phase open today."""
    actor = authorize(actor, Action.FIRST_GRADE_APPLY)
    now = now or utcnow()
    today = city_date(now)
    _check_choices(data)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        campaign = _campaign(session, campaign_year(today))
        phase = rules.phase_on(_dates(campaign), today)
        if phase is None:
            raise errors.CampaignClosed(
                (
                    campaign.phase_1_opens,
                    campaign.phase_1_closes,
                    campaign.phase_2_opens,
                    campaign.phase_2_closes,
                )
            )
        if data.child_id == actor.person_id or not accounts.acts_for(actor, data.child_id, uow=uow):
            raise errors.NotYourChild()
        child = accounts.person_by_id(session, data.child_id)
        if child is None or child.birth_date is None:
            raise errors.NotYourChild()
        permission = _clean(data.age_permission)
        if not rules.age_fits(child.birth_date, campaign.year) and permission is None:
            raise errors.WrongAgeForFirstGrade()
        offered = set(
            session.scalars(
                select(FirstGradePlaces.school_id).where(
                    FirstGradePlaces.campaign_id == campaign.id,
                    FirstGradePlaces.school_id.in_(data.school_ids),
                )
            )
        )
        if offered != set(data.school_ids):
            raise errors.SchoolHasNoFirstGrade()
        address = _clean(data.home_address)
        territory = (
            session.scalar(
                select(TerritoryAddress.school_id).where(
                    TerritoryAddress.address_key == directory_rules.address_key(address)
                )
            )
            if address
            else None
        )
        priority = (
            _cabinet_document(
                uow, actor, data.priority_document_id, data.child_id, "priority_document_id"
            )
            if data.priority_document_id is not None
            else None
        )
        if phase is Phase.ONE and not any(
            rules.rights_at(
                school,
                sibling_school=data.sibling_school_id,
                priority=priority is not None,
                territory_school=territory,
            )
            is not None
            for school in data.school_ids
        ):
            raise errors.NoRightInPhase1()
        application = FirstGradeApplication(
            campaign_id=campaign.id,
            child_id=data.child_id,
            guardian_user_id=actor.user_id,
            child_birth_date=child.birth_date,
            phase=int(phase),
            age_permission=permission,
            sibling_school_id=data.sibling_school_id,
            sibling_name=_clean(data.sibling_name),
            priority_document=priority.title if priority else None,
            priority_document_id=priority.id if priority else None,
            home_address=address,
            territory_school_id=territory,
            status=FirstGradeStatus.SUBMITTED.value,
            applied_at=now,
            decide_by=rules.decision_due(
                phase,
                today,
                campaign.phase_1_closes,
                (campaign.phase_1_decision_days, campaign.phase_2_decision_days),
            ),
        )
        session.add(application)
        try:
            session.flush()
        except IntegrityError as exc:  # the partial unique index: one active per child
            raise errors.ChildAlreadyApplied() from exc
        for rank, school_id in enumerate(data.school_ids, start=1):
            session.add(
                FirstGradeChoice(application_id=application.id, rank=rank, school_id=school_id)
            )
        session.flush()
        record_service_use(session, SERVICE_CODE, actor.user_id)
        result = _read(uow, application, campaign.year)
        uow.commit()
        return result


def _rights(application: FirstGradeApplication, school_id: int) -> list[int]:
    """The phase-1 rights the application gives at a school (none in phase 2)."""
    if application.phase != Phase.ONE:
        return []
    found = []
    if application.sibling_school_id == school_id:
        found.append(int(rules.Right.SIBLING))
    if application.priority_document:
        found.append(int(rules.Right.PRIORITY))
    if application.territory_school_id == school_id:
        found.append(int(rules.Right.TERRITORY))
    return found


def _read(
    uow: UnitOfWork, application: FirstGradeApplication, year: int
) -> FirstGradeApplicationRead:
    names = _school_names(uow)
    child = accounts.person_names(uow.session, [application.child_id])
    choices = uow.session.scalars(
        select(FirstGradeChoice)
        .where(FirstGradeChoice.application_id == application.id)
        .order_by(FirstGradeChoice.rank)
    )
    given = names.get(application.school_id, NO_NAME) if application.school_id else NO_NAME
    return FirstGradeApplicationRead(
        id=application.id,
        year=year,
        child_id=application.child_id,
        child_name=child.get(application.child_id, ""),
        phase=Phase(application.phase),
        status=FirstGradeStatus(application.status),
        schools=[
            ChosenSchoolRead(
                rank=c.rank,
                school_id=c.school_id,
                school_name=names.get(c.school_id, NO_NAME)[0],
                school_name_en=names.get(c.school_id, NO_NAME)[1],
                rights=_rights(application, c.school_id),
            )
            for c in choices
        ],
        school_id=application.school_id,
        school_name=given[0] or None,
        school_name_en=given[1],
        refusal_reason=application.refusal_reason,
        refusal_note=application.refusal_note,
        applied_at=application.applied_at,
        decide_by=application.decide_by,
        decided_at=application.decided_at,
        documents_confirmed_at=application.documents_confirmed_at,
    )


def list_my_first_grade_applications(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[FirstGradeApplicationRead]:
    """The parent's first-grade applications, newest first, with their decisions."""
    actor = authorize(actor, Action.FIRST_GRADE_APPLY)
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(FirstGradeApplication, FirstGradeCampaign.year)
            .join(FirstGradeCampaign, FirstGradeCampaign.id == FirstGradeApplication.campaign_id)
            .where(FirstGradeApplication.guardian_user_id == actor.user_id)
            .order_by(FirstGradeApplication.applied_at.desc(), FirstGradeApplication.id.desc())
        ).all()
        return [_read(uow, application, year) for application, year in rows]


def _move(
    session: Session,
    application_id: int,
    old: FirstGradeStatus,
    new: FirstGradeStatus,
    **values: object,
) -> None:
    """The guarded move of an application: refused if someone moved it meanwhile."""
    if not rules.may_move(rules.FIRST_GRADE_TRANSITIONS, old, new):
        raise errors.FirstGradeApplicationChanged()
    moved = dml(
        session,
        update(FirstGradeApplication)
        .where(
            FirstGradeApplication.id == application_id, FirstGradeApplication.status == old.value
        )
        .values(status=new.value, **values),
    ).rowcount
    if moved != 1:
        raise errors.FirstGradeApplicationChanged()


def _return_place(session: Session, campaign_id: int, school_id: int) -> None:
    returned = dml(
        session,
        update(FirstGradePlaces)
        .where(
            FirstGradePlaces.campaign_id == campaign_id,
            FirstGradePlaces.school_id == school_id,
            FirstGradePlaces.free_places < FirstGradePlaces.places,
        )
        .values(free_places=FirstGradePlaces.free_places + 1),
    ).rowcount
    if returned != 1:
        raise errors.FirstGradeApplicationChanged()


def withdraw_first_grade_application(
    actor: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> FirstGradeApplicationRead:
    """Take the application back; a place already given returns to the school."""
    actor = authorize(actor, Action.FIRST_GRADE_APPLY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        application = session.get(FirstGradeApplication, application_id)
        if application is None or application.guardian_user_id != actor.user_id:
            raise errors.FirstGradeApplicationNotFound()
        old = FirstGradeStatus(application.status)
        _move(session, application.id, old, FirstGradeStatus.WITHDRAWN)
        if old is FirstGradeStatus.ADMITTED and application.school_id is not None:
            _return_place(session, application.campaign_id, application.school_id)
        session.refresh(application)
        campaign = session.get(FirstGradeCampaign, application.campaign_id)
        assert campaign is not None
        result = _read(uow, application, campaign.year)
        uow.commit()
        return result
