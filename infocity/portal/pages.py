"""HTML pages (thin: parse the form, call one service function, render)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infocity.accounts import service as accounts
from infocity.core.auth import Principal
from infocity.core.errors import AppError
from infocity.core.i18n import N_, gettext
from infocity.portal import rules, service
from infocity.portal.errors import FormInvalid
from infocity.portal.schemas import (
    AnswerCreate,
    ApplicationCreate,
    AssignCreate,
    AttachmentFile,
    CabinetDocumentCreate,
    CommentCreate,
    DecisionCreate,
    QueueFilter,
)
from infocity.web.deps import csrf_protect, render
from infocity.web.errors import validation_fields
from infocity.web.forms import (
    CHECK_FIELDS,
    FormErrors,
    FormWithFiles,
    IdPath,
    LoggedIn,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PAGE_SIZE = 20
MAX_PAGE = 100_000


def safe_link(link: str | None) -> str | None:
    """A message's link if it is one a page may show (never ``javascript:`` and the like)."""
    if link and (link.startswith(("https://", "http://")) or link.startswith("/")):
        return link
    return None


@router.get("/inbox", response_class=HTMLResponse)
def inbox(
    request: Request,
    actor: LoggedIn,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    unread: bool = Query(False),
    marked: bool = Query(False),
) -> HTMLResponse:
    listing = service.list_inbox(
        actor, unread_only=unread, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "portal/inbox.html",
        {
            "listing": listing,
            "page": page,
            "unread_only": unread,
            "has_next": page * PAGE_SIZE < listing.total,
            "marked": marked,
        },
    )


@router.get("/inbox/{message_id}", response_class=HTMLResponse)
def message(request: Request, actor: LoggedIn, message_id: IdPath) -> HTMLResponse:
    shown = service.read_message(actor, message_id)
    return render(
        request, "portal/inbox_message.html", {"message": shown, "link": safe_link(shown.link)}
    )


@router.post("/inbox/read-all")
def read_all(actor: LoggedIn) -> RedirectResponse:
    service.mark_all_read(actor)
    return redirect("/inbox?marked=1")


# --- Catalogue, applications, back office, the single window --------------------------

NOTICES = {
    "saved": N_("The draft has been saved."),
    "submitted": N_("The application has been submitted."),
    "withdrawn": N_("The application has been withdrawn."),
    "answered": N_("Your answer has been sent; the review continues."),
    "commented": N_("The message has been sent."),
    "attached": N_("The file has been attached."),
    "assigned": N_("The application has been assigned."),
    "decided": N_("The decision has been recorded."),
    "completed": N_("The application is completed."),
}
ApplicationId = IdPath


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _done(url: str, code: str) -> RedirectResponse:
    return redirect(f"{url}?done={quote(code)}")


def _field_errors(exc: AppError | ValidationError) -> tuple[dict[str, str], str]:
    """Errors by field and the message at the top of a refused form."""
    errors = exc.errors if isinstance(exc, FormInvalid) else None
    if isinstance(exc, ValidationError):
        errors = exc.errors()
    if errors is not None:
        fields = {
            item["field"]: item["message"]
            for item in validation_fields(RequestValidationError(errors))
        }
        return fields, gettext(CHECK_FIELDS)
    assert isinstance(exc, AppError)
    if exc.field:
        return {exc.field: exc.translated()}, gettext(CHECK_FIELDS)
    return {}, exc.translated()


def _refusal_status(exc: AppError | ValidationError) -> int:
    if isinstance(exc, AppError):
        if exc.status in (401, 403, 404):
            raise exc  # not the user's to correct here: the error page or the log-in
        return exc.status
    return 422


@router.get("/services", response_class=HTMLResponse)
def catalogue(
    request: Request, q: Annotated[str | None, Query(max_length=rules.MAX_QUERY)] = None
) -> HTMLResponse:
    return render(request, "portal/services.html", {"catalogue": service.search_catalogue(q)})


