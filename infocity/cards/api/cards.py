"""JSON routes of cards and representatives (thin: parse, call one service function)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from infocity.cards import service
from infocity.cards.schemas.cards import (
    Activation,
    CardHistoryRead,
    CardIssue,
    CardRead,
    NotificationSettings,
    PupilRead,
    RepresentativeRead,
    TrustedAdultAdd,
)
from infocity.cards.schemas.events import CardEventRead
from infocity.web.deps import CurrentUser
from infocity.web.errors import error_responses
from infocity.web.forms import IdPath

router = APIRouter(prefix="/cards", tags=["cards"])


@router.post(
    "/cards",
    status_code=201,
    response_model=CardRead,
    summary="Issue a school card to a pupil (school staff)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def issue_card(data: CardIssue, actor: CurrentUser) -> CardRead:
    return service.issue_card(actor, data)


@router.post(
    "/cards/{card_id}/block",
    response_model=CardRead,
    summary="Block a lost or stolen card (school staff, a legal representative)",
    responses=error_responses(401, 403, 404, 409),
)
def block_card(card_id: IdPath, actor: CurrentUser) -> CardRead:
    return service.block_card(actor, card_id)


@router.post(
    "/cards/{card_id}/unblock",
    response_model=CardRead,
    summary="Unblock a card found again (school staff)",
    responses=error_responses(401, 403, 404, 409),
)
def unblock_card(card_id: IdPath, actor: CurrentUser) -> CardRead:
    return service.unblock_card(actor, card_id)


@router.post(
    "/cards/{card_id}/reissue",
    status_code=201,
    response_model=CardRead,
    summary="Issue a new card in place of this one; the balance stays with the pupil",
    responses=error_responses(401, 403, 404, 409, 422),
)
def reissue_card(
    card_id: IdPath, uid: Annotated[str, Body(embed=True, max_length=40)], actor: CurrentUser
) -> CardRead:
    return service.reissue_card(actor, card_id, uid)


@router.get(
    "/pupils/{pupil_id}/history",
    response_model=list[CardHistoryRead],
    summary="What happened to a pupil's cards and service",
    responses=error_responses(401, 403, 404),
)
def card_history(pupil_id: IdPath, actor: CurrentUser) -> list[CardHistoryRead]:
    return service.card_history(actor, pupil_id)


@router.post(
    "/pupils",
    status_code=201,
    response_model=PupilRead,
    summary="Activate the service for a child of the family (a parent or guardian)",
    responses=error_responses(401, 403, 409, 422),
)
def activate(data: Activation, actor: CurrentUser) -> PupilRead:
    return service.activate_card_service(actor, data)


@router.get(
    "/pupils",
    response_model=list[PupilRead],
    summary="The pupils the user is told about",
    responses=error_responses(401, 403),
)
def my_pupils(actor: CurrentUser) -> list[PupilRead]:
    return service.list_my_pupils(actor)


@router.get(
    "/pupils/{pupil_id}",
    response_model=PupilRead,
    summary="One pupil: balance, limit, banned categories",
    responses=error_responses(401, 403, 404),
)
def my_pupil(pupil_id: IdPath, actor: CurrentUser) -> PupilRead:
    return service.get_my_pupil(actor, pupil_id)


@router.get(
    "/pupils/{pupil_id}/events",
    response_model=list[CardEventRead],
    summary="Today's entries, exits and meals of a pupil",
    responses=error_responses(401, 403, 404),
)
def today(pupil_id: IdPath, actor: CurrentUser) -> list[CardEventRead]:
    return service.list_card_events(actor, pupil_id)


@router.get(
    "/pupils/{pupil_id}/adults",
    response_model=list[RepresentativeRead],
    summary="The adults told about a pupil",
    responses=error_responses(401, 403, 404),
)
def adults(pupil_id: IdPath, actor: CurrentUser) -> list[RepresentativeRead]:
    return service.list_representatives(actor, pupil_id)


@router.post(
    "/pupils/{pupil_id}/adults",
    status_code=201,
    response_model=RepresentativeRead,
    summary="Add a trusted adult by their account's e-mail or phone (legal representatives)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def add_adult(pupil_id: IdPath, data: TrustedAdultAdd, actor: CurrentUser) -> RepresentativeRead:
    return service.add_trusted_adult(actor, pupil_id, data)


@router.delete(
    "/pupils/{pupil_id}/adults/{representative_id}",
    status_code=204,
    summary="Stop telling a trusted adult about the pupil",
    responses=error_responses(401, 403, 404),
)
def remove_adult(pupil_id: IdPath, representative_id: IdPath, actor: CurrentUser) -> Response:
    service.remove_trusted_adult(actor, pupil_id, representative_id)
    return Response(status_code=204)


@router.put(
    "/pupils/{pupil_id}/settings",
    response_model=RepresentativeRead,
    summary="What the user is told about the pupil, and how",
    responses=error_responses(401, 403, 404, 422),
)
def settings(
    pupil_id: IdPath, data: NotificationSettings, actor: CurrentUser
) -> RepresentativeRead:
    return service.set_notification_settings(actor, pupil_id, data)
