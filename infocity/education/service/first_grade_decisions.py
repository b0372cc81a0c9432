"""First-grade decisions: the allocation of a phase (preview and run), each outcome told
to the parents with its reason, and the school's list where it confirms the documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.outbox import notify
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.education import errors
from infocity.education.models.first_grade import (
    FirstGradeApplication,
    FirstGradeCampaign,
    FirstGradeChoice,
    FirstGradePlaces,
    FirstGradeRun,
)
from infocity.education.rules import first_grade as rules
from infocity.education.rules.first_grade import FirstGradeStatus, Phase, RefusalReason
from infocity.education.schemas.first_grade import (
    DocumentsRefusal,
    FirstGradeDecision,
    FirstGradeRunRead,
    SchoolListEntry,
)
from infocity.education.service.directory import _authorize_in, _in_districts, _require_city_wide
from infocity.education.service.first_grade import (
    NO_NAME,
    PAGE_LINK,
    _campaign,
    _move,
    _return_place,
    _rights,
    _school_names,
)

# --- The allocation of a phase and its decisions ---------------------------------------


@dataclass(frozen=True)
class _Plan:
    campaign: FirstGradeCampaign
    considered: list[FirstGradeApplication]
    matching: dict[int, int]  # application → school


def _plan(session: Session, year: int, phase: Phase) -> _Plan:
    """Who would be admitted where if the phase's allocation ran now."""
    campaign = _campaign(session, year)
    free = dict(
        session.execute(
            select(FirstGradePlaces.school_id, FirstGradePlaces.free_places).where(
                FirstGradePlaces.campaign_id == campaign.id, FirstGradePlaces.free_places > 0
            )
        ).all()
    )
    considered = list(
        session.scalars(
            select(FirstGradeApplication)
            .where(
                FirstGradeApplication.campaign_id == campaign.id,
                FirstGradeApplication.phase == int(phase),
                FirstGradeApplication.status == FirstGradeStatus.SUBMITTED.value,
            )
            .order_by(FirstGradeApplication.id)
        )
    )
    schools: dict[int, list[int]] = {}
    for app_id, school_id in session.execute(
        select(FirstGradeChoice.application_id, FirstGradeChoice.school_id)
        .join(FirstGradeApplication, FirstGradeApplication.id == FirstGradeChoice.application_id)
        .where(
            FirstGradeApplication.campaign_id == campaign.id,
            FirstGradeApplication.phase == int(phase),
            FirstGradeApplication.status == FirstGradeStatus.SUBMITTED.value,
        )
        .order_by(FirstGradeChoice.application_id, FirstGradeChoice.rank)
    ):
        schools.setdefault(app_id, []).append(school_id)
    candidates = [
        rules.Candidate(
            id=a.id,
            schools=tuple(schools.get(a.id, [])),
            applied_at=a.applied_at,
            sibling_school=a.sibling_school_id,
            priority=a.priority_document is not None,
            territory_school=a.territory_school_id,
        )
        for a in considered
    ]
    return _Plan(campaign, considered, rules.allocate(phase, candidates, free))


def _run_read(uow: UnitOfWork, plan: _Plan, phase: Phase, run_id: int | None) -> FirstGradeRunRead:
    names = _school_names(uow)
    children = accounts.person_names(uow.session, [a.child_id for a in plan.considered])
    decisions = []
    for a in plan.considered:
        school = plan.matching.get(a.id)
        name = names.get(school, NO_NAME) if school is not None else NO_NAME
        decisions.append(
            FirstGradeDecision(
                application_id=a.id,
                child_name=children.get(a.child_id, ""),
                decide_by=a.decide_by,
                school_id=school,
                school_name=name[0] or None,
                school_name_en=name[1],
            )
        )
    decisions.sort(key=lambda d: (d.school_id is None, d.school_name or "", d.application_id))
    return FirstGradeRunRead(
        run_id=run_id,
        year=plan.campaign.year,
        phase=phase,
        considered=len(plan.considered),
        decisions=decisions,
    )


