"""Staff act only within their organisation: attachments, the registry's patient card,
booking status and referrals reach only the staff member's own patients."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.errors import AppError
from infocity.core.models import AuditEntry
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Attachment
from infocity.health.schemas import AttachmentCreate
from infocity.portal import service as portal
from infocity.portal.schemas import AssignCreate, DecisionCreate
from tests.builders import api_token, bearer, make_staff
from tests.health_builders import make_clinic
from tests.portal_builders import application_notices, attached_patient, clinic_application

UNKNOWN_ID = 2**40


def _clinic_of(person_id: int) -> list[int]:
    return [a.clinic_id for a in service.current_attachments(person_id)]


def _refusal(call: object) -> tuple[str, str]:
    with pytest.raises(AppError) as refused:
        call()  # type: ignore[operator]
    return refused.value.code, refused.value.translated()


# --- Attachments -------------------------------------------------------------------


def test_neither_staff_nor_citizens_change_an_attachment_directly(client: TestClient) -> None:
    mine, theirs = make_clinic(), make_clinic()
    registrar = make_staff("registrar", mine.id)
    patient = attached_patient(theirs)
    assert patient.person_id is not None
    move = AttachmentCreate(
        person_id=patient.person_id,
        clinic_id=mine.id,
        reason="address_change",
        new_address="Москва, ул. Тверская, 7",
    )
    for actor in (registrar.principal, patient.principal):
        with pytest.raises(AppError) as refused:
            service.attach_patient(actor, move)
        assert refused.value.code == "attachment_by_application"
    with pytest.raises(AppError) as anonymous:
        service.attach_patient(None, move)
    assert anonymous.value.status == 401
    # The request of the report no longer detaches anyone.
    answer = client.post(
        "/api/v1/health/attachments",
        json=move.model_dump(),
        headers=bearer(api_token(client, registrar.identifier, registrar.password)),
    )
    assert answer.status_code in (404, 405)
    assert _clinic_of(patient.person_id) == [theirs.id]


def test_an_attachment_changes_by_the_clinics_approval_and_the_citizen_is_told(
    database: str,
) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    assert patient.person_id is not None
    application = clinic_application(patient, new.id)
    stranger = make_staff("registrar", old.id)  # works for another polyclinic
    with pytest.raises(AppError):
        portal.assign_application(stranger.principal, application.id, AssignCreate())
    with pytest.raises(AppError):
        portal.decide_application(
            stranger.principal, application.id, DecisionCreate(decision="approve")
        )
    assert _clinic_of(patient.person_id) == [old.id]

    registrar = make_staff("registrar", new.id)
    portal.assign_application(registrar.principal, application.id, AssignCreate())
    portal.decide_application(
        registrar.principal, application.id, DecisionCreate(decision="approve")
    )
    assert _clinic_of(patient.person_id) == [new.id]
    assert application_notices(patient.id)[-1] == "application_approved"
    with UnitOfWork() as uow:
        latest = uow.session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
        assert latest is not None
        assert latest.created_by_user_id == registrar.id  # who approved it is kept
        assert (
            uow.session.scalar(
                select(AuditEntry.actor_user_id).where(AuditEntry.action == "health.attach")
            )
            == registrar.id
        )
