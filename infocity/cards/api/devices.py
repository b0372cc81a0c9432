"""JSON routes of turnstiles and tills: event batches and till authorization. A device
names itself by its key in the ``X-Device-Key`` header."""

from __future__ import annotations

import email.message
import json
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from pydantic import TypeAdapter, ValidationError

from infocity.accounts import service as accounts
from infocity.accounts.service import DeviceIdentity
from infocity.cards import errors, service
from infocity.cards.rules.events import MAX_BATCH
from infocity.cards.schemas.events import AuthorizationAsk, AuthorizationRead, BatchRead
from infocity.web.errors import error_responses

router = APIRouter(prefix="/cards/devices", tags=["cards"])

# Turnstiles, tills and transit validators name themselves by their key in a header of
# its own, not ``Authorization``: a validator's answer may be cached, and responses to
# requests with an Authorization header are marked no-store for browsers' sake.
device_key = APIKeyHeader(
    name="X-Device-Key",
    scheme_name="device_key",
    description="The device's key, issued by a city administrator",
    auto_error=False,
)
DeviceKey = Annotated[str | None, Depends(device_key)]


def device(key: Annotated[str | None, Depends(device_key)]) -> DeviceIdentity:
    return accounts.authenticate_device(key or "")


Device = Annotated[DeviceIdentity, Depends(device)]


# The body as FastAPI would read ``events: list[dict]`` (embedded): used to describe it
# and, for a body that is not a plain list of objects, to word the refusal the same way.
ROWS = TypeAdapter(list[dict[str, Any]])
BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "title": "DeviceBatch",
                "type": "object",
                "required": ["events"],
                "properties": {"events": {**ROWS.json_schema(), "maxItems": MAX_BATCH}},
            }
        }
    },
}


@dataclass(frozen=True)
class Batch:
    """The rows of a batch's body, or why the body is not a batch: raised only once the
    device is known (FastAPI checks a body's shape after the route's dependencies)."""

    rows: list[object]
    refusal: Exception | None = None

    def checked_rows(self) -> list[object]:
        if self.refusal is not None:
            raise self.refusal
        return self.rows


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``, parameters aside (as FastAPI reads a
    body; without a content type the body is not JSON)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _document(body: bytes) -> object:
    """The JSON document of a body: pydantic-core's parser (the stack's fastest); what it
    refuses is parsed again by the standard library, which words the refusal as FastAPI
    does, or takes what pydantic-core does not (UTF-16, a lone surrogate in a string)."""
    try:
        return pydantic_core.from_json(body)
    except ValueError:
        pass
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
              "input": {}, "ctx": {"error": exc.msg}}]
        ) from exc  # fmt: skip
    except Exception as exc:  # bytes that are no text, nesting too deep
        raise HTTPException(400, "There was an error parsing the body") from exc


def _missing() -> RequestValidationError:
    return RequestValidationError(
        [{"type": "missing", "loc": ("body", "events"), "msg": "Field required", "input": None}]
    )


async def device_batch(request: Request) -> Batch:
    """The batch's rows read straight from the body: the JSON parsed once into plain
    dicts, with no model built for the body (a turnstile's batch is hundreds of rows,
    each checked by the service). Refusals are those FastAPI gives for ``events:
    list[dict]``; a text that is not JSON is refused at once, as FastAPI does."""
    if not _is_json(request.headers.get("content-type")):
        # Not read: a form body has been parsed already (control characters looked for).
        return Batch([], _missing())
    body = await request.body()
    if not body:
        return Batch([], _missing())
    document = _document(body)
    if not isinstance(document, dict) or "events" not in document:
        return Batch([], _missing())
    rows = document["events"]
    if isinstance(rows, list) and len(rows) > MAX_BATCH:
        # The limit named, as the MQTT bridge answers, not a bare "not valid".
        return Batch([], errors.BatchTooLarge(MAX_BATCH))
    if not (isinstance(rows, list) and all(isinstance(row, dict) for row in rows)):
        try:
            ROWS.validate_python(rows)
        except ValidationError as exc:
            refusals = [{**e, "loc": ("body", "events", *e["loc"])} for e in exc.errors()]
            return Batch([], RequestValidationError(refusals))
    return Batch(rows)


@router.post(
    "/events",
    response_model=BatchRead,
    summary="A batch of entries, exits and purchases; each row stored once",
    responses=error_responses(401, 403, 422),
    openapi_extra={"requestBody": BATCH_BODY},
)
def record_events(
    # The body first: a text that is not JSON is refused before the key is checked.
    batch: Annotated[Batch, Depends(device_batch)],
    who: Device,
) -> BatchRead:
    return service.record_device_events(who, batch.checked_rows())


@router.post(
    "/authorizations",
    response_model=AuthorizationRead,
    summary="May this card buy these items for this sum? Approved with a hold, or declined",
    responses=error_responses(401, 403, 404, 422),
)
def authorize_purchase(who: Device, ask: AuthorizationAsk) -> AuthorizationRead:
    return service.authorize_purchase(who, ask)
