"""HTML pages of housing and utilities (thin: parse the form, call one service function,
render). Every page works without JavaScript; a refused form is shown again with the
message, and a change that succeeded redirects (POST-redirect-GET).

Citizens: /housing (apartments, link form), /housing/apartments/{id} (meters, readings,
chart, bills, debt), /housing/bills/{id} (printable) and .pdf, /housing/requests/new,
/housing/requests/mine and /housing/requests/{id} (history, photos, reopen, rating; the
operator's staff see it too). Operators: /housing/requests (the queue).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infocity.core.auth import Action, Principal, allowed
from infocity.core.errors import AppError, InvalidFields
from infocity.core.i18n import N_, gettext
from infocity.housing import pdf, qr, rules, service
from infocity.housing.chart import consumption_svg
from infocity.housing.schemas import (
    ApartmentLinkCreate,
    BankDetailsCreate,
    ReadingCreate,
    ReadingsCreate,
    RequestRating,
    RequestReopen,
    ServiceRequestCreate,
    ServiceRequestUpdate,
)
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import (
    CHECK_FIELDS,
    Form,
    IdPath,
    field_messages,
    logged_in,
    notice,
    redirect,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

NOTICES = {
    "linked": N_("The apartment is linked to your cabinet."),
    "reading": N_("The reading is saved."),
    "filed": N_("Your request has been sent to the housing operator."),
    "updated": N_("The request is updated; the citizen has been notified."),
    "photo": N_("The photo is added."),
    "reopened": N_("The request is reopened and back with the housing operator."),
    "rated": N_("Thank you for rating the outcome."),
    "bank_details": N_("The bank details are saved; bills show them from now on."),
}


def _message(exc: AppError | ValidationError) -> str:
    """What to show above a refused form; not logged in or not allowed goes up.

    Invalid input is told by its reasons: most of these forms mark no field, so "correct
    the marked fields" would point at nothing."""
    if isinstance(exc, AppError):
        if exc.status in (401, 403):
            raise exc
        return exc.translated()
    return " ".join(dict.fromkeys(field_messages(exc).values())) or gettext(CHECK_FIELDS)


def _notice(request: Request) -> str | None:
    return notice(NOTICES, request.query_params.get("done"))


def _common() -> dict[str, Any]:
    return {
        "service_labels": rules.SERVICE_LABELS,
        "units": rules.UNITS,
        "status_labels": rules.STATUS_LABELS,
        "operator_steps": functools.partial(rules.next_steps, mover=rules.Mover.OPERATOR),
        "services": service.housing_services(),
        "quantity": rules.format_quantity,
    }


# --- Citizen: apartments and readings ------------------------------------------------------


def _index(request: Request, actor: Principal, **context: Any) -> HTMLResponse:
    return render(
        request,
        "housing/index.html",
        {
            "apartments": service.list_my_apartments(actor),
            "values": {},
            "error": None,
            "field_errors": {},
            "notice": _notice(request),
            **_common(),
            **context,
        },
    )


@router.get("/housing", response_class=HTMLResponse)
def housing_home(request: Request) -> Response:
    actor = logged_in(request)
    if actor.kind != "citizen" and allowed(actor, Action.HOUSING_REQUESTS_PROCESS):
        return redirect("/housing/requests")
    return _index(request, actor)


