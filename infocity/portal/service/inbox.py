"""The in-app inbox: the worker puts notifications there (``infocity.core.channels``);
here a user lists and reads their own. A message of someone else is "not found",
never "forbidden", so ids do not reveal what exists."""

from __future__ import annotations

from sqlalchemy import func, select, update

from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.models import InboxMessage
from infocity.core.uow import UnitOfWork
from infocity.portal import errors
from infocity.portal.schemas import (
    InboxMessageRead,
    InboxPageRead,
)


def _unread(uow: UnitOfWork, user_id: int) -> int:
    return int(
        uow.session.scalar(
            select(func.count())
            .select_from(InboxMessage)
            .where(InboxMessage.user_id == user_id, InboxMessage.read_at.is_(None))
        )
        or 0
    )


def list_inbox(
    actor: Principal | None,
    *,
    unread_only: bool = False,
    limit: int = 20,
    offset: int = 0,
    uow: UnitOfWork | None = None,
) -> InboxPageRead:
    """The user's messages, newest first."""
    user = authorize(actor, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        conditions = [InboxMessage.user_id == user.user_id]
        if unread_only:
            conditions.append(InboxMessage.read_at.is_(None))
        rows = uow.session.scalars(
            select(InboxMessage)
            .where(*conditions)
            .order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        total = uow.session.scalar(
            select(func.count()).select_from(InboxMessage).where(*conditions)
        )
        return InboxPageRead(
            items=[InboxMessageRead.model_validate(row) for row in rows],
            total=int(total or 0),
            unread=_unread(uow, user.user_id),
            limit=limit,
            offset=offset,
        )


def get_message(
    actor: Principal | None, message_id: int, *, uow: UnitOfWork | None = None
) -> InboxMessageRead:
    """One of the user's messages, without marking it read."""
    user = authorize(actor, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        row = uow.session.scalar(
            select(InboxMessage).where(
                InboxMessage.id == message_id, InboxMessage.user_id == user.user_id
            )
        )
        if row is None:
            raise errors.MessageNotFound()
        return InboxMessageRead.model_validate(row)


def read_message(
    actor: Principal | None, message_id: int, *, uow: UnitOfWork | None = None
) -> InboxMessageRead:
    """One of the user's messages, marked read (the first reading time is kept)."""
    user = authorize(actor, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        # The owner is part of the condition: another user's id changes nothing.
        uow.session.execute(
            update(InboxMessage)
            .where(
                InboxMessage.id == message_id,
                InboxMessage.user_id == user.user_id,
                InboxMessage.read_at.is_(None),
            )
            .values(read_at=utcnow())
        )
        row = uow.session.scalar(
            select(InboxMessage).where(
                InboxMessage.id == message_id, InboxMessage.user_id == user.user_id
            )
        )
        if row is None:
            raise errors.MessageNotFound()
        message = InboxMessageRead.model_validate(row)
        uow.commit()
        return message


def mark_all_read(actor: Principal | None, *, uow: UnitOfWork | None = None) -> int:
    """Mark every unread message of the user read; return how many changed."""
    user = authorize(actor, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        result = uow.session.execute(
            update(InboxMessage)
            .where(InboxMessage.user_id == user.user_id, InboxMessage.read_at.is_(None))
            .values(read_at=utcnow())
        )
        uow.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]


def unread_count(actor: Principal | None, *, uow: UnitOfWork | None = None) -> int:
    """How many of the user's messages are unread."""
    user = authorize(actor, Action.INBOX_READ)
    uow = uow or UnitOfWork()
    with uow:
        return _unread(uow, user.user_id)
