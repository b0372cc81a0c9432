"""Kiosk pages keep the identified patient only in a short-lived signed cookie
(``KIOSK_COOKIE``, two minutes idle, renewed on every page) that carries the person id and
its expiry, never the policy number or the date of birth; booking then goes through
``service.book_identified_patient``. "Finish" deletes the cookie, so one patient's
session never reaches the next one at the same screen."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError

from infocity.core.db import utcnow
from infocity.core.errors import AppError, InvalidInput
from infocity.core.i18n import N_, gettext
from infocity.core.schemas import MAX_ID
from infocity.core.settings import get_settings
from infocity.health import reads, service
from infocity.health.pages.common import Code, Day, OptionalId, _notice, _page, _parse_date
from infocity.health.schemas import IdentifiedBookingCreate
from infocity.web.deps import client_ip
from infocity.web.forms import CHECK_FIELDS, Form, FormErrors, IdPath, filled, redirect

router = APIRouter(include_in_schema=False)


KIOSK_COOKIE = "infocity_kiosk"
# A kiosk session left idle this long is over: the next person at the screen must not
# find the last one identified. The page's own timer (static/kiosk.js) returns to the
# start at the same moment.
KIOSK_SECONDS = 120


# --- Kiosk ---------------------------------------------------------------------------


def _kiosk_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="health-kiosk")


def _kiosk_identity(request: Request) -> int | None:
    """The person id the kiosk identified in this session, if the cookie is genuine and
    not expired. The cookie carries nothing else: no policy number, no birth date."""
    raw = request.cookies.get(KIOSK_COOKIE)
    if not raw:
        return None
    try:
        value = _kiosk_serializer().loads(raw, max_age=KIOSK_SECONDS)
    except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
        return None
    if not isinstance(value, dict):
        return None
    person_id, expires = value.get("p"), value.get("e")
    if not isinstance(person_id, int) or not isinstance(expires, int):
        return None
    if expires <= int(utcnow().timestamp()):
        return None
    return person_id


def _set_kiosk_cookie(response: Response, person_id: int) -> None:
    expires = int(utcnow().timestamp()) + KIOSK_SECONDS
    response.set_cookie(
        KIOSK_COOKIE,
        _kiosk_serializer().dumps({"p": person_id, "e": expires}),
        max_age=KIOSK_SECONDS,
        path="/kiosk",
        httponly=True,
        samesite="strict",
        secure=get_settings().secure_cookies,
    )


def _kiosk_page(
    request: Request,
    person_id: int | None,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    response = _page(
        request,
        template,
        {"kiosk": True, "kiosk_idle_seconds": KIOSK_SECONDS, **context},
        status_code,
    )
    if person_id is not None:  # every page renews the idle time
        _set_kiosk_cookie(response, person_id)
    return response


def _to_kiosk_start() -> RedirectResponse:
    return redirect("/kiosk?expired=1")


KIOSK_FIELDS = ("oms_policy", "birth_date")


@router.get("/kiosk", response_class=HTMLResponse)
def kiosk_start(request: Request, expired: bool = False, finished: bool = False) -> Response:
    if _kiosk_identity(request) is not None:
        return redirect("/kiosk/specialties")
    notice = None
    if finished:
        notice = gettext(N_("Thank you! The session is finished."))
    errors = FormErrors(form=gettext(N_("The session has ended. Please identify yourself again.")))
    return _kiosk_page(
        request,
        None,
        "kiosk_start.html",
        {"values": {}, "errors": errors if expired else FormErrors(), "notice": notice},
    )


@router.post("/kiosk", response_class=HTMLResponse)
def kiosk_identify(request: Request, form: Form) -> Response:
    values = {name: form.get(name, "").strip()[:40] for name in KIOSK_FIELDS}
    try:
        required = gettext(N_("This field is required."))
        missing = {name: required for name in KIOSK_FIELDS if not values[name]}
        if missing:
            raise _Missing(missing)
        birth_date = _parse_date(values["birth_date"], "birth_date")
        person_id = service.identify_patient(
            values["oms_policy"], birth_date, ip=client_ip(request)
        )
    except _Missing as exc:
        errors = FormErrors(exc.fields, gettext(CHECK_FIELDS))
        return _kiosk_page(
            request,
            None,
            "kiosk_start.html",
            {"values": values, "errors": errors, "notice": None},
            422,
        )
    except AppError as exc:
        return _kiosk_page(
            request,
            None,
            "kiosk_start.html",
            {"values": values, "errors": FormErrors.of(exc, KIOSK_FIELDS), "notice": None},
            exc.status,
        )
    response = redirect("/kiosk/specialties")
    _set_kiosk_cookie(response, person_id)
    return response


class _Missing(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("missing")
        self.fields = fields


@router.get("/kiosk/specialties", response_class=HTMLResponse)
def kiosk_specialties(request: Request) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    home = reads.kiosk_home(identity)
    return _kiosk_page(request, identity, "index.html", {"home": home})


@router.get("/kiosk/slots", response_class=HTMLResponse)
def kiosk_slots(
    request: Request,
    specialty: Code,
    referral: OptionalId = None,
    doctor: OptionalId = None,
    day: Day = None,
) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    choice = reads.kiosk_slots(identity, specialty, referral, doctor_id=doctor, day=day)
    return _kiosk_page(request, identity, "slots.html", {"choice": choice, "base": "/kiosk"})


@router.get("/kiosk/confirm", response_class=HTMLResponse)
def kiosk_confirm(
    request: Request,
    slot: Annotated[int, Query(ge=1, le=MAX_ID)],
    referral: OptionalId = None,
) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    confirmation = reads.kiosk_confirmation(identity, slot, referral)
    return _kiosk_page(
        request,
        identity,
        "confirm.html",
        {"confirmation": confirmation, "errors": FormErrors()},
    )


@router.post("/kiosk/book", response_class=HTMLResponse)
def kiosk_book(request: Request, form: Form) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    try:
        data = IdentifiedBookingCreate(**filled(form, ("slot_id", "referral_id")))
    except ValidationError as exc:
        raise InvalidInput("invalid_input", N_("Some fields are filled in incorrectly.")) from exc
    try:
        appointment = service.book_identified_patient(identity, data, channel="kiosk")
    except AppError as exc:
        confirmation = reads.kiosk_confirmation(identity, data.slot_id, data.referral_id)
        return _kiosk_page(
            request,
            identity,
            "confirm.html",
            {"confirmation": confirmation, "errors": FormErrors.of(exc)},
            exc.status,
        )
    return redirect(f"/kiosk/tickets/{appointment.id}")


@router.get("/kiosk/tickets/{appointment_id}", response_class=HTMLResponse)
def kiosk_ticket(request: Request, appointment_id: IdPath) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    appointment = reads.kiosk_ticket(identity, appointment_id)
    return _kiosk_page(
        request,
        identity,
        "ticket.html",
        {"appointment": appointment, "notice": _notice("booked")},
    )


@router.post("/kiosk/finish")
def kiosk_finish() -> RedirectResponse:
    response = redirect("/kiosk?finished=1")
    response.delete_cookie(KIOSK_COOKIE, path="/kiosk")
    return response
