"""Open311 GeoReport v2: discovery, services, filing and reading requests in JSON and XML,
errors in the specification's format, and the operator's processing that tells the filer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.core.auth import Role
from infocity.core.errors import Conflict, Forbidden, InvalidInput
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.housing import rules, service
from infocity.housing.models import ServiceRequest
from infocity.housing.schemas import ServiceRequestCreate, ServiceRequestUpdate
from infocity.housing.service import requests as service_requests
from tests.builders import PASSWORD, count_rows, make_citizen, make_staff
from tests.housing_builders import make_apartment, make_operator, resident

BASE = "/open311/v2"
EN = {"Accept-Language": "en"}


def token_of(citizen) -> str:  # type: ignore[no-untyped-def]
    return accounts.issue_api_token(citizen.identifier, PASSWORD, "311 app").access_token


def xml(response) -> ET.Element:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)  # noqa: S314 - our own answer, in a test


def test_discovery_and_services(client: TestClient) -> None:
    discovery = client.get(f"{BASE}/discovery.json").json()
    endpoint = discovery["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]

    services = client.get(f"{BASE}/services.json", headers={"Accept-Language": "en"}).json()
    codes = {s["service_code"] for s in services}
    assert {"no_hot_water", "water_leak", "heating"} <= codes
    hot = next(s for s in services if s["service_code"] == "no_hot_water")
    assert hot["metadata"] is False
    assert hot["type"] == "realtime"
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} == codes
    assert root.find("service/metadata").text == "false"  # type: ignore[union-attr]

    definition = client.get(f"{BASE}/services/heating.json").json()
    assert definition == {"service_code": "heating", "attributes": []}
    assert xml(client.get(f"{BASE}/services/heating.xml")).tag == "service_definition"


def test_errors_are_in_the_specification_format(client: TestClient) -> None:
    unknown = client.get(f"{BASE}/services/no_such_thing.json")
    assert unknown.status_code == 404
    assert unknown.json()[0]["code"] == 404
    assert unknown.json()[0]["description"]
    root = xml(client.get(f"{BASE}/services/no_such_thing.xml"))
    assert root.tag == "errors"
    assert root.findtext("error/code") == "404"

    # The specification: 403 for a missing or invalid api_key, 404 for an unknown service.
    missing_key = client.post(f"{BASE}/requests.json", data={"service_code": "heating"}, headers=EN)
    assert missing_key.status_code == 403
    assert missing_key.json() == [{"code": 403, "description": "api_key is required."}]
    bad_key = client.post(
        f"{BASE}/requests.xml",
        data={"api_key": "nope", "service_code": "heating", "lat": "55.7", "long": "37.6"},
        headers=EN,
    )
    assert bad_key.status_code == 403
    assert xml(bad_key).findtext("error/description") == "Invalid api_key."

    citizen = make_citizen()
    unknown_code = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": token_of(citizen),
            "service_code": "potholes",
            "lat": "55.7",
            "long": "37.6",
        },
    )
    assert unknown_code.status_code == 404
    assert unknown_code.json()[0]["code"] == 404
    assert "potholes" in unknown_code.json()[0]["description"]
    # Paths that match no route, and methods that are not allowed, answer the same way.
    assert client.get(f"{BASE}/nothing.json").json()[0]["code"] == 404
    assert client.delete(f"{BASE}/services.json").json()[0]["code"] == 405
    assert client.get(f"{BASE}/requests/abc.json").json()[0]["code"] == 404
    assert count_rows(ServiceRequest) == 0
    # The rest of the API keeps its own error shape.
    assert "error" in client.get("/api/v1/no-such-route").json()


def test_post_then_get_by_id_in_json_and_xml(client: TestClient) -> None:
    operator = make_operator("ГБУ «Жилищник»")
    apartment = make_apartment(operator, number="12")
    citizen = resident(apartment)
    posted = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": token_of(citizen),
            "service_code": "no_hot_water",
            "address_id": str(apartment.id),
            "description": "Нет горячей воды с утра",
        },
    )
    assert posted.status_code == 200, posted.text
    request_id = posted.json()[0]["service_request_id"]

    found = client.get(f"{BASE}/requests/{request_id}.json").json()
    assert len(found) == 1
    item = found[0]
    assert item["service_request_id"] == request_id
    assert item["status"] == "open"
    assert item["service_code"] == "no_hot_water"
    assert item["description"] == "Нет горячей воды с утра"
    assert item["agency_responsible"] == "ГБУ «Жилищник»"
    assert item["address"] == apartment.address
    assert item["requested_datetime"].endswith("+00:00")
    # Nothing about who filed it is published.
    assert citizen.identifier not in str(item)

    root = xml(client.get(f"{BASE}/requests/{request_id}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == request_id
    assert root.findtext("request/status") == "open"
    assert root.findtext("request/description") == "Нет горячей воды с утра"

    xml_post = client.post(
        f"{BASE}/requests.xml",
        data={
            "api_key": token_of(citizen),
            "service_code": "heating",
            "address_id": str(apartment.id),
        },
    )
    assert xml(xml_post).findtext("request/service_request_id")
    assert client.get(f"{BASE}/requests/999999.json").json()[0]["code"] == 404


def test_a_point_goes_to_the_nearest_operator(client: TestClient) -> None:
    citizen = make_citizen()
    operator = make_operator()
    posted = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": token_of(citizen),
            "service_code": "elevator",
            "lat": "55.7495",
            "long": "37.589",
            "address_string": "ул. Арбат, 42, подъезд 2",
        },
    )
    # Organisations made by the builders have no coordinates: no operator serves the point.
    assert posted.status_code == 400
    assert posted.json()[0]["description"]
    assert operator


def test_filters(client: TestClient) -> None:
    apartment = make_apartment(make_operator())
    citizen = resident(apartment)
    now = datetime.now(UTC)
    made = [
        service.file_request(
            citizen.principal,
            ServiceRequestCreate(service_code=code, apartment_id=apartment.id),
            now=now - timedelta(days=age),
        )
        for code, age in (("heating", 1), ("water_leak", 2), ("heating", 120))
    ]
    staff = make_staff(Role.HOUSING_OPERATOR, apartment.operator_id)
    service.update_request_status(
        staff.principal, made[1].id, ServiceRequestUpdate(status="closed", note="Заменили кран")
    )

    def ids(**params: str) -> list[str]:
        response = client.get(f"{BASE}/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    recent = [str(made[0].id), str(made[1].id)]
    assert ids() == recent  # the last 90 days by default, newest first
    assert ids(service_code="heating") == [str(made[0].id)]
    assert ids(status="closed") == [str(made[1].id)]
    assert ids(status="open") == [str(made[0].id)]
    assert ids(status="open,closed") == recent
    start = (now - timedelta(days=200)).isoformat()
    assert ids(start_date=start, service_code="heating") == [str(made[0].id), str(made[2].id)]
    assert ids(service_request_id=f"{made[2].id},{made[0].id}") == [
        str(made[0].id),
        str(made[2].id),
    ]
    closed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()[0]
    assert closed["status_notes"] == "Заменили кран"
    bad = client.get(f"{BASE}/requests.json", params={"start_date": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()[0]["code"] == 400
    assert client.get(f"{BASE}/requests.xml", params={"status": "lost"}).status_code == 400


def _messages(user_id: int) -> list[tuple[str, str]]:
    """(subject, body) of the user's inbox notifications, oldest first."""
    with UnitOfWork() as uow:
        return list(
            uow.session.execute(
                select(OutboxMessage.subject, OutboxMessage.body)
                .where(OutboxMessage.user_id == user_id, OutboxMessage.channel == "inbox")
                .order_by(OutboxMessage.created_at)
            )
        )


