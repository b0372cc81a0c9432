"""Portal test data, made through the real service functions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from infocity.core.auth import SYSTEM
from infocity.core.db import utcnow
from infocity.core.models import OutboxMessage, ServiceUse
from infocity.core.uow import UnitOfWork
from infocity.health import service as health
from infocity.health.schemas import AttachmentCreate, ClinicRead
from infocity.portal import service
from infocity.portal.models import (
    Application,
    ApplicationAttachment,
    ApplicationComment,
    ApplicationEvent,
)
from infocity.portal.schemas import ApplicationCreate, ApplicationDetailRead
from tests.builders import Account, count_rows
from tests.health_builders import make_clinic, make_patient

# The smallest files each allowed type can start with.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def attached_patient(clinic: ClinicRead, *, since: datetime | None = None) -> Account:
    """An adult attached to ``clinic`` long enough ago to change polyclinic now."""
    patient = make_patient()
    assert patient.person_id is not None
    health.attach_patient(
        SYSTEM,
        AttachmentCreate(person_id=patient.person_id, clinic_id=clinic.id),
        now=since or utcnow() - timedelta(days=400),
    )
    return patient


def clinic_application(
    patient: Account, clinic_id: int, *, submit: bool = True, now: datetime | None = None
) -> ApplicationDetailRead:
    """The patient's application to be attached to ``clinic_id``."""
    return service.create_application(
        patient.principal,
        ApplicationCreate(
            type="clinic_attachment",
            form={"clinic_id": clinic_id, "reason": "Переезд"},
            submit=submit,
        ),
        now=now,
    )


def two_clinics() -> tuple[ClinicRead, ClinicRead]:
    return make_clinic(), make_clinic()


def application_notices(user_id: int) -> list[str]:
    """The kinds of application notices queued for ``user_id`` in their inbox, in order."""
    with UnitOfWork() as uow:
        return list(
            uow.session.scalars(
                select(OutboxMessage.kind)
                .where(
                    OutboxMessage.user_id == user_id,
                    OutboxMessage.channel == "inbox",
                    OutboxMessage.kind.like("application_%"),
                )
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )


def portal_snapshot() -> tuple[int, ...]:
    """Row counts of what the portal's use cases write: a refusal leaves them as they were."""
    return tuple(
        count_rows(model)
        for model in (
            Application,
            ApplicationEvent,
            ApplicationComment,
            ApplicationAttachment,
            OutboxMessage,
            ServiceUse,
        )
    )
