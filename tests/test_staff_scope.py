"""Staff act only within their organisation: attachments, the registry's patient card,
booking status and referrals reach only the staff member's own patients."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.accounts.models import User
from infocity.accounts.schemas import StaffCreate
from infocity.city import service as city
from infocity.city.models import District, Organisation
from infocity.city.schemas import DistrictCreate, OrganisationCreate
from infocity.core.auth import SYSTEM, Action, Principal, allowed
from infocity.core.errors import AppError, RateLimited
from infocity.core.models import AuditEntry
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import reads, service
from infocity.health.models import (
    Appointment,
    Attachment,
    Clinic,
    Practitioner,
    ScheduleException,
    ScheduleRule,
)
from infocity.health.schemas import (
    AttachmentCreate,
    BookingCreate,
    ClinicCreate,
    PractitionerCreate,
    ReferralCreate,
    RegistryBookingCreate,
    RescheduleCreate,
    ScheduleExceptionCreate,
    ScheduleRuleCreate,
    ScheduleRuleUpdate,
)
from infocity.housing import service as housing
from infocity.housing.models import Bill, Meter, Payment, Tariff
from infocity.housing.schemas import MeterCreate, TariffCreate
from infocity.portal import service as portal
from infocity.portal.schemas import AssignCreate, DecisionCreate
from tests.builders import (
    api_token,
    bearer,
    count_rows,
    login_page_client,
    make_organisation,
    make_staff,
)
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_patient,
    make_policy,
    make_practitioner,
    make_slots,
)
from tests.housing_builders import make_apartment, make_operator
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

    card = reads.patient_card(registrar.principal, mine.id, own.person_id)
    assert card.person_id == own.person_id
    # Another clinic's patient is answered as an id no one has.
    outside = _refusal(lambda: reads.patient_card(registrar.principal, mine.id, other.person_id))
    missing = _refusal(lambda: reads.patient_card(registrar.principal, mine.id, UNKNOWN_ID))
    assert outside == missing
    assert outside[0] == "patient_not_found"
    with pytest.raises(AppError):
        reads.registry_slots(registrar.principal, mine.id, other.person_id, "therapist")

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
        reads.patient_card(registrar.principal, mine.id, visitor.person_id)
    reads.find_patient(registrar.principal, mine.id, policy, born)
    # Identified by policy and birth date: the card and the booking page open by id.
    assert reads.patient_card(registrar.principal, mine.id, visitor.person_id).person_id == (
        visitor.person_id
    )
    reads.registry_slots(registrar.principal, mine.id, visitor.person_id, "therapist")
    # Only for the registrar who identified them.
    colleague = make_staff("registrar", mine.id)
    with pytest.raises(AppError):
        reads.patient_card(colleague.principal, mine.id, visitor.person_id)


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
    reads.patient_card(registrar.principal, clinic.id, patient.person_id)
    with pytest.raises(AppError):
        reads.patient_card(registrar.principal, clinic.id, UNKNOWN_ID)  # counted too
    with pytest.raises(RateLimited):
        reads.patient_card(registrar.principal, clinic.id, patient.person_id)


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


# --- Trust is explicit: None is the anonymous -------------------------------------------


def test_every_function_that_trusted_none_now_asks_the_anonymous_to_log_in(
    database: str,
) -> None:
    clinic = make_clinic()
    practitioner = make_practitioner(clinic.id, "therapist")
    day = city_today() + timedelta(days=2)
    rule = service.set_schedule_rule(
        SYSTEM,
        ScheduleRuleCreate(
            practitioner_id=practitioner.id,
            weekday=day.weekday(),
            start_time=time(9),
            end_time=time(10),
            valid_from=day,
            valid_to=day,
        ),
    )
    [slot, *_] = make_slots(practitioner.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    appointment = service.book_slot(patient.principal, BookingCreate(slot_id=slot))
    operator = make_operator()
    apartment = make_apartment(operator)
    organisation = make_organisation("clinic")
    absence = ScheduleExceptionCreate(
        practitioner_id=practitioner.id, kind="vacation", date_from=day, date_to=day
    )
    change = ScheduleRuleUpdate(
        weekday=day.weekday(),
        start_time=time(11),
        end_time=time(12),
        valid_from=day,
        valid_to=day,
    )
    calls: dict[str, Callable[[], object]] = {
        "city.create_district": lambda: city.create_district(
            DistrictCreate(code="D999", name="Район", name_en="District"), actor=None
        ),
        "city.create_organisation": lambda: city.create_organisation(
            OrganisationCreate(kind="school", name="Школа", address="Москва"), actor=None
        ),
        "accounts.create_staff_account": lambda: accounts.create_staff_account(
            StaffCreate(
                email="new@city.example.ru",
                display_name="Новый",
                role="registrar",
                organisation_id=clinic.id,
                password="long-enough-password",
            ),
            None,
        ),
        "health.create_clinic": lambda: service.create_clinic(
            ClinicCreate(organisation_id=organisation.id, clinic_kind="adult"), actor=None
        ),
        "health.add_practitioner": lambda: service.add_practitioner(
            PractitionerCreate(clinic_id=clinic.id, specialty_code="surgeon", name="Врач"),
            actor=None,
        ),
        "health.set_schedule_rule": lambda: service.set_schedule_rule(
            None,
            ScheduleRuleCreate(
                practitioner_id=practitioner.id,
                weekday=day.weekday(),
                start_time=time(14),
                end_time=time(15),
                valid_from=day,
                valid_to=day,
            ),
        ),
        "health.add_schedule_exception": lambda: service.add_schedule_exception(None, absence),
        "health.preview_schedule_exception": lambda: service.preview_schedule_exception(
            None, absence
        ),
        "health.change_schedule_rule": lambda: service.change_schedule_rule(None, rule.id, change),
        "health.preview_schedule_rule_change": lambda: service.preview_schedule_rule_change(
            None, rule.id, change
        ),
        "health.remove_schedule_rule": lambda: service.remove_schedule_rule(None, rule.id),
        # The anonymous do not learn which ids exist either.
        "health.remove_schedule_rule, unknown": lambda: service.remove_schedule_rule(
            None, UNKNOWN_ID
        ),
        "health.add_schedule_exception, unknown": lambda: service.add_schedule_exception(
            None, absence.model_copy(update={"practitioner_id": UNKNOWN_ID})
        ),
        "health.attach_patient": lambda: service.attach_patient(
            None, AttachmentCreate(person_id=patient.person_id or 0, clinic_id=clinic.id)
        ),
        "health.cancel_appointment": lambda: service.cancel_appointment(None, appointment.id),
        "health.reschedule_appointment": lambda: service.reschedule_appointment(
            None, appointment.id, RescheduleCreate(slot_id=slot)
        ),
        "housing.register_meter": lambda: housing.register_meter(
            None,
            MeterCreate(
                apartment_id=apartment.id,
                kind="cold_water",
                serial="SN-NONE-1",
                verification_due=day,
            ),
        ),
        "housing.set_tariff": lambda: housing.set_tariff(
            None, TariffCreate(service="cold_water", valid_from=day, price=Decimal("40.5"))
        ),
        "housing.generate_bills": lambda: housing.generate_bills(None, day),
        "housing.import_payments": lambda: housing.import_payments(
            None, f"payment_id,payer_code,amount,paid_on\nP-1,{apartment.payer_code},10,{day}\n"
        ),
    }
    before = _counts()
    refused = {}
    for name, call in calls.items():
        with pytest.raises(AppError) as caught:
            call()
        refused[name] = (caught.value.status, caught.value.code)
    assert refused == dict.fromkeys(calls, (401, "login_required"))
    assert _counts() == before
    # The system may: the same calls with SYSTEM go through (two shown).
    city.create_district(
        DistrictCreate(code="D999", name="Район", name_en="District"), actor=SYSTEM
    )
    service.cancel_appointment(SYSTEM, appointment.id)
    assert _counts() != before


def _counts() -> dict[str, object]:
    """What the refused calls could have written."""
    tables = (District, Organisation, User, Clinic, Practitioner, ScheduleRule)
    counted: dict[str, object] = {t.__name__: count_rows(t) for t in tables}
    for table in (ScheduleException, Attachment, Meter, Tariff, Bill, Payment):
        counted[table.__name__] = count_rows(table)
    with UnitOfWork() as uow:
        counted["appointments"] = uow.session.execute(
            select(Appointment.id, Appointment.status).order_by(Appointment.id)
        ).all()
    return counted


def test_system_may_do_every_action_and_is_recorded_as_no_user() -> None:
    assert all(allowed(SYSTEM, action, 12345) for action in Action)
    assert Principal.system() is SYSTEM
    assert SYSTEM.acting_user_id is None
    assert not SYSTEM.roles  # it holds no role: role checks never mistake it for staff


def test_a_registrar_books_only_patients_of_the_clinic(database: str) -> None:
    mine, theirs = make_clinic(), make_clinic()
    registrar = make_staff("registrar", mine.id)
    [slot, *_] = make_slots(make_practitioner(mine.id, "therapist").id)
    own, other = make_patient(), make_patient()
    assert own.person_id is not None
    assert other.person_id is not None
    attach(own.person_id, mine.id)
    attach(other.person_id, theirs.id)

    def book(person_id: int) -> object:
        return service.book_for_patient(
            registrar.principal, RegistryBookingCreate(patient_id=person_id, slot_id=slot)
        )

    outside, missing = _refusal(lambda: book(other.person_id)), _refusal(lambda: book(UNKNOWN_ID))
    assert outside == missing
    assert outside[0] == "patient_not_found"
    assert _counts()["appointments"] == []
    book(own.person_id)
    assert [a.person_id for a in service.list_my_appointments(own.principal)] == [own.person_id]
