"""Small helpers for the notification tests: users, sessions and tokens inserted
directly (the accounts builders go through the real sign-up)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from infocity.accounts.models import ApiToken, Person, User
from infocity.core.db import utcnow
from infocity.core.models import WebSession
from infocity.core.outbox import Recipient
from infocity.core.security import new_token, token_hash
from infocity.core.uow import UnitOfWork
from infocity.web.deps import SESSION_COOKIE, session_cookie_value

ROOT = Path(__file__).resolve().parents[2]
_numbers = itertools.count(1)


def add_citizen(
    uow: UnitOfWork, *, locale: str = "ru", email: bool = True, phone: bool = False
) -> Recipient:
    """A citizen with an account; returns how to reach them."""
    n = next(_numbers)
    with uow:
        person = Person(last_name="Иванов", first_name=f"Иван{n}", created_at=utcnow())
        uow.session.add(person)
        uow.session.flush()
        user = User(
            kind="citizen",
            person_id=person.id,
            email=f"citizen{n}@example.org" if email else None,
            phone=f"+7900{n:07d}" if phone else None,
            password_hash="x",
            display_name=f"Иван Иванов {n}",
            locale=locale,
            is_active=True,
            created_at=utcnow(),
            password_changed_at=utcnow(),
            verified_at=utcnow(),
        )
        uow.session.add(user)
        uow.commit()
        return Recipient(user_id=user.id, locale=locale, email=user.email, phone=user.phone)


def login_cookie(uow: UnitOfWork, user_id: int) -> dict[str, str]:
    """A browser session cookie for ``user_id``."""
    token = new_token()
    with uow:
        uow.session.add(
            WebSession(
                token_hash=token_hash(token),
                user_id=user_id,
                created_at=utcnow(),
                expires_at=utcnow() + timedelta(days=1),
            )
        )
        uow.commit()
    return {SESSION_COOKIE: session_cookie_value(token)}


def bearer(uow: UnitOfWork, user_id: int) -> dict[str, str]:
    """An Authorization header with a fresh API token of ``user_id``."""
    token = new_token()
    with uow:
        uow.session.add(
            ApiToken(
                user_id=user_id, name="test", token_hash=token_hash(token), created_at=utcnow()
            )
        )
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


def count(uow: UnitOfWork, model: Any, *where: Any) -> int:
    """Rows of ``model`` matching ``where``."""
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def wait_for(condition: Callable[[], bool], timeout: float = 120.0, what: str = "") -> None:
    """Poll ``condition`` until it holds (bounded: fail after ``timeout`` seconds, generous so
    a busy machine is not taken for a broken one)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def start_worker(
    env: dict[str, str], log_path: Path, name: str, *options: str
) -> subprocess.Popen[bytes]:
    """``python -m infocity worker`` as a real process with ``env`` (and ``options``)."""
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "infocity", "worker", "--name", name, *options],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
