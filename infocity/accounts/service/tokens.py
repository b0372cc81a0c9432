"""Apps' bearer tokens: issued at an app's log-in (shown once), checked on each request,
revoked when the app logs out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from infocity.accounts.models import ApiToken, User
from infocity.accounts.schemas import TokenRead
from infocity.accounts.service.base import _principal
from infocity.accounts.service.sessions import _check_credentials, _store_locale
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.i18n import current_locale
from infocity.core.security import new_token, token_hash
from infocity.core.uow import UnitOfWork

API_TOKEN_LIFETIME = timedelta(days=180)


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


def issue_api_token(
    identifier: str,
    password: str,
    name: str,
    *,
    ip: str | None = None,
    uow: UnitOfWork | None = None,
) -> TokenRead:
    """Log a mobile app in: a bearer token, shown once (only its hash is kept)."""
    uow = uow or UnitOfWork()
    with uow:
        user = uow.session.get(User, _check_credentials(uow, identifier, password, ip))
        assert user is not None
        authorize(_principal(uow, user), Action.API_TOKEN_ISSUE)
        _store_locale(uow, user.id, current_locale())  # the app's language, for its messages
        raw = new_token()
        api_token = ApiToken(
            user_id=user.id,
            name=name.strip()[:100] or "app",
            token_hash=token_hash(raw),
            expires_at=utcnow() + API_TOKEN_LIFETIME,
        )
        uow.session.add(api_token)
        uow.session.flush()
        result = TokenRead(
            id=api_token.id,
            name=api_token.name,
            access_token=raw,
            expires_at=api_token.expires_at,
        )
        uow.commit()
        return result


def revoke_api_token(token: str, *, uow: UnitOfWork | None = None) -> None:
    """Revoke a bearer token (an app logging out)."""
    uow = uow or UnitOfWork()
    with uow:
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        uow.commit()
