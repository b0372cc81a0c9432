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

import xml.etree.ElementTree as ET  # building documents only, never parsing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from infocity.accounts import service as accounts
from infocity.core.errors import AppError
from infocity.core.i18n import gettext
from infocity.core.settings import get_settings
from infocity.housing import service
from infocity.housing.schemas import RequestFilter, ServiceRequestCreate, ServiceRequestRead

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Changes when the list of services or their definitions change (clients re-read them).
CHANGESET = "2026-11-25T00:00:00Z"
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

router = APIRouter(prefix=PREFIX, include_in_schema=False)


class Open311Error(Exception):
    """An error answered in the specification's format."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _status_of(exc: AppError, *, parameter_error: bool = False) -> int:
    # The specification's codes: 400 bad parameters, 403 invalid api_key, 404 not found.
    if exc.status == 401:
        return 403
    if exc.status == 422 or (parameter_error and exc.status == 404):
        return 400
    return exc.status


def _format_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


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
        element.text = str(value)


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
        raise Open311Error(404, "Unknown format: use .json or .xml")
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


@router.get("/discovery.{fmt}")
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


@router.get("/services.{fmt}")
def list_services(fmt: str) -> Response:
    body = [_service(kind.code) for kind in service.housing_services()]
    return _answer(fmt, "services", "service", body)


@router.get("/services/{code}.{fmt}")
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
        "address_id": str(request.apartment_id) if request.apartment_id else None,
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
        raise Open311Error(400, f"{name} must be a W3C date and time") from exc
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name} must include a time zone (Z or +HH:MM)")
    return parsed


@router.get("/requests.{fmt}")
def list_requests(request: Request, fmt: str) -> Response:
    query = request.query_params
    ids = _csv(query.get("service_request_id"))
    statuses = _csv(query.get("status"))
    if statuses and not set(statuses) <= {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both")
    try:
        filters = RequestFilter(
            ids=[int(i) for i in ids] if ids else None,
            service_codes=_csv(query.get("service_code")),
            statuses=statuses,
            start=_datetime("start_date", query.get("start_date")),
            end=_datetime("end_date", query.get("end_date")),
        )
    except ValueError as exc:
        raise Open311Error(400, "service_request_id must be numbers") from exc
    return _requests_answer(fmt, service.list_requests(filters))


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: str, fmt: str) -> Response:
    if not request_id.isdigit() or len(request_id) > 18:
        raise Open311Error(404, gettext("There is no such service request."))
    try:
        found = service.get_request(int(request_id))
    except AppError as exc:
        raise Open311Error(_status_of(exc), exc.translated()) from exc
    return _requests_answer(fmt, [found])


def _float(name: str, value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number") from exc


@router.post("/requests.{fmt}")
async def post_request(request: Request, fmt: str) -> Response:
    if fmt not in MEDIA_TYPES:
        raise Open311Error(404, "Unknown format: use .json or .xml")
    form = await request.form()
    params = {**request.query_params, **{k: v for k, v in form.items() if isinstance(v, str)}}
    api_key = params.get("api_key", "").strip()
    if not api_key:
        raise Open311Error(400, "api_key is required")
    if not params.get("service_code", "").strip():
        raise Open311Error(400, "service_code is required")
    latitude, longitude = _float("lat", params.get("lat")), _float("long", params.get("long"))
    if (latitude is None) != (longitude is None):
        raise Open311Error(400, "lat and long go together")
    address_id = params.get("address_id", "").strip()
    if latitude is None and not address_id and not params.get("address_string", "").strip():
        raise Open311Error(
            400, "A location is required: lat and long, address_string or address_id"
        )
    if address_id and (not address_id.isdigit() or len(address_id) > 18):
        raise Open311Error(400, "address_id must be the id of one of your apartments")
    principal = accounts.principal_from_api_token(api_key)
    if principal is None:
        raise Open311Error(403, "Invalid api_key")
    try:
        data = ServiceRequestCreate(
            service_code=params["service_code"].strip(),
            description=params.get("description", ""),
            apartment_id=int(address_id) if address_id else None,
            address=params.get("address_string") or None,
            latitude=latitude,
            longitude=longitude,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Open311Error(400, f"Invalid parameter {where}: {first['msg']}") from exc
    try:
        created = service.file_request(principal, data)
    except AppError as exc:
        raise Open311Error(_status_of(exc, parameter_error=True), exc.translated()) from exc
    body = [{"service_request_id": str(created.id), "service_notice": None, "account_id": None}]
    return _answer(fmt, "service_requests", "request", body)
