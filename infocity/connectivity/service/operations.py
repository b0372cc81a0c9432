"""What runs behind the portal: closing sessions the controllers stopped reporting and
purging the identity log after its legal period (the statistics: ``statistics``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update

from infocity.connectivity import rules
from infocity.connectivity.rules import CloseCause, SessionState
from infocity.connectivity.service.base import (
    CODES,
    IDENTITY_LOG,
    SESSIONS,
)
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

# The identity log is kept this long by law unless the city's order says more.
IDENTITY_LOG_DAYS = 183


def close_stale_sessions(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> int:
    """Close the sessions with no accounting for too long (a lost Stop, a controller
    gone quiet), ending them at their last update; they are kept, never deleted."""
    actor = authorize(actor, Action.WIFI_NETWORKS_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        closed = dml(
            uow.session,
            update(SESSIONS)
            .where(
                SESSIONS.c.state == SessionState.OPEN.value,
                SESSIONS.c.updated_at < now - rules.STALE_AFTER,
            )
            .values(
                state=rules.SESSION_TRANSITIONS[(SessionState.OPEN, CloseCause.STALE)].value,
                close_cause=CloseCause.STALE.value,
                stopped_at=SESSIONS.c.updated_at,
            ),
        ).rowcount
        uow.commit()
        return int(closed)


def purge_identity_log(
    actor: Principal | None,
    *,
    keep_days: int = IDENTITY_LOG_DAYS,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> int:
    """Delete the identity log's entries older than the legal period, and the one-time
    codes of the past day; the number of entries deleted."""
    actor = authorize(actor, Action.WIFI_NETWORKS_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        purged = dml(
            uow.session,
            delete(IDENTITY_LOG).where(IDENTITY_LOG.c.created_at < now - timedelta(days=keep_days)),
        ).rowcount
        dml(uow.session, delete(CODES).where(CODES.c.created_at < now - timedelta(days=1)))
        if purged:
            audit.record(uow.session, actor, "connectivity.identity_log.purge", detail=str(purged))
        uow.commit()
        return int(purged)