@router.post("/housing/link", response_class=HTMLResponse)
def link_apartment(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = {"payer_code": form.get("payer_code", "").strip(), "number": form.get("number", "")}
    try:
        apartment = service.link_apartment(actor, ApartmentLinkCreate(**values))
    except (AppError, ValidationError) as exc:
        status = exc.status if isinstance(exc, AppError) else 422
        # This form marks invalid input at its field, so the top can point at the marks.
        fields = field_messages(exc) if isinstance(exc, ValidationError) else {}
        error = gettext(CHECK_FIELDS) if fields else _message(exc)
        response = _index(request, actor, values=values, error=error, field_errors=fields)
        response.status_code = status
        return response
    return redirect(f"/housing/apartments/{apartment.id}?done=linked")


def _apartment_page(
    request: Request, actor: Principal, apartment_id: int, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    overview = service.get_apartment_overview(actor, apartment_id)
    charts = {
        meter.id: consumption_svg(
            meter,
            gettext(N_("Monthly consumption, meter %(serial)s"), serial=meter.serial),
            gettext(rules.UNITS[meter.kind]),
        )
        for meter in overview.meters
    }
    context = {
        "overview": overview,
        "charts": charts,
        "notice": _notice(request),
        "error": None,
        "field_errors": {},
        "values": {},
        "confirm": set(),
        **_common(),
        **extra,
    }
    return render(request, "housing/apartment.html", context, status_code=status_code)


@router.get("/housing/apartments/{apartment_id}", response_class=HTMLResponse)
def apartment(request: Request, apartment_id: IdPath) -> HTMLResponse:
    return _apartment_page(request, logged_in(request), apartment_id)


READING_FIELD = "value-"
NOT_A_READING = N_("Enter the number shown on the meter, for example 123.45.")


@router.post("/housing/apartments/{apartment_id}/readings", response_class=HTMLResponse)
def submit_readings(request: Request, apartment_id: IdPath, form: Form) -> Response:
    """One form for every meter of the apartment (``value-<meter id>``; a blank one is
    left alone): saved all together, or none with each refused reading marked."""
    actor = logged_in(request)
    typed = {
        key.removeprefix(READING_FIELD): value.strip()
        for key, value in form.items()
        if key.startswith(READING_FIELD) and key.removeprefix(READING_FIELD).isdigit()
    }
    typed = {meter: text for meter, text in typed.items() if text}
    readings: list[ReadingCreate] = []
    field_errors: dict[str, str] = {}
    for meter, text in typed.items():
        try:
            readings.append(
                ReadingCreate(
                    meter_id=int(meter), value=text, confirm=form.get(f"confirm-{meter}") == "1"
                )
            )
        except (ValueError, ValidationError):
            field_errors[READING_FIELD + meter] = gettext(NOT_A_READING)
    page = functools.partial(_apartment_page, request, actor, apartment_id, values=typed)
    if not typed:
        return page(422, error=gettext(N_("Enter the reading of at least one meter.")))
    if field_errors:
        return page(422, error=gettext(CHECK_FIELDS), field_errors=field_errors)
    try:
        service.submit_readings(actor, apartment_id, ReadingsCreate(readings=readings))
    except InvalidFields as exc:
        refused = [e for e in exc.errors if e.field]
        confirm = {
            e.field.removeprefix(READING_FIELD)
            for e in refused
            if e.field and e.code == "reading_needs_confirmation"
        }
        # Only readings to confirm: the answer is "are you sure?", not "this is wrong".
        status = 409 if len(confirm) == len(refused) else 422
        return page(
            status,
            error=gettext(CHECK_FIELDS),
            field_errors={e.field: e.translated() for e in refused if e.field},
            confirm=confirm,
        )
    except AppError as exc:
        if exc.status in (401, 403):
            raise
        return page(exc.status, error=exc.translated())
    return redirect(f"/housing/apartments/{apartment_id}?done=reading")


# --- Bills ------------------------------------------------------------------------------------


@router.get("/housing/bills/{bill_id}.pdf")
def bill_pdf(request: Request, bill_id: IdPath) -> Response:
    bill = service.get_bill(logged_in(request), bill_id)
    filename = f"bill-{bill.apartment.payer_code}-{bill.period:%Y-%m}.pdf"
    return Response(
        pdf.bill_pdf(bill),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get("/housing/bills/{bill_id}", response_class=HTMLResponse)
def bill(request: Request, bill_id: IdPath) -> HTMLResponse:
    found = service.get_bill(logged_in(request), bill_id)
    code = (
        qr.svg(found.payment_qr, title=gettext(N_("Payment QR code"))) if found.payment_qr else None
    )
    return render(
        request,
        "housing/bill.html",
        {
            "bill": found,
            "payment_qr_svg": code,
            "no_bank_details": pdf.NO_BANK_DETAILS,
            **_common(),
        },
    )


# --- Service requests --------------------------------------------------------------------------


@router.get("/housing/requests/new", response_class=HTMLResponse)
def new_request(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    values = {"service_code": request.query_params.get("service_code", "")}
    return render(
        request,
        "housing/request_new.html",
        {
            "apartments": service.list_my_apartments(actor),
            "values": values,
            "error": None,
            **_common(),
        },
    )


@router.post("/housing/requests/new", response_class=HTMLResponse)
def file_request(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = {k: form.get(k, "") for k in ("service_code", "apartment_id", "description")}
    try:
        service.file_request(
            actor,
            ServiceRequestCreate(
                service_code=values["service_code"],
                apartment_id=int(values["apartment_id"]) if values["apartment_id"] else None,
                description=values["description"],
            ),
        )
    except (AppError, ValidationError, ValueError) as exc:
        error = (
            _message(exc) if isinstance(exc, AppError | ValidationError) else gettext(CHECK_FIELDS)
        )
        return render(
            request,
            "housing/request_new.html",
            {
                "apartments": service.list_my_apartments(actor),
                "values": values,
                "error": error,
                **_common(),
            },
            status_code=exc.status if isinstance(exc, AppError) else 422,
        )
    return redirect("/housing/requests/mine?done=filed")


@router.get("/housing/requests/mine", response_class=HTMLResponse)
def my_requests(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    return render(
        request,
        "housing/requests_mine.html",
        {
            "requests": service.list_my_requests(actor),
            "notice": _notice(request),
            **_common(),
        },
    )


SHOW = Annotated[str, Query(pattern=r"^(active|closed|all)$")]


def _bills_an_operator(actor: Principal) -> bool:
    """Whether the staff member may set their operator's bank details (a link shows)."""
    try:
        service.my_operator_id(actor)
    except AppError:
        return False
    return True


@router.get("/housing/requests", response_class=HTMLResponse)
def request_queue(request: Request, show: SHOW = "active") -> HTMLResponse:
    actor = logged_in(request)
    return render(
        request,
        "housing/queue.html",
        {
            "bills_operator": _bills_an_operator(actor),
            "requests": service.list_request_queue(actor, show=show),
            "show": show,
            "notice": _notice(request),
            "error": None,
            **_common(),
        },
    )


@router.post("/housing/requests/{request_id}/status", response_class=HTMLResponse)
def update_request(request: Request, request_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    try:
        service.update_request_status(
            actor,
            request_id,
            ServiceRequestUpdate(status=form.get("status", ""), note=form.get("note") or None),
        )
    except (AppError, ValidationError) as exc:
        return render(
            request,
            "housing/queue.html",
            {
                "bills_operator": _bills_an_operator(actor),
                "requests": service.list_request_queue(actor),
                "show": "active",
                "notice": None,
                "error": _message(exc),
                **_common(),
            },
            status_code=exc.status if isinstance(exc, AppError) else 422,
        )
    return redirect("/housing/requests?done=updated")


# --- One request: its page, photos, reopening, rating ------------------------------------------


def _request_page(
    request: Request, actor: Principal, request_id: int, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    detail = service.get_request_detail(actor, request_id)
    context = {
        "detail": detail,
        "notice": _notice(request),
        "error": None,
        "field_errors": {},
        "values": {},
        "max_photos": rules.MAX_PHOTOS,
        **_common(),
        **extra,
    }
    return render(request, "housing/request.html", context, status_code=status_code)


def _refused(
    request: Request,
    actor: Principal,
    request_id: int,
    exc: AppError | ValidationError,
    **extra: Any,
) -> HTMLResponse:
    if isinstance(exc, AppError) and exc.status in (401, 403):
        raise exc
    status = exc.status if isinstance(exc, AppError) else 422
    return _request_page(request, actor, request_id, status, error=_message(exc), **extra)


@router.get("/housing/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: IdPath) -> HTMLResponse:
    return _request_page(request, logged_in(request), request_id)


@router.post("/housing/requests/{request_id}/photos", response_class=HTMLResponse)
async def add_photo(request: Request, request_id: IdPath) -> Response:
    actor = logged_in(request)
    form = await request.form()  # already read (and limited) for the CSRF check
    upload = form.get("file")
    filename, data = "", b""
    if isinstance(upload, UploadFile):
        filename = upload.filename or ""
        data = await upload.read(rules.MAX_PHOTO_BYTES + 1)
    try:
        await run_in_threadpool(service.add_request_photo, actor, request_id, filename, data)
    except AppError as exc:
        return await run_in_threadpool(_refused, request, actor, request_id, exc)
    return redirect(f"/housing/requests/{request_id}?done=photo")


@router.get("/housing/requests/{request_id}/photos/{photo_id}")
def request_photo(request: Request, request_id: IdPath, photo_id: IdPath) -> Response:
    photo = service.get_request_photo(logged_in(request), request_id, photo_id)
    return Response(
        photo.data,
        media_type=photo.content_type,
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(photo.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/housing/requests/{request_id}/reopen", response_class=HTMLResponse)
def reopen_request(request: Request, request_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    values = {"reason": form.get("reason", "")}
    try:
        service.reopen_request(actor, request_id, RequestReopen(**values))
    except (AppError, ValidationError) as exc:
        return _refused(request, actor, request_id, exc, values=values)
    return redirect(f"/housing/requests/{request_id}?done=reopened")


@router.post("/housing/requests/{request_id}/rating", response_class=HTMLResponse)
def rate_request(request: Request, request_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    try:
        rating = RequestRating(rating=form.get("rating", ""))
    except ValidationError:
        return _request_page(
            request,
            actor,
            request_id,
            422,
            error=gettext(N_("Choose a rating from 1 to 5.")),
        )
    try:
        service.rate_request(actor, request_id, rating)
    except AppError as exc:
        return _refused(request, actor, request_id, exc)
    return redirect(f"/housing/requests/{request_id}?done=rated")


# --- Operator: bank details for the bills ------------------------------------------------------

BANK_FIELDS = ("name", "personal_account", "bank_name", "bic", "correspondent_account", "inn")


def _bank_page(
    request: Request, values: dict[str, str], status_code: int = 200, **extra: Any
) -> HTMLResponse:
    context = {"values": values, "error": None, "field_errors": {}, "notice": _notice(request)}
    return render(request, "housing/bank_details.html", {**context, **extra}, status_code)


@router.get("/housing/bank-details", response_class=HTMLResponse)
def bank_details(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    found = service.get_operator_bank_details(actor, service.my_operator_id(actor))
    values = {key: getattr(found, key) for key in BANK_FIELDS} if found else {}
    return _bank_page(request, values)


@router.post("/housing/bank-details", response_class=HTMLResponse)
def save_bank_details(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = {key: form.get(key, "").strip() for key in BANK_FIELDS}
    try:
        service.set_operator_bank_details(
            actor, service.my_operator_id(actor), BankDetailsCreate(**values)
        )
    except InvalidFields as exc:
        fields = {e.field: e.translated() for e in exc.errors if e.field}
        return _bank_page(request, values, 422, error=gettext(CHECK_FIELDS), field_errors=fields)
    except (AppError, ValidationError) as exc:
        fields = field_messages(exc) if isinstance(exc, ValidationError) else {}
        error = gettext(CHECK_FIELDS) if fields else _message(exc)
        status = exc.status if isinstance(exc, AppError) else 422
        return _bank_page(request, values, status, error=error, field_errors=fields)
    return redirect("/housing/bank-details?done=bank_details")
