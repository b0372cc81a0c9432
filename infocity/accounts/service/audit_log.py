"""The audit log as city administrators read it."""

from __future__ import annotations

from sqlalchemy import select

from infocity.accounts.models import User
from infocity.accounts.schemas import AuditEntryRead, AuditFilter
from infocity.core.auth import Action, Principal, authorize
from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork


def list_audit(
    actor: Principal | None, filters: AuditFilter, *, uow: UnitOfWork | None = None
) -> list[AuditEntryRead]:
    """Audit entries, newest first (city administrators)."""
    authorize(actor, Action.AUDIT_READ)
    uow = uow or UnitOfWork()
    with uow:
        query = select(AuditEntry, User.display_name).outerjoin(
            User, User.id == AuditEntry.actor_user_id
        )
        for column, value in (
            (AuditEntry.action, filters.action),
            (AuditEntry.actor_user_id, filters.actor_user_id),
            (AuditEntry.subject_person_id, filters.subject_person_id),
            (AuditEntry.organisation_id, filters.organisation_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if filters.since is not None:
            query = query.where(AuditEntry.at >= filters.since)
        if filters.until is not None:
            query = query.where(AuditEntry.at < filters.until)
        query = (
            query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(filters.limit)
            .offset(filters.offset)
        )
        return [
            AuditEntryRead(
                id=entry.id,
                at=entry.at,
                actor_user_id=entry.actor_user_id,
                actor_name=actor_name,
                actor_role=entry.actor_role,
                organisation_id=entry.organisation_id,
                action=entry.action,
                subject_person_id=entry.subject_person_id,
                detail=entry.detail,
                request_id=entry.request_id,
            )
            for entry, actor_name in uow.session.execute(query)
        ]