def _application_form_page(
    request: Request,
    actor: Principal,
    type_code: str,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    form = service.describe_application_form(actor, type_code)
    return render(
        request,
        "portal/application_new.html",
        {"form": form, "values": values, "errors": errors or {}, "error": error},
        status_code=status_code,
    )


TypeCode = Annotated[str, Path(max_length=60, pattern=r"^[a-z0-9_]+$")]


@router.get("/applications/new/{type_code}", response_class=HTMLResponse)
def new_application(request: Request, actor: LoggedIn, type_code: TypeCode) -> HTMLResponse:
    return _application_form_page(request, actor, type_code, {})


@router.post("/applications/new/{type_code}", response_class=HTMLResponse)
def create_application(
    request: Request, actor: LoggedIn, type_code: TypeCode, form: FormWithFiles
) -> Response:
    described = service.describe_application_form(actor, type_code)
    names = [f.name for f in described.fields]
    values = {name: _text(form, name) for name in names}
    submit = _text(form, "action") != "draft"
    try:
        created = service.create_application(
            actor,
            ApplicationCreate(
                type=type_code, form={k: v for k, v in values.items() if v}, submit=submit
            ),
        )
    except (AppError, ValidationError) as exc:
        status = _refusal_status(exc)
        fields, message = _field_errors(exc)
        return _application_form_page(request, actor, type_code, values, fields, message, status)
    return _done(f"/applications/{created.id}", "submitted" if submit else "saved")


@router.get("/applications", response_class=HTMLResponse)
def my_applications(request: Request, actor: LoggedIn) -> HTMLResponse:
    listing = service.list_my_applications(actor, limit=100)
    return render(request, "portal/applications.html", {"listing": listing})


# Statuses in which an application can be given to someone (the service decides).
ASSIGNABLE = ("submitted", "in_review", "needs_information", "approved")


def _status_labels() -> dict[str, str]:
    return {status.value: gettext(label) for status, label in rules.STATUS_LABELS.items()}


def _application_page(
    request: Request,
    actor: Principal,
    application_id: int,
    *,
    done: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    detail = service.get_application(actor, application_id)
    staff = detail.applicant_user_id != actor.user_id
    if staff:
        return render(
            request,
            "portal/back_office_application.html",
            {
                "app": detail,
                "applicant": service.applicant_name(actor, application_id),
                "colleagues": service.list_colleagues(actor, application_id)
                if detail.status in ASSIGNABLE
                else [],
                "status_labels": _status_labels(),
                "notice": notice(NOTICES, done),
                "error": error,
            },
            status_code=status_code,
        )
    form = service.describe_application_form(actor, detail.type)
    return render(
        request,
        "portal/application.html",
        {
            "app": detail,
            "form": form,
            "status_labels": _status_labels(),
            "notice": notice(NOTICES, done),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application(
    request: Request,
    actor: LoggedIn,
    application_id: ApplicationId,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _application_page(request, actor, application_id, done=done)


def _act(
    request: Request,
    actor: Principal,
    application_id: int,
    url: str,
    done: str,
    action: Any,
) -> Response:
    """Run one use case for an application's page: redirect on success, the page with the
    refusal on top otherwise."""
    try:
        action()
    except (AppError, ValidationError) as exc:
        status = _refusal_status(exc)
        _, message = _field_errors(exc)
        if isinstance(exc, AppError) and exc.field:
            message = exc.translated()
        return _application_page(request, actor, application_id, error=message, status_code=status)
    return _done(url, done)


@router.post("/applications/{application_id}/submit")
def submit(request: Request, actor: LoggedIn, application_id: ApplicationId) -> Response:
    return _act(
        request,
        actor,
        application_id,
        f"/applications/{application_id}",
        "submitted",
        lambda: service.submit_application(actor, application_id),
    )


@router.post("/applications/{application_id}/withdraw")
def withdraw(request: Request, actor: LoggedIn, application_id: ApplicationId) -> Response:
    return _act(
        request,
        actor,
        application_id,
        f"/applications/{application_id}",
        "withdrawn",
        lambda: service.withdraw_application(actor, application_id),
    )


@router.post("/applications/{application_id}/answer")
def answer(
    request: Request, actor: LoggedIn, application_id: ApplicationId, form: FormWithFiles
) -> Response:
    return _act(
        request,
        actor,
        application_id,
        f"/applications/{application_id}",
        "answered",
        lambda: service.answer_information_request(
            actor, application_id, AnswerCreate(comment=_text(form, "comment")[:4000] or None)
        ),
    )


def _page_of(actor: Principal, application_id: int, applicant_user_id: int | None) -> str:
    if applicant_user_id == actor.user_id:
        return f"/applications/{application_id}"
    return f"/back-office/applications/{application_id}"


@router.post("/applications/{application_id}/comments")
def comment(
    request: Request, actor: LoggedIn, application_id: ApplicationId, form: FormWithFiles
) -> Response:
    return _act(
        request,
        actor,
        application_id,
        _page_of(actor, application_id, _applicant_of(actor, application_id)),
        "commented",
        lambda: service.add_comment(
            actor, application_id, CommentCreate(body=_text(form, "body")[:4000] or " ")
        ),
    )


def _applicant_of(actor: Principal, application_id: int) -> int:
    return service.get_application(actor, application_id).applicant_user_id


async def _uploaded(form: Any) -> tuple[str, bytes]:
    """The file of the form's ``file`` field: its name and at most one byte past the limit
    (so the use case can say it is too large)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return "", b""
    return upload.filename or "", await upload.read(rules.MAX_ATTACHMENT_BYTES + 1)


def _file_response(stored: AttachmentFile) -> Response:
    return Response(
        stored.data,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/applications/{application_id}/attachments")
async def attach(request: Request, actor: LoggedIn, application_id: ApplicationId) -> Response:
    filename, data = await _uploaded(await request.form())
    return _act(
        request,
        actor,
        application_id,
        _page_of(actor, application_id, _applicant_of(actor, application_id)),
        "attached",
        lambda: service.add_attachment(actor, application_id, filename, data),
    )


@router.get("/applications/{application_id}/attachments/{attachment_id}")
def download(
    actor: LoggedIn,
    application_id: ApplicationId,
    attachment_id: IdPath,
) -> Response:
    return _file_response(service.get_attachment(actor, application_id, attachment_id))


# --- Back office ------------------------------------------------------------------------


@router.get("/back-office", response_class=HTMLResponse)
def back_office(
    request: Request,
    actor: LoggedIn,
    status: Annotated[str | None, Query(max_length=20)] = None,
    type: Annotated[str | None, Query(max_length=60)] = None,
    overdue: bool = False,
    mine: bool = False,
) -> HTMLResponse:
    filters = QueueFilter(status=status or None, type=type or None, overdue=overdue, mine=mine)
    queue = service.list_queue(actor, filters)
    return render(
        request,
        "portal/back_office.html",
        {
            "queue": queue,
            "filters": filters,
            "statuses": [
                (s.value, gettext(label))
                for s, label in rules.STATUS_LABELS.items()
                if s is not rules.Status.DRAFT
            ],
            "types": [(t.code, t.title) for t in service.list_application_types()],
        },
    )


@router.get("/back-office/applications/{application_id}", response_class=HTMLResponse)
def back_office_application(
    request: Request,
    actor: LoggedIn,
    application_id: ApplicationId,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _application_page(request, actor, application_id, done=done)


@router.post("/back-office/applications/{application_id}/assign")
def assign(
    request: Request, actor: LoggedIn, application_id: ApplicationId, form: FormWithFiles
) -> Response:
    raw = _text(form, "assignee_user_id")

    def run() -> None:
        assignee = int(raw) if raw.isdigit() and len(raw) < 19 else None
        if raw and assignee is None:
            AssignCreate.model_validate({"assignee_user_id": raw})
        service.assign_application(actor, application_id, AssignCreate(assignee_user_id=assignee))

    return _act(
        request,
        actor,
        application_id,
        f"/back-office/applications/{application_id}",
        "assigned",
        run,
    )


@router.post("/back-office/applications/{application_id}/decide")
def decide(
    request: Request, actor: LoggedIn, application_id: ApplicationId, form: FormWithFiles
) -> Response:
    def run() -> None:
        decision = DecisionCreate.model_validate(
            {"decision": _text(form, "decision"), "reason": _text(form, "reason") or None}
        )
        service.decide_application(actor, application_id, decision)

    return _act(
        request,
        actor,
        application_id,
        f"/back-office/applications/{application_id}",
        "decided",
        run,
    )


@router.post("/back-office/applications/{application_id}/complete")
def complete(request: Request, actor: LoggedIn, application_id: ApplicationId) -> Response:
    return _act(
        request,
        actor,
        application_id,
        f"/back-office/applications/{application_id}",
        "completed",
        lambda: service.complete_application(actor, application_id),
    )


# --- The citizen's single window ---------------------------------------------------------


@router.get("/my", response_class=HTMLResponse)
def my_services(request: Request, actor: LoggedIn) -> HTMLResponse:
    return render(request, "portal/my.html", {"overview": service.my_overview(actor)})


# --- The cabinet's documents ------------------------------------------------------------

DOCUMENTS_PAGE = "/my/documents"
DOCUMENT_FIELDS = ("person_id", "title")
DOCUMENT_NOTICES = {"added": N_("The document is kept in your cabinet.")}


def _documents_page(
    request: Request, actor: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    people = [(actor.person_id, gettext(N_("Mine")))] if actor.person_id else []
    people += [
        (child.id, f"{child.last_name} {child.first_name}") for child in accounts.list_family(actor)
    ]
    return render(
        request,
        "portal/documents.html",
        {
            "documents": service.list_my_documents(actor),
            "people": people,
            "values": {},
            "errors": FormErrors(),
            "notice": notice(DOCUMENT_NOTICES, request.query_params.get("done")),
            **context,
        },
        status_code=status_code,
    )


@router.get(DOCUMENTS_PAGE, response_class=HTMLResponse)
def my_documents(request: Request, actor: LoggedIn) -> HTMLResponse:
    return _documents_page(request, actor)


@router.post(DOCUMENTS_PAGE, response_class=HTMLResponse)
async def add_my_document(request: Request, actor: LoggedIn, form: FormWithFiles) -> Response:
    values = {name: _text(form, name) for name in DOCUMENT_FIELDS}
    filename, data = await _uploaded(form)
    try:
        document = CabinetDocumentCreate.model_validate(values)
        await run_in_threadpool(service.add_cabinet_document, actor, document, filename, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return await run_in_threadpool(
            _documents_page,
            request,
            actor,
            refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, (*DOCUMENT_FIELDS, "file")),
        )
    return redirect(f"{DOCUMENTS_PAGE}?done=added")


@router.get(f"{DOCUMENTS_PAGE}/{{document_id}}/file")
def my_document_file(actor: LoggedIn, document_id: IdPath) -> Response:
    return _file_response(service.get_my_document_file(actor, document_id))
