"""Use cases of the portal: one function per thing a user does, one transaction each.

The in-app inbox: the worker puts notifications there (``infocity.core.channels``);
here a user lists and reads their own. A message of someone else is "not found",
never "forbidden", so ids do not reveal what exists.

The service catalogue and the monthly count of e-service users (each service records a
use with ``infocity.core.usage.record_service_use`` inside its own transaction), and the
applications engine: typed forms registered per
type (``portal.registry``), statuses changed only through a guarded
``UPDATE ... WHERE status = :expected`` checked by its row count, every change announced
to the applicant through the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit, outbox
from infocity.core.auth import PERMISSIONS, SYSTEM, Action, Principal, allowed, authorize
from infocity.core.db import utcnow
from infocity.core.errors import Conflict, InvalidInput, NotFound
from infocity.core.i18n import N_, current_locale, gettext
from infocity.core.models import InboxMessage, ServiceUse
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.portal import rules
from infocity.portal.models import (
    Application,
    ApplicationAttachment,
    ApplicationComment,
    ApplicationEvent,
    CatalogueService,
    ServiceCategory,
)
from infocity.portal.registry import (
    ApplicationType,
    Approval,
    Routing,
    application_type,
    application_types,
    cabinet_cards,
    find_application_type,
    register_application_type,
)
from infocity.portal.rules import Move, Side, Status
from infocity.portal.schemas import (
    AnswerCreate,
    ApplicationActionRead,
    ApplicationAttachmentRead,
    ApplicationCreate,
    ApplicationDetailRead,
    ApplicationEventRead,
    ApplicationFormRead,
    ApplicationPageRead,
    ApplicationRead,
    ApplicationTypeRead,
    ApplicationUpdate,
    AssignCreate,
    AttachmentFile,
    CabinetCardRead,
    CatalogueCategoryRead,
    CatalogueRead,
    CatalogueServiceRead,
    ColleagueRead,
    CommentCreate,
    CommentRead,
    DecisionCreate,
    FormFieldRead,
    FormValueRead,
    InboxMessageRead,
    InboxPageRead,
    MonthlyUsersRead,
    OverviewRead,
    QueueFilter,
    UniqueUsersRead,
)

__all__ = [
    "ApplicationType",
    "Approval",
    "Routing",
    "record_service_use",
    "register_application_type",
]


def _not_found() -> NotFound:
    return NotFound("message_not_found", N_("This message was not found in your inbox."))


def _unread(uow: UnitOfWork, user_id: int) -> int:
    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(InboxMessage)
            .where(InboxMessage.user_id == user_id, InboxMessage.read_at.is_(None))
        )
        or 0
    )


def list_inbox(
    principal: Principal | None,
    *,
    unread_only: bool = False,
    limit: int = 20,
    offset: int = 0,
    uow: UnitOfWork | None = None,
) -> InboxPageRead:
    """The user's messages, newest first."""
    user = authorize(principal, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        conditions = [InboxMessage.user_id == user.user_id]
        if unread_only:
            conditions.append(InboxMessage.read_at.is_(None))
        rows = uow.session.scalars(
            select(InboxMessage)
            .where(*conditions)
            .order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        total = uow.session.scalar(
            select(func.count()).select_from(InboxMessage).where(*conditions)
        )
        return InboxPageRead(
            items=[InboxMessageRead.model_validate(row) for row in rows],
            total=int(total or 0),
            unread=_unread(uow, user.user_id),
            limit=limit,
            offset=offset,
        )


def get_message(
    principal: Principal | None, message_id: int, *, uow: UnitOfWork | None = None
) -> InboxMessageRead:
    """One of the user's messages, without marking it read."""
    user = authorize(principal, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        row = uow.session.scalar(
            select(InboxMessage).where(
                InboxMessage.id == message_id, InboxMessage.user_id == user.user_id
            )
        )
        if row is None:
            raise _not_found()
        return InboxMessageRead.model_validate(row)


def read_message(
    principal: Principal | None, message_id: int, *, uow: UnitOfWork | None = None
) -> InboxMessageRead:
    """One of the user's messages, marked read (the first reading time is kept)."""
    user = authorize(principal, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        # The owner is part of the condition: another user's id changes nothing.
        uow.session.execute(
            update(InboxMessage)
            .where(
                InboxMessage.id == message_id,
                InboxMessage.user_id == user.user_id,
                InboxMessage.read_at.is_(None),
            )
            .values(read_at=utcnow())
        )
        row = uow.session.scalar(
            select(InboxMessage).where(
                InboxMessage.id == message_id, InboxMessage.user_id == user.user_id
            )
        )
        if row is None:
            raise _not_found()
        message = InboxMessageRead.model_validate(row)
        uow.commit()
        return message


def mark_all_read(principal: Principal | None, *, uow: UnitOfWork | None = None) -> int:
    """Mark every unread message of the user read; return how many changed."""
    user = authorize(principal, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        result = uow.session.execute(
            update(InboxMessage)
            .where(InboxMessage.user_id == user.user_id, InboxMessage.read_at.is_(None))
            .values(read_at=utcnow())
        )
        uow.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]


def unread_count(principal: Principal | None, *, uow: UnitOfWork | None = None) -> int:
    """How many of the user's messages are unread."""
    user = authorize(principal, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        return _unread(uow, user.user_id)


# --- Service catalogue -----------------------------------------------------------------


def seed_catalogue(*, uow: UnitOfWork | None = None) -> int:
    """Add or refresh the catalogue's categories and services; return how many were new.

    Idempotent: run it at every deployment (the demo loader does).
    """
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        added = 0
        categories: dict[str, ServiceCategory] = {
            c.code: c for c in session.scalars(select(ServiceCategory))
        }
        for position, seed in enumerate(rules.CATEGORIES):
            category = categories.get(seed.code)
            if category is None:
                category = ServiceCategory(code=seed.code)
                session.add(category)
                categories[seed.code] = category
                added += 1
            category.name_ru, category.name_en = seed.name_ru, seed.name_en
            category.position = position
        session.flush()
        services = {s.code: s for s in session.scalars(select(CatalogueService))}
        for position, item in enumerate(rules.SERVICES):
            service = services.get(item.code)
            if service is None:
                service = CatalogueService(code=item.code, active=True)
                session.add(service)
                added += 1
            service.category_id = categories[item.category].id
            service.name_ru, service.name_en = item.name_ru, item.name_en
            service.description_ru, service.description_en = (
                item.description_ru,
                item.description_en,
            )
            service.audience_ru, service.audience_en = item.audience_ru, item.audience_en
            service.link, service.application_type = item.link, item.application_type
            service.position = position
            service.search_ru = rules.search_text(item.name_ru, item.description_ru)
            service.search_en = rules.search_text(item.name_en, item.description_en)
        uow.commit()
        return added


def search_catalogue(query: str | None = None, *, uow: UnitOfWork | None = None) -> CatalogueRead:
    """The catalogue in the current language; with ``query``, only services whose name or
    description contains it (case-insensitive, ``ё`` matches ``е``)."""
    english = current_locale() == "en"
    query = (query or "").strip()[: rules.MAX_QUERY] or None
    uow = uow or UnitOfWork()
    with uow:
        statement = (
            select(CatalogueService, ServiceCategory)
            .join(ServiceCategory, CatalogueService.category_id == ServiceCategory.id)
            .where(CatalogueService.active.is_(True))
            .order_by(ServiceCategory.position, CatalogueService.position)
        )
        if query:
            column = CatalogueService.search_en if english else CatalogueService.search_ru
            statement = statement.where(
                column.like(rules.like_pattern(query), escape=rules.LIKE_ESCAPE)
            )
        grouped: dict[str, CatalogueCategoryRead] = {}
        total = 0
        for service, category in uow.session.execute(statement):
            entry = grouped.setdefault(
                category.code,
                CatalogueCategoryRead(
                    code=category.code,
                    name=category.name_en if english else category.name_ru,
                    services=[],
                ),
            )
            entry.services.append(
                CatalogueServiceRead(
                    code=service.code,
                    category=category.code,
                    name=service.name_en if english else service.name_ru,
                    description=service.description_en if english else service.description_ru,
                    audience=service.audience_en if english else service.audience_ru,
                    link=service.link,
                    application_type=service.application_type,
                )
            )
            total += 1
        return CatalogueRead(query=query, categories=list(grouped.values()), total=total)


def unique_users_per_month(
    principal: Principal | None, year: int, *, uow: UnitOfWork | None = None
) -> UniqueUsersRead:
    """How many different users used any e-service in each month of ``year`` (analysts)."""
    authorize(principal, Action.STATS_READ)
    if not 2000 <= year <= 2100:
        raise InvalidInput("invalid_year", N_("This value is not valid."), field="year")
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(ServiceUse.used_month, func.count(func.distinct(ServiceUse.user_id)))
            .where(
                ServiceUse.used_month >= date(year, 1, 1),
                ServiceUse.used_month <= date(year, 12, 1),
            )
            .group_by(ServiceUse.used_month)
        )
        counts = {month.month: int(count) for month, count in rows}
        return UniqueUsersRead(
            year=year,
            months=[MonthlyUsersRead(month=m, unique_users=counts.get(m, 0)) for m in range(1, 13)],
        )


# --- Applications: reading -----------------------------------------------------------


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
        options = entry.field_options(applicant, uow)
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


def _application_not_found() -> NotFound:
    return NotFound("application_not_found", N_("There is no such application."))


def _load(session: Session, application_id: int) -> Application:
    app = session.get(Application, application_id)
    if app is None:
        raise _application_not_found()
    return app


def _own(session: Session, principal: Principal, application_id: int) -> Application:
    """The applicant's own application (someone else's is "not found")."""
    app = _load(session, application_id)
    if app.applicant_user_id != principal.user_id:
        raise _application_not_found()
    return app


def _processable(session: Session, principal: Principal, application_id: int) -> Application:
    """An application of the staff member's organisation (another's is "not found")."""
    app = _load(session, application_id)
    if app.status == Status.DRAFT or not allowed(
        principal, Action.APPLICATION_PROCESS, app.organisation_id
    ):
        raise _application_not_found()
    return app


def _side(session: Session, principal: Principal, application_id: int) -> tuple[Application, Side]:
    """The application and whether the principal reads it as applicant or back office."""
    app = _load(session, application_id)
    if app.applicant_user_id == principal.user_id:
        return app, Side.APPLICANT
    return _processable(session, principal, application_id), Side.STAFF


def _authorize_any(principal: Principal | None) -> Principal:
    """A citizen filing applications, or a staff member processing them."""
    if principal is not None and allowed(principal, Action.APPLICATION_PROCESS):
        return principal
    return authorize(principal, Action.APPLICATION_SUBMIT)


def list_application_types() -> list[ApplicationTypeRead]:
    """The kinds of application a citizen can file, with their forms' JSON Schema."""
    return [
        ApplicationTypeRead(
            code=t.code,
            title=gettext(t.title),
            description=gettext(t.description) if t.description else "",
            deadline_days=t.deadline_days,
            working_days=t.working_days,
            form_schema=t.form.model_json_schema(),
        )
        for t in application_types()
    ]


def describe_application_form(
    principal: Principal | None, type_code: str, *, uow: UnitOfWork | None = None
) -> ApplicationFormRead:
    """A type's form as pages draw it: labels, hints and the choices of select fields."""
    principal = authorize(principal, Action.APPLICATION_SUBMIT)
    entry = application_type(type_code)
    uow = uow or UnitOfWork()
    with uow:
        options = entry.field_options(principal, uow) if entry.field_options else {}
    fields = []
    for name, info in entry.form.model_fields.items():
        choices = options.get(name, [])
        kind: Literal["text", "textarea", "number", "select"] = "text"
        if choices:
            kind = "select"
        elif info.annotation in (int, int | None):
            kind = "number"
        elif any(getattr(m, "max_length", 0) and m.max_length > 200 for m in info.metadata):
            kind = "textarea"
        fields.append(
            FormFieldRead(
                name=name,
                label=gettext(info.title) if info.title else name,
                hint=gettext(info.description) if info.description else None,
                required=info.is_required(),
                kind=kind,
                options=choices,
            )
        )
    return ApplicationFormRead(
        code=entry.code,
        title=gettext(entry.title),
        description=gettext(entry.description) if entry.description else "",
        fields=fields,
    )


def list_my_applications(
    principal: Principal | None,
    *,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationPageRead:
    """The citizen's applications, newest first."""
    principal = authorize(principal, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        condition = Application.applicant_user_id == principal.user_id
        apps = list(
            uow.session.scalars(
                select(Application)
                .where(condition)
                .order_by(Application.created_at.desc(), Application.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        total = uow.session.scalar(select(func.count()).select_from(Application).where(condition))
        return ApplicationPageRead(
            items=_reads(uow, apps, now), total=int(total or 0), limit=limit, offset=offset
        )


def get_application(
    principal: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """One application with its history: the applicant's own, or one of the staff
    member's organisation (the staff access is audited)."""
    principal = _authorize_any(principal)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app, side = _side(uow.session, principal, application_id)
        detail = _detail(uow, app, side, now)
        if side is Side.STAFF:
            audit.record(
                uow.session,
                principal,
                "portal.application_read",
                subject_person_id=app.person_id,
                organisation_id=app.organisation_id,
                detail=f"application {app.id}",
            )
            uow.commit()
        return detail


def applicant_name(
    principal: Principal | None, application_id: int, *, uow: UnitOfWork | None = None
) -> str:
    """The name of whom an application is for, for its back office (audited)."""
    principal = authorize(principal, Action.APPLICATION_PROCESS)
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, principal, application_id)
        if app.person_id is None:
            return ""
        name = accounts.person_names(uow.session, [app.person_id]).get(app.person_id, "")
        audit.record(
            uow.session,
            principal,
            "portal.applicant_name",
            subject_person_id=app.person_id,
            organisation_id=app.organisation_id,
        )
        uow.commit()
        return name


def _staff_organisations(principal: Principal) -> list[int] | None:
    """The organisations whose queue the principal sees; None: every organisation."""
    permitted = PERMISSIONS[Action.APPLICATION_PROCESS]
    grants = [g for g in principal.grants if g.role in permitted]
    if any(g.organisation_id is None for g in grants):
        return None
    return sorted({g.organisation_id for g in grants if g.organisation_id is not None})


def list_queue(
    principal: Principal | None,
    filters: QueueFilter | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationPageRead:
    """The back office's queue: submitted applications of the staff member's
    organisations, the nearest deadline first."""
    principal = authorize(principal, Action.APPLICATION_PROCESS)
    filters = filters or QueueFilter()
    now = now or utcnow()
    conditions: list[Any] = [Application.status != Status.DRAFT.value]
    organisations = _staff_organisations(principal)
    if organisations is not None:
        conditions.append(Application.organisation_id.in_(organisations))
    if filters.status:
        conditions.append(Application.status == filters.status)
    if filters.type:
        conditions.append(Application.type_code == filters.type)
    if filters.mine:
        conditions.append(Application.assignee_user_id == principal.user_id)
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


# --- Applications: changing ----------------------------------------------------------


class FormInvalid(InvalidInput):
    """A typed form that does not validate; ``errors`` says which fields and why."""

    def __init__(self, exc: ValidationError) -> None:
        errors = exc.errors()
        first = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
        super().__init__(
            "invalid_form", N_("Some fields are filled in incorrectly."), field=first or None
        )
        self.errors = errors


def _parse(entry: ApplicationType[Any], form: dict[str, Any]) -> BaseModel:
    try:
        parsed: BaseModel = entry.form.model_validate(form)
    except ValidationError as exc:
        raise FormInvalid(exc) from exc
    return parsed


def _route(
    entry: ApplicationType[Any], form: BaseModel, principal: Principal, uow: UnitOfWork
) -> Routing:
    return entry.resolve(form, principal, uow)


@dataclass(frozen=True)
class _Change:
    """A guarded status change to make: the expected status and the new values."""

    move: Move
    side: Side
    reason: str | None = None


def _changed() -> Conflict:
    return Conflict(
        "application_changed",
        N_("The application was changed at the same moment. Please reload it and try again."),
    )


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
        raise _changed()
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


def create_application(
    principal: Principal | None,
    data: ApplicationCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """File an application of a registered type: a draft, or submitted at once."""
    principal = authorize(principal, Action.APPLICATION_SUBMIT)
    entry = application_type(data.type)
    form = _parse(entry, data.form)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        routing = _route(entry, form, principal, uow)
        app = Application(
            type_code=entry.code,
            status=Status.DRAFT.value,
            applicant_user_id=principal.user_id,
            person_id=routing.person_id,
            organisation_id=routing.organisation_id,
            form_data=form.model_dump(mode="json"),
            summary=routing.summary[:500],
            created_at=now,
            updated_at=now,
        )
        session.add(app)
        session.flush()
        session.add(
            ApplicationEvent(
                application_id=app.id,
                from_status=None,
                to_status=Status.DRAFT.value,
                actor_user_id=principal.user_id,
                created_at=now,
            )
        )
        if data.submit:
            _move(
                uow,
                app,
                _Change(Move.SUBMIT, Side.APPLICANT),
                principal,
                now,
                **_submit_values(entry, now),
            )
            record_service_use(
                session, entry.service_code, principal.user_id, person_id=app.person_id, at=now
            )
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def update_application(
    principal: Principal | None,
    application_id: int,
    data: ApplicationUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Change the form of a draft, or of an application the city asked more about."""
    principal = authorize(principal, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, principal, application_id)
        _update_form(uow, app, principal, data.form, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def _update_form(
    uow: UnitOfWork, app: Application, principal: Principal, raw: dict[str, Any], now: datetime
) -> None:
    editable = (Status.DRAFT.value, Status.NEEDS_INFORMATION.value)
    if app.status not in editable:
        raise Conflict(
            "invalid_transition",
            N_("This cannot be done with the application in its current status."),
        )
    entry = application_type(app.type_code)
    form = _parse(entry, raw)
    routing = _route(entry, form, principal, uow)
    values: dict[str, Any] = {"form_data": form.model_dump(mode="json"), "updated_at": now}
    if app.status == Status.DRAFT.value:  # once submitted, it stays with its organisation
        values.update(
            organisation_id=routing.organisation_id,
            person_id=routing.person_id,
            summary=routing.summary[:500],
        )
    result = uow.session.execute(
        update(Application)
        .where(Application.id == app.id, Application.status == app.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _changed()
    uow.session.refresh(app)


def submit_application(
    principal: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Send a draft, or send back an application after an information request; the term
    starts again from now."""
    principal = authorize(principal, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, principal, application_id)
        _submit(uow, app, principal, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def _submit(uow: UnitOfWork, app: Application, principal: Principal, now: datetime) -> None:
    entry = application_type(app.type_code)
    first = app.status == Status.DRAFT.value
    if first:  # the form is checked again: clinics close, children grow up
        _route(entry, _parse(entry, dict(app.form_data)), principal, uow)
    _move(
        uow, app, _Change(Move.SUBMIT, Side.APPLICANT), principal, now, **_submit_values(entry, now)
    )
    if first:
        record_service_use(
            uow.session, entry.service_code, principal.user_id, person_id=app.person_id, at=now
        )


def answer_information_request(
    principal: Principal | None,
    application_id: int,
    data: AnswerCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Answer the city's question: an optional comment and corrected form, then submit."""
    principal = authorize(principal, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, principal, application_id)
        if app.status != Status.NEEDS_INFORMATION.value:
            raise Conflict(
                "invalid_transition",
                N_("This cannot be done with the application in its current status."),
            )
        if data.form is not None:
            _update_form(uow, app, principal, data.form, now)
        if data.comment and data.comment.strip():
            _comment(uow.session, app, principal, Side.APPLICANT, data.comment, now)
        _submit(uow, app, principal, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def withdraw_application(
    principal: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """The applicant takes back an application not decided yet."""
    principal = authorize(principal, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, principal, application_id)
        _move(uow, app, _Change(Move.WITHDRAW, Side.APPLICANT), principal, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


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
    principal: Principal | None,
    application_id: int,
    data: AssignCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Give an application to a staff member of its organisation (default: oneself); a
    submitted one goes into review."""
    principal = authorize(principal, Action.APPLICATION_PROCESS)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, principal, application_id)
        assignee_id = data.assignee_user_id or principal.user_id
        eligible = {c.user_id for c in _colleagues(uow, principal, app.organisation_id)}
        if assignee_id not in eligible:
            raise InvalidInput(
                "assignee_not_staff",
                N_("This person does not process applications of this organisation."),
                field="assignee_user_id",
            )
        if app.status == Status.SUBMITTED.value:
            _move(
                uow,
                app,
                _Change(Move.TAKE, Side.STAFF),
                principal,
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
                raise _changed()
            uow.session.refresh(app)
        else:
            raise Conflict(
                "invalid_transition",
                N_("This cannot be done with the application in its current status."),
            )
        detail = _detail(uow, app, Side.STAFF, now)
        uow.commit()
        return detail


DECISIONS = {
    "approve": Move.APPROVE,
    "reject": Move.REJECT,
    "request_information": Move.REQUEST_INFORMATION,
}


def decide_application(
    principal: Principal | None,
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
    principal = authorize(principal, Action.APPLICATION_PROCESS)
    now = now or utcnow()
    move = DECISIONS[data.decision]
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, principal, application_id)
        values: dict[str, Any] = {}
        if move is not Move.REQUEST_INFORMATION:
            values = {"decided_at": now, "decision_reason": (data.reason or "").strip() or None}
        if app.assignee_user_id is None:
            values["assignee_user_id"] = principal.user_id
        _move(uow, app, _Change(move, Side.STAFF, data.reason), principal, now, **values)
        if move is Move.APPROVE:
            entry = application_type(app.type_code)
            if entry.on_approved is not None:
                approval = Approval(
                    application_id=app.id,
                    applicant_user_id=app.applicant_user_id,
                    person_id=app.person_id,
                    organisation_id=app.organisation_id,
                    actor=principal,
                    now=now,
                )
                entry.on_approved(_parse(entry, dict(app.form_data)), approval, uow)
        detail = _detail(uow, app, Side.STAFF, now)
        uow.commit()
        return detail


def complete_application(
    principal: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Mark an approved application done: its result has been issued."""
    principal = authorize(principal, Action.APPLICATION_PROCESS)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _processable(uow.session, principal, application_id)
        _move(uow, app, _Change(Move.COMPLETE, Side.STAFF), principal, now, completed_at=now)
        detail = _detail(uow, app, Side.STAFF, now)
        uow.commit()
        return detail


def _comment(
    session: Session, app: Application, principal: Principal, side: Side, body: str, now: datetime
) -> ApplicationComment:
    comment = ApplicationComment(
        application_id=app.id,
        author_user_id=principal.user_id,
        author_side=side.value,
        body=body.strip(),
        created_at=now,
    )
    session.add(comment)
    session.flush()
    return comment


def add_comment(
    principal: Principal | None,
    application_id: int,
    data: CommentCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CommentRead:
    """A message about an application, from the applicant or from its back office (the
    other side is told)."""
    principal = _authorize_any(principal)
    if not data.body.strip():
        raise InvalidInput("required", N_("This field is required."), field="body")
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        app, side = _side(session, principal, application_id)
        if app.status in {s.value for s in rules.FINAL_STATUSES}:
            raise Conflict(
                "application_closed", N_("This application is closed: it takes no more comments.")
            )
        comment = _comment(session, app, principal, side, data.body, now)
        session.flush()
        if side is Side.STAFF:
            entry = find_application_type(app.type_code)
            outbox.notify(
                session,
                accounts.recipient_for_user(session, app.applicant_user_id),
                kind="application_comment",
                template="portal/messages/application_comment.txt",
                context={
                    "number": app.id,
                    "title": entry.title if entry else app.type_code,
                    "body": comment.body,
                },
                link=f"/applications/{app.id}",
            )
        elif app.assignee_user_id is not None:
            outbox.notify(
                session,
                accounts.recipient_for_user(session, app.assignee_user_id),
                kind="application_comment",
                template="portal/messages/application_comment_staff.txt",
                context={"number": app.id},
                link=f"/back-office/applications/{app.id}",
                channels=["inbox"],
            )
        result = CommentRead.model_validate(comment)
        uow.commit()
        return result


def add_attachment(
    principal: Principal | None,
    application_id: int,
    filename: str,
    data: bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationAttachmentRead:
    """Attach a PDF, JPEG or PNG file (checked by its bytes, at most 5 MB)."""
    principal = _authorize_any(principal)
    name, content_type = rules.check_attachment(filename, data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        app, _ = _side(session, principal, application_id)
        if app.status in {s.value for s in rules.FINAL_STATUSES}:
            raise Conflict(
                "application_closed", N_("This application is closed: it takes no more files.")
            )
        count = session.scalar(
            select(func.count())
            .select_from(ApplicationAttachment)
            .where(ApplicationAttachment.application_id == app.id)
        )
        if int(count or 0) >= rules.MAX_ATTACHMENTS:
            raise InvalidInput(
                "too_many_files",
                N_("An application can have at most %(limit)s files."),
                field="file",
                limit=rules.MAX_ATTACHMENTS,
            )
        attachment = ApplicationAttachment(
            application_id=app.id,
            filename=name,
            content_type=content_type,
            size=len(data),
            data=data,
            uploaded_by_user_id=principal.user_id,
            created_at=now,
        )
        session.add(attachment)
        session.flush()
        result = ApplicationAttachmentRead.model_validate(attachment)
        uow.commit()
        return result


def get_attachment(
    principal: Principal | None,
    application_id: int,
    attachment_id: int,
    *,
    uow: UnitOfWork | None = None,
) -> AttachmentFile:
    """An attachment's bytes, for the applicant or the application's back office."""
    principal = _authorize_any(principal)
    uow = uow or UnitOfWork()
    with uow:
        app, _ = _side(uow.session, principal, application_id)
        attachment = uow.session.scalar(
            select(ApplicationAttachment).where(
                ApplicationAttachment.id == attachment_id,
                ApplicationAttachment.application_id == app.id,
            )
        )
        if attachment is None:
            raise NotFound("attachment_not_found", N_("There is no such file."))
        return AttachmentFile(
            filename=attachment.filename,
            content_type=attachment.content_type,
            data=attachment.data,
        )


# --- The citizen's single window -------------------------------------------------------


def my_overview(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> OverviewRead:
    """Everything of the citizen's in one place: a card from each city service registered
    in the cabinet (``registry.register_cabinet_card``), in their order, read in one
    transaction."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        cards = []
        for card in cabinet_cards():
            content = card.build(actor, now, uow)
            if content is None:
                continue
            cards.append(
                CabinetCardRead(
                    code=card.code,
                    title=gettext(card.title),
                    items=content.items,
                    empty=content.empty,
                    links=content.links,
                    badge=content.badge,
                )
            )
        return OverviewRead(cards=cards, unread=_unread(uow, actor.user_id))
