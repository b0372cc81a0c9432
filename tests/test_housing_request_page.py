"""A service request's own page: its history with times and notes, photos added by the
citizen, reopening a request closed without a fix (within 30 days), and rating the
outcome once after closing; the operator's staff see the same page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from infocity.core.auth import Role
from infocity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from infocity.housing import service
from infocity.housing.models import RequestPhoto
from infocity.housing.schemas import (
    RequestRating,
    RequestReopen,
    ServiceRequestCreate,
    ServiceRequestUpdate,
)
from tests.builders import count_rows, csrf_token, login_page_client, make_citizen, make_staff
from tests.housing_builders import make_apartment, make_operator, resident

FILED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _filed_and_closed(closed_at: datetime = FILED + timedelta(days=1)):  # type: ignore[no-untyped-def]
    operator = make_operator()
    apartment = make_apartment(operator)
    citizen = resident(apartment)
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    filed = service.file_request(
        citizen.principal,
        ServiceRequestCreate(
            service_code="heating", apartment_id=apartment.id, description="Холодно"
        ),
        now=FILED,
    )
    service.update_request_status(
        staff.principal,
        filed.id,
        ServiceRequestUpdate(status="acknowledged"),
        now=FILED + timedelta(hours=2),
    )
    service.update_request_status(
        staff.principal,
        filed.id,
        ServiceRequestUpdate(status="closed", note="Радиатор прокачан"),
        now=closed_at,
    )
    return citizen, staff, filed.id


def test_history_reopening_and_rating(database: str) -> None:
    citizen, staff, request_id = _filed_and_closed()
    closed_at = FILED + timedelta(days=1)
    detail = service.get_request_detail(citizen.principal, request_id, now=closed_at)
    assert [(e.kind, e.status, e.note, e.at) for e in detail.history] == [
        ("filed", "open", None, FILED),
        ("status", "acknowledged", None, FILED + timedelta(hours=2)),
        ("status", "closed", "Радиатор прокачан", closed_at),
    ]
    assert (detail.can_reopen, detail.can_rate, detail.can_add_photo) == (True, True, False)
    # Staff of the operator see the page, but only the filer acts on it.
    as_staff = service.get_request_detail(staff.principal, request_id, now=closed_at)
    assert (as_staff.is_filer, as_staff.can_reopen) == (False, False)
    with pytest.raises(NotFound):
        service.get_request_detail(make_citizen().principal, request_id)
    with pytest.raises(Forbidden):
        service.reopen_request(staff.principal, request_id, RequestReopen(reason="x"))

    with pytest.raises(InvalidInput):
        service.reopen_request(citizen.principal, request_id, RequestReopen(reason="  "))
    later = closed_at + timedelta(days=3)
    reopened = service.reopen_request(
        citizen.principal, request_id, RequestReopen(reason="Снова холодно"), now=later
    )
    assert reopened.status == "open"
    # It is back in the operator's active queue.
    assert request_id in [r.id for r in service.list_request_queue(staff.principal)]
    with pytest.raises(Conflict):  # a double submit reopens once
        service.reopen_request(citizen.principal, request_id, RequestReopen(reason="x"), now=later)
    with pytest.raises(Conflict):  # not closed: nothing to rate yet
        service.rate_request(citizen.principal, request_id, RequestRating(rating=2), now=later)

    service.update_request_status(
        staff.principal,
        request_id,
        ServiceRequestUpdate(status="closed", note="Заменён кран"),
        now=later + timedelta(days=1),
    )
    service.rate_request(
        citizen.principal, request_id, RequestRating(rating=4), now=later + timedelta(days=2)
    )
    with pytest.raises(Conflict):  # once
        service.rate_request(citizen.principal, request_id, RequestRating(rating=5))
    detail = service.get_request_detail(
        citizen.principal, request_id, now=later + timedelta(days=2)
    )
    assert (detail.rating, detail.can_rate) == (4, False)
    assert [e.kind for e in detail.history] == [
        "filed",
        "status",
        "status",
        "reopened",
        "status",
        "rated",
    ]
    assert [e.note for e in detail.history if e.kind == "reopened"] == ["Снова холодно"]


def test_reopening_ends_thirty_days_after_closing(database: str) -> None:
    citizen, _staff, request_id = _filed_and_closed()
    closed_at = FILED + timedelta(days=1)
    late = closed_at + timedelta(days=30, seconds=1)
    assert not service.get_request_detail(citizen.principal, request_id, now=late).can_reopen
    with pytest.raises(Conflict) as refused:
        service.reopen_request(citizen.principal, request_id, RequestReopen(reason="x"), now=late)
    assert refused.value.code == "request_not_reopenable"
    in_time = closed_at + timedelta(days=30)
    assert (
        service.reopen_request(
            citizen.principal, request_id, RequestReopen(reason="x"), now=in_time
        ).status
        == "open"
    )


def test_photos_are_checked_limited_and_only_while_open(database: str) -> None:
    operator = make_operator()
    apartment = make_apartment(operator)
    citizen = resident(apartment)
    filed = service.file_request(
        citizen.principal,
        ServiceRequestCreate(service_code="water_leak", apartment_id=apartment.id),
    )
    for bad_name, data in (("leak.png", b"GIF89a..."), ("leak.jpg", PNG), ("leak.png", b"")):
        with pytest.raises(InvalidInput):
            service.add_request_photo(citizen.principal, filed.id, bad_name, data)
    with pytest.raises(NotFound):
        service.add_request_photo(make_citizen().principal, filed.id, "a.png", PNG)
    for n in range(5):
        service.add_request_photo(citizen.principal, filed.id, f"leak{n}.png", PNG)
    with pytest.raises(InvalidInput) as refused:
        service.add_request_photo(citizen.principal, filed.id, "more.jpg", JPEG)
    assert refused.value.code == "too_many_photos"
    assert count_rows(RequestPhoto) == 5
    photo = service.get_request_detail(citizen.principal, filed.id).photos[0]
    assert service.get_request_photo(citizen.principal, filed.id, photo.id).data == PNG


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ru", ("История", "Радиатор прокачан", "Возобновить заявку", "Оцените результат")),
        ("en", ("History", "Радиатор прокачан", "Reopen the request", "Rate the outcome")),
    ],
)
def test_the_request_page_in_both_languages(
    client: TestClient, language: str, words: tuple[str, ...]
) -> None:
    # Closed now (the real clock), so the 30 days to reopen hold whatever today is.
    operator = make_operator()
    apartment = make_apartment(operator)
    citizen = resident(apartment)
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    filed = service.file_request(
        citizen.principal, ServiceRequestCreate(service_code="heating", apartment_id=apartment.id)
    )
    login_page_client(client, citizen.identifier, citizen.password)
    client.headers["Accept-Language"] = language
    url = f"/housing/requests/{filed.id}"
    assert f'href="{url}"' in client.get("/housing/requests/mine").text
    token = csrf_token(client, url)
    added = client.post(
        f"{url}/photos",
        files={"file": ("leak.png", PNG, "image/png")},
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = client.get(added.headers["location"])
    photo_id = service.get_request_detail(citizen.principal, filed.id).photos[0].id
    assert f'src="{url}/photos/{photo_id}"' in page.text
    assert client.get(f"{url}/photos/{photo_id}").content == PNG
    wrong = client.post(
        f"{url}/photos",
        files={"file": ("leak.png", b"not an image", "image/png")},
        data={"csrf_token": token},
    )
    assert wrong.status_code == 422
    expected = "Можно добавить только фотографии" if language == "ru" else "Only JPEG and PNG"
    assert expected in wrong.text

    service.update_request_status(
        staff.principal, filed.id, ServiceRequestUpdate(status="closed", note="Радиатор прокачан")
    )
    page = client.get(url)
    for word in words:
        assert word in page.text
    bad_rating = client.post(f"{url}/rating", data={"rating": "9", "csrf_token": token})
    assert bad_rating.status_code == 422
    rated = client.post(
        f"{url}/rating", data={"rating": "2", "csrf_token": token}, follow_redirects=False
    )
    assert rated.status_code == 303
    assert 'id="rating">2 / 5' in client.get(url).text
    empty = client.post(f"{url}/reopen", data={"reason": " ", "csrf_token": token})
    assert empty.status_code == 422
    reopened = client.post(
        f"{url}/reopen",
        data={"reason": "Батареи снова холодные", "csrf_token": token},
        follow_redirects=False,
    )
    assert reopened.status_code == 303
    page = client.get(url).text
    assert "Батареи снова холодные" in page
    status = "Новая" if language == "ru" else "New"
    assert f'<dd id="status">{status}</dd>' in page

    # The operator's staff open the same page from the queue; a stranger cannot.
    staff_client = TestClient(client.app, base_url="http://testserver")
    login_page_client(staff_client, staff.identifier, staff.password)
    assert f'href="{url}"' in staff_client.get("/housing/requests").text
    assert "Батареи снова холодные" in staff_client.get(url).text
    stranger = TestClient(client.app, base_url="http://testserver")
    other = make_citizen()
    login_page_client(stranger, other.identifier, other.password)
    assert stranger.get(url).status_code == 404
    assert stranger.get(f"{url}/photos/{photo_id}").status_code == 404
