"""Logging in and out of the site: checking a log-in and password, browser sessions,
the user behind a session, the language a user is written to in."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from sqlalchemy import delete, select, update

from infocity.accounts import rules
from infocity.accounts.errors import (
    InvalidCredentials,
)
from infocity.accounts.models import User
from infocity.accounts.service.base import (
    LOGIN_WINDOW_SECONDS,
    PER_ADDRESS_FACTOR,
    _find_user,
    _identifier_key,
    _principal,
    _rate_key,
)
from infocity.core.auth import Principal
from infocity.core.db import utcnow
from infocity.core.i18n import LOCALES, current_locale
from infocity.core.models import WebSession
from infocity.core.ratelimit import hit, peek
from infocity.core.security import dummy_password_hash, new_token, token_hash, verify_password
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _check_credentials(uow: UnitOfWork, identifier: str, password: str, ip: str | None) -> int:
    """The id of the active user with this log-in and password; counts the attempt first.

    Attempts count per account and address, and per address: whoever fails from one
    address is stopped there and cannot lock the owner out of their account elsewhere.
    Failures count per account too, and make every log-in to it slower (never refused),
    so guessing from many addresses gets slow.
    """
    limit = get_settings().login_attempts_per_15min
    account = _identifier_key(identifier)
    hit(
        _rate_key("login", f"{account}|{ip or ''}"),
        limit=limit,
        window_seconds=LOGIN_WINDOW_SECONDS,
    )
    if ip:
        hit(
            _rate_key("login-ip", ip),
            limit=limit * PER_ADDRESS_FACTOR,
            window_seconds=LOGIN_WINDOW_SECONDS,
        )
    failures_key = _rate_key("login-failed", account)
    failures = peek(failures_key, window_seconds=LOGIN_WINDOW_SECONDS)
    user = _find_user(uow.session, identifier)
    found = (user.id, user.password_hash) if user is not None and user.is_active else None
    # End the read transaction: the hash check below is slow on purpose and must not
    # hold SQLite's write lock while it runs.
    uow.rollback()
    delay = rules.login_delay(failures, limit)
    if delay:
        _sleep(delay)
    # Same work as a real check when there is no account, so the answer time does not
    # tell who has one.
    if not verify_password(found[1] if found else dummy_password_hash(), password):
        found = None
    if found is None:
        hit(failures_key, limit=sys.maxsize, window_seconds=LOGIN_WINDOW_SECONDS)
        raise InvalidCredentials()
    return found[0]


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


def principal_for_user(user_id: int, *, uow: UnitOfWork | None = None) -> Principal | None:
    """The principal of an active user by id (the command line and jobs act as someone)."""
    uow = uow or UnitOfWork()
    with uow:
        user = uow.session.get(User, user_id)
        return _principal(uow, user) if user is not None and user.is_active else None


def login(
    identifier: str,
    password: str,
    *,
    user_agent: str | None,
    ip: str | None,
    uow: UnitOfWork | None = None,
) -> str:
    """Check the log-in and password; return a new browser session token."""
    uow = uow or UnitOfWork()
    with uow:
        user_id = _check_credentials(uow, identifier, password, ip)
        # Notifications follow the language the person uses the site in.
        _store_locale(uow, user_id, current_locale())
        token = new_token()
        uow.session.add(
            WebSession(
                token_hash=token_hash(token),
                user_id=user_id,
                expires_at=utcnow() + timedelta(days=get_settings().session_days),
                user_agent=user_agent[:300] if user_agent else None,
            )
        )
        uow.commit()
        return token


def _store_locale(uow: UnitOfWork, user_id: int, locale: str) -> None:
    uow.session.execute(
        update(User).where(User.id == user_id, User.locale != locale).values(locale=locale)
    )


def set_locale(user_id: int, locale: str, *, uow: UnitOfWork | None = None) -> None:
    """Remember the language a user chose, for the notifications sent to them."""
    if locale not in LOCALES:
        return
    uow = uow or UnitOfWork()
    with uow:
        _store_locale(uow, user_id, locale)
        uow.commit()


def logout(token: str, *, uow: UnitOfWork | None = None) -> None:
    """End a browser session."""
    uow = uow or UnitOfWork()
    with uow:
        uow.session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))
        uow.commit()
