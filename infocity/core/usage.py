"""Use of the city's e-services, recorded by any service in its own transaction: the base
of the programme's "unique e-service users a month"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.models import ServiceUse


def record_service_use(
    session: Session,
    service_code: str,
    user_id: int,
    *,
    person_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Record that ``user_id`` used e-service ``service_code`` (in the caller's transaction).

    Any service calls this where a citizen completes an e-service (a booking, a
    submitted application, a look-up): it feeds "unique e-service users per month".
    """
    at = at or utcnow()
    local = city_date(at)
    session.add(
        ServiceUse(
            service_code=service_code[:60],
            user_id=user_id,
            person_id=person_id,
            used_at=at,
            used_month=local.replace(day=1),
        )
    )
