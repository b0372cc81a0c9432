"""JSON routes (thin: parse, call one service function, answer)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, UploadFile
from fastapi.responses import Response

from infocity.core.schemas import MAX_ID
from infocity.portal import service
from infocity.portal.rules import MAX_ATTACHMENT_BYTES, MAX_QUERY
from infocity.portal.schemas import (
    MAX_PAGE_SIZE,
    AnswerCreate,
    ApplicationAttachmentRead,
    ApplicationCreate,
    ApplicationDetailRead,
    ApplicationPageRead,
    ApplicationStatus,
    ApplicationTypeRead,
    ApplicationUpdate,
    AssignCreate,
    CatalogueRead,
    ColleagueRead,
    CommentCreate,
    CommentRead,
    DecisionCreate,
    InboxMessageRead,
    InboxPageRead,
    MarkedReadRead,
    OverviewRead,
    QueueFilter,
    UniqueUsersRead,
    UnreadCountRead,
)
from infocity.web.deps import CurrentUser
from infocity.web.errors import error_responses

router = APIRouter()
inbox = APIRouter(tags=["inbox"])

MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="The inbox message id.")]


@inbox.get(
    "/inbox",
    summary="List my notifications, newest first",
    responses=error_responses(401, 403, 422),
)
def list_inbox(
    actor: CurrentUser,
    unread_only: bool = Query(False, description="Only messages not read yet."),
    limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> InboxPageRead:
    return service.list_inbox(actor, unread_only=unread_only, limit=limit, offset=offset)


@inbox.get(
    "/inbox/unread-count",
    summary="How many of my notifications are unread (for a badge)",
    responses=error_responses(401, 403),
)
def unread_count(actor: CurrentUser) -> UnreadCountRead:
    return UnreadCountRead(unread=service.unread_count(actor))


@inbox.post(
    "/inbox/read-all",
    summary="Mark all my notifications read",
    responses=error_responses(401, 403),
)
def mark_all_read(actor: CurrentUser) -> MarkedReadRead:
    return MarkedReadRead(marked=service.mark_all_read(actor))


# ``:int``: /inbox/read-all is then a path of its own (POST only, so GET is a 405), not
# a message id that fails to parse.
@inbox.get(
    "/inbox/{message_id:int}",
    summary="One of my notifications (does not mark it read)",
    responses=error_responses(401, 403, 404, 422),
)
def get_message(actor: CurrentUser, message_id: MessageId) -> InboxMessageRead:
    return service.get_message(actor, message_id)


@inbox.post(
    "/inbox/{message_id:int}/read",
    summary="Mark one of my notifications read",
    responses=error_responses(401, 403, 404, 422),
)
def read_message(actor: CurrentUser, message_id: MessageId) -> InboxMessageRead:
    return service.read_message(actor, message_id)


# --- Catalogue, applications, back office, statistics -----------------------------------

portal = APIRouter(prefix="/portal", tags=["portal"])
ApplicationId = Annotated[int, Path(ge=1, le=MAX_ID, description="The application id.")]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}}
            for media_type in ("application/pdf", "image/jpeg", "image/png")
        },
    },
    **error_responses(401, 403, 404, 422),
}


@portal.get("/services", summary="The service catalogue in the reader's language, searchable")
def catalogue(
    q: str | None = Query(
        None, max_length=MAX_QUERY, description="Words in names and descriptions."
    ),
) -> CatalogueRead:
    return service.search_catalogue(q)


@portal.get("/application-types", summary="Kinds of application, with their forms' JSON Schema")
def application_types() -> list[ApplicationTypeRead]:
    return service.list_application_types()


@portal.post(
    "/applications",
    status_code=201,
    summary="File an application (a draft, or submitted at once)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def create_application(actor: CurrentUser, data: ApplicationCreate) -> ApplicationDetailRead:
    return service.create_application(actor, data)


@portal.get(
    "/applications",
    summary="My applications, newest first",
    responses=error_responses(401, 403, 422),
)
def my_applications(
    actor: CurrentUser,
    limit: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> ApplicationPageRead:
    return service.list_my_applications(actor, limit=limit, offset=offset)


@portal.get(
    "/applications/{application_id}",
    summary="One application with history, comments and files (mine, or my organisation's)",
    responses=error_responses(401, 403, 404, 422),
)
def get_application(actor: CurrentUser, application_id: ApplicationId) -> ApplicationDetailRead:
    return service.get_application(actor, application_id)


@portal.patch(
    "/applications/{application_id}",
    summary="Change the form of my draft",
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_application(
    actor: CurrentUser, application_id: ApplicationId, data: ApplicationUpdate
) -> ApplicationDetailRead:
    return service.update_application(actor, application_id, data)


@portal.post(
    "/applications/{application_id}/submit",
    summary="Submit my draft",
    responses=error_responses(401, 403, 404, 409, 422),
)
def submit(actor: CurrentUser, application_id: ApplicationId) -> ApplicationDetailRead:
    return service.submit_application(actor, application_id)


@portal.post(
    "/applications/{application_id}/withdraw",
    summary="Withdraw my application",
    responses=error_responses(401, 403, 404, 409, 422),
)
def withdraw(actor: CurrentUser, application_id: ApplicationId) -> ApplicationDetailRead:
    return service.withdraw_application(actor, application_id)


@portal.post(
    "/applications/{application_id}/answer",
    summary="Answer an information request (a comment and/or a corrected form); resubmits",
    responses=error_responses(401, 403, 404, 409, 422),
)
def answer(
    actor: CurrentUser, application_id: ApplicationId, data: AnswerCreate
) -> ApplicationDetailRead:
    return service.answer_information_request(actor, application_id, data)


@portal.post(
    "/applications/{application_id}/comments",
    status_code=201,
    summary="Write about an application (applicant or back office)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def comment(actor: CurrentUser, application_id: ApplicationId, data: CommentCreate) -> CommentRead:
    return service.add_comment(actor, application_id, data)


@portal.post(
    "/applications/{application_id}/attachments",
    status_code=201,
    summary="Attach a PDF, JPEG or PNG file (at most 5 MB; checked by its content)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def attach(
    actor: CurrentUser, application_id: ApplicationId, file: UploadFile
) -> ApplicationAttachmentRead:
    data = await file.read(MAX_ATTACHMENT_BYTES + 1)
    return service.add_attachment(actor, application_id, file.filename or "", data)


@portal.get(
    "/applications/{application_id}/attachments/{attachment_id}",
    summary="Download an attached file",
    response_class=Response,
    responses=FILE_RESPONSES,
)
def download(
    actor: CurrentUser,
    application_id: ApplicationId,
    attachment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    stored = service.get_attachment(actor, application_id, attachment_id)
    return Response(
        stored.data,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@portal.get(
    "/back-office/applications",
    summary="My organisation's queue, the nearest deadline first",
    responses=error_responses(401, 403, 422),
)
def queue(
    actor: CurrentUser,
    status: ApplicationStatus | None = Query(None),
    type: str | None = Query(None, max_length=60),
    overdue: bool = Query(False),
    mine: bool = Query(False, description="Only those assigned to me."),
    limit: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> ApplicationPageRead:
    filters = QueueFilter(
        status=status, type=type, overdue=overdue, mine=mine, limit=limit, offset=offset
    )
    return service.list_queue(actor, filters)


@portal.get(
    "/back-office/applications/{application_id}/colleagues",
    summary="Whom the application may be given to: me and my colleagues who process them",
    responses=error_responses(401, 403, 404, 422),
)
def colleagues(actor: CurrentUser, application_id: ApplicationId) -> list[ColleagueRead]:
    return service.list_colleagues(actor, application_id)


@portal.post(
    "/back-office/applications/{application_id}/assign",
    summary="Assign to a staff member of the organisation (default: me); takes it into review",
    responses=error_responses(401, 403, 404, 409, 422),
)
def assign(
    actor: CurrentUser, application_id: ApplicationId, data: AssignCreate
) -> ApplicationDetailRead:
    return service.assign_application(actor, application_id, data)


@portal.post(
    "/back-office/applications/{application_id}/decision",
    summary="Approve, reject or ask for information (reason required for the last two)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def decide(
    actor: CurrentUser, application_id: ApplicationId, data: DecisionCreate
) -> ApplicationDetailRead:
    return service.decide_application(actor, application_id, data)


@portal.post(
    "/back-office/applications/{application_id}/complete",
    summary="Mark an approved application completed",
    responses=error_responses(401, 403, 404, 409, 422),
)
def complete(actor: CurrentUser, application_id: ApplicationId) -> ApplicationDetailRead:
    return service.complete_application(actor, application_id)


@portal.get(
    "/overview",
    summary="My single window: applications, upcoming appointments, latest notifications",
    responses=error_responses(401, 403),
)
def overview(actor: CurrentUser) -> OverviewRead:
    return service.my_overview(actor)


@portal.get(
    "/stats/unique-users",
    summary="Unique e-service users per month of a year (analysts)",
    responses=error_responses(401, 403, 422),
)
def unique_users(actor: CurrentUser, year: int = Query(ge=2000, le=2100)) -> UniqueUsersRead:
    return service.unique_users_per_month(actor, year)


router.include_router(inbox)
router.include_router(portal)
