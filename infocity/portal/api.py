"""JSON routes (thin: parse, call one service function, answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from infocity.core.auth import Principal
from infocity.portal import service
from infocity.portal.schemas import (
    MAX_ID,
    MAX_PAGE_SIZE,
    InboxMessageRead,
    InboxPageRead,
    MarkedReadRead,
    UnreadCountRead,
)
from infocity.web.deps import api_principal
from infocity.web.errors import error_responses

router = APIRouter(tags=["inbox"])

CurrentUser = Annotated[Principal | None, Depends(api_principal)]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="The inbox message id.")]


@router.get(
    "/inbox",
    summary="List my notifications, newest first",
    responses=error_responses(401, 403, 422),
)
def list_inbox(
    principal: CurrentUser,
    unread_only: bool = Query(False, description="Only messages not read yet."),
    limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=MAX_ID),
) -> InboxPageRead:
    return service.list_inbox(principal, unread_only=unread_only, limit=limit, offset=offset)


@router.get(
    "/inbox/unread-count",
    summary="How many of my notifications are unread (for a badge)",
    responses=error_responses(401, 403),
)
def unread_count(principal: CurrentUser) -> UnreadCountRead:
    return UnreadCountRead(unread=service.unread_count(principal))


@router.post(
    "/inbox/read-all",
    summary="Mark all my notifications read",
    responses=error_responses(401, 403),
)
def mark_all_read(principal: CurrentUser) -> MarkedReadRead:
    return MarkedReadRead(marked=service.mark_all_read(principal))


@router.get(
    "/inbox/{message_id}",
    summary="One of my notifications (does not mark it read)",
    responses=error_responses(401, 403, 404, 422),
)
def get_message(principal: CurrentUser, message_id: MessageId) -> InboxMessageRead:
    return service.get_message(principal, message_id)


@router.post(
    "/inbox/{message_id}/read",
    summary="Mark one of my notifications read",
    responses=error_responses(401, 403, 404, 422),
)
def read_message(principal: CurrentUser, message_id: MessageId) -> InboxMessageRead:
    return service.read_message(principal, message_id)
