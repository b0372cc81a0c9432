"""Pages of exam results (thin: parse the form, call one service function, render).

Anyone: /education/exams (the look-up, as on the city portal: no login). A logged-in
citizen also subscribes there. Exam officials: /education/exams/import.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infocity.core.auth import Action, Principal, allowed
from infocity.core.errors import AppError
from infocity.core.i18n import N_
from infocity.education import errors, service
from infocity.education.schemas.exams import ExamImportRead, ExamLookup
from infocity.web.deps import client_ip, csrf_protect, page_principal, render
from infocity.web.forms import (
    Form,
    FormErrors,
    logged_in,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

LOOKUP_FIELDS = ("registration_code", "document_number")
NOTICES = {"subscribed": N_("We will notify you when results are published.")}
MAX_FILE_BYTES = 5 * 1024 * 1024


def _lookup_page(request: Request, *, status: int = 200, **context: Any) -> HTMLResponse:
    actor: Principal | None = page_principal(request)
    may_subscribe = actor is not None and allowed(actor, Action.EXAM_RESULTS_SUBSCRIBE)
    subscriptions = service.list_exam_subscriptions(actor) if may_subscribe else []
    context.setdefault("values", {})
    context.setdefault("errors", FormErrors())
    context.setdefault("found", None)
    return render(
        request,
        "education/exams/lookup.html",
        {
            "may_subscribe": may_subscribe,
            "subscriptions": subscriptions,
            "notice": notice(NOTICES, request.query_params.get("done")),
            **context,
        },
        status_code=status,
    )


@router.get("/education/exams", response_class=HTMLResponse)
def lookup_form(request: Request) -> HTMLResponse:
    return _lookup_page(request)


def _values(form: dict[str, str]) -> dict[str, str]:
    return {name: form.get(name, "") for name in LOOKUP_FIELDS}


@router.post("/education/exams", response_class=HTMLResponse)
def lookup(request: Request, form: Form) -> HTMLResponse:
    values = _values(form)
    try:
        found = service.look_up_exam_results(ExamLookup(**values), ip=client_ip(request))
    except (AppError, ValidationError) as exc:
        return _lookup_page(
            request,
            status=refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, LOOKUP_FIELDS),
        )
    return _lookup_page(request, values=values, found=found)


@router.post("/education/exams/subscribe", response_class=HTMLResponse)
def subscribe(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = _values(form)
    try:
        service.subscribe_to_exam_results(actor, ExamLookup(**values), ip=client_ip(request))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _lookup_page(
            request,
            status=refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, LOOKUP_FIELDS),
        )
    return redirect("/education/exams?done=subscribed")


def _import_page(
    request: Request,
    *,
    status: int = 200,
    imported: ExamImportRead | None = None,
    refused: errors.ResultsFileRefused | None = None,
    error: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "education/exams/import.html",
        {
            "imported": imported,
            "refused_rows": refused.translated_rows() if refused else [],
            "error": error or (refused.translated() if refused else None),
        },
        status_code=status,
    )


@router.get("/education/exams/import", response_class=HTMLResponse)
def import_form(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    if not allowed(actor, Action.EXAM_RESULTS_IMPORT):
        # The service says so in the user's language.
        service.import_exam_results(actor, b"")
    return _import_page(request)


@router.post("/education/exams/import", response_class=HTMLResponse)
async def import_file(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    form = await request.form()  # already read (and limited) for the CSRF check
    upload = form.get("file")
    data = b""
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_FILE_BYTES + 1)
    try:
        imported = await run_in_threadpool(service.import_exam_results, actor, data)
    except errors.ResultsFileRefused as exc:
        return await run_in_threadpool(_import_page, request, status=422, refused=exc)
    except AppError as exc:
        reraise_refusal(exc)
        return await run_in_threadpool(
            _import_page, request, status=exc.status, error=exc.translated()
        )
    return await run_in_threadpool(_import_page, request, imported=imported)
