"""The applications engine on both databases: a whole life, refusals that write nothing,
the guard against two decisions at once, deadlines, files, organisation scoping, and the
catalogue and its use statistics."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from infocity.core.db import utcnow
from infocity.core.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from infocity.core.i18n import use_locale
from infocity.core.models import AuditEntry, OutboxMessage, ServiceUse
from infocity.core.uow import UnitOfWork
from infocity.health import service as health
from infocity.portal import rules, service
from infocity.portal.schemas import (
    AnswerCreate,
    ApplicationCreate,
    AssignCreate,
    CommentCreate,
    DecisionCreate,
    QueueFilter,
)
from tests.builders import make_citizen, make_organisation, make_staff
from tests.health_builders import make_clinic
from tests.portal_builders import (
    JPEG,
    PDF,
    PNG,
    application_notices,
    attached_patient,
    clinic_application,
    portal_snapshot,
)


def current_clinic(person_id: int | None) -> int:
    assert person_id is not None
    [attachment] = health.current_attachments(person_id)
    return attachment.clinic_id


def test_a_whole_life_with_a_notice_at_every_step(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id)

    draft = clinic_application(patient, new.id, submit=False)
    assert draft.status == "draft"
    assert draft.organisation_id == new.id
    assert application_notices(patient.id) == []
    assert service.list_queue(registrar.principal).total == 0  # drafts are the applicant's own

    submitted = service.submit_application(patient.principal, draft.id)
    assert submitted.status == "submitted"
    assert submitted.deadline_at is not None
    assert not submitted.overdue
    [queued] = service.list_queue(registrar.principal).items
    assert queued.id == draft.id

    in_review = service.assign_application(registrar.principal, draft.id, AssignCreate())
    assert (in_review.status, in_review.assignee_user_id) == ("in_review", registrar.id)

    asked = service.decide_application(
        registrar.principal,
        draft.id,
        DecisionCreate(decision="request_information", reason="Укажите адрес проживания"),
    )
    assert asked.status == "needs_information"
    assert asked.moves == []  # the next step is the applicant's

    again = service.answer_information_request(
        patient.principal, draft.id, AnswerCreate(comment="Живу на Тверской, 1")
    )
    assert again.status == "submitted"
    assert [c.author_side for c in again.comments] == ["applicant"]

    service.assign_application(registrar.principal, draft.id, AssignCreate())
    approved = service.decide_application(
        registrar.principal, draft.id, DecisionCreate(decision="approve")
    )
    assert approved.status == "approved"
    assert approved.decided_at is not None
    assert current_clinic(patient.person_id) == new.id  # the attachment itself changed

    completed = service.complete_application(registrar.principal, draft.id)
    assert completed.status == "completed"
    assert completed.completed_at is not None

    assert application_notices(patient.id) == [
        "application_submitted",
        "application_in_review",
        "application_needs_information",
        "application_submitted",
        "application_in_review",
        "application_approved",
        "application_completed",
    ]
    history = service.get_application(patient.principal, draft.id).events
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "needs_information"),
        ("needs_information", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "approved"),
        ("approved", "completed"),
    ]
    assert history[3].reason == "Укажите адрес проживания"
    with uow:
        body = uow.session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.kind == "application_needs_information",
                OutboxMessage.channel == "inbox",
            )
        )
        assert body is not None
        assert "Укажите адрес проживания" in body
        actions = set(uow.session.scalars(select(AuditEntry.action)))
    assert {"portal.application_approve", "portal.application_take"} <= actions


def test_forbidden_transitions_are_refused_with_a_code_and_write_nothing(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id)
    app = clinic_application(patient, new.id)  # submitted

    before = portal_snapshot()
    refusals: list[tuple[Any, str]] = [
        (
            lambda: service.decide_application(
                registrar.principal, app.id, DecisionCreate(decision="approve")
            ),
            "invalid_transition",
        ),
        (lambda: service.complete_application(registrar.principal, app.id), "invalid_transition"),
        (lambda: service.submit_application(patient.principal, app.id), "invalid_transition"),
        (
            lambda: service.answer_information_request(patient.principal, app.id, AnswerCreate()),
            "invalid_transition",
        ),
    ]
    service.assign_application(registrar.principal, app.id, AssignCreate())
    before = portal_snapshot()
    refusals += [
        (
            lambda: service.decide_application(
                registrar.principal, app.id, DecisionCreate(decision="reject")
            ),
            "reason_required",
        ),
        (
            lambda: service.decide_application(
                registrar.principal,
                app.id,
                DecisionCreate(decision="request_information", reason="  "),
            ),
            "reason_required",
        ),
        (lambda: service.complete_application(registrar.principal, app.id), "invalid_transition"),
        (lambda: service.submit_application(patient.principal, app.id), "invalid_transition"),
    ]
    for call, code in refusals[4:]:
        with pytest.raises(AppError) as refused:
            call()
        assert refused.value.code == code
    assert portal_snapshot() == before

    service.decide_application(
        registrar.principal, app.id, DecisionCreate(decision="reject", reason="Нет мест")
    )
    before = portal_snapshot()
    for call in (
        lambda: service.withdraw_application(patient.principal, app.id),
        lambda: service.decide_application(
            registrar.principal, app.id, DecisionCreate(decision="approve")
        ),
        lambda: service.add_comment(patient.principal, app.id, CommentCreate(body="Почему?")),
    ):
        with pytest.raises(Conflict):
            call()
    assert portal_snapshot() == before
    assert current_clinic(patient.person_id) == old.id  # rejected: nothing changed


def test_a_refusal_of_the_owning_service_rolls_the_approval_back(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old, since=utcnow() - timedelta(days=30))  # changed recently
    registrar = make_staff("registrar", new.id)
    app = clinic_application(patient, new.id)
    service.assign_application(registrar.principal, app.id, AssignCreate())
    before = portal_snapshot()
    with pytest.raises(AppError) as refused:
        service.decide_application(registrar.principal, app.id, DecisionCreate(decision="approve"))
    assert refused.value.code == "attachment_change_too_soon"
    assert portal_snapshot() == before
    assert service.get_application(patient.principal, app.id).status == "in_review"
    assert current_clinic(patient.person_id) == old.id


def test_a_citizen_withdraws_and_others_see_nothing(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    stranger = make_citizen()
    app = clinic_application(patient, new.id)
    with pytest.raises(NotFound):
        service.get_application(stranger.principal, app.id)
    with pytest.raises(NotFound):
        service.withdraw_application(stranger.principal, app.id)
    withdrawn = service.withdraw_application(patient.principal, app.id)
    assert withdrawn.status == "withdrawn"
    assert application_notices(patient.id)[-1] == "application_withdrawn"
    assert [a.id for a in service.list_my_applications(patient.principal).items] == [app.id]
    assert service.list_my_applications(stranger.principal).total == 0


def test_staff_of_another_organisation_see_nothing(uow: UnitOfWork) -> None:
    old, new, other = make_clinic(), make_clinic(), make_clinic()
    patient = attached_patient(old)
    app = clinic_application(patient, new.id)
    service.add_attachment(patient.principal, app.id, "scan.pdf", PDF)
    outsider = make_staff("registrar", other.id)
    housing = make_staff("housing_operator", make_organisation("housing_operator").id)
    doctor = make_staff("doctor", new.id)
    admin = make_staff("city_admin")

    for staff in (outsider, housing):
        assert service.list_queue(staff.principal).total == 0
        for call in (
            lambda p=staff.principal: service.get_application(p, app.id),
            lambda p=staff.principal: service.assign_application(p, app.id, AssignCreate()),
            lambda p=staff.principal: service.decide_application(
                p, app.id, DecisionCreate(decision="approve")
            ),
            lambda p=staff.principal: service.add_comment(p, app.id, CommentCreate(body="x")),
            lambda p=staff.principal: service.get_attachment(p, app.id, 1),
            lambda p=staff.principal: service.applicant_name(p, app.id),
        ):
            with pytest.raises(NotFound):
                call()
    with pytest.raises(Forbidden):
        service.list_queue(doctor.principal)
    with pytest.raises(Forbidden):
        service.list_queue(patient.principal)
    # A registrar of the clinic cannot be given it either.
    registrar = make_staff("registrar", new.id)
    with pytest.raises(InvalidInput) as refused:
        service.assign_application(
            registrar.principal, app.id, AssignCreate(assignee_user_id=outsider.id)
        )
    assert refused.value.code == "assignee_not_staff"
    assert [a.id for a in service.list_queue(admin.principal).items] == [app.id]


def test_staff_reading_an_application_is_audited(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    app = clinic_application(patient, new.id)
    registrar = make_staff("registrar", new.id)
    service.get_application(registrar.principal, app.id)
    assert service.applicant_name(registrar.principal, app.id) == "Иванова Анна"
    with uow:
        rows = uow.session.execute(
            select(AuditEntry.action, AuditEntry.subject_person_id).where(
                AuditEntry.actor_user_id == registrar.id
            )
        ).all()
    assert ("portal.application_read", patient.person_id) in rows
    assert ("portal.applicant_name", patient.person_id) in rows


def test_comments_go_both_ways_and_tell_the_other_side(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id)
    app = clinic_application(patient, new.id)
    service.assign_application(registrar.principal, app.id, AssignCreate())
    service.add_comment(registrar.principal, app.id, CommentCreate(body="Принесите полис"))
    service.add_comment(patient.principal, app.id, CommentCreate(body="Хорошо"))
    detail = service.get_application(patient.principal, app.id)
    assert [(c.author_side, c.body) for c in detail.comments] == [
        ("staff", "Принесите полис"),
        ("applicant", "Хорошо"),
    ]
    assert application_notices(patient.id)[-1] == "application_comment"
    assert application_notices(registrar.id) == ["application_comment"]
    with pytest.raises(InvalidInput):
        service.add_comment(patient.principal, app.id, CommentCreate(body="   "))


def test_forms_are_typed_and_routed(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    stranger = make_citizen()
    before = portal_snapshot()
    cases = [
        ({"clinic_id": "not a number"}, "invalid_form", "clinic_id"),
        ({}, "invalid_form", "clinic_id"),
        ({"clinic_id": new.id, "unknown": 1}, "invalid_form", "unknown"),
        ({"clinic_id": 10**9}, "clinic_not_found", "clinic_id"),
        ({"clinic_id": new.id, "person_id": stranger.person_id}, "not_your_family", "person_id"),
    ]
    for form, code, field in cases:
        with pytest.raises(AppError) as refused:
            service.create_application(
                patient.principal,
                ApplicationCreate(type="clinic_attachment", form=form, submit=True),
            )
        assert (refused.value.code, refused.value.field) == (code, field)
    with pytest.raises(NotFound) as unknown:
        service.create_application(
            patient.principal, ApplicationCreate(type="no_such_type", form={})
        )
    assert unknown.value.code == "application_type_not_found"
    assert portal_snapshot() == before
    types = {t.code: t for t in service.list_application_types()}
    assert "clinic_id" in types["clinic_attachment"].form_schema["properties"]


def test_a_branch_is_processed_by_its_head_clinic(uow: UnitOfWork) -> None:
    old, head = make_clinic(), make_clinic()
    branch = make_clinic(parent_clinic_id=head.id)
    patient = attached_patient(old)
    app = clinic_application(patient, branch.id)
    assert app.organisation_id == head.id


@pytest.mark.calendar
def test_overdue_flag_and_view_from_the_deadline(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id)
    long_ago = utcnow() - timedelta(days=30)
    late = clinic_application(patient, new.id, now=long_ago)
    fresh = clinic_application(patient, new.id)
    assert late.deadline_at is not None
    assert late.deadline_at < utcnow()
    assert service.get_application(patient.principal, late.id).overdue
    assert not service.get_application(patient.principal, fresh.id).overdue
    overdue = service.list_queue(registrar.principal, QueueFilter(overdue=True))
    assert [a.id for a in overdue.items] == [late.id]
    assert [a.id for a in service.list_queue(registrar.principal).items] == [late.id, fresh.id]
    # Waiting for the applicant stops the clock.
    service.assign_application(registrar.principal, late.id, AssignCreate())
    service.decide_application(
        registrar.principal, late.id, DecisionCreate(decision="request_information", reason="?")
    )
    assert not service.get_application(patient.principal, late.id).overdue
    assert service.list_queue(registrar.principal, QueueFilter(overdue=True)).total == 0
    assert (
        service.list_queue(registrar.principal, QueueFilter(status="needs_information")).total == 1
    )


def test_attachments_checked_by_size_and_bytes(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id)
    app = clinic_application(patient, new.id)
    pdf = service.add_attachment(patient.principal, app.id, "полис.pdf", PDF)
    service.add_attachment(patient.principal, app.id, "photo.png", PNG)
    service.add_attachment(registrar.principal, app.id, "answer.jpg", JPEG)
    before = portal_snapshot()
    for name, data, code in (
        ("big.pdf", b"%PDF-" + b"0" * rules.MAX_ATTACHMENT_BYTES, "file_too_large"),
        ("fake.pdf", b"MZ\x90\x00", "file_type_not_allowed"),
        ("scan.png", PDF, "file_type_not_allowed"),
        ("empty.pdf", b"", "file_empty"),
    ):
        with pytest.raises(InvalidInput) as refused:
            service.add_attachment(patient.principal, app.id, name, data)
        assert refused.value.code == code
    assert portal_snapshot() == before
    stored = service.get_attachment(registrar.principal, app.id, pdf.id)
    assert (stored.filename, stored.content_type, stored.data) == (
        "полис.pdf",
        "application/pdf",
        PDF,
    )
    listed = service.get_application(patient.principal, app.id).attachments
    assert [a.filename for a in listed] == ["полис.pdf", "photo.png", "answer.jpg"]


def test_catalogue_search_in_russian_and_english(uow: UnitOfWork) -> None:
    assert service.seed_catalogue() == len(rules.CATEGORIES) + len(rules.SERVICES)
    assert service.seed_catalogue() == 0  # idempotent
    with use_locale("ru"):
        full = service.search_catalogue()
        assert full.total == len(rules.SERVICES)
        assert [c.code for c in full.categories][:3] == ["health", "education", "housing"]
        found = service.search_catalogue("ПОЛИКЛИНИК")
        assert {s.code for c in found.categories for s in c.services} == {
            "doctor_appointment",
            "clinic_attachment",
        }
        assert service.search_catalogue("приём").total == service.search_catalogue("прием").total
        assert service.search_catalogue("wi-fi").total == 1
        assert service.search_catalogue("100%_").total == 0
        [category] = service.search_catalogue("социальн").categories[:1]
        assert category.name == "Социальная поддержка"
    with use_locale("en"):
        found = service.search_catalogue("POLYCLINIC")
        assert {s.code for c in found.categories for s in c.services} == {
            "doctor_appointment",
            "clinic_attachment",
        }
        assert found.categories[0].name == "Health"
        assert service.search_catalogue("поликлиника").total == 0  # English text only
        assert service.search_catalogue("kindergarten").categories[0].services[0].name == (
            "Kindergarten enrolment"
        )


def test_unique_users_per_month(uow: UnitOfWork) -> None:
    anna, boris = make_citizen(), make_citizen()
    analyst = make_staff("analyst")
    # 31 January 22:30 UTC is already 1 February in Moscow.
    uses = [
        (anna, datetime(2026, 1, 10, 9, 0, tzinfo=UTC)),
        (anna, datetime(2026, 1, 20, 9, 0, tzinfo=UTC)),
        (boris, datetime(2026, 1, 31, 22, 30, tzinfo=UTC)),
        (anna, datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        (boris, datetime(2025, 12, 31, 9, 0, tzinfo=UTC)),
    ]
    with uow:
        for who, at in uses:
            service.record_service_use(uow.session, "doctor_appointment", who.id, at=at)
        service.record_service_use(uow.session, "clinic_attachment", anna.id, at=uses[0][1])
        uow.commit()
    report = service.unique_users_per_month(analyst.principal, 2026)
    counts = {m.month: m.unique_users for m in report.months}
    assert counts == {1: 1, 2: 1, 3: 1, **{m: 0 for m in range(4, 13)}}
    assert service.unique_users_per_month(analyst.principal, 2025).months[11].unique_users == 1
    with pytest.raises(Forbidden):
        service.unique_users_per_month(anna.principal, 2026)


def test_a_submission_counts_as_a_use(uow: UnitOfWork) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    clinic_application(patient, new.id)
    with uow:
        rows = uow.session.execute(select(ServiceUse.service_code, ServiceUse.user_id)).all()
    assert rows == [("clinic_attachment", patient.id)]


def test_two_staff_deciding_at_once_exactly_one_wins(database: str) -> None:
    """On PostgreSQL both decisions read the application in review before either writes;
    the guarded update lets one through and refuses the other."""
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): the race is on PostgreSQL")
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    first, second = make_staff("registrar", new.id), make_staff("clinic_admin", new.id)
    app = clinic_application(patient, new.id)
    service.assign_application(first.principal, app.id, AssignCreate())

    barrier = threading.Barrier(2, timeout=30)
    real_transition = rules.transition

    def both_read_then_write(*args: Any, **kwargs: Any) -> rules.Status:
        barrier.wait()  # both have read "in_review"; now both write
        return real_transition(*args, **kwargs)

    outcomes: dict[str, Any] = {}

    def decide(name: str, principal: Any, decision: DecisionCreate) -> None:
        try:
            outcomes[name] = service.decide_application(principal, app.id, decision).status
        except AppError as exc:
            outcomes[name] = exc.code

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rules, "transition", both_read_then_write)
        threads = [
            threading.Thread(
                target=decide, args=("a", first.principal, DecisionCreate(decision="approve"))
            ),
            threading.Thread(
                target=decide,
                args=("b", second.principal, DecisionCreate(decision="reject", reason="Нет мест")),
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes.values()) in (
        ["application_changed", "approved"],
        ["application_changed", "rejected"],
    )
    final = service.get_application(patient.principal, app.id)
    assert final.status in ("approved", "rejected")
    decisions = [e for e in final.events if e.from_status == "in_review"]
    assert len(decisions) == 1
    assert (current_clinic(patient.person_id) == new.id) is (final.status == "approved")
    notices = application_notices(patient.id)
    assert notices.count("application_approved") + notices.count("application_rejected") == 1
