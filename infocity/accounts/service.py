"""Use cases of accounts: one function per thing a user does, one transaction each."""

from __future__ import annotations

from sqlalchemy import select, update

from infocity.accounts.models import ApiToken, StaffRole, User
from infocity.core.auth import Grant, Principal, Role
from infocity.core.db import utcnow
from infocity.core.models import WebSession
from infocity.core.security import token_hash
from infocity.core.uow import UnitOfWork


def _principal(uow: UnitOfWork, user: User) -> Principal:
    grants: list[Grant] = []
    if user.kind == "citizen":
        grants.append(Grant(Role.CITIZEN, None))
    roles = uow.session.scalars(
        select(StaffRole).where(StaffRole.user_id == user.id).order_by(StaffRole.id)
    )
    grants += [Grant(Role(r.role), r.organisation_id) for r in roles]
    return Principal(
        user_id=user.id,
        kind=user.kind,
        display_name=user.display_name,
        locale=user.locale,
        person_id=user.person_id,
        grants=tuple(grants),
    )


def principal_from_session(token: str, *, uow: UnitOfWork | None = None) -> Principal | None:
    """The user of a browser session token, or None when it is unknown or expired."""
    uow = uow or UnitOfWork()
    with uow:
        row = uow.session.execute(
            select(User)
            .join(WebSession, WebSession.user_id == User.id)
            .where(
                WebSession.token_hash == token_hash(token),
                WebSession.expires_at > utcnow(),
                User.is_active.is_(True),
            )
        ).scalar_one_or_none()
        return _principal(uow, row) if row else None


def principal_from_api_token(token: str, *, uow: UnitOfWork | None = None) -> Principal | None:
    """The user of a bearer token, or None when it is unknown, revoked or expired."""
    uow = uow or UnitOfWork()
    with uow:
        now = utcnow()
        api_token = uow.session.execute(
            select(ApiToken).where(
                ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
            )
        ).scalar_one_or_none()
        if api_token is None or (api_token.expires_at and api_token.expires_at <= now):
            return None
        user = uow.session.get(User, api_token.user_id)
        if user is None or not user.is_active:
            return None
        uow.session.execute(
            update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
        )
        principal = _principal(uow, user)
        uow.commit()
        return principal