def test_status_changes_notify_the_filer(database: str) -> None:
    operator = make_operator()
    apartment = make_apartment(operator)
    citizen = resident(apartment)
    request = service.file_request(
        citizen.principal,
        ServiceRequestCreate(service_code="water_leak", apartment_id=apartment.id),
    )
    assert len(_messages(citizen.id)) == 1  # "received"
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    queue = service.list_request_queue(staff.principal)
    assert [r.id for r in queue] == [request.id]
    assert queue[0].apartment_number == apartment.number

    service.update_request_status(
        staff.principal, request.id, ServiceRequestUpdate(status="acknowledged")
    )
    service.update_request_status(
        staff.principal, request.id, ServiceRequestUpdate(status="in_progress")
    )
    with pytest.raises(InvalidInput) as no_note:
        service.update_request_status(
            staff.principal, request.id, ServiceRequestUpdate(status="closed")
        )
    assert no_note.value.code == "note_required"
    closed = service.update_request_status(
        staff.principal, request.id, ServiceRequestUpdate(status="closed", note="Течь устранена")
    )
    assert closed.status == "closed"
    messages = _messages(citizen.id)
    assert len(messages) == 4
    assert "Течь устранена" in messages[-1][1]
    assert str(request.id) in messages[-1][0]
    # Closed is final: a late click from another operator is refused and tells no one.
    with pytest.raises(Conflict):
        service.update_request_status(
            staff.principal, request.id, ServiceRequestUpdate(status="in_progress")
        )
    assert len(_messages(citizen.id)) == 4
    assert service.list_request_queue(staff.principal) == []
    assert [r.status for r in service.list_my_requests(citizen.principal)] == ["closed"]


