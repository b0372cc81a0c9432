"""Staff act only within their organisation: attachments, the registry's patient card,
booking status and referrals reach only the staff member's own patients."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.auth import SYSTEM
from infocity.core.errors import AppError, RateLimited
from infocity.core.models import AuditEntry
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import service, views
from infocity.health.models import Attachment
from infocity.health.schemas import AttachmentCreate, ReferralCreate
from infocity.portal import service as portal
from infocity.portal.schemas import AssignCreate, DecisionCreate
from tests.builders import api_token, bearer, login_page_client, make_staff
from tests.health_builders import attach, make_clinic, make_patient, make_policy
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


# --- The registry's patient card ------------------------------------------------------


def test_a_registrar_opens_only_the_cards_of_their_clinics_patients(client: TestClient) -> None:
    mine, theirs = make_clinic(), make_clinic()
    registrar = make_staff("registrar", mine.id)
    own, other = make_patient(), make_patient()
    assert own.person_id is not None
    assert other.person_id is not None
    attach(own.person_id, mine.id)
    attach(other.person_id, theirs.id)

    card = views.patient_card(registrar.principal, mine.id, own.person_id)
    assert card.person_id == own.person_id
    # Another clinic's patient is answered as an id no one has.
    outside = _refusal(lambda: views.patient_card(registrar.principal, mine.id, other.person_id))
    missing = _refusal(lambda: views.patient_card(registrar.principal, mine.id, UNKNOWN_ID))
    assert outside == missing
    assert outside[0] == "patient_not_found"
    with pytest.raises(AppError):
        views.registry_slots(registrar.principal, mine.id, other.person_id, "therapist")

    login_page_client(client, registrar.identifier, registrar.password)
    assert client.get(f"/registry/patients/{own.person_id}?clinic={mine.id}").status_code == 200
    page = client.get(f"/registry/patients/{other.person_id}?clinic={mine.id}")
    assert page.status_code == 404
    assert client.get(f"/registry/patients/{UNKNOWN_ID}?clinic={mine.id}").status_code == 404


def test_a_patient_found_by_policy_at_the_registry_can_be_opened_and_booked(
    database: str,
) -> None:
    mine, theirs = make_clinic(), make_clinic()
    registrar = make_staff("registrar", mine.id)
    policy, born = make_policy(), date(1975, 3, 9)
    visitor = make_patient(born, oms_policy=policy)
    assert visitor.person_id is not None
    attach(visitor.person_id, theirs.id)
    with pytest.raises(AppError):
        views.patient_card(registrar.principal, mine.id, visitor.person_id)
    views.find_patient(registrar.principal, mine.id, policy, born)
    # Identified by policy and birth date: the card and the booking page open by id.
    assert views.patient_card(registrar.principal, mine.id, visitor.person_id).person_id == (
        visitor.person_id
    )
    views.registry_slots(registrar.principal, mine.id, visitor.person_id, "therapist")
    # Only for the registrar who identified them.
    colleague = make_staff("registrar", mine.id)
    with pytest.raises(AppError):
        views.patient_card(colleague.principal, mine.id, visitor.person_id)


def test_patient_cards_are_rate_limited_like_the_look_up(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOCITY_LOOKUPS_PER_MINUTE", "2")
    get_settings.cache_clear()
    clinic = make_clinic()
    registrar = make_staff("registrar", clinic.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    views.patient_card(registrar.principal, clinic.id, patient.person_id)
    with pytest.raises(AppError):
        views.patient_card(registrar.principal, clinic.id, UNKNOWN_ID)  # counted too
    with pytest.raises(RateLimited):
        views.patient_card(registrar.principal, clinic.id, patient.person_id)


# --- Booking status and referrals -------------------------------------------------------


def test_booking_status_is_read_only_for_the_staff_members_patients(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, theirs = make_clinic(), make_clinic()
    registrar = make_staff("registrar", mine.id)
    own, other = make_patient(), make_patient()
    assert own.person_id is not None
    assert other.person_id is not None
    attach(own.person_id, mine.id)
    attach(other.person_id, theirs.id)
    token = api_token(client, registrar.identifier, registrar.password)

    def status(person_id: int) -> tuple[int, str]:
        answer = client.get(
            "/api/v1/health/booking-status",
            params={"patient_id": person_id},
            headers=bearer(token),
        )
        return answer.status_code, answer.json().get("error", {}).get("code", "")

    assert status(own.person_id) == (200, "")
    assert status(other.person_id) == status(UNKNOWN_ID) == (404, "patient_not_found")
    # The citizen still reads their own.
    assert service.get_booking_status(other.principal).person_id == other.person_id

    monkeypatch.setenv("INFOCITY_LOOKUPS_PER_MINUTE", "3")
    get_settings.cache_clear()
    with pytest.raises(RateLimited):
        service.get_booking_status(registrar.principal, own.person_id)


def test_a_doctor_refers_only_patients_of_the_clinic(database: str) -> None:
    mine, theirs = make_clinic(), make_clinic()
    doctor = make_staff("doctor", mine.id)
    own, other = make_patient(), make_patient()
    assert own.person_id is not None
    assert other.person_id is not None
    attach(own.person_id, mine.id)
    attach(other.person_id, theirs.id)

    def refer(person_id: int) -> object:
        return service.issue_referral(
            doctor.principal,
            mine.id,
            ReferralCreate(person_id=person_id, specialty_code="cardiologist", valid_days=30),
        )

    assert refer(own.person_id) is not None
    assert _refusal(lambda: refer(other.person_id)) == _refusal(lambda: refer(UNKNOWN_ID))
    assert _refusal(lambda: refer(other.person_id))[0] == "patient_not_found"


def test_system_reads_any_patient(database: str) -> None:
    clinic = make_clinic()
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    with UnitOfWork() as uow:
        assert service.in_care_of(uow.session, SYSTEM, patient.person_id, [])
