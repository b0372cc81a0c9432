"""JSON routes of turnstiles and tills: event batches and till authorization. A device
names itself by its key in the ``X-Device-Key`` header."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.security import APIKeyHeader

from infocity.accounts import service as accounts
from infocity.accounts.service import DeviceIdentity
from infocity.cards import service
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


@router.post(
    "/events",
    response_model=BatchRead,
    summary="A batch of entries, exits and purchases; each row stored once",
    responses=error_responses(401, 403, 422),
)
def record_events(
    who: Device, events: Annotated[list[dict[str, Any]], Body(embed=True, max_length=500)]
) -> BatchRead:
    return service.record_device_events(who, events)


@router.post(
    "/authorizations",
    response_model=AuthorizationRead,
    summary="May this card buy these items for this sum? Approved with a hold, or declined",
    responses=error_responses(401, 403, 404, 422),
)
def authorize_purchase(who: Device, ask: AuthorizationAsk) -> AuthorizationRead:
    return service.authorize_purchase(who, ask)