def preview_first_grade_allocation(
    actor: Principal | None, year: int, phase: Phase, *, uow: UnitOfWork | None = None
) -> FirstGradeRunRead:
    """Who a phase's allocation would admit where now; nothing is written (officials;
    a district's official sees the decisions at its district's schools)."""
    actor = authorize(actor, Action.FIRST_GRADE_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        result = _run_read(uow, _plan(uow.session, year, phase), phase, None)
        schools = {d.school_id for d in result.decisions if d.school_id is not None}
        reachable = _in_districts(actor, Action.FIRST_GRADE_MANAGE, schools, uow)
        if reachable is not None:
            # The allocation is the city's; the district sees its schools' admissions.
            result.decisions = [d for d in result.decisions if d.school_id in reachable]
        return result


def run_first_grade_allocation(
    actor: Principal | None,
    year: int,
    phase: Phase,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> FirstGradeRunRead:
    """Decide every application of the phase waiting for its decision (city officials):
    admitted within the schools' places by the stable allocation, or refused with the
    reason; each parent is told. Each place is taken by a guarded update; if another run
    took a place or an application meanwhile, this run decides nothing and says so."""
    actor = authorize(actor, Action.FIRST_GRADE_MANAGE)
    _require_city_wide(actor, Action.FIRST_GRADE_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        plan = _plan(session, year, phase)
        names = _school_names(uow)
        # One order for every run, so that two runs at once wait rather than deadlock.
        for application in sorted(
            plan.considered, key=lambda a: (plan.matching.get(a.id, 0), a.id)
        ):
            school = plan.matching.get(application.id)
            if school is not None:
                _admit(session, plan.campaign.id, application.id, school, now)
            else:
                _refuse(session, application.id, RefusalReason.NO_PLACES, now)
            session.refresh(application)
            _tell_parents(session, application, names)
        run = FirstGradeRun(
            campaign_id=plan.campaign.id,
            phase=int(phase),
            started_by=actor.acting_user_id,
            admitted=len(plan.matching),
            refused=len(plan.considered) - len(plan.matching),
            created_at=now,
        )
        session.add(run)
        session.flush()
        audit.record(
            session,
            actor,
            "education.first_grade.allocation",
            detail=f"{year} phase {int(phase)}: {run.admitted} admitted, {run.refused} refused",
        )
        result = _run_read(uow, plan, phase, run.id)
        uow.commit()
        return result


def _admit(
    session: Session, campaign_id: int, application_id: int, school_id: int, now: datetime
) -> None:
    """Take one free place of the school for the application, both guarded."""
    taken = dml(
        session,
        update(FirstGradePlaces)
        .where(
            FirstGradePlaces.campaign_id == campaign_id,
            FirstGradePlaces.school_id == school_id,
            FirstGradePlaces.free_places > 0,
        )
        .values(free_places=FirstGradePlaces.free_places - 1),
    ).rowcount
    if taken != 1:
        raise errors.FirstGradeRunCollided()
    try:
        _move(
            session,
            application_id,
            FirstGradeStatus.SUBMITTED,
            FirstGradeStatus.ADMITTED,
            school_id=school_id,
            decided_at=now,
        )
    except errors.FirstGradeApplicationChanged as exc:
        raise errors.FirstGradeRunCollided() from exc


def _refuse(session: Session, application_id: int, reason: RefusalReason, now: datetime) -> None:
    try:
        _move(
            session,
            application_id,
            FirstGradeStatus.SUBMITTED,
            FirstGradeStatus.REFUSED,
            refusal_reason=reason.value,
            decided_at=now,
        )
    except errors.FirstGradeApplicationChanged as exc:
        raise errors.FirstGradeRunCollided() from exc


def _tell_parents(
    session: Session,
    application: FirstGradeApplication,
    names: dict[int, tuple[str, str | None]],
) -> None:
    """Tell the child's guardians the application's new state, with its reason."""
    child = accounts.person_by_id(session, application.child_id)
    school = names.get(application.school_id, NO_NAME) if application.school_id else NO_NAME
    kind = f"first_grade_{application.status}"
    for user_id in accounts.users_to_notify(session, application.child_id):
        notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind=kind,
            template="education/first_grade/messages/first_grade_decision.txt",
            context={
                "child": child.first_name if child else "",
                "status": application.status,
                "school": school[0],
                "school_en": school[1] or school[0],
                "reason": application.refusal_reason,
                "note": application.refusal_note,
            },
            link=PAGE_LINK,
        )


# --- The school's list -----------------------------------------------------------------


def list_school_first_graders(
    actor: Principal | None, school_id: int, year: int, *, uow: UnitOfWork | None = None
) -> list[SchoolListEntry]:
    """The children admitted to a school in a campaign, with what the parents declared,
    for the school to check the documents (the school's staff, the officials of its
    district or of the city)."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = _authorize_in(actor, Action.FIRST_GRADE_SCHOOL, school_id, uow)
        campaign = _campaign(session, year)
        applications = list(
            session.scalars(
                select(FirstGradeApplication)
                .where(
                    FirstGradeApplication.campaign_id == campaign.id,
                    FirstGradeApplication.school_id == school_id,
                    FirstGradeApplication.status.in_(
                        [FirstGradeStatus.ADMITTED.value, FirstGradeStatus.ENROLLED.value]
                    ),
                )
                .order_by(FirstGradeApplication.applied_at, FirstGradeApplication.id)
            )
        )
        children = accounts.person_names(session, [a.child_id for a in applications])
        audit.record(
            session,
            actor,
            "education.first_grade.school_list",
            organisation_id=school_id,
            detail=f"{year}: {len(applications)} children",
        )
        result = [_entry(a, school_id, children.get(a.child_id, "")) for a in applications]
        uow.commit()  # the audit entry of the staff's look at personal data
        return result


def confirm_first_grade_documents(
    actor: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SchoolListEntry:
    """The school saw the original documents: the admitted child is enrolled and the
    parents are told (the school's staff, or city officials)."""
    authorize(actor, Action.FIRST_GRADE_SCHOOL)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        application = session.get(FirstGradeApplication, application_id)
        if application is None or application.school_id is None:
            raise errors.FirstGradeApplicationNotFound()
        actor = _authorize_in(actor, Action.FIRST_GRADE_SCHOOL, application.school_id, uow)
        _move(
            session,
            application.id,
            FirstGradeStatus(application.status),
            FirstGradeStatus.ENROLLED,
            documents_confirmed_at=now,
        )
        session.refresh(application)
        _tell_parents(session, application, _school_names(uow))
        audit.record(
            session,
            actor,
            "education.first_grade.documents",
            organisation_id=application.school_id,
            detail=f"application {application.id}",
        )
        child = accounts.person_names(session, [application.child_id])
        result = _entry(application, application.school_id, child.get(application.child_id, ""))
        uow.commit()
        return result


def _entry(application: FirstGradeApplication, school_id: int, child_name: str) -> SchoolListEntry:
    return SchoolListEntry(
        application_id=application.id,
        child_name=child_name,
        child_birth_date=application.child_birth_date,
        phase=Phase(application.phase),
        rights=_rights(application, school_id),
        age_permission=application.age_permission,
        sibling_name=application.sibling_name,
        priority_document=application.priority_document,
        home_address=application.home_address,
        status=FirstGradeStatus(application.status),
        documents_confirmed_at=application.documents_confirmed_at,
    )


def refuse_first_grade_documents(
    actor: Principal | None,
    application_id: int,
    data: DocumentsRefusal,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SchoolListEntry:
    """The original documents do not match what the parents declared: the admitted
    child's application is refused with the school's reason, the place returns to the
    school for the next decisions and the parents are told (the school's staff, the
    officials of its district or of the city)."""
    authorize(actor, Action.FIRST_GRADE_SCHOOL)
    reason = " ".join(data.reason.split())
    if not reason:
        raise errors.DocumentsRefusalReasonMissing()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        application = session.get(FirstGradeApplication, application_id)
        if application is None or application.school_id is None:
            raise errors.FirstGradeApplicationNotFound()
        school_id = application.school_id
        actor = _authorize_in(actor, Action.FIRST_GRADE_SCHOOL, school_id, uow)
        # Guarded on "admitted": a parent withdrawing or another refusal at the same
        # moment makes this one fail, so the place is returned once.
        _move(
            session,
            application.id,
            FirstGradeStatus(application.status),
            FirstGradeStatus.REFUSED,
            refusal_reason=RefusalReason.DOCUMENTS_MISMATCH.value,
            refusal_note=reason,
            decided_at=now,
        )
        _return_place(session, application.campaign_id, school_id)
        session.refresh(application)
        _tell_parents(session, application, _school_names(uow))
        audit.record(
            session,
            actor,
            "education.first_grade.documents_refused",
            organisation_id=school_id,
            detail=f"application {application.id}",
        )
        child = accounts.person_names(session, [application.child_id])
        result = _entry(application, school_id, child.get(application.child_id, ""))
        uow.commit()
        return result
