"""JSON routes of students' social cards (thin: parse, call one service function), and the
validators' routes, authenticated by a device key in ``X-Device-Key``."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from infocity.cards import service
from infocity.cards.api.devices import DeviceKey
from infocity.cards.schemas.social import (
    SocialCardBlock,
    SocialCardEligibilityRead,
    SocialCardIssue,
    SocialCardRead,
    SocialStopListKeyRead,
)
from infocity.core.settings import get_settings
from infocity.web.deps import LoggedIn
from infocity.web.errors import error_responses
from infocity.web.forms import IdPath

router = APIRouter(prefix="/cards/social", tags=["cards"])

UidPath = Annotated[str, Path(min_length=1, max_length=40)]
# A stop-list changes once a day; validators re-check it hourly.
STOP_LIST_MAX_AGE = 3600


@router.get(
    "/cards",
    response_model=list[SocialCardRead],
    summary="The logged-in student's social cards with their history",
    responses=error_responses(401, 403),
)
def my_cards(actor: LoggedIn) -> list[SocialCardRead]:
    return service.list_my_social_cards(actor)


@router.post(
    "/cards/{card_id}/activate",
    response_model=SocialCardRead,
    summary="Confirm the issued card is in hand: validators accept it from now",
    responses=error_responses(401, 403, 404, 409),
)
def activate_social(card_id: IdPath, actor: LoggedIn) -> SocialCardRead:
    return service.activate_social_card(actor, card_id)


@router.post(
    "/cards/{card_id}/block",
    response_model=SocialCardRead,
    summary="Block a lost, stolen or damaged card",
    responses=error_responses(401, 403, 404, 409, 422),
)
def report_lost(card_id: IdPath, data: SocialCardBlock, actor: LoggedIn) -> SocialCardRead:
    return service.report_social_card_lost(actor, card_id, data)


@router.post(
    "/cards/{card_id}/reissue",
    status_code=201,
    response_model=SocialCardRead,
    summary="Order a new card for a blocked one (the old UID stays blocked)",
    responses=error_responses(401, 403, 404, 409),
)
def reissue(card_id: IdPath, actor: LoggedIn) -> SocialCardRead:
    return service.reissue_social_card(actor, card_id)


@router.get(
    "/colleges/{college_id}/cards",
    response_model=list[SocialCardRead],
    summary="A college's social cards (its student office)",
    responses=error_responses(401, 403),
)
def college_cards(
    college_id: IdPath, actor: LoggedIn, status: str | None = None
) -> list[SocialCardRead]:
    return service.list_college_social_cards(actor, college_id, status=status)


@router.post(
    "/cards/{card_id}/issue",
    response_model=SocialCardRead,
    summary="Issue an ordered card to the student, with its UID (student office)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def issue(card_id: IdPath, data: SocialCardIssue, actor: LoggedIn) -> SocialCardRead:
    return service.issue_social_card(actor, card_id, data)


@router.post(
    "/cards/{card_id}/college-block",
    response_model=SocialCardRead,
    summary="Block a card (student office: studies ended, reported lost)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def college_block(card_id: IdPath, data: SocialCardBlock, actor: LoggedIn) -> SocialCardRead:
    return service.block_social_card(actor, card_id, data)


def _etag(content: bytes) -> str:
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def _cached(request: Request, content: bytes, max_age: int, **headers: str) -> Response:
    """``content`` with its ETag and max-age, or 304 when the client holds it already."""
    etag = _etag(content)
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={max_age}", **headers}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(content=content, media_type="application/json", headers=headers)


@router.get(
    "/eligibility/{uid}",
    response_model=SocialCardEligibilityRead,
    summary="Validators: whether a card UID gives a reduced fare today, and until when",
    description="Authenticated by the validator's device key (`X-Device-Key`). Cacheable: "
    "`ETag` and `Cache-Control: max-age`; `If-None-Match` answers 304 when unchanged.",
    responses={**error_responses(401, 403), 304: {"description": "Not modified"}},
)
def eligibility(uid: UidPath, request: Request, key: DeviceKey = None) -> Response:
    answer = service.check_social_card_eligibility(key or "", uid)
    content = answer.model_dump_json().encode()
    return _cached(request, content, get_settings().social_card_eligibility_max_age)


@router.get(
    "/stop-list",
    summary="Validators: the latest signed stop-list of blocked card UIDs",
    description="The body is the signed JSON document; its Ed25519 signature (base64) is "
    "in `X-Signature`, the key's id in `X-Key-Id`; see GET /cards/social/stop-list/key.",
    responses={
        **error_responses(401, 403, 404),
        200: {"content": {"application/json": {}}, "description": "The stop-list"},
        304: {"description": "Not modified"},
    },
)
def stop_list(request: Request, key: DeviceKey = None) -> Response:
    document = service.get_social_stop_list(key or "")
    return _cached(
        request,
        document.body,
        STOP_LIST_MAX_AGE,
        **{"X-Signature": document.signature, "X-Key-Id": document.key_id},
    )


@router.get(
    "/stop-list/key",
    response_model=SocialStopListKeyRead,
    summary="The published Ed25519 key that verifies stop-lists",
)
def stop_list_key() -> SocialStopListKeyRead:
    return service.social_stop_list_key()
