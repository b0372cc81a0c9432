"""Forgotten passwords: a one-hour link sent where only the owner reads it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from infocity.accounts import rules
from infocity.accounts.errors import (
    InvalidResetLink,
)
from infocity.accounts.models import ApiToken, PasswordResetToken, User
from infocity.accounts.service.base import (
    PER_ADDRESS_FACTOR,
    RESET_WINDOW_SECONDS,
    _find_user,
    _identifier_key,
    _rate_key,
    recipient_for_user,
)
from infocity.core.db import utcnow
from infocity.core.models import WebSession
from infocity.core.outbox import notify
from infocity.core.ratelimit import hit
from infocity.core.security import hash_password, new_token, token_hash
from infocity.core.settings import get_settings
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

RESET_LINK_LIFETIME = timedelta(hours=1)


def request_password_reset(
    identifier: str, *, ip: str | None, uow: UnitOfWork | None = None
) -> None:
    """Send a one-hour reset link if the account exists (same answer if it does not)."""
    settings = get_settings()
    limit = settings.reset_requests_per_hour
    hit(
        _rate_key("reset", _identifier_key(identifier)),
        limit=limit,
        window_seconds=RESET_WINDOW_SECONDS,
    )
    if ip:
        hit(
            _rate_key("reset-ip", ip),
            limit=limit * PER_ADDRESS_FACTOR,
            window_seconds=RESET_WINDOW_SECONDS,
        )
    uow = uow or UnitOfWork()
    with uow:
        user = _find_user(uow.session, identifier)
        if user is None or not user.is_active:
            return
        raw = new_token()
        expires_at = utcnow() + RESET_LINK_LIFETIME
        uow.session.add(
            PasswordResetToken(user_id=user.id, token_hash=token_hash(raw), expires_at=expires_at)
        )
        recipient = recipient_for_user(uow.session, user.id)
        # A reset link goes where only the owner reads it; the inbox needs a log-in,
        # so it is the last resort.
        channels = [
            channel
            for channel, address in (("email", recipient.email), ("sms", recipient.phone))
            if address
        ] or ["inbox"]
        notify(
            uow.session,
            recipient,
            kind="password_reset",
            template="accounts/messages/password_reset.txt",
            context={
                "name": user.display_name,
                "minutes": int(RESET_LINK_LIFETIME.total_seconds() // 60),
            },
            link=f"{settings.base_url}/reset/{raw}",
            channels=channels,
            expires_at=expires_at,
        )
        uow.commit()


def reset_password(token: str, new_password: str, *, uow: UnitOfWork | None = None) -> None:
    """Set a new password with a reset link (once) and log the user out everywhere."""
    uow = uow or UnitOfWork()
    with uow:
        now = utcnow()
        reset = uow.session.scalars(
            select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash(token))
        ).one_or_none()
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise InvalidResetLink()
        user = uow.session.get(User, reset.user_id)
        assert user is not None  # the foreign key cascades
        rules.check_password(new_password, email=user.email, phone=user.phone, field="new_password")
        user_id, reset_id = user.id, reset.id
        uow.rollback()  # the slow hash below needs no lock
        password_hash = hash_password(new_password)
        # Two tabs submitting the same link at once: only the one that marks it used wins.
        used = dml(
            uow.session,
            update(PasswordResetToken)
            .where(
                PasswordResetToken.id == reset_id,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > now,
            )
            .values(used_at=now),
        )
        if used.rowcount != 1:
            raise InvalidResetLink()
        uow.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=password_hash, password_changed_at=now)
        )
        # Whoever knew the old password is logged out: browsers, apps, other reset links.
        uow.session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        uow.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
            .values(used_at=now)
        )
        uow.commit()