def test_staff_move_a_request_forward_and_only_its_filer_reopens_it() -> None:
    status, mover = rules.RequestStatus, rules.Mover
    assert rules.next_steps(status.OPEN, mover.OPERATOR) == [
        status.ACKNOWLEDGED,
        status.IN_PROGRESS,
        status.CLOSED,
    ]
    assert rules.next_steps(status.IN_PROGRESS, mover.OPERATOR) == [status.CLOSED]
    assert rules.next_steps(status.CLOSED, mover.OPERATOR) == []
    assert rules.next_steps(status.CLOSED, mover.CITIZEN) == [status.OPEN]
    assert rules.steps_to(status.OPEN, mover.OPERATOR) == ()
    assert rules.steps_to(status.CLOSED, mover.OPERATOR) == (
        status.OPEN,
        status.ACKNOWLEDGED,
        status.IN_PROGRESS,
    )


def test_only_the_responsible_operator_processes(database: str) -> None:
    apartment = make_apartment(make_operator())
    citizen = resident(apartment)
    request = service.file_request(
        citizen.principal, ServiceRequestCreate(service_code="heating", apartment_id=apartment.id)
    )
    other = make_staff(Role.HOUSING_OPERATOR, make_operator())
    assert service.list_request_queue(other.principal) == []
    with pytest.raises(Forbidden):
        service.update_request_status(
            other.principal, request.id, ServiceRequestUpdate(status="acknowledged")
        )
    with pytest.raises(Forbidden):
        service.update_request_status(
            citizen.principal, request.id, ServiceRequestUpdate(status="acknowledged")
        )
    assert service.get_request(request.id).status == "open"


def test_text_that_xml_cannot_carry_is_refused_and_never_written(client: TestClient) -> None:
    apartment = make_apartment(make_operator())
    citizen = resident(apartment)
    key = token_of(citizen)

    def post(description: str) -> tuple[int, str]:
        data = {"api_key": key, "service_code": "heating", "address_id": str(apartment.id)}
        response = client.post(f"{BASE}/requests.json", data={**data, "description": description})
        return response.status_code, response.json()[0].get("description", "")

    status, message = post("Нет отопления\x01")
    assert status == 400
    assert "description" in message
    assert post("Кран <script>alert(1)</script>")[0] == 400
    assert post("Плохо <b>очень</b>")[0] == 400
    assert count_rows(ServiceRequest) == 0
    # Plain text with line breaks, a less-than sign and an ampersand is fine.
    assert post("Температура < 15 °C\r\nв спальне & на кухне")[0] == 200

    # A row written before the check (or by hand) still gives every client valid XML.
    legacy = service.file_request(
        citizen.principal, ServiceRequestCreate(service_code="heating", apartment_id=apartment.id)
    )
    with UnitOfWork() as uow:
        row = uow.session.get(ServiceRequest, legacy.id)
        assert row is not None
        row.description = "Течёт\x01 кран\x0b"
        uow.commit()
    listed = xml(client.get(f"{BASE}/requests.xml"))
    assert "Течёт кран" in [r.findtext("description") for r in listed.findall("request")]
    one = xml(client.get(f"{BASE}/requests/{legacy.id}.xml"))
    assert one.findtext("request/description") == "Течёт кран"


def test_service_request_id_overrides_every_other_filter(client: TestClient) -> None:
    apartment = make_apartment(make_operator())
    citizen = resident(apartment)
    now = datetime.now(UTC)
    old = service.file_request(
        citizen.principal,
        ServiceRequestCreate(service_code="heating", apartment_id=apartment.id),
        now=now - timedelta(days=200),
    )
    response = client.get(
        f"{BASE}/requests.json",
        params={
            "service_request_id": str(old.id),
            "status": "closed",
            "service_code": "nope",
            "end_date": "not a date",
        },
    )
    assert response.status_code == 200, response.text
    assert [r["service_request_id"] for r in response.json()] == [str(old.id)]
    for too_large in (str(2**63), "9" * 5000, "1,-2", ",", "0", "²", "1,٣"):
        answer = client.get(f"{BASE}/requests.json", params={"service_request_id": too_large})
        assert answer.status_code == 400, too_large
        assert answer.json()[0]["code"] == 400
    for odd in ("²", "٣", "9" * 30):
        assert client.get(f"{BASE}/requests/{odd}.json").status_code == 404, odd


