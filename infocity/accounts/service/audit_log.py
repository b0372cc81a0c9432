"""The audit log as city administrators read it: who did what, to whom, named."""

from __future__ import annotations

import re

from sqlalchemy import select

from infocity.accounts.models import User
from infocity.accounts.schemas import AuditEntryRead, AuditFilter
from infocity.accounts.service import persons
from infocity.city import service as city
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
        rows = uow.session.execute(query).all()
        subject_users = {entry.id: _subject_user(entry) for entry, _ in rows}
        user_ids = {uid for uid in subject_users.values() if uid is not None}
        person_ids = {e.subject_person_id for e, _ in rows if e.subject_person_id is not None}
        organisation_ids = {e.organisation_id for e, _ in rows if e.organisation_id is not None}
        user_names = {
            row.id: row.display_name
            for row in uow.session.execute(
                select(User.id, User.display_name).where(User.id.in_(sorted(user_ids)))
            )
        }
        person_names = persons.person_names(uow.session, person_ids)
        organisations = {
            o.id: o.name for o in city.list_organisations(uow=uow) if o.id in organisation_ids
        }
        return [
            AuditEntryRead(
                id=entry.id,
                at=entry.at,
                actor_user_id=entry.actor_user_id,
                actor_name=actor_name,
                actor_role=entry.actor_role,
                organisation_id=entry.organisation_id,
                organisation_name=organisations.get(entry.organisation_id or 0),
                action=entry.action,
                subject_person_id=entry.subject_person_id,
                subject_name=person_names.get(entry.subject_person_id or 0),
                subject_user_id=subject_users[entry.id],
                subject_user_name=user_names.get(subject_users[entry.id] or 0),
                detail=entry.detail,
                request_id=entry.request_id,
            )
            for entry, actor_name in rows
        ]


# Accounts' entries about an account rather than a person name it first in their detail
# ("user 12 role registrar", "user 12: email"): the staff member acted upon.
_ABOUT_A_USER = re.compile(r"^user (\d{1,19})\b")


def _subject_user(entry: AuditEntry) -> int | None:
    if not entry.action.startswith(("staff.", "user.")) or not entry.detail:
        return None
    found = _ABOUT_A_USER.match(entry.detail)
    return int(found.group(1)) if found else None
