"""The applications engine under both sides' use cases: who may see an application, how it
is read, and its one way to change status, a guarded ``UPDATE ... WHERE status =
:expected`` checked by its row count, announced to the applicant through the outbox in
the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit, outbox
from infocity.core.auth import Action, Principal, allowed, authorize
from infocity.core.errors import AppError
from infocity.core.i18n import current_locale, gettext
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.portal import errors, rules
from infocity.portal.models import (
    Application,
    ApplicationAttachment,
    ApplicationComment,
    ApplicationEvent,
)
from infocity.portal.registry import (
    ApplicationType,
    Routing,
    find_application_type,
)
from infocity.portal.rules import Move, Side, Status
from infocity.portal.schemas import (
    ApplicationActionRead,
    ApplicationAttachmentRead,
    ApplicationDetailRead,
    ApplicationEventRead,
    ApplicationRead,
    CommentRead,
    FormValueRead,
)


def _type_title(code: str) -> str:
    entry = find_application_type(code)
    return gettext(entry.title) if entry else code


def _organisation_names(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, str]:
    english = current_locale() == "en"
    names = {}
    for organisation_id in set(ids):
        organisation = city.get_organisation(organisation_id, uow=uow)
        names[organisation_id] = (
            organisation.name_en if english and organisation.name_en else organisation.name
        )
    return names


def _read(app: Application, organisation_name: str, now: datetime) -> ApplicationRead:
    return ApplicationRead(
        id=app.id,
        type=app.type_code,
        type_title=_type_title(app.type_code),
        status=app.status,
        status_label=_status_label(app.status),
        applicant_user_id=app.applicant_user_id,
        person_id=app.person_id,
        organisation_id=app.organisation_id,
        organisation_name=organisation_name,
        assignee_user_id=app.assignee_user_id,
        summary=app.summary,
        form=dict(app.form_data),
        created_at=app.created_at,
        updated_at=app.updated_at,
        submitted_at=app.submitted_at,
        deadline_at=app.deadline_at,
        decided_at=app.decided_at,
        decision_reason=app.decision_reason,
        completed_at=app.completed_at,
        overdue=rules.is_overdue(app.status, app.deadline_at, now),
    )


def _staff_names(uow: UnitOfWork, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of staff accounts, for the back office."""
    names = {}
    for user_id in {i for i in user_ids if i is not None}:
        staff = accounts.principal_for_user(user_id, uow=uow)
        names[user_id] = staff.display_name if staff is not None else ""
    return names


def _reads(
    uow: UnitOfWork, apps: list[Application], now: datetime, *, staff: bool = False
) -> list[ApplicationRead]:
    """Applications as read; ``staff``: with the names of those who handle them."""
    names = _organisation_names(uow, (a.organisation_id for a in apps))
    reads = [_read(a, names[a.organisation_id], now) for a in apps]
    if not staff:
        return reads
    assignees = _staff_names(uow, (a.assignee_user_id for a in apps))
    return [
        read.model_copy(update={"assignee_name": assignees.get(read.assignee_user_id or 0)})
        for read in reads
    ]


def _form_values(uow: UnitOfWork, app: Application) -> list[FormValueRead]:
    """The filled-in fields by their labels; a choice by its name (a polyclinic, a child),
    as the applicant was offered it."""
    entry = find_application_type(app.type_code)
    if entry is None:
        return []
    options: dict[str, list[tuple[str, str]]] = {}
    applicant = accounts.principal_for_user(app.applicant_user_id, uow=uow)
    if entry.field_options is not None and applicant is not None:
        try:
            options = entry.field_options(applicant, uow)
        except AppError:  # the applicant may no longer choose (an account since closed)
            options = {}
    values = []
    for name, info in entry.form.model_fields.items():
        raw = app.form_data.get(name)
        if raw in (None, ""):
            continue
        chosen = dict(options.get(name, [])).get(str(raw), str(raw))
        values.append(
            FormValueRead(
                name=name, label=gettext(info.title) if info.title else name, value=chosen
            )
        )
    return values


def _status_label(status: str) -> str:
    return gettext(rules.STATUS_LABELS.get(Status(status), status))


def _detail(uow: UnitOfWork, app: Application, side: Side, now: datetime) -> ApplicationDetailRead:
    moves = rules.allowed_moves(app.status, side)
    session = uow.session
    [base] = _reads(uow, [app], now, staff=side is Side.STAFF)
    events = session.scalars(
        select(ApplicationEvent)
        .where(ApplicationEvent.application_id == app.id)
        .order_by(ApplicationEvent.created_at, ApplicationEvent.id)
    )
    comments = session.scalars(
        select(ApplicationComment)
        .where(ApplicationComment.application_id == app.id)
        .order_by(ApplicationComment.created_at, ApplicationComment.id)
    )
    attachments = session.execute(
        select(
            ApplicationAttachment.id,
            ApplicationAttachment.filename,
            ApplicationAttachment.content_type,
            ApplicationAttachment.size,
            ApplicationAttachment.created_at,
        )
        .where(ApplicationAttachment.application_id == app.id)
        .order_by(ApplicationAttachment.id)
    )
    return ApplicationDetailRead(
        **base.model_dump(),
        events=[
            ApplicationEventRead.model_validate(e).model_copy(
                update={"to_status_label": _status_label(e.to_status)}
            )
            for e in events
        ],
        comments=[CommentRead.model_validate(c) for c in comments],
        attachments=[ApplicationAttachmentRead.model_validate(a) for a in attachments],
        moves=[m.value for m in moves],
        actions=[
            ApplicationActionRead(code=m.value, label=gettext(rules.MOVE_LABELS[m])) for m in moves
        ],
        form_values=_form_values(uow, app),
    )


