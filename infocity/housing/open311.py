"""Open311 GeoReport v2: housing service requests through the standard API.

Served under ``/open311/v2/`` with the service discovery document at
``/open311/v2/discovery.{json,xml}``. The format is chosen by the extension, as the
specification does; errors are the specification's array of ``{code, description}``
(``<errors><error>…</error></errors>`` in XML), ``code`` being the HTTP status.

``api_key`` (POST requests) is the citizen's InfoCity bearer token, the one a mobile app
gets from ``POST /api/v1/auth/token``: every request has a citizen who filed it and who
is told of every status change. Device keys are not accepted (see docs/housing.md).

Thin: parse, call one service function, answer.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # building documents only, never parsing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from infocity.accounts import service as accounts
from infocity.core.errors import AppError
from infocity.core.i18n import N_, gettext
from infocity.core.schemas import MAX_ID
from infocity.core.settings import get_settings
from infocity.housing import service
from infocity.housing.schemas import (
    XML_ILLEGAL,
    RequestFilter,
    ServiceRequestCreate,
    ServiceRequestRead,
)

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Changes when the list of services or their definitions change (clients re-read them).
CHANGESET = "2026-11-25T00:00:00Z"
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Clients check a resource with HEAD before they GET it.
READ = ["GET", "HEAD"]
MAX_IDS = 1000  # service_request_id values in one GET (the most one answer lists)
_ROW_ID = re.compile(r"[0-9]{1,19}")
MIN_YEAR, MAX_YEAR = 1900, 2200  # dates people can mean in start_date and end_date

UNKNOWN_FORMAT = N_("Unknown format: use .json or .xml.")
NOT_A_DATE = N_("%(name)s must be a W3C date and time.")
NO_TIME_ZONE = N_("%(name)s must include a time zone (Z or +HH:MM).")
BAD_STATUS = N_("status must be open, closed or both.")
BAD_IDS = N_("service_request_id must be request numbers separated by commas.")
NOT_A_NUMBER = N_("%(name)s must be a number.")
KEY_REQUIRED = N_("api_key is required.")
CODE_REQUIRED = N_("service_code is required.")
LAT_AND_LONG = N_("lat and long go together.")
LOCATION_REQUIRED = N_("A location is required: lat and long, address_string or address_id.")
BAD_ADDRESS_ID = N_("address_id must be the id of one of your apartments.")
BAD_KEY = N_("Invalid api_key.")
BAD_PARAMETER = N_("Invalid parameter %(name)s: %(reason)s")
BAD_VALUE = N_("the value is not valid.")

router = APIRouter(prefix=PREFIX, include_in_schema=False)


class Open311Error(Exception):
    """An error answered in the specification's format (``description`` is translated)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, message_id: str, **params: Any) -> Open311Error:
    return Open311Error(status, gettext(message_id, **params))


def _status_of(exc: AppError, *, parameter_error: bool = False) -> int:
    # The specification's codes: 400 bad parameters, 403 invalid api_key, 404 not found.
    if exc.status == 401:
        return 403
    if exc.status == 422 or (parameter_error and exc.status == 404):
        return 400
    return exc.status


