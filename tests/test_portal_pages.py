"""Portal pages and JSON API: the catalogue, a typed form, the citizen's and the back
office's pages, files, and the /my single window."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from infocity.core.errors import InvalidInput
from infocity.core.worker import Worker
from infocity.health import service as health
from infocity.health.schemas import BookingCreate
from infocity.portal import service
from infocity.portal.schemas import ApplicationCreate, AssignCreate
from tests.builders import (
    api_token,
    bearer,
    csrf_token,
    login_page_client,
    make_citizen,
    make_staff,
)
from tests.health_builders import make_clinic, make_practitioner, make_slots
from tests.portal_builders import PDF, attached_patient, clinic_application


def test_catalogue_page_and_api_search(client: TestClient) -> None:
    service.seed_catalogue()
    page = client.get("/services?q=ПОЛИКЛИНИК")
    assert page.status_code == 200
    assert "Прикрепление к поликлинике" in page.text
    assert "Бесплатный Wi-Fi" not in page.text
    english = client.get(
        "/api/v1/portal/services", params={"q": "wi-fi"}, headers={"Accept-Language": "en"}
    )
    assert english.status_code == 200
    assert [s["name"] for c in english.json()["categories"] for s in c["services"]] == [
        "Free city Wi-Fi"
    ]


def test_a_citizen_applies_on_pages_and_the_registrar_decides(client: TestClient) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id)
    login_page_client(client, patient.identifier, patient.password)

    form = client.get("/applications/new/clinic_attachment")
    assert form.status_code == 200
    token = csrf_token(client, "/applications/new/clinic_attachment")
    refused = client.post(
        "/applications/new/clinic_attachment",
        data={"csrf_token": token, "clinic_id": "", "reason": "Переезд"},
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text
    assert "Переезд" in refused.text

    created = client.post(
        "/applications/new/clinic_attachment",
        data={"csrf_token": token, "clinic_id": str(new.id), "reason": "Переезд"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    detail_url = created.headers["location"].split("?")[0]
    application_id = int(detail_url.rsplit("/", 1)[1])
    page = client.get(created.headers["location"])
    assert "Заявление подано" in page.text or "submitted" in page.text.lower()

    upload = client.post(
        f"/applications/{application_id}/attachments",
        data={"csrf_token": token},
        files={"file": ("scan.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert upload.status_code == 303
    bad = client.post(
        f"/applications/{application_id}/attachments",
        data={"csrf_token": token},
        files={"file": ("scan.pdf", b"MZ not a pdf", "application/pdf")},
    )
    assert bad.status_code == 422
    assert "PDF" in bad.text
    assert client.get("/applications").text.count(f"/applications/{application_id}") >= 1

    staff = TestClient(client.app, base_url="http://testserver")
    login_page_client(staff, registrar.identifier, registrar.password)
    queue = staff.get("/back-office")
    assert f"/back-office/applications/{application_id}" in queue.text
    staff_token = csrf_token(staff, "/back-office")
    base = f"/back-office/applications/{application_id}"
    assert (
        staff.post(
            f"{base}/assign", data={"csrf_token": staff_token}, follow_redirects=False
        ).status_code
        == 303
    )
    no_reason = staff.post(f"{base}/decide", data={"csrf_token": staff_token, "decision": "reject"})
    assert no_reason.status_code == 422
    approved = staff.post(
        f"{base}/decide",
        data={"csrf_token": staff_token, "decision": "approve"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    file_page = staff.get(base)
    assert "scan.pdf" in file_page.text
    [attachment] = service.get_application(registrar.principal, application_id).attachments
    download = staff.get(f"/applications/{application_id}/attachments/{attachment.id}")
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert [a.clinic_id for a in health.current_attachments(patient.person_id or 0)] == [new.id]

    outsider = make_staff("registrar", make_clinic().id)
    other = TestClient(client.app, base_url="http://testserver")
    login_page_client(other, outsider.identifier, outsider.password)
    assert f"/back-office/applications/{application_id}" not in other.get("/back-office").text
    assert other.get(base).status_code == 404
    assert (
        other.get(f"/applications/{application_id}/attachments/{attachment.id}").status_code == 404
    )


def test_the_api_runs_the_same_engine(client: TestClient) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id)
    citizen = bearer(api_token(client, patient.identifier, patient.password))
    staff = bearer(api_token(client, registrar.identifier, registrar.password))

    created = client.post(
        "/api/v1/portal/applications",
        json={"type": "clinic_attachment", "form": {"clinic_id": new.id}, "submit": True},
        headers=citizen,
    )
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    wrong = client.post(f"/api/v1/portal/back-office/applications/{app_id}/complete", headers=staff)
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "invalid_transition"
    assert (
        client.post(
            f"/api/v1/portal/back-office/applications/{app_id}/assign", json={}, headers=staff
        ).status_code
        == 200
    )
    asked = client.post(
        f"/api/v1/portal/back-office/applications/{app_id}/decision",
        json={"decision": "request_information"},
        headers=staff,
    )
    assert asked.status_code == 422
    assert asked.json()["error"]["code"] == "reason_required"
    upload = client.post(
        f"/api/v1/portal/applications/{app_id}/attachments",
        files={"file": ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024), "application/pdf")},
        headers=citizen,
    )
    assert upload.status_code == 422
    assert upload.json()["error"]["code"] == "file_too_large"
    queue = client.get("/api/v1/portal/back-office/applications?overdue=false", headers=staff)
    assert [a["id"] for a in queue.json()["items"]] == [app_id]
    assert client.get("/api/v1/portal/back-office/applications", headers=citizen).status_code == 403
    assert client.get(f"/api/v1/portal/applications/{app_id}").status_code == 401
    types = client.get("/api/v1/portal/application-types").json()
    assert "clinic_attachment" in [t["code"] for t in types]


def test_my_page_lists_applications_appointments_and_notifications(client: TestClient) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    therapist = make_practitioner(old.id, "therapist")
    [slot, *_] = make_slots(therapist.id)
    health.book_slot(patient.principal, BookingCreate(slot_id=slot))
    app = service.create_application(
        patient.principal,
        ApplicationCreate(type="clinic_attachment", form={"clinic_id": new.id}, submit=True),
    )
    Worker("test").deliver_due()
    login_page_client(client, patient.identifier, patient.password)
    page = client.get("/my")
    assert page.status_code == 200
    assert f"/applications/{app.id}" in page.text
    assert "/health/appointments/" in page.text
    assert "/inbox/" in page.text
    assert "Заявление №" in page.text or "No." in page.text
    assert 'href="/my"' in client.get("/cabinet").text  # in the navigation
    overview = client.get(
        "/api/v1/portal/overview",
        headers=bearer(api_token(client, patient.identifier, patient.password)),
    ).json()
    cards = {card["code"]: card for card in overview["cards"]}
    assert [a["href"] for a in cards["applications"]["items"]] == [f"/applications/{app.id}"]
    [appointment] = cards["health"]["items"]
    assert appointment["href"].startswith("/health/appointments/")
    assert appointment["facts"][0]["kind"] == "moment"
    assert cards["notifications"]["items"]
    stranger = make_citizen()
    other = TestClient(client.app, base_url="http://testserver")
    login_page_client(other, stranger.identifier, stranger.password)
    mine = other.get("/my").text
    assert f"/applications/{app.id}" not in mine
    assert "/health/appointments/" not in mine


def test_the_back_office_reads_names_and_gives_an_application_to_a_colleague(
    client: TestClient,
) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id, display_name="Сидорова Анна")
    colleague = make_staff("registrar", new.id, display_name="Кузнецов Иван")
    elsewhere = make_staff("registrar", old.id, display_name="Чужой Сотрудник")
    app = clinic_application(patient, new.id)

    # The service offers its own staff only: the reader first, then by name.
    offered = service.list_colleagues(registrar.principal, app.id)
    assert [(c.user_id, c.me) for c in offered] == [(registrar.id, True), (colleague.id, False)]
    with pytest.raises(InvalidInput) as refused:
        service.assign_application(
            registrar.principal, app.id, AssignCreate(assignee_user_id=elsewhere.id)
        )
    assert refused.value.code == "assignee_not_staff"

    login_page_client(client, registrar.identifier, registrar.password)
    page = client.get(f"/back-office/applications/{app.id}").text
    assert f'<option value="{colleague.id}"' in page
    assert "Кузнецов Иван" in page
    assert "Чужой Сотрудник" not in page
    assert 'name="assignee_user_id" inputmode' not in page  # no number to type
    assert "clinic_id" not in page  # the form by its labels, the clinic by its name
    assert "Поликлиника" in page
    token = csrf_token(client, f"/back-office/applications/{app.id}")
    given = client.post(
        f"/back-office/applications/{app.id}/assign",
        data={"csrf_token": token, "assignee_user_id": str(colleague.id)},
        follow_redirects=False,
    )
    assert given.status_code == 303
    detail = client.get(given.headers["location"]).text
    assert "Кузнецов Иван" in detail
    assert "На рассмотрении" in detail
    queue = client.get("/back-office").text
    assert "Кузнецов Иван" in queue

    english = client.get(
        f"/api/v1/portal/applications/{app.id}",
        headers={
            **bearer(api_token(client, registrar.identifier, registrar.password)),
            "Accept-Language": "en",
        },
    ).json()
    assert english["assignee_name"] == "Кузнецов Иван"
    assert english["status_label"] == "In review"
    assert [a["label"] for a in english["actions"]] == [
        "Ask for more information",
        "Approve",
        "Reject",
    ]
    assert [e["to_status_label"] for e in english["events"]][-1] == "In review"
    [clinic] = [f for f in english["form_values"] if f["name"] == "clinic_id"]
    assert clinic["label"] == "Polyclinic"
    assert clinic["value"] != str(new.id)
    colleagues = client.get(
        f"/api/v1/portal/back-office/applications/{app.id}/colleagues",
        headers=bearer(api_token(client, colleague.identifier, colleague.password)),
    ).json()
    assert [c["name"] for c in colleagues] == ["Кузнецов Иван", "Сидорова Анна"]
    outsider = client.get(
        f"/api/v1/portal/back-office/applications/{app.id}/colleagues",
        headers=bearer(api_token(client, elsewhere.identifier, elsewhere.password)),
    )
    assert outsider.status_code == 404
