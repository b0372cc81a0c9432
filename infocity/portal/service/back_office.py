"""The back office's use cases: the organisation's queue, giving an application to a
colleague, deciding and completing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from infocity.accounts import service as accounts
from infocity.core import audit
from infocity.core.auth import PERMISSIONS, SYSTEM, Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.portal import errors, rules
from infocity.portal.models import (
    Application,
)
from infocity.portal.registry import (
    Approval,
    application_type,
)
from infocity.portal.rules import Move, Side, Status
from infocity.portal.schemas import (
    ApplicationDetailRead,
    ApplicationPageRead,
    AssignCreate,
    ColleagueRead,
    DecisionCreate,
    QueueFilter,
)
from infocity.portal.service.engine import (
    _Change,
    _detail,
    _move,
    _parse,
    _processable,
    _reads,
)


def applicant_name(
    actor: Principal | None, application_id: int, *, uow: UnitOfWork | None = None
) -> str:
    """The name of whom an application is for, for its back office (audited)."""
    actor = authorize(actor, Action.APPLICATION_PROCESS)
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, actor, application_id)
        if app.person_id is None:
            return ""
        name = accounts.person_names(uow.session, [app.person_id]).get(app.person_id, "")
        audit.record(
            uow.session,
            actor,
            "portal.applicant_name",
            subject_person_id=app.person_id,
            organisation_id=app.organisation_id,
        )
        uow.commit()
        return name


def _staff_organisations(actor: Principal) -> list[int] | None:
    """The organisations whose queue the actor sees; None: every organisation."""
    permitted = PERMISSIONS[Action.APPLICATION_PROCESS]
    grants = [g for g in actor.grants if g.role in permitted]
    if any(g.organisation_id is None for g in grants):
        return None
    return sorted({g.organisation_id for g in grants if g.organisation_id is not None})


def list_queue(
    actor: Principal | None,
    filters: QueueFilter | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationPageRead:
    """The back office's queue: submitted applications of the staff member's
    organisations, the nearest deadline first."""
    actor = authorize(actor, Action.APPLICATION_PROCESS)
    filters = filters or QueueFilter()
    now = now or utcnow()
    conditions: list[Any] = [Application.status != Status.DRAFT.value]
    organisations = _staff_organisations(actor)
    if organisations is not None:
        conditions.append(Application.organisation_id.in_(organisations))
    if filters.status:
        conditions.append(Application.status == filters.status)
    if filters.type:
        conditions.append(Application.type_code == filters.type)
    if filters.mine:
        conditions.append(Application.assignee_user_id == actor.user_id)
    if filters.overdue:
        conditions += [
            Application.status.in_([s.value for s in rules.CLOCK_RUNNING]),
            Application.deadline_at <= now,
        ]
    uow = uow or UnitOfWork()
    with uow:
        apps = list(
            uow.session.scalars(
                select(Application)
                .where(*conditions)
                .order_by(
                    Application.deadline_at.is_(None),
                    Application.deadline_at,
                    Application.id,
                )
                .limit(filters.limit)
                .offset(filters.offset)
            )
        )
        total = uow.session.scalar(select(func.count()).select_from(Application).where(*conditions))
        return ApplicationPageRead(
            items=_reads(uow, apps, now, staff=True),
            total=int(total or 0),
            limit=filters.limit,
            offset=filters.offset,
        )


def _colleagues(uow: UnitOfWork, actor: Principal, organisation_id: int) -> list[ColleagueRead]:
    """Active staff accounts that may process the organisation's applications (the actor
    first, then by name)."""
    permitted = PERMISSIONS[Action.APPLICATION_PROCESS]
    found = [
        ColleagueRead(user_id=user.id, name=user.display_name, me=user.id == actor.user_id)
        # The staff register is the accounts service's: asked as the system, since who may
        # process here has been checked, and only names and ids leave it.
        for user in accounts.list_staff(SYSTEM, uow=uow)
        if user.is_active
        and any(
            grant.role in permitted and grant.organisation_id in (None, organisation_id)
            for grant in user.roles
        )
    ]
    return sorted(found, key=lambda c: (not c.me, c.name.casefold(), c.user_id))


def list_colleagues(
    actor: Principal | None, application_id: int, *, uow: UnitOfWork | None = None
) -> list[ColleagueRead]:
    """Whom an application of the staff member's organisation may be given to: themself
    and the colleagues who process the organisation's applications."""
    actor = authorize(actor, Action.APPLICATION_PROCESS)
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, actor, application_id)
        return _colleagues(uow, actor, app.organisation_id)


def assign_application(
    actor: Principal | None,
    application_id: int,
    data: AssignCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Give an application to a staff member of its organisation (default: oneself); a
    submitted one goes into review."""
    actor = authorize(actor, Action.APPLICATION_PROCESS)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, actor, application_id)
        assignee_id = data.assignee_user_id or actor.user_id
        eligible = {c.user_id for c in _colleagues(uow, actor, app.organisation_id)}
        if assignee_id not in eligible:
            raise errors.AssigneeNotStaff()
        if app.status == Status.SUBMITTED.value:
            _move(
                uow,
                app,
                _Change(Move.TAKE, Side.STAFF),
                actor,
                now,
                assignee_user_id=assignee_id,
            )
        elif app.status in (
            Status.IN_REVIEW.value,
            Status.NEEDS_INFORMATION.value,
            Status.APPROVED.value,
        ):
            result = uow.session.execute(
                update(Application)
                .where(Application.id == app.id, Application.status == app.status)
                .values(assignee_user_id=assignee_id, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise errors.ApplicationChanged()
            uow.session.refresh(app)
        else:
            raise errors.InvalidTransition()
        detail = _detail(uow, app, Side.STAFF, now)
        uow.commit()
        return detail


DECISIONS = {
    "approve": Move.APPROVE,
    "reject": Move.REJECT,
    "request_information": Move.REQUEST_INFORMATION,
}


def decide_application(
    actor: Principal | None,
    application_id: int,
    data: DecisionCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Approve, reject or ask for information (a reason is needed for the last two).

    Approval runs the type's ``on_approved`` hook in the same transaction (for example
    the polyclinic attachment itself); if the owning service refuses, nothing is saved.
    """
    actor = authorize(actor, Action.APPLICATION_PROCESS)
    now = now or utcnow()
    move = DECISIONS[data.decision]
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, actor, application_id)
        values: dict[str, Any] = {}
        if move is not Move.REQUEST_INFORMATION:
            values = {"decided_at": now, "decision_reason": (data.reason or "").strip() or None}
        if app.assignee_user_id is None:
            values["assignee_user_id"] = actor.user_id
        _move(uow, app, _Change(move, Side.STAFF, data.reason), actor, now, **values)
        if move is Move.APPROVE:
            entry = application_type(app.type_code)
            if entry.on_approved is not None:
                approval = Approval(
                    application_id=app.id,
                    applicant_user_id=app.applicant_user_id,
                    person_id=app.person_id,
                    organisation_id=app.organisation_id,
                    actor=actor,
                    now=now,
                )
                entry.on_approved(_parse(entry, dict(app.form_data)), approval, uow)
        detail = _detail(uow, app, Side.STAFF, now)
        uow.commit()
        return detail


def complete_application(
    actor: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Mark an approved application done: its result has been issued."""
    actor = authorize(actor, Action.APPLICATION_PROCESS)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, actor, application_id)
        _move(uow, app, _Change(Move.COMPLETE, Side.STAFF), actor, now, completed_at=now)
        detail = _detail(uow, app, Side.STAFF, now)
        uow.commit()
        return detail