def _format_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def _xml_text(value: str) -> str:
    # Never write what XML cannot carry (rows older than the check on the way in).
    return XML_ILLEGAL.sub("", value)


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _xml_value(element, key, item)
    elif isinstance(value, list):
        child = name[:-1] if name.endswith("s") else "item"
        for item in value:
            _xml_value(element, child, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _xml_text(str(value))


def _xml(root: str, item: str | None, body: Any) -> bytes:
    document = ET.Element(root)
    if item is None:
        for key, value in body.items():
            _xml_value(document, key, value)
    else:
        for entry in body:
            _xml_value(document, item, entry)
    text: bytes = ET.tostring(document, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text


def _answer(fmt: str, root: str, item: str | None, body: Any, status_code: int = 200) -> Response:
    if fmt not in MEDIA_TYPES:
        raise _error(404, UNKNOWN_FORMAT)
    if fmt == "json":
        return JSONResponse(body, status_code=status_code, media_type=MEDIA_TYPES["json"])
    return Response(_xml(root, item, body), status_code, media_type=MEDIA_TYPES["xml"])


def error_response(request: Request, status: int, _code: str, message: str) -> Response:
    """Any error under /open311/: the specification's list of errors."""
    errors = [{"code": status, "description": message}]
    if _format_of(request.url.path) == "xml":
        return Response(_xml("errors", "error", errors), status, media_type=MEDIA_TYPES["xml"])
    return JSONResponse(errors, status_code=status, media_type=MEDIA_TYPES["json"])


def open311_errors(request: Request, exc: Open311Error) -> Response:
    return error_response(request, exc.status, "", exc.description)


# --- Discovery and services ----------------------------------------------------------------


@router.api_route("/discovery.{fmt}", methods=READ)
def discovery(fmt: str) -> Response:
    base = get_settings().base_url.rstrip("/")
    body = {
        "changeset": CHANGESET,
        "contact": gettext("Write to the city's housing service through InfoCity."),
        "key_service": f"{base}/api/v1/docs",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{base}{PREFIX}",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return _answer(fmt, "discovery", None, body)


def _service(code: str) -> dict[str, Any]:
    kind = service.housing_service(code)
    return {
        "service_code": kind.code,
        "service_name": gettext(kind.name),
        "description": gettext(kind.description),
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(kind.keywords),
        "group": gettext("Housing"),
    }


@router.api_route("/services.{fmt}", methods=READ)
def list_services(fmt: str) -> Response:
    body = [_service(kind.code) for kind in service.housing_services()]
    return _answer(fmt, "services", "service", body)


@router.api_route("/services/{code}.{fmt}", methods=READ)
def service_definition(code: str, fmt: str) -> Response:
    try:
        kind = service.housing_service(code)
    except AppError as exc:
        raise Open311Error(404, exc.translated()) from exc
    # No service asks for extra attributes (metadata is false for every one).
    return _answer(fmt, "service_definition", None, {"service_code": kind.code, "attributes": []})


# --- Service requests ------------------------------------------------------------------------


def _request_body(request: ServiceRequestRead, operators: Mapping[int, str]) -> dict[str, Any]:
    kind = service.housing_service(request.service_code)
    notes = request.status_notes
    if notes is None and request.status in ("acknowledged", "in_progress"):
        notes = gettext(service.request_status_label(request.status))
    return {
        "service_request_id": str(request.id),
        "status": service.open311_status(request.status),
        "status_notes": notes,
        "service_name": gettext(kind.name),
        "service_code": request.service_code,
        "description": request.description,
        "agency_responsible": operators.get(request.operator_id),
        "service_notice": None,
        "requested_datetime": request.created_at.isoformat(),
        "updated_datetime": request.updated_at.isoformat(),
        "expected_datetime": None,
        "address": request.address,
        # The apartment's id is internal: it would tell who filed which requests.
        "address_id": None,
        "zipcode": None,
        "lat": request.latitude,
        "long": request.longitude,
        "media_url": None,
    }


def _requests_answer(fmt: str, requests: Sequence[ServiceRequestRead]) -> Response:
    operators = service.operator_names({r.operator_id for r in requests})
    body = [_request_body(r, operators) for r in requests]
    return _answer(fmt, "service_requests", "request", body)


def _csv(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def _datetime(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise _error(400, NOT_A_DATE, name=name) from exc
    if parsed.tzinfo is None:
        raise _error(400, NO_TIME_ZONE, name=name)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:  # the 90-day arithmetic must not overflow
        raise _error(400, NOT_A_DATE, name=name)
    return parsed


def _row_id(value: str) -> int | None:
    """A row id written in ASCII digits, or None (str.isdigit would take "²", which int()
    refuses, and numbers past any row id would overflow the database's BIGINT)."""
    if not _ROW_ID.fullmatch(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def _ids(value: str) -> list[int]:
    ids = [_row_id(i) for i in _csv(value) or []]
    numbers = [i for i in ids if i is not None]
    if not ids or len(ids) > MAX_IDS or len(numbers) != len(ids):
        raise _error(400, BAD_IDS)
    return numbers


@router.api_route("/requests.{fmt}", methods=READ)
def list_requests(request: Request, fmt: str) -> Response:
    query = request.query_params
    if query.get("service_request_id", "").strip():
        # The specification: service_request_id overrides every other parameter.
        filters = RequestFilter(ids=_ids(query["service_request_id"]))
    else:
        statuses = _csv(query.get("status"))
        if statuses and not set(statuses) <= {"open", "closed"}:
            raise _error(400, BAD_STATUS)
        filters = RequestFilter(
            service_codes=_csv(query.get("service_code")),
            statuses=statuses,
            start=_datetime("start_date", query.get("start_date")),
            end=_datetime("end_date", query.get("end_date")),
        )
    try:
        found = service.list_requests(filters)
    except AppError as exc:
        raise Open311Error(_status_of(exc), exc.translated()) from exc
    return _requests_answer(fmt, found)


@router.api_route("/requests/{request_id}.{fmt}", methods=READ)
def get_request(request_id: str, fmt: str) -> Response:
    number = _row_id(request_id)
    if number is None:
        raise Open311Error(404, gettext("There is no such service request."))
    try:
        found = service.get_request(number)
    except AppError as exc:
        raise Open311Error(_status_of(exc), exc.translated()) from exc
    return _requests_answer(fmt, [found])


def _float(name: str, value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise _error(400, NOT_A_NUMBER, name=name) from exc


def _invalid(exc: ValidationError) -> Open311Error:
    first = exc.errors()[0]
    names = {"address": "address_string", "apartment_id": "address_id", "latitude": "lat"}
    name = str(first["loc"][-1]) if first["loc"] else ""
    reason = BAD_VALUE
    if first["type"] == "value_error" and "ctx" in first:
        reason = str(first["ctx"].get("error", ""))  # our validators' English message id
    return _error(400, BAD_PARAMETER, name=names.get(name, name), reason=gettext(reason))


@router.post("/requests.{fmt}")
async def post_request(request: Request, fmt: str) -> Response:
    if fmt not in MEDIA_TYPES:
        raise _error(404, UNKNOWN_FORMAT)
    form = await request.form()
    params = {**request.query_params, **{k: v for k, v in form.items() if isinstance(v, str)}}
    api_key = params.get("api_key", "").strip()
    if not api_key:
        raise _error(403, KEY_REQUIRED)  # the specification: 403 for a missing api_key
    code = params.get("service_code", "").strip()
    if not code:
        raise _error(400, CODE_REQUIRED)
    try:
        service.housing_service(code)
    except AppError as exc:  # the specification: 404 for a service_code not found
        raise Open311Error(404, exc.translated()) from exc
    latitude, longitude = _float("lat", params.get("lat")), _float("long", params.get("long"))
    if (latitude is None) != (longitude is None):
        raise _error(400, LAT_AND_LONG)
    address_id = params.get("address_id", "").strip()
    if latitude is None and not address_id and not params.get("address_string", "").strip():
        raise _error(400, LOCATION_REQUIRED)
    apartment_id = _row_id(address_id) if address_id else None
    if address_id and apartment_id is None:
        raise _error(400, BAD_ADDRESS_ID)
    actor = accounts.principal_from_api_token(api_key)
    if actor is None:
        raise _error(403, BAD_KEY)
    try:
        data = ServiceRequestCreate(
            service_code=code,
            description=params.get("description", ""),
            apartment_id=apartment_id,
            address=params.get("address_string") or None,
            latitude=latitude,
            longitude=longitude,
        )
    except ValidationError as exc:
        raise _invalid(exc) from exc
    try:
        created = service.file_request(actor, data)
    except AppError as exc:
        if exc.status == 429:
            raise  # answered with Retry-After by the application's handler
        raise Open311Error(_status_of(exc, parameter_error=True), exc.translated()) from exc
    body = [{"service_request_id": str(created.id), "service_notice": None, "account_id": None}]
    return _answer(fmt, "service_requests", "request", body)