def test_dates_span_at_most_ninety_days(client: TestClient) -> None:
    apartment = make_apartment(make_operator())
    citizen = resident(apartment)
    now = datetime.now(UTC)
    made = {
        age: service.file_request(
            citizen.principal,
            ServiceRequestCreate(service_code="heating", apartment_id=apartment.id),
            now=now - timedelta(days=age),
        ).id
        for age in (10, 120)
    }

    def get(**params: str):  # type: ignore[no-untyped-def]
        return client.get(f"{BASE}/requests.json", params=params)

    too_long = get(start_date=(now - timedelta(days=150)).isoformat(), end_date=now.isoformat())
    assert too_long.status_code == 400
    assert too_long.json()[0]["code"] == 400
    reversed_range = get(start_date=now.isoformat(), end_date=(now - timedelta(days=1)).isoformat())
    assert reversed_range.status_code == 400
    for far in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"):
        assert get(end_date=far).status_code == 400, far
        assert get(start_date=far).status_code == 400, far
    # end_date alone: the 90 days before it, not everything since the beginning.
    alone = get(end_date=now.isoformat())
    assert alone.status_code == 200
    assert [r["service_request_id"] for r in alone.json()] == [str(made[10])]
    earlier = get(end_date=(now - timedelta(days=100)).isoformat())
    assert [r["service_request_id"] for r in earlier.json()] == [str(made[120])]
    span = get(
        start_date=(now - timedelta(days=130)).isoformat(),
        end_date=(now - timedelta(days=41)).isoformat(),
    )
    assert [r["service_request_id"] for r in span.json()] == [str(made[120])]


def test_http_details_clients_rely_on(client: TestClient) -> None:
    # HEAD answers like GET, without a body.
    head = client.head(f"{BASE}/services.json")
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("application/json")
    assert client.head(f"{BASE}/requests.xml").status_code == 200
    # 405 names the methods that are allowed.
    refused = client.delete(f"{BASE}/requests.json")
    assert refused.status_code == 405
    assert refused.json()[0]["code"] == 405
    assert set(refused.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    # Error texts are in the client's language (Russian by default).
    russian = client.get(f"{BASE}/requests.json", params={"status": "lost"})
    english = client.get(f"{BASE}/requests.json", params={"status": "lost"}, headers=EN)
    assert english.json()[0]["description"] == "status must be open, closed or both."
    assert russian.json()[0]["description"] != english.json()[0]["description"]
    assert "status" in russian.json()[0]["description"]


def test_too_many_requests_say_when_to_retry(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_requests, "REQUESTS_PER_HOUR", 1)
    apartment = make_apartment(make_operator())
    key = token_of(resident(apartment))
    data = {"api_key": key, "service_code": "heating", "address_id": str(apartment.id)}
    assert client.post(f"{BASE}/requests.json", data=data).status_code == 200
    refused = client.post(f"{BASE}/requests.xml", data=data)
    assert refused.status_code == 429
    assert xml(refused).findtext("error/code") == "429"
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert count_rows(ServiceRequest) == 1


def test_the_citizens_address_is_kept_and_the_apartment_id_not_published(
    client: TestClient,
) -> None:
    apartment = make_apartment(make_operator())
    posted = client.post(
        f"{BASE}/requests.json",
        data={
            "api_key": token_of(resident(apartment)),
            "service_code": "water_leak",
            "address_id": str(apartment.id),
            "address_string": "подвал, вход со двора",
        },
    )
    assert posted.status_code == 200, posted.text
    found = client.get(f"{BASE}/requests/{posted.json()[0]['service_request_id']}.json")
    item = found.json()[0]
    assert item["address"] == f"{apartment.address} (подвал, вход со двора)"
    assert item["address_id"] is None
    assert str(apartment.id) not in xml(
        client.get(f"{BASE}/requests/{item['service_request_id']}.xml")
    ).findtext("request/address_id", "")


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30
) | st.sampled_from(["", "open", "closed", "heating", "2026-01-01T00:00:00Z", "1,2", "²"])


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.dictionaries(
        st.sampled_from(["service_request_id", "service_code", "status", "start_date", "end_date"]),
        _TEXT,
    ),
    form=st.dictionaries(
        st.sampled_from(
            ["service_code", "lat", "long", "address_string", "address_id", "description"]
        ),
        _TEXT,
    ),
    fmt=st.sampled_from(["json", "xml"]),
)
def test_whatever_a_client_sends_the_answer_is_the_specifications(
    client: TestClient, open311_key: str, query: dict[str, str], form: dict[str, str], fmt: str
) -> None:
    for response in (
        client.get(f"{BASE}/requests.{fmt}", params=query),
        client.post(f"{BASE}/requests.{fmt}", data={"api_key": open311_key, **form}),
    ):
        assert response.status_code < 500, response.text
        if fmt == "xml":
            root = xml(response)  # always well-formed
            assert root.tag in ("service_requests", "errors")
        else:
            body = response.json()
            assert isinstance(body, list)
            if response.status_code >= 400:
                assert body[0]["code"] == response.status_code
                assert body[0]["description"]


@pytest.fixture
def open311_key(database: str) -> str:
    apartment = make_apartment(make_operator())
    return token_of(resident(apartment))