def _load(session: Session, application_id: int) -> Application:
    app = session.get(Application, application_id)
    if app is None:
        raise errors.ApplicationNotFound()
    return app


def _own(session: Session, actor: Principal, application_id: int) -> Application:
    """The applicant's own application (someone else's is "not found")."""
    app = _load(session, application_id)
    if app.applicant_user_id != actor.user_id:
        raise errors.ApplicationNotFound()
    return app


def _processable(session: Session, actor: Principal, application_id: int) -> Application:
    """An application of the staff member's organisation (another's is "not found")."""
    app = _load(session, application_id)
    if app.status == Status.DRAFT or not allowed(
        actor, Action.APPLICATION_PROCESS, app.organisation_id
    ):
        raise errors.ApplicationNotFound()
    return app


def _side(session: Session, actor: Principal, application_id: int) -> tuple[Application, Side]:
    """The application and whether the actor reads it as applicant or back office."""
    app = _load(session, application_id)
    if app.applicant_user_id == actor.user_id:
        return app, Side.APPLICANT
    return _processable(session, actor, application_id), Side.STAFF


def _authorize_any(actor: Principal | None) -> Principal:
    """A citizen filing applications, or a staff member processing them."""
    if actor is not None and allowed(actor, Action.APPLICATION_PROCESS):
        return actor
    return authorize(actor, Action.APPLICATION_SUBMIT)


def _parse(entry: ApplicationType[Any], form: dict[str, Any]) -> BaseModel:
    try:
        parsed: BaseModel = entry.form.model_validate(form)
    except ValidationError as exc:
        raise errors.FormInvalid(exc) from exc
    return parsed


def _route(
    entry: ApplicationType[Any], form: BaseModel, actor: Principal, uow: UnitOfWork
) -> Routing:
    return entry.resolve(form, actor, uow)


@dataclass(frozen=True)
class _Change:
    """A guarded status change to make: the expected status and the new values."""

    move: Move
    side: Side
    reason: str | None = None


def _move(
    uow: UnitOfWork,
    app: Application,
    change: _Change,
    actor: Principal,
    now: datetime,
    **values: Any,
) -> Status:
    """Make ``change`` if the application is still in the status it was read in.

    The ``WHERE status = :expected`` is the guard: of two staff deciding at once, the
    second finds no row (PostgreSQL re-checks the condition after the first commits),
    gets ``application_changed`` and writes nothing.
    """
    session = uow.session
    expected = app.status
    target = rules.transition(expected, change.move, change.side, change.reason)
    result = session.execute(
        update(Application)
        .where(Application.id == app.id, Application.status == expected)
        .values(status=target.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.ApplicationChanged()
    session.refresh(app)
    session.add(
        ApplicationEvent(
            application_id=app.id,
            from_status=expected,
            to_status=target.value,
            actor_user_id=actor.user_id,
            reason=(change.reason or "").strip() or None,
            created_at=now,
        )
    )
    _notify_applicant(session, app, target, change.reason)
    if change.side is Side.STAFF:
        audit.record(
            session,
            actor,
            f"portal.application_{change.move.value}",
            subject_person_id=app.person_id,
            organisation_id=app.organisation_id,
            detail=f"application {app.id}",
        )
    return target


def _notify_applicant(
    session: Session, app: Application, status: Status, reason: str | None
) -> None:
    entry = find_application_type(app.type_code)
    outbox.notify(
        session,
        accounts.recipient_for_user(session, app.applicant_user_id),
        kind=f"application_{status.value}",
        template=f"portal/messages/application_{status.value}.txt",
        context={
            "number": app.id,
            "title": entry.title if entry else app.type_code,
            "summary": app.summary,
            "reason": (reason or "").strip(),
        },
        link=f"/applications/{app.id}",
    )


def _submit_values(entry: ApplicationType[Any], now: datetime) -> dict[str, Any]:
    return {
        "submitted_at": now,
        "deadline_at": rules.deadline(
            now, entry.deadline_days, working_days=entry.working_days, tz=get_settings().city_tz
        ),
    }


def _comment(
    session: Session, app: Application, actor: Principal, side: Side, body: str, now: datetime
) -> ApplicationComment:
    comment = ApplicationComment(
        application_id=app.id,
        author_user_id=actor.user_id,
        author_side=side.value,
        body=body.strip(),
        created_at=now,
    )
    session.add(comment)
    session.flush()
    return comment
