"""The applicant's use cases: the kinds of application and their forms, filing, answering,
withdrawing; and what both sides do on an application (read it, write, attach files)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, update

from infocity.accounts import service as accounts
from infocity.core import audit, outbox
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.i18n import gettext
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.portal import errors, rules
from infocity.portal.models import (
    Application,
    ApplicationAttachment,
    ApplicationEvent,
)
from infocity.portal.registry import (
    application_type,
    application_types,
    find_application_type,
)
from infocity.portal.rules import Move, Side, Status
from infocity.portal.schemas import (
    AnswerCreate,
    ApplicationAttachmentRead,
    ApplicationCreate,
    ApplicationDetailRead,
    ApplicationFormRead,
    ApplicationPageRead,
    ApplicationTypeRead,
    ApplicationUpdate,
    AttachmentFile,
    CommentCreate,
    CommentRead,
    FormFieldRead,
)
from infocity.portal.service.engine import (
    _authorize_any,
    _Change,
    _comment,
    _detail,
    _move,
    _own,
    _parse,
    _reads,
    _route,
    _side,
    _submit_values,
)


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
    actor: Principal | None, type_code: str, *, uow: UnitOfWork | None = None
) -> ApplicationFormRead:
    """A type's form as pages draw it: labels, hints and the choices of select fields."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    entry = application_type(type_code)
    uow = uow or UnitOfWork()
    with uow:
        options = entry.field_options(actor, uow) if entry.field_options else {}
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
    actor: Principal | None,
    *,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationPageRead:
    """The citizen's applications, newest first."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        condition = Application.applicant_user_id == actor.user_id
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
    actor: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """One application with its history: the applicant's own, or one of the staff
    member's organisation (the staff access is audited)."""
    actor = _authorize_any(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app, side = _side(uow.session, actor, application_id)
        detail = _detail(uow, app, side, now)
        if side is Side.STAFF:
            audit.record(
                uow.session,
                actor,
                "portal.application_read",
                subject_person_id=app.person_id,
                organisation_id=app.organisation_id,
                detail=f"application {app.id}",
            )
            uow.commit()
        return detail


def create_application(
    actor: Principal | None,
    data: ApplicationCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """File an application of a registered type: a draft, or submitted at once."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    entry = application_type(data.type)
    form = _parse(entry, data.form)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        routing = _route(entry, form, actor, uow)
        app = Application(
            type_code=entry.code,
            status=Status.DRAFT.value,
            applicant_user_id=actor.user_id,
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
                actor_user_id=actor.user_id,
                created_at=now,
            )
        )
        if data.submit:
            _move(
                uow,
                app,
                _Change(Move.SUBMIT, Side.APPLICANT),
                actor,
                now,
                **_submit_values(entry, now),
            )
            record_service_use(
                session, entry.service_code, actor.user_id, person_id=app.person_id, at=now
            )
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def update_application(
    actor: Principal | None,
    application_id: int,
    data: ApplicationUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Change the form of a draft, or of an application the city asked more about."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, actor, application_id)
        _update_form(uow, app, actor, data.form, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def _update_form(
    uow: UnitOfWork, app: Application, actor: Principal, raw: dict[str, Any], now: datetime
) -> None:
    editable = (Status.DRAFT.value, Status.NEEDS_INFORMATION.value)
    if app.status not in editable:
        raise errors.InvalidTransition()
    entry = application_type(app.type_code)
    form = _parse(entry, raw)
    routing = _route(entry, form, actor, uow)
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
        raise errors.ApplicationChanged()
    uow.session.refresh(app)


def submit_application(
    actor: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Send a draft, or send back an application after an information request; the term
    starts again from now."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, actor, application_id)
        _submit(uow, app, actor, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def _submit(uow: UnitOfWork, app: Application, actor: Principal, now: datetime) -> None:
    entry = application_type(app.type_code)
    first = app.status == Status.DRAFT.value
    if first:  # the form is checked again: clinics close, children grow up
        _route(entry, _parse(entry, dict(app.form_data)), actor, uow)
    _move(uow, app, _Change(Move.SUBMIT, Side.APPLICANT), actor, now, **_submit_values(entry, now))
    if first:
        record_service_use(
            uow.session, entry.service_code, actor.user_id, person_id=app.person_id, at=now
        )


def answer_information_request(
    actor: Principal | None,
    application_id: int,
    data: AnswerCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """Answer the city's question: an optional comment and corrected form, then submit."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, actor, application_id)
        if app.status != Status.NEEDS_INFORMATION.value:
            raise errors.InvalidTransition()
        if data.form is not None:
            _update_form(uow, app, actor, data.form, now)
        if data.comment and data.comment.strip():
            _comment(uow.session, app, actor, Side.APPLICANT, data.comment, now)
        _submit(uow, app, actor, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def withdraw_application(
    actor: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationDetailRead:
    """The applicant takes back an application not decided yet."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        app = _own(uow.session, actor, application_id)
        _move(uow, app, _Change(Move.WITHDRAW, Side.APPLICANT), actor, now)
        detail = _detail(uow, app, Side.APPLICANT, now)
        uow.commit()
        return detail


def add_comment(
    actor: Principal | None,
    application_id: int,
    data: CommentCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CommentRead:
    """A message about an application, from the applicant or from its back office (the
    other side is told)."""
    actor = _authorize_any(actor)
    if not data.body.strip():
        raise errors.CommentRequired()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        app, side = _side(session, actor, application_id)
        if app.status in {s.value for s in rules.FINAL_STATUSES}:
            raise errors.ClosedToComments()
        comment = _comment(session, app, actor, side, data.body, now)
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
    actor: Principal | None,
    application_id: int,
    filename: str,
    data: bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApplicationAttachmentRead:
    """Attach a PDF, JPEG or PNG file (checked by its bytes, at most 5 MB)."""
    actor = _authorize_any(actor)
    name, content_type = rules.check_attachment(filename, data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        app, _ = _side(session, actor, application_id)
        if app.status in {s.value for s in rules.FINAL_STATUSES}:
            raise errors.ClosedToFiles()
        count = session.scalar(
            select(func.count())
            .select_from(ApplicationAttachment)
            .where(ApplicationAttachment.application_id == app.id)
        )
        if int(count or 0) >= rules.MAX_ATTACHMENTS:
            raise errors.TooManyFiles(rules.MAX_ATTACHMENTS)
        attachment = ApplicationAttachment(
            application_id=app.id,
            filename=name,
            content_type=content_type,
            size=len(data),
            data=data,
            uploaded_by_user_id=actor.user_id,
            created_at=now,
        )
        session.add(attachment)
        session.flush()
        result = ApplicationAttachmentRead.model_validate(attachment)
        uow.commit()
        return result


def get_attachment(
    actor: Principal | None,
    application_id: int,
    attachment_id: int,
    *,
    uow: UnitOfWork | None = None,
) -> AttachmentFile:
    """An attachment's bytes, for the applicant or the application's back office."""
    actor = _authorize_any(actor)
    uow = uow or UnitOfWork()
    with uow:
        app, _ = _side(uow.session, actor, application_id)
        attachment = uow.session.scalar(
            select(ApplicationAttachment).where(
                ApplicationAttachment.id == attachment_id,
                ApplicationAttachment.application_id == app.id,
            )
        )
        if attachment is None:
            raise errors.AttachmentNotFound()
        return AttachmentFile(
            filename=attachment.filename,
            content_type=attachment.content_type,
            data=attachment.data,
        )
