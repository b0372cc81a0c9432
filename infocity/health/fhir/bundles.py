"""FHIR responses: the media type, searchset Bundles with paging links, OperationOutcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from infocity.health.fhir.resources import Resource

FHIR_JSON = "application/fhir+json"

# FHIR's issue codes for the statuses refusals carry.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    422: "processing",
    429: "throttled",
}


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def operation_outcome(status: int, code: str, message: str) -> Resource:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error" if status >= 400 else "information",
                "code": ISSUE_CODES.get(status, "exception"),
                "details": {"coding": [{"system": "urn:infocity:error", "code": code}]},
                "diagnostics": message,
            }
        ],
    }


def error_response(_request: Request, status: int, code: str, message: str) -> Response:
    """Every refusal under /fhir/R4: an OperationOutcome with the message in the user's
    language and health's error code."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return FhirResponse(operation_outcome(status, code, message), status, headers=headers)


def searchset(
    request: Request,
    resources: Sequence[Resource],
    *,
    offset: int,
    count: int,
    more: bool,
    total: int | None = None,
) -> Resource:
    """A page of search results with ``self``, ``previous`` and ``next`` links that keep
    the search's parameters (``_offset`` and ``_count`` page through them)."""
    base = str(request.url).split("?", 1)[0]
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("_offset",)]

    def link(relation: str, at: int) -> dict[str, Any]:
        query = [*params, ("_offset", str(at))] if at else params
        return {"relation": relation, "url": f"{base}?{urlencode(query)}" if query else base}

    links = [link("self", offset)]
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    if more:
        links.append(link("next", offset + count))
    return _bundle(request, links, resources, total)


def keyset_searchset(
    request: Request, resources: Sequence[Resource], next_cursor: str | None
) -> Resource:
    """A page of a search paged by position: ``self``, ``first`` and, while more
    follow, a ``next`` link with the ``_cursor`` after this page's last resource."""
    base = str(request.url).split("?", 1)[0]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_cursor"]

    def link(relation: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        return {"relation": relation, "url": f"{base}?{urlencode(query)}" if query else base}

    links = [link("self", request.query_params.multi_items()), link("first", params)]
    if next_cursor is not None:
        links.append(link("next", [*params, ("_cursor", next_cursor)]))
    return _bundle(request, links, resources, None)


def _bundle(
    request: Request, links: list[dict[str, Any]], resources: Sequence[Resource], total: int | None
) -> Resource:
    bundle: Resource = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            # A proposed Appointment ($find) is not kept, so has no id and no address.
            ({"fullUrl": f"{_root(request)}/{r['resourceType']}/{r['id']}"} if "id" in r else {})
            | {"resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }
    if total is not None:
        bundle["total"] = total
    return bundle


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/R4"
